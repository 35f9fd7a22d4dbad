package pbwire

import (
	"encoding/binary"
	"unicode/utf8"
)

// ValidUTF8 reports whether s is valid UTF-8 as Java's Utf8.isValidUtf8
// decides (no overlong forms, no surrogates, nothing above U+10FFFF: the
// rules of utf8.Valid), with a branch-light path for ASCII, which nearly
// every name is.
func ValidUTF8(s []byte) bool {
	n := len(s)
	if n >= 8 {
		var acc uint64
		for i := 0; i+8 <= n; i += 8 {
			acc |= binary.LittleEndian.Uint64(s[i:])
		}
		acc |= binary.LittleEndian.Uint64(s[n-8:])
		return acc&0x8080808080808080 == 0 || utf8.Valid(s)
	}
	var acc byte
	for _, c := range s {
		acc |= c
	}
	return acc < 0x80 || utf8.Valid(s)
}

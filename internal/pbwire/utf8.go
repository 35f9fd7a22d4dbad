package pbwire

import (
	"encoding/binary"
	"unicode/utf8"
)

// ValidUTF8 reports whether s is valid UTF-8 as Java's Utf8.isValidUtf8
// decides (no overlong forms, no surrogates, nothing above U+10FFFF: the
// rules of utf8.Valid), with ASCII, which nearly every name is, checked 8
// bytes at a time.
func ValidUTF8(s []byte) bool {
	return ASCII(s) || utf8.Valid(s)
}

// ASCII reports whether every byte of s is below 0x80: ValidUTF8's fast
// path, small enough to inline (ASCII(s) || ValidUTF8(s) in a hot loop saves
// the call for ASCII).
func ASCII(s []byte) bool {
	n := len(s)
	if n >= 8 {
		var acc uint64
		for i := 0; i+8 <= n; i += 8 {
			acc |= binary.LittleEndian.Uint64(s[i:])
		}
		acc |= binary.LittleEndian.Uint64(s[n-8:])
		return acc&0x8080808080808080 == 0
	}
	var acc byte
	for _, c := range s {
		acc |= c
	}
	return acc < 0x80
}

package hocon

import (
	"fmt"
	"unicode/utf8"
)

// Error is a problem in a configuration, at a position. Every error returned
// by this package is an *Error.
type Error struct {
	Pos Pos
	Msg string
}

// Error renders the error as "file:line:col: message".
func (e *Error) Error() string {
	if p := e.Pos.String(); p != "" {
		return p + ": " + e.Msg
	}
	return e.Msg
}

func errorf(pos Pos, format string, args ...any) *Error {
	return &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// checkUTF8 reports the position of the first invalid UTF-8 sequence in data.
func checkUTF8(file string, data []byte) error {
	if utf8.Valid(data) {
		return nil
	}
	line, col := 1, 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size == 1 {
			return errorf(Pos{File: file, Line: line, Col: col}, "invalid UTF-8 byte 0x%02x (configuration files must be UTF-8)", data[i])
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
		i += size
	}
	return nil
}

// quoteRune renders a character for an error message.
func quoteRune(r rune) string {
	switch r {
	case '\'':
		return `"'"`
	case '\n':
		return "newline"
	}
	if r < 0x20 || r == 0x7f {
		return fmt.Sprintf("U+%04X", r)
	}
	return "'" + string(r) + "'"
}

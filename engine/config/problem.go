package config

import (
	"strings"

	"github.com/gomad/mad/internal/hocon"
)

// Problem is one thing wrong with a configuration: where it is, which key,
// and what is wrong, in words a user can act on.
type Problem struct {
	Pos hocon.Pos
	// Key is the dotted path of the offending key from the file's root
	// ("sources[2].port"); empty for the file as a whole.
	Key string
	Msg string
	// Unavailable marks a MAD class mad does not implement yet (as opposed
	// to an invalid value).
	Unavailable bool
}

func (p Problem) Error() string {
	var b strings.Builder
	if p.Pos.File != "" {
		b.WriteString(p.Pos.String())
		b.WriteString(": ")
	}
	if p.Key != "" {
		b.WriteString(p.Key)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems are every problem found in a configuration; as an error, one per
// line.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

package transform

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// A template is one transformMetrics replacement, parsed once: literal text
// and tokens, each token already resolved against its pattern's groups and
// the environment, as MAD's RegexAndMapReplacer resolves it on every match.
type template struct {
	src    string
	pieces []piece
}

type pieceKind uint8

const (
	// pLit is literal text: the template's own, escapes undone, and env
	// values (${env:X}, and ${X} for a name no group has, behind the
	// dimension of that name).
	pLit pieceKind = iota
	// pGroup is group `group` of the match; empty if it took no part.
	pGroup
	// pDim is ${dimension:key}: the dimension's value or "". key is used
	// (removed from the output) whether or not the series has it.
	pDim
	// pVar is ${key} for a name no group has: the dimension key, used, if
	// the series has it, else lit (the environment's value or "").
	pVar
)

type piece struct {
	kind  pieceKind
	group int
	key   []byte
	lit   []byte
}

// parseTemplate parses src, a replacement for pattern jr, with MAD's
// RegexAndMapReplacer grammar (mad-experimental's, which has only ${...}
// tokens). Every template MAD would throw on when a metric matches is an
// error here. env is the environment snapshot.
func parseTemplate(src string, jr *javaRegexp, env map[string]string) (template, error) {
	t := template{src: src}
	var lit []byte
	flush := func() {
		if len(lit) > 0 {
			t.pieces = append(t.pieces, piece{kind: pLit, lit: lit})
			lit = nil
		}
	}
	for x := 0; x < len(src); x++ {
		switch c := src[x]; c {
		case '\\':
			x++
			e, err := unescape(src, x)
			if err != nil {
				return t, err
			}
			lit = append(lit, e)
		case '$':
			tok, end, err := readToken(src, x)
			if err != nil {
				return t, err
			}
			x = end
			p, err := resolveToken(tok, jr, env)
			if err != nil {
				return t, err
			}
			if p.kind == pLit {
				lit = append(lit, p.lit...)
				continue
			}
			flush()
			t.pieces = append(t.pieces, p)
		default:
			lit = append(lit, c)
		}
	}
	flush()
	return t, nil
}

// unescape returns the character escaped by the '\' before src[x]: only
// \ $ { } may be.
func unescape(src string, x int) (byte, error) {
	if x >= len(src) {
		return 0, fmt.Errorf("trailing '\\' at col %d", x)
	}
	switch c := src[x]; c {
	case '\\', '$', '{', '}':
		return c, nil
	}
	r, _ := utf8.DecodeRuneInString(src[x:])
	return 0, fmt.Errorf("improperly escaped %q at col %d (only \\ $ { } may be)", r, x)
}

// readToken reads the token whose '$' is src[offset] and returns its text,
// escapes undone, and the index of its closing '}'.
func readToken(src string, offset int) (string, int, error) {
	x := offset + 1
	if x >= len(src) || src[x] != '{' {
		return "", 0, fmt.Errorf("tokens must be surrounded by { } at col %d", x)
	}
	x++
	var tok []byte
	for {
		if x >= len(src) {
			return "", 0, fmt.Errorf("expected '}' at col %d", x)
		}
		c := src[x]
		if c == '}' {
			return string(tok), x, nil
		}
		if c == '\\' {
			x++
			e, err := unescape(src, x)
			if err != nil {
				return "", 0, err
			}
			tok = append(tok, e)
		} else {
			tok = append(tok, c)
		}
		x++
	}
}

// resolveToken resolves a token as RegexAndMapReplacer.getReplacement does
// on every match, once.
func resolveToken(tok string, jr *javaRegexp, env map[string]string) (piece, error) {
	colon := strings.IndexByte(tok, ':')
	if colon == len(tok)-1 { // also the empty token: -1 == len-1
		return piece{}, fmt.Errorf("token ${%s}: a prefix but no variable name", tok)
	}
	prefix, name := "", tok
	if colon >= 0 {
		prefix, name = tok[:colon], tok[colon+1:]
	}
	switch prefix {
	case "":
		// A group number, else a group name, else the dimension, then the
		// environment.
		if g, ok, err := groupNumber(name, jr); err != nil || ok {
			return piece{kind: pGroup, group: g}, err
		}
		if g := jr.group(name); g >= 0 {
			return piece{kind: pGroup, group: g}, nil
		}
		return piece{kind: pVar, key: []byte(name), lit: []byte(env[name])}, nil
	case "capture":
		if g, ok, err := groupNumber(name, jr); err != nil || ok {
			return piece{kind: pGroup, group: g}, err
		}
		if g := jr.group(name); g >= 0 {
			return piece{kind: pGroup, group: g}, nil
		}
		return piece{kind: pLit}, nil
	case "dimension":
		return piece{kind: pDim, key: []byte(name)}, nil
	case "env":
		return piece{kind: pLit, lit: []byte(env[name])}, nil
	}
	return piece{}, fmt.Errorf("token ${%s}: unknown prefix %q (capture, dimension or env)", tok, prefix)
}

// groupNumber reads name as Java's Integer.parseInt does when every char of
// it is a digit (Character.isDigit: any Unicode decimal digit of the Basic
// Multilingual Plane). ok: name is the number of one of jr's groups. A
// number past 2³¹−1 is an error, as MAD's NumberFormatException is.
func groupNumber(name string, jr *javaRegexp) (g int, ok bool, err error) {
	for _, r := range name {
		if _, isDigit := javaDigit(r); !isDigit {
			return 0, false, nil
		}
	}
	n := 0
	for _, r := range name {
		d, _ := javaDigit(r)
		if n = n*10 + d; n > 1<<31-1 {
			return 0, false, fmt.Errorf("group number %q is out of range", name)
		}
	}
	if name == "" || n > jr.re.NumSubexp() {
		return 0, false, nil
	}
	return n, true, nil
}

// javaDigit returns the value of r if Java's Character.isDigit(char) holds
// for it: a decimal digit (Unicode Nd) of the Basic Multilingual Plane.
// Nd digits come in runs of ten, zero to nine, and the ranges of
// unicode.Nd's 16-bit table are whole runs (TestJavaDigitRuns).
func javaDigit(r rune) (int, bool) {
	if r >= '0' && r <= '9' {
		return int(r - '0'), true
	}
	if r < 0x80 || r > 0xFFFF {
		return 0, false
	}
	for _, rg := range unicode.Nd.R16 {
		if uint16(r) >= rg.Lo && uint16(r) <= rg.Hi {
			return int(uint16(r)-rg.Lo) % 10, true
		}
	}
	return 0, false
}

package hocon

import (
	"errors"
	"io/fs"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
)

// includer loads included files. It is shared by the parsers of all the
// files of one configuration.
type includer struct {
	read  func(string) ([]byte, error)
	chain []string // files being parsed, outermost first (cycle detection)
	count int      // files included so far
	bytes int      // bytes parsed so far, main file included
}

// includeSpec is a parsed include statement.
type includeSpec struct {
	kind     string // "" (heuristic), "file", "url" or "classpath"
	name     string
	required bool
	pos      Pos
}

func (s includeSpec) String() string {
	arg := strconv.Quote(s.name)
	if s.kind != "" {
		arg = s.kind + "(" + arg + ")"
	}
	if s.required {
		arg = "required(" + arg + ")"
	}
	return "include " + arg
}

type syntax uint8

const (
	syntaxHOCON syntax = iota
	syntaxJSON
	syntaxProperties
)

// parseInclude parses the include statement that starts with the keyword
// token kw and merges the included object into obj, as if its fields were
// written in place of the statement.
func (p *parser) parseInclude(kw token, obj *objNode, path []string, known bool, depth int) error {
	spec, err := p.parseIncludeSpec(kw)
	if err != nil {
		return err
	}
	sub, err := p.inc.load(spec, p.dir, path, known, depth)
	if err != nil || sub == nil {
		return err
	}
	for _, k := range sub.keys {
		setField(obj, k, sub.fields[k])
	}
	return nil
}

// parseIncludeSpec parses what follows the include keyword: a quoted string,
// optionally wrapped in file(), url() or classpath(), optionally wrapped in
// required(). Whitespace, newlines included, may separate the parts.
func (p *parser) parseIncludeSpec(kw token) (includeSpec, error) {
	const want = `include must be followed by a quoted file name, or file("…"), url("…"), classpath("…") or required(…)`
	spec := includeSpec{pos: kw.pos}
	var wrappers []string
	for spec.name == "" {
		t, err := p.lx.next()
		if err != nil {
			return spec, err
		}
		switch t.kind {
		case tSpace, tNewline:
			continue
		case tString:
			if t.text == "" {
				return spec, errorf(t.pos, "include needs a file name, not an empty string")
			}
			spec.name = t.text
			continue
		case tUnquoted:
			for rest := t.text; rest != ""; {
				i := strings.IndexByte(rest, '(')
				if i < 0 {
					return spec, errorf(t.pos, "%s; got %q", want, t.text)
				}
				switch w := rest[:i]; w {
				case "required", "file", "url", "classpath":
					wrappers = append(wrappers, w)
				default:
					return spec, errorf(t.pos, "%s; got %q", want, t.text)
				}
				rest = rest[i+1:]
			}
			continue
		}
		return spec, errorf(t.pos, "%s; got %s", want, describe(t))
	}
	switch {
	case len(wrappers) == 0:
	case len(wrappers) == 1 && wrappers[0] == "required":
		spec.required = true
	case len(wrappers) == 1:
		spec.kind = wrappers[0]
	case len(wrappers) == 2 && wrappers[0] == "required" && wrappers[1] != "required":
		spec.required, spec.kind = true, wrappers[1]
	default:
		return spec, errorf(kw.pos, "invalid include: only one of file(), url(), classpath() may appear, inside at most one required()")
	}
	for open := len(wrappers); open > 0; {
		t, err := p.lx.next()
		if err != nil {
			return spec, err
		}
		switch t.kind {
		case tSpace, tNewline:
			continue
		case tUnquoted:
			for _, c := range t.text {
				if c != ')' || open == 0 {
					return spec, errorf(t.pos, "expected ')' to close %s(, got %q", wrappers[max(open, 1)-1], t.text)
				}
				open--
			}
			continue
		}
		return spec, errorf(t.pos, "expected ')' to close %s(, got %s", wrappers[open-1], describe(t))
	}
	return spec, nil
}

// load reads and parses an included file. It returns nil if the file is
// missing and not required.
func (in *includer) load(spec includeSpec, dir string, at []string, known bool, depth int) (*objNode, error) {
	switch spec.kind {
	case "url":
		return nil, errorf(spec.pos, "%s: URL includes are not supported; include a local file instead", spec)
	case "classpath":
		if spec.required {
			return nil, errorf(spec.pos, "%s: there is no Java classpath to load resources from", spec)
		}
		return nil, nil
	}
	name := spec.name
	if spec.kind == "" {
		if scheme, ok := urlScheme(name); ok {
			if scheme != "file" {
				return nil, errorf(spec.pos, "%s: URL includes are not supported; include a local file instead", spec)
			}
			u, err := url.Parse(name)
			if err != nil {
				return nil, errorf(spec.pos, "%s: invalid file URL: %v", spec, err)
			}
			if name = u.Path; name == "" {
				name = u.Opaque
			}
		}
	}
	// Where a relative name is looked for: beside the including file; for
	// file("..."), first in the working directory, as Typesafe's parser
	// (and so MAD) reads it, then beside the including file.
	bases := []string{name}
	if !filepath.IsAbs(name) {
		bases = []string{filepath.Join(dir, name)}
		if spec.kind == "file" {
			bases = []string{name, filepath.Join(dir, name)}
		}
	}
	for _, base := range bases {
		if out, err := in.loadBase(spec, base, at, known, depth); err != nil || out != nil {
			return out, err
		}
	}
	if spec.required {
		return nil, errorf(spec.pos, "%s: file %s not found", spec, strings.Join(bases, " nor "))
	}
	return nil, nil
}

// loadBase loads the files of an include's name, resolved to base: by its
// extension, or every known one for a basename, merged; nil if there is
// none.
func (in *includer) loadBase(spec includeSpec, name string, at []string, known bool, depth int) (*objNode, error) {
	type candidate struct {
		path   string
		syntax syntax
	}
	var cands []candidate
	switch ext := strings.ToLower(filepath.Ext(name)); ext {
	case ".json":
		cands = []candidate{{name, syntaxJSON}}
	case ".properties":
		cands = []candidate{{name, syntaxProperties}}
	case "":
		// A basename: load every known extension, HOCON last.
		cands = []candidate{{name + ".json", syntaxJSON}, {name + ".conf", syntaxHOCON}, {name, syntaxHOCON}}
	default:
		cands = []candidate{{name, syntaxHOCON}}
	}
	var out *objNode
	for i, c := range cands {
		if i == 2 && out != nil {
			break // the bare basename is only a last resort
		}
		data, err := in.read(c.path)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, errorf(spec.pos, "%s: cannot read %s: %v", spec, c.path, err)
		}
		if c.syntax == syntaxProperties {
			return nil, errorf(spec.pos, "%s: Java properties files are not supported; use HOCON (.conf) or JSON", spec)
		}
		sub, err := in.parse(spec, c.path, c.syntax, data, at, known, depth)
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = sub
		} else {
			mergeObjInto(out, sub)
		}
	}
	return out, nil
}

// parse parses the content of an included file, guarding against include
// cycles and runaway inclusion.
func (in *includer) parse(spec includeSpec, path string, syn syntax, data []byte, at []string, known bool, depth int) (*objNode, error) {
	clean := filepath.Clean(path)
	for i, f := range in.chain {
		if f == clean {
			return nil, errorf(spec.pos, "%s: include cycle: %s -> %s", spec, strings.Join(in.chain[i:], " -> "), clean)
		}
	}
	if in.count++; in.count > maxIncludes {
		return nil, errorf(spec.pos, "%s: too many includes (more than %d files)", spec, maxIncludes)
	}
	in.bytes += len(data)
	in.chain = append(in.chain, clean)
	defer func() { in.chain = in.chain[:len(in.chain)-1] }()
	if syn == syntaxJSON {
		v, err := parseJSON(path, data, maxDepth-depth+1)
		if err != nil {
			return nil, err
		}
		return valueNode(v).(*objNode), nil
	}
	return parseHOCON(path, data, in, at, known, depth)
}

// urlScheme reports whether name starts with a URL scheme Java would
// recognise (a single letter is a Windows drive, not a scheme).
func urlScheme(name string) (string, bool) {
	i := strings.IndexByte(name, ':')
	if i < 2 {
		return "", false
	}
	scheme := strings.ToLower(name[:i])
	switch scheme {
	case "file", "http", "https", "ftp", "jar":
		return scheme, true
	}
	return "", false
}

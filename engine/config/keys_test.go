package config

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// boundKeys returns every key the binder reads or accepts, found in this
// package's sources: the string literals given as the key to node's methods
// (those whose first parameter is the key k, or keys for ignore), at every
// call, whatever class or object it binds.
func boundKeys(t *testing.T) map[string]bool {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var parsed []*ast.File
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		parsed = append(parsed, af)
	}
	// node's methods that take a key first.
	keyed := map[string]bool{}
	for _, af := range parsed {
		for _, d := range af.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv == nil || len(fn.Type.Params.List) == 0 {
				continue
			}
			star, ok := fn.Recv.List[0].Type.(*ast.StarExpr)
			if !ok {
				continue
			}
			if id, ok := star.X.(*ast.Ident); !ok || id.Name != "node" {
				continue
			}
			if first := fn.Type.Params.List[0].Names; len(first) > 0 && (first[0].Name == "k" || first[0].Name == "keys") {
				keyed[fn.Name.Name] = true
			}
		}
	}
	for _, m := range []string{"str", "integer", "object", "ignore"} {
		if !keyed[m] {
			t.Fatalf("node.%s is not found to take a key: the scan is broken", m)
		}
	}
	keys := map[string]bool{}
	for _, af := range parsed {
		imports := map[string]bool{}
		for _, im := range af.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			name := p[strings.LastIndexByte(p, '/')+1:]
			if im.Name != nil {
				name = im.Name.Name
			}
			imports[name] = true
		}
		ast.Inspect(af, func(x ast.Node) bool {
			call, ok := x.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || !keyed[sel.Sel.Name] {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); !ok || imports[id.Name] {
				return true // strings.Fields and the like
			}
			args := call.Args
			if sel.Sel.Name != "ignore" && len(args) > 1 {
				args = args[:1]
			}
			for _, a := range args {
				if lit, ok := a.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					k, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					keys[k] = true
				}
			}
			return true
		})
	}
	return keys
}

// madClassKeys returns the keys the classes mad adds (io.gomad.…) read,
// by binding each on an empty object: all of theirs are mad's, even those
// that share a name with a key of MAD's (topic, period).
func madClassKeys(t *testing.T) map[string]bool {
	t.Helper()
	keys := map[string]bool{}
	for name, c := range registry {
		if name != c.fqcn || !strings.HasPrefix(c.fqcn, "io.gomad.") || c.bind == nil {
			continue
		}
		root, _, ps := parseBytes("empty.conf", []byte("{}"), LoadOptions{})
		if ps != nil {
			t.Fatal(ps)
		}
		n := (&binder{file: "empty.conf"}).root(root)
		c.bind(n)
		for k := range n.used {
			keys[k] = true
		}
	}
	return keys
}

// TestKeysHelp checks that mad help config (keys.txt) documents every key
// the configuration loader accepts that MAD's does not: every key the
// binder reads that docs/MAD-SPEC.md never mentions, and every key of the
// classes mad adds. A new key of mad's fails it until it is documented.
// And each key keys.txt documents as an entry is one the binder reads.
func TestKeysHelp(t *testing.T) {
	spec, err := os.ReadFile("../../docs/MAD-SPEC.md")
	if err != nil {
		t.Fatal(err)
	}
	word := regexp.MustCompile(`[A-Za-z0-9_]+`)
	madSpec := map[string]bool{}
	for _, w := range word.FindAllString(string(spec), -1) {
		madSpec[w] = true
	}
	help := map[string]bool{}
	for _, w := range word.FindAllString(string(KeysHelp), -1) {
		help[w] = true
	}
	bound := boundKeys(t)
	ours := madClassKeys(t)
	for k := range bound {
		if !madSpec[k] {
			ours[k] = true
		}
	}
	// The scan must see what it is for; otherwise the test would pass on
	// nothing.
	for _, k := range []string{"relay", "maxSeries", "reloadInterval", "httpMaxBodyBytes", "transactionalId", "path", "topic"} {
		if !ours[k] {
			t.Errorf("%s: not found as a key of mad's; the scan is broken", k)
		}
	}
	if len(bound) < 100 || ours["httpPort"] || ours["pipelinesDirectory"] {
		t.Fatalf("the scan found %d keys, MAD's httpPort as mad's: %v; it is broken", len(bound), ours["httpPort"])
	}
	all := slices.Sorted(maps.Keys(ours))
	t.Logf("%d keys of mad's: %s", len(all), strings.Join(all, " "))
	var missing []string
	for _, k := range all {
		if !help[k] {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		t.Errorf("mad help config (engine/config/keys.txt) does not document the keys %s", strings.Join(missing, ", "))
	}
	// An entry is an indented key at the start of its line, alone or
	// followed by " = ".
	entry := regexp.MustCompile(`(?m)^ {2,4}([a-z][A-Za-z]*)(?: = |$)`)
	for _, m := range entry.FindAllStringSubmatch(string(KeysHelp), -1) {
		if !bound[m[1]] {
			t.Errorf("mad help config documents %s, which the configuration does not read", m[1])
		}
	}
}

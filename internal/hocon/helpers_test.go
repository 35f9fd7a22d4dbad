package hocon

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// mainFile is the name test documents are parsed as; relative includes
// resolve against /cfg.
const mainFile = "/cfg/main.conf"

// testOptions never touches the process environment or the file system.
func testOptions(env, files map[string]string) Options {
	return Options{Env: mapEnv(env), ReadFile: mapFiles(files)}
}

func mapEnv(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func mapFiles(m map[string]string) func(string) ([]byte, error) {
	return func(p string) ([]byte, error) {
		s, ok := m[filepath.ToSlash(p)]
		if !ok {
			return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
		}
		return []byte(s), nil
	}
}

// decodeJSON decodes JSON keeping numbers as their text, so that 8125 and
// "8125" differ and 1e3 stays 1e3.
func decodeJSON(t *testing.T, b []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("invalid JSON %s: %v", b, err)
	}
	return v
}

// assertJSON compares the rendering of got with want structurally; with
// ordered, also textually (key order).
func assertJSON(t *testing.T, got *Value, want string, ordered bool) {
	t.Helper()
	g := got.JSON()
	if !reflect.DeepEqual(decodeJSON(t, g), decodeJSON(t, []byte(want))) {
		t.Fatalf("got  %s\nwant %s", g, want)
	}
	if ordered {
		var buf bytes.Buffer
		if err := json.Compact(&buf, []byte(want)); err != nil {
			t.Fatal(err)
		}
		w := strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(buf.String())
		if string(g) != w {
			t.Fatalf("key order:\ngot  %s\nwant %s", g, w)
		}
	}
}

// mustParse parses in as mainFile with the given environment and files.
func mustParse(t *testing.T, in string, env, files map[string]string) *Value {
	t.Helper()
	v, err := Parse(mainFile, []byte(in), testOptions(env, files))
	if err != nil {
		t.Fatalf("Parse: %v\ninput:\n%s", err, in)
	}
	return v
}

func wantErr(t *testing.T, err error, substrings ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", substrings)
	}
	if _, ok := err.(*Error); !ok {
		t.Fatalf("error %v is a %T, want *Error", err, err)
	}
	for _, s := range substrings {
		if !strings.Contains(err.Error(), s) {
			t.Fatalf("error %q does not contain %q", err, s)
		}
	}
}

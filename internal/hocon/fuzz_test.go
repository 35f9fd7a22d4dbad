package hocon

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzParse checks that Parse never panics or hangs, returns only *Error
// errors, is deterministic, and that what it accepts renders to valid JSON
// that ParseJSON and Parse (HOCON is a superset of JSON) read back to the
// same rendering. The
// seed corpus in testdata/fuzz/FuzzParse holds MAD's configuration files and
// a snippet of each feature.
func FuzzParse(f *testing.F) {
	f.Add([]byte("a = 1\nb = ${a}\nc = ${?X} [x]"))
	env := map[string]string{"HOME": "/home/u", "X": "1", "L_0": "a", "L_1": "b", "HOSTNAME": "box"}
	files := map[string]string{
		"/cfg/inc.conf":     "x = 1\ny = ${x}\nz += ${?y}",
		"/cfg/inc.json":     `{"j": [1, {"k": null}]}`,
		"/cfg/loop.conf":    `include "loop.conf"`,
		"/cfg/nested.conf":  "include \"inc.conf\"\nw = ${?x}",
		"/opt/mad/a.conf":   "a { include \"/cfg/inc.conf\" }",
		"/cfg/array.conf":   "[1]",
		"/cfg/broken.conf":  "a = [",
		"/cfg/both.conf":    "b = 2",
		"/cfg/both.json":    `{"b": 1}`,
		"/cfg/bad.json":     `{"b": 1,}`,
		"/cfg/sub/rel.conf": `include "../inc.conf"`,
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		opt := testOptions(env, files)
		opt.Fallback = map[string]string{"user.dir": "/w", "user.home": "/home/u"}
		v, err := Parse(mainFile, data, opt)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %v is a %T, not an *Error", err, err)
			}
			return
		}
		if v.Kind != Object {
			t.Fatalf("root is %v", v.Kind)
		}
		j := v.JSON()
		if v2, err := Parse(mainFile, data, opt); err != nil || !bytes.Equal(v2.JSON(), j) {
			t.Fatalf("second Parse differs (%v):\n%s\n%s", err, j, v2.JSON())
		}
		if !json.Valid(j) {
			t.Fatalf("invalid JSON: %s", j)
		}
		back, err := ParseJSON("back.json", j)
		if err != nil {
			t.Fatalf("ParseJSON of the rendering: %v\n%s", err, j)
		}
		if got := back.JSON(); !bytes.Equal(got, j) {
			t.Fatalf("JSON round trip differs:\n%s\n%s", j, got)
		}
		again, err := Parse("back.conf", j, testOptions(nil, nil))
		if err != nil {
			t.Fatalf("Parse of the rendering: %v\n%s", err, j)
		}
		if got := again.JSON(); !bytes.Equal(got, j) {
			t.Fatalf("HOCON round trip differs:\n%s\n%s", j, got)
		}
	})
}

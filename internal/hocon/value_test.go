package hocon

import (
	"encoding/json"
	"testing"
)

func TestPosString(t *testing.T) {
	for _, c := range []struct {
		p    Pos
		want string
	}{
		{Pos{File: "a.conf", Line: 3, Col: 7}, "a.conf:3:7"},
		{Pos{File: "a.conf", Line: 3}, "a.conf:3"},
		{Pos{File: "a.conf"}, "a.conf"},
		{Pos{Line: 2, Col: 1}, "2:1"},
		{Pos{}, ""},
	} {
		if got := c.p.String(); got != c.want {
			t.Errorf("%#v.String() = %q, want %q", c.p, got, c.want)
		}
	}
	if got := (&Error{Pos: Pos{File: "f", Line: 1, Col: 2}, Msg: "bad"}).Error(); got != "f:1:2: bad" {
		t.Errorf("Error() = %q", got)
	}
	if got := (&Error{Msg: "bad"}).Error(); got != "bad" {
		t.Errorf("Error() = %q", got)
	}
}

func TestKindString(t *testing.T) {
	want := map[Kind]string{Null: "null", Bool: "boolean", Number: "number", String: "string", Array: "array", Object: "object", 9: "Kind(9)"}
	for k, w := range want {
		if k.String() != w {
			t.Errorf("%d.String() = %q", k, k.String())
		}
	}
}

func TestGetAndPath(t *testing.T) {
	v := mustParse(t, `a { "b.c" { d = 1 } }, e = [1]`, nil, nil)
	if d, ok := v.Path("a", "b.c", "d"); !ok || d.Str != "1" {
		t.Errorf("Path a/b.c/d = %v %v", d, ok)
	}
	for _, p := range [][]string{{"a", "b", "c"}, {"e", "x"}, {"a", "b.c", "d", "x"}, {"missing"}} {
		if _, ok := v.Path(p...); ok {
			t.Errorf("Path %q found", p)
		}
	}
	if got, ok := v.Path(); !ok || got != v {
		t.Error("Path() is not the value itself")
	}
	var nilValue *Value
	if _, ok := nilValue.Path("a"); ok {
		t.Error("nil Value has a path")
	}
	var nilObj *Obj
	if _, ok := nilObj.Get("a"); ok {
		t.Error("nil Obj has a key")
	}
	a, _ := v.Obj.Get("a")
	if _, ok := a.Obj.Get("b"); ok {
		t.Error(`Get splits keys`)
	}
}

func TestJSONRendering(t *testing.T) {
	s := "q\" b\\ n\n t\t r\r f\f b\b c\x01 d\x7f é 😀 <&> \u2028"
	v := &Value{Kind: Object, Obj: &Obj{
		Keys: []string{"s", "n", "t", "f", "z", "a", "e", "o", "bad"},
		Fields: map[string]*Value{
			"s":   {Kind: String, Str: s},
			"n":   {Kind: Number, Str: "-1.5e3"},
			"t":   {Kind: Bool, Bool: true, Str: "true"},
			"f":   {Kind: Bool},
			"z":   {Kind: Null},
			"a":   {Kind: Array, Arr: []*Value{{Kind: Number, Str: "1"}, nil}},
			"e":   {Kind: Array},
			"o":   {Kind: Object},
			"bad": {Kind: Number, Str: "01"},
		},
	}}
	want := `{"s":"q\" b\\ n\n t\t r\r f\f b\b c\u0001 d` + "\x7f" + ` é 😀 <&> ` + "\u2028" + `","n":-1.5e3,"t":true,"f":false,"z":null,"a":[1,null],"e":[],"o":{},"bad":"01"}`
	if got := string(v.JSON()); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	var back map[string]any
	if err := json.Unmarshal(v.JSON(), &back); err != nil || back["s"] != s {
		t.Errorf("round trip: %v %q", err, back["s"])
	}
	// mad's one JSON escaper writes U+FFFD itself, not as \ufffd.
	if got := string((&Value{Kind: String, Str: "a\xffb"}).JSON()); got != "\"a\ufffdb\"" {
		t.Errorf("invalid UTF-8 rendered as %s", got)
	}
	var nilValue *Value
	if got := string(nilValue.JSON()); got != "null" {
		t.Errorf("nil rendered as %s", got)
	}
	// Keys and Fields disagreeing (hand-built): each field once, extras sorted.
	odd := &Value{Kind: Object, Obj: &Obj{Keys: []string{"b", "b", "missing"}, Fields: map[string]*Value{
		"b": {Kind: Null}, "d": {Kind: Null}, "c": {Kind: Null}}}}
	if got := string(odd.JSON()); got != `{"b":null,"c":null,"d":null}` {
		t.Errorf("odd object rendered as %s", got)
	}
	odd = &Value{Kind: Object, Obj: &Obj{Keys: []string{"x", "b"}, Fields: map[string]*Value{"b": {Kind: Null}, "y": {Kind: Null}}}}
	if got := string(odd.JSON()); got != `{"b":null,"y":null}` {
		t.Errorf("odd object rendered as %s", got)
	}
}

func TestResultsAreNotShared(t *testing.T) {
	v := mustParse(t, "a = {x = [1, {y = 2}]}\nb = ${a}\nc = ${a} {z = 3}\nd = [${a.x}, ${a.x}]", nil, nil)
	seen := map[*Value]string{}
	var walk func(path string, v *Value)
	walk = func(path string, v *Value) {
		if p, dup := seen[v]; dup {
			t.Fatalf("%s and %s share a Value", p, path)
		}
		seen[v] = path
		for i, e := range v.Arr {
			walk(path+"["+string(rune('0'+i))+"]", e)
		}
		if v.Obj != nil {
			for _, k := range v.Obj.Keys {
				walk(path+"."+k, v.Obj.Fields[k])
			}
		}
	}
	walk("", v)
}

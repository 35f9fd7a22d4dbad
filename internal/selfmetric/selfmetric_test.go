package selfmetric

import "testing"

func TestSafeNames(t *testing.T) {
	for _, tc := range []struct{ in, source, sink string }{
		{"a/b.c d", "a_b_c_d", "a_b_c d"},
		{"plain", "plain", "plain"},
		{"", "", ""},
	} {
		if got := SourceName(tc.in); got != tc.source {
			t.Errorf("SourceName(%q) = %q; want %q", tc.in, got, tc.source)
		}
		if got := SinkName(tc.in); got != tc.sink {
			t.Errorf("SinkName(%q) = %q; want %q", tc.in, got, tc.sink)
		}
	}
}

func TestWithDoesNotShare(t *testing.T) {
	base := make([]string, 2, 8)
	base[0], base[1] = "a", "1"
	x := With(base, "b", "2")
	y := With(base, "c", "3")
	if x[2] != "b" || y[2] != "c" {
		t.Fatalf("got %q and %q; want independent label sets", x, y)
	}
}

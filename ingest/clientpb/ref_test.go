package clientpb

import (
	"errors"
	"fmt"
	"sort"
	"testing"

	"github.com/gomad/mad/ingest/clientpb/clientpbref"
	"github.com/gomad/mad/internal/sample"
)

// The fuzz targets and TestReference hold the decoder to the slow reference
// decoder, clientpbref.

// errClass is MAD's answer to a decoding error: "" (200), "400", "500", or
// the error itself when it is of no known kind.
func errClass(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, sample.ErrMalformed):
		return "400"
	case errors.Is(err, sample.ErrMADFails):
		return "500"
	}
	return err.Error()
}

// seriesOf groups samples by series, keeping each series' order.
func seriesOf(outs []out) map[string][]out {
	series := map[string][]out{}
	for _, o := range outs {
		k := fmt.Sprintf("%d/%q/%s", o.kind, o.name, o.dims)
		series[k] = append(series[k], o)
	}
	return series
}

// checkReference decodes body with the reference and compares it with what
// the decoder gave: the error class, and on success the counts and every
// series' samples in order.
func checkReference(t testing.TB, version int, body []byte, got []out, st Stats, err error) {
	t.Helper()
	var wb sample.Batch
	wc, werr := clientpbref.Decode(version, body, &wb)
	if errClass(err) != errClass(werr) {
		t.Fatalf("decoder: %v; reference: %v", err, werr)
	}
	if err != nil {
		return
	}
	if st.Records != wc.Records || st.Samples != wc.Samples || len(got) != wc.Samples {
		t.Fatalf("decoder: %+v with %d samples routed; reference: %d records, %d samples", st, len(got), wc.Records, wc.Samples)
	}
	want := seriesOf(outs(t, &wb))
	if len(wb.Samples) != wc.Samples {
		t.Fatalf("the reference appended %d samples; it counts %d", len(wb.Samples), wc.Samples)
	}
	series := seriesOf(got)
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if len(series) != len(want) {
		t.Fatalf("decoder routed %d series; reference %d (%v)", len(series), len(want), keys)
	}
	for _, k := range keys {
		g, w := series[k], want[k]
		if !sameOuts(g, w) {
			t.Fatalf("series %s:\n got %v\nwant %v", k, g, w)
		}
	}
}

func TestReference(t *testing.T) {
	for v := 1; v <= 3; v++ {
		for _, s := range seeds(v) {
			t.Run(fmt.Sprintf("v%d/%s", v, s.name), func(t *testing.T) {
				got, st, err := collect(t, v, s.body)
				checkReference(t, v, s.body, got, st, err)
			})
		}
	}
}

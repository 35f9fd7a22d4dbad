package engine

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomad/mad/shard"
)

// TestSeriesLimitHoldsAndReloads: a pipeline's maxSeries holds however many
// distinct series arrive (split across its shards), the refusals are
// counted on /metrics by reason, and a reload that raises it applies to the
// running shards, keeping their series.
func TestSeriesLimitHoldsAndReloads(t *testing.T) {
	r := startReloadRun(t, "maxSeries=100", "%s")
	shards := r.d.Pipelines()[0].Shards()
	sent := 0
	// send sends n new distinct series and waits until the shards have
	// taken or refused every sample.
	send := func(n int) {
		t.Helper()
		c, err := net.Dial("tcp", "127.0.0.1:"+r.port)
		must(t, err)
		var b strings.Builder
		for range n {
			fmt.Fprintf(&b, "limit.s%d:1|c\n", sent)
			sent++
		}
		_, err = c.Write([]byte(b.String()))
		must(t, err)
		must(t, c.Close())
		// Waits on what check reads: a shard publishes its sample count a
		// few stores before its series and refusals.
		waitUntil(t, "the samples applied", 30*time.Second, func() bool {
			total, taken := uint64(0), uint64(0)
			for _, s := range r.d.Pipelines()[0].Shards() {
				st := s.Stats()
				total += st.Samples
				taken += st.Series + st.Refused[shard.RefusedSeriesLimit]
			}
			return total >= uint64(sent) && taken >= uint64(sent)
		})
	}
	check := func(limit int) {
		t.Helper()
		var series, refused uint64
		for _, s := range r.d.Pipelines()[0].Shards() {
			st := s.Stats()
			series += st.Series
			refused += st.Refused[shard.RefusedSeriesLimit]
		}
		if series != uint64(limit) || series+refused != uint64(sent) {
			t.Fatalf("%d series tracked, %d refused of %d sent; want %d tracked, the rest refused", series, refused, sent, limit)
		}
		metrics := get(t, "http://"+r.d.HTTPAddr().String()+"/metrics")
		if want := fmt.Sprintf(`mad_pipeline_series_limit{pipeline="p"} %d`, limit); !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
		var counted uint64
		for _, m := range regexp.MustCompile(`(?m)^mad_shard_refused_total\{pipeline="p",shard="\d+",reason="series_limit"\} (\d+)$`).FindAllStringSubmatch(metrics, -1) {
			n, _ := strconv.ParseUint(m[1], 10, 64)
			counted += n
		}
		if counted != refused {
			t.Errorf("/metrics counts %d refused at the series limit; want %d", counted, refused)
		}
	}
	send(1000)
	check(100)
	r.reload("maxSeries=300", "%s")
	if got := r.d.Pipelines()[0].Shards(); len(got) != len(shards) || got[0] != shards[0] {
		t.Fatalf("the reload replaced the shards; want them reconfigured in place")
	}
	send(1000)
	check(300)
}

package ingest

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gomad/mad/internal/sample"
)

// shippedCollectdRules are the findAndReplace rules of the collectd
// MappingSource in MAD's shipped pipeline.conf (testdata/mad/config,
// lines 108-140), unescaped from HOCON.
var shippedCollectdRules = []MappingRule{
	{`^cpu/([\d]+)/(cpu|percent)/([^/]+)(/value)?`, []string{"cpu/$3", "cpu/by_core/$1/$3"}},
	{`^snmp/cpu_detailed/([\d]+)/([^/]+)(/value)?`, []string{"snmp/cpu/$2", "snmp/cpu/by_core/$1/$2"}},
	{`^load/load/((1|5|15)min)`, []string{"load/$1"}},
	{`^memory/memory/([^/]+)(/value)?`, []string{"memory/$1"}},
	{`^vmem/vmpage_number/([^/]+)(/value)?`, []string{"vmem/$1"}},
	{`^vmem/vmpage_io/([^/]+)/(.*)`, []string{"vmem/io/$1/$2"}},
	{`^vmem/vmpage_faults/(.*)`, []string{"vmem/faults/$1"}},
	{`^swap/swap/([^/]+)(/value)?`, []string{"swap/$1"}},
	{`^swap/swap_io/([^/]+)(/value)?`, []string{"swap/io/$1"}},
	{`^interface/([^/]+)/if_([^/]+)/(.*)`, []string{"interface/$1/$3/$2"}},
	{`^disk/([^/]+)/disk_([^/]+)/(read|write)`, []string{"disk/$1/$3/$2"}},
	{`^df/(.*)(/value)?`, []string{"disk/$1"}},
	{`^ntpd/(.*)(/value)?`, []string{"ntpd/$1"}},
	{`^processes/ps_state/([^/]+)(/value)?`, []string{"processes/by_state/$1"}},
	{`^processes/([^/]+)/ps_(vm|rss|data|code|stacksize)(/value)?`, []string{"processes/by_name/$1/$2"}},
	{`^processes/([^/]+)/ps_(cputime|count|pagefaults)/(.*)`, []string{"processes/by_name/$1/$2/$3"}},
	{`^processes/([^/]+)/ps_disk_([^/]+)/(.*)`, []string{"processes/by_name/$1/disk/$3/$2"}},
	{`^tcpconns/([^-]+)-(local|remote)/tcp_connections/([^/]+)(/value)?`, []string{"tcpconns/$2/$1/$3"}},
	{`^tcpconns/all/tcp_connections/([^/]+)(/value)?`, []string{"tcpconns/all/$1"}},
	{`^memcached/df/cache/(.*)`, []string{"memcached/cache/$1"}},
	{`^memcached/memcached_command/([^/]+)(/value)?`, []string{"memcached/commands/$1"}},
	{`^memcached/memcached_connections/current(/value)?`, []string{"memcached/connections"}},
	{`^memcached/memcached_items/current(/value)?`, []string{"memcached/items"}},
	{`^memcached/memcached_octets/rx`, []string{"memcached/network/bytes_read"}},
	{`^memcached/memcached_octets/tx`, []string{"memcached/network/bytes_written"}},
	{`^memcached/memcached_ops/([^/]+)(/value)?`, []string{"memcached/operations/$1"}},
	{`^memcached/percent/([^/]+)(/value)?`, []string{"memcached/$1"}},
	{`^memcached/ps_count/.*`, nil},
	{`^memcached/ps_cputime/.*`, nil},
	{`^uptime/uptime(/value)?`, []string{"uptime/value"}},
}

// collectdNames returns the metric names of a collectd host with the
// common plugins (about 250), some of which no rule maps.
func collectdNames() []string {
	var names []string
	for c := range 16 {
		for _, s := range []string{"user", "system", "idle", "wait", "nice", "interrupt", "softirq", "steal"} {
			names = append(names, fmt.Sprintf("cpu/%d/cpu/%s", c, s))
		}
	}
	for _, s := range []string{"1min", "5min", "15min"} {
		names = append(names, "load/load/"+s)
	}
	for _, s := range []string{"used", "free", "cached", "buffered", "slab_recl", "slab_unrecl"} {
		names = append(names, "memory/memory/"+s+"/value", "swap/swap/"+s+"/value")
	}
	for _, s := range []string{"in", "out"} {
		names = append(names, "swap/swap_io/"+s+"/value", "vmem/vmpage_io/memory/"+s, "vmem/vmpage_faults/"+s)
	}
	for _, i := range []string{"eth0", "eth1", "lo"} {
		for _, k := range []string{"octets", "packets", "errors", "dropped"} {
			names = append(names, "interface/"+i+"/if_"+k+"/rx", "interface/"+i+"/if_"+k+"/tx")
		}
	}
	for _, d := range []string{"sda", "sda1", "sdb", "nvme0n1"} {
		for _, k := range []string{"octets", "ops", "time", "merged"} {
			names = append(names, "disk/"+d+"/disk_"+k+"/read", "disk/"+d+"/disk_"+k+"/write")
		}
	}
	for _, m := range []string{"root", "boot", "var", "data"} {
		for _, k := range []string{"free", "used", "reserved"} {
			names = append(names, "df/"+m+"/df_complex/"+k+"/value")
		}
	}
	for _, s := range []string{"running", "sleeping", "zombies", "stopped", "paging", "blocked"} {
		names = append(names, "processes/ps_state/"+s+"/value")
	}
	for _, p := range []string{"java", "nginx", "collectd"} {
		names = append(names, "processes/"+p+"/ps_rss/value", "processes/"+p+"/ps_vm/value",
			"processes/"+p+"/ps_cputime/user", "processes/"+p+"/ps_count/processes", "processes/"+p+"/ps_disk_octets/read")
	}
	for _, s := range []string{"ESTABLISHED", "TIME_WAIT", "LISTEN", "CLOSE_WAIT"} {
		names = append(names, "tcpconns/8080-local/tcp_connections/"+s+"/value", "tcpconns/all/tcp_connections/"+s+"/value")
	}
	names = append(names, "uptime/uptime/value", "entropy/entropy/value", "users/users/value",
		"contextswitch/contextswitch/value", "irq/irq/0/value", "irq/irq/1/value", "ntpd/time_offset/loop/value")
	return names
}

// BenchmarkMappingCollectd maps collectd samples through the shipped
// collectd MappingSource (32 rules): hosts of the names above, batches of
// 4 096 samples in a random order. ns a sample. At 100 hosts (25 000
// series) every series stays cached; at 1 000 (250 000, most of them in
// the 125 batches taken in turn) they are more than a producer's cache holds
// by default (65 536), which clears and fills again; "cache=raised" is
// the same with the cache raised to 300 000 series in 64 MiB
// (maxCachedSeries, maxCachedBytes).
func BenchmarkMappingCollectd(b *testing.B) {
	for _, hosts := range []int{100, 1000} {
		b.Run(fmt.Sprintf("hosts=%d", hosts), func(b *testing.B) { benchMapping(b, hosts, 0, 0) })
	}
	b.Run("hosts=1000/cache=raised", func(b *testing.B) { benchMapping(b, 1000, 300_000, 64<<20) })
}

func benchMapping(b *testing.B, hosts, maxSeries, maxBytes int) {
	spec, err := NewMappingSpec("mapping", shippedCollectdRules)
	if err != nil {
		b.Fatal(err)
	}
	spec.MaxSeries, spec.MaxBytes = maxSeries, maxBytes
	m := spec.NewMapper()
	names := collectdNames()
	const per = 4096
	r := rand.New(rand.NewPCG(1, 2))
	var batches []sample.Batch
	for range max(16, hosts/8) { // 16 batches hold most of 100 hosts' series, 125 most of 1 000's

		var src sample.Batch
		for range per {
			dims := []sample.Dim{{Key: []byte("host"), Value: fmt.Appendf(nil, "host-%03d", r.IntN(hosts))}}
			ref, err := src.PutKey(sample.KindGauge, []byte(names[r.IntN(len(names))]), dims)
			if err != nil {
				b.Fatal(err)
			}
			src.AddValue(ref, 1000, 0, 1, sample.UnitNone)
		}
		batches = append(batches, src)
	}
	var dst sample.Batch
	route := func(uint64) *sample.Batch { return &dst }
	for i := range batches { // every series seen once, as in a steady state
		m.Map(&batches[i], route)
		dst.Reset()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		m.Map(&batches[i%len(batches)], route)
		dst.Reset()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*per), "ns/sample")
}

package shard

import "testing"

// FuzzDifferential drives random workloads (configuration, keys, record
// times, late and future data, pre-aggregated statistics, units, ticks and
// snapshot releases) from the fuzzer's bytes through the shard and the
// reference aggregator, and fails on any difference.
//
//	go test ./shard -run '^$' -fuzz FuzzDifferential -fuzztime 60s
func FuzzDifferential(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("\x05\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"))
	f.Add([]byte("late data and many periods: \xff\xfe\xfd\x10\x20\x30\x40\x50\x60\x70\x80\x90\xa0\xb0\xc0\xd0\xe0"))
	f.Fuzz(func(t *testing.T, data []byte) {
		runDifferential(t, &decider{data: data})
	})
}

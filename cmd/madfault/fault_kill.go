//go:build linux

package main

import (
	"fmt"
	"sort"
	"time"
)

// killPeriods are the default pipeline's periods and MAD's timeouts for
// them (clamp(period/2, 1 s, 10 min)): a bucket is sealed once its
// expiration, start + period + timeout, has passed.
var killPeriods = []struct {
	name            string
	period, timeout time.Duration
}{
	{"PT1S", time.Second, time.Second},
	{"PT1M", time.Minute, 30 * time.Second},
}

// faultKill sends valid traffic in one burst per second (at .5 s), kills
// mad with SIGKILL at .8 s of a second once it has read every line,
// restarts it at once, sends again, and stops it with SIGTERM at .8 s of a
// second. What SIGKILL loses must be exactly the buckets open at the
// kill (those whose expiration had not passed): complete buckets or
// nothing, and nothing else; SIGTERM must lose nothing.
func faultKill(c *campaign) []result {
	kill := result{Fault: "SIGKILL mid-period, restart"}
	term := result{Fault: "SIGTERM"}
	dir, err := c.subdir("kill")
	if err != nil {
		return errResult(kill.Fault, err)
	}
	const series = 100
	conf := configText(pipelineText("fault", []string{tcpSource("valid")}, []string{jsonSink("json", "-")}))
	o := newOutput()
	s1, err := c.startSessionTo(dir, "mad-1", conf, o)
	if err != nil {
		return errResult(kill.Fault, err)
	}
	v := newValidStream(series)
	if err := v.start(s1.m.Source("valid"), time.Second, 500*time.Millisecond); err != nil {
		s1.end()
		return errResult(kill.Fault, err)
	}
	kill.Mem.Before, _ = rss(s1.m.PID())
	time.Sleep(c.dur(100*time.Second, 8*time.Second))
	at, err := quiesce(v, s1.m, 0)
	if err != nil {
		s1.end()
		return errResult(kill.Fault, err)
	}
	_, kill.Mem.Peak = rss(s1.m.PID())
	kill.Mem.SampledPeak = s1.samp.sampledPeak()
	kill.Ping = s1.samp.finish()
	time.Sleep(time.Until(at))
	// Kill once every bucket that closed before now (by more than
	// killMargin) is out: a slow machine delays the kill instead of
	// losing closed buckets in mad's output path.
	var killAt time.Time
	if !waitFor(time.Minute, func() bool {
		killAt = time.Now()
		_, bursts := v.sent()
		return emittedBefore(o, v, bursts, killAt.Add(-killMargin))
	}) {
		s1.end()
		return errResult(kill.Fault, fmt.Errorf("mad did not emit its closed buckets within a minute"))
	}
	exit1 := s1.m.Kill()
	s1.wait()
	c.log("  killed at %s (%s); restarting", killAt.Format("15:04:05.000"), exit1)
	s2, err := c.startSessionTo(dir, "mad-2", conf, o)
	if err != nil {
		return errResult(kill.Fault, err)
	}
	restarted := time.Now()
	kill.Mem.After, _ = rss(s2.m.PID())
	term.Mem.Before = kill.Mem.After
	linesBefore, _ := v.sent()
	if err := v.start(s2.m.Source("valid"), time.Second, 500*time.Millisecond); err != nil {
		s2.end()
		return errResult(kill.Fault, err)
	}
	time.Sleep(c.dur(70*time.Second, 6*time.Second))
	at, err = quiesce(v, s2.m, linesBefore)
	if err != nil {
		s2.end()
		return errResult(kill.Fault, err)
	}
	time.Sleep(time.Until(at))
	term.Mem.After, term.Mem.Peak = rss(s2.m.PID())
	term.Mem.SampledPeak = s2.samp.sampledPeak()
	termAt := time.Now()
	ping2, exit2 := s2.end()
	term.Ping = ping2
	_, bursts := v.sent()

	// Per bucket: what was sent before the kill and after it, and what
	// came out.
	type bucket struct {
		period string
		start  int64
	}
	type side struct{ pre, post int }
	sentIn := map[bucket]*side{}
	for _, b := range bursts {
		at := b.at // mad stamps StatsD lines when it reads them
		for _, p := range killPeriods {
			key := bucket{p.name, at.Truncate(p.period).Unix()}
			sd := sentIn[key]
			if sd == nil {
				sd = &side{}
				sentIn[key] = sd
			}
			if at.Before(killAt) {
				sd.pre++
			} else {
				sd.post++
			}
		}
	}
	var keys []bucket
	for k := range sentIn {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].period != keys[j].period {
			return keys[i].period > keys[j].period
		}
		return keys[i].start < keys[j].start
	})
	var openAtKill []string
	var lostSamples, predictedLost, wrongBuckets, termBuckets, termWrong int
	var wrong []string
	for _, key := range keys {
		sd := sentIn[key]
		var p = killPeriods[0]
		if key.period == "PT1M" {
			p = killPeriods[1]
		}
		start := time.Unix(key.start, 0)
		exp := start.Add(p.period + p.timeout)
		open := sd.pre > 0 && !exp.Before(killAt)
		if d := exp.Sub(killAt); sd.pre > 0 && d > -killMargin && d < killMargin {
			// Sealed around the kill: either is right, as long as
			// the bucket is whole or lost whole.
			open = !o.complete(key.period, key.start, v, sd.pre+sd.post)
		}
		want := sd.pre + sd.post
		if open {
			want = sd.post
			openAtKill = append(openAtKill, fmt.Sprintf("%s %s (bursts before the kill: %d)", key.period, start.UTC().Format("15:04:05"), sd.pre))
			predictedLost += sd.pre * series
		}
		// Each burst carries one sample of every series; the rows of a
		// bucket must count want samples per series.
		o.mu.Lock()
		got := 0
		bad := false
		for i := 0; i < series; i++ {
			id, _, _ := v.contribution(0, i)
			g := o.valid[bucketKey{key.period, key.start, id}]
			got += int(g.Count)
			if int(g.Count) != want {
				bad = true
			}
		}
		o.mu.Unlock()
		lostSamples += (sd.pre+sd.post)*series - got
		if sd.pre == 0 {
			termBuckets++
			if bad {
				termWrong++
			}
		}
		if bad {
			wrongBuckets++
			if len(wrong) < 10 {
				wrong = append(wrong, fmt.Sprintf("%s %s: want %d samples per series (%d before the kill, %d after), got %d in all", key.period, start.UTC().Format("15:04:05"), want, sd.pre, sd.post, got))
			}
		}
	}
	var preBursts, postBursts int
	for _, b := range bursts {
		if b.at.Before(killAt) {
			preBursts++
		} else {
			postBursts++
		}
	}
	valid, validOK := o.check(v, bursts)
	kill.Sent = fmt.Sprintf("%s samples before the kill, %s after", n(preBursts*series), n(postBursts*series))
	kill.Emitted = fmt.Sprintf("%s samples lost; the open buckets held %s", n(lostSamples), n(predictedLost))
	kill.Dropped = "n/a (SIGKILL)"
	kill.Valid = "this fault's traffic: " + valid
	if validOK {
		kill.fail("nothing was lost: the kill did not hit open buckets")
	}
	if wrongBuckets > 0 {
		kill.fail("%d buckets differ from \"complete, or lost whole when open at the kill\"", wrongBuckets)
	}
	if lostSamples != predictedLost {
		kill.fail("lost %s samples, the open buckets held %s", n(lostSamples), n(predictedLost))
	}
	if exit1 != "signal: killed" {
		kill.fail("mad ended with %s", exit1)
	}
	kill.detail("%d series, one sample each per burst, a burst at .5 s of every second over TCP; mad-1 was killed at %s UTC (.8 s into the second, after /metrics showed every line read) and mad-2 was ready %s later.",
		series, killAt.UTC().Format("15:04:05.000"), restarted.Sub(killAt).Round(10*time.Millisecond))
	kill.detail("")
	kill.detail("Buckets open at the kill (expiration start + period + timeout not yet passed): %s. Their samples sent before the kill are lost; every other bucket came out complete (%d buckets checked, %d wrong).",
		joinSemi(openAtKill), len(keys), wrongBuckets)
	for _, w := range wrong {
		kill.detail("- %s", w)
	}
	term.Sent = fmt.Sprintf("%s samples", n(postBursts*series))
	term.Emitted = fmt.Sprintf("%d buckets after the restart, %d wrong", termBuckets, termWrong)
	term.Dropped = "0 expected"
	term.Valid = "see SIGKILL (same traffic)"
	if termWrong > 0 {
		term.fail("%d buckets after the restart not exact", termWrong)
	}
	if exit2 != "exit status 0" {
		term.fail("mad ended with %s", exit2)
	}
	term.detail("mad-2 took the traffic from the restart and got SIGTERM at %s UTC (.8 s into a second, every line read): every bucket holding only post-restart samples, the open PT1S and PT1M buckets included, came out exact (%d buckets, %d wrong).",
		termAt.UTC().Format("15:04:05.000"), termBuckets, termWrong)
	return []result{kill, term}
}

// killMargin is how close to a bucket's expiration the kill may come and
// the bucket count as either open or sealed at the kill (a shard seals on
// its next tick past the expiration, rounded up to 100 ms).
const killMargin = 300 * time.Millisecond

// expiration is when a bucket of period p starting at start closes.
func expiration(p time.Duration, start time.Time) time.Time {
	for _, kp := range killPeriods {
		if kp.period == p {
			return start.Add(p + kp.timeout)
		}
	}
	panic("BUG: no timeout for period " + p.String())
}

// emittedBefore reports whether every bucket of the bursts that expired
// before t is in the output, whole.
func emittedBefore(o *output, v *validStream, bursts []burst, t time.Time) bool {
	type key struct {
		name  string
		start int64
	}
	per := map[key]int{}
	for _, b := range bursts {
		at := b.at // mad stamps StatsD lines when it reads them
		for _, p := range killPeriods {
			if start := at.Truncate(p.period); expiration(p.period, start).Before(t) {
				per[key{p.name, start.Unix()}]++
			}
		}
	}
	for k, bursts := range per {
		if !o.complete(k.name, k.start, v, bursts) {
			return false
		}
	}
	return true
}

// quiesce waits for the next burst, halts the stream, waits until mad has
// read every line (all but the first base, sent to an earlier process),
// and returns .8 s into the second of the last burst.
func quiesce(v *validStream, m *madProc, base int64) (time.Time, error) {
	lines0, _ := v.sent()
	if !waitFor(5*time.Second, func() bool { l, _ := v.sent(); return l > lines0 }) {
		return time.Time{}, fmt.Errorf("no burst sent in 5 s")
	}
	if err := v.halt(); err != nil {
		return time.Time{}, err
	}
	lines, bursts := v.sent()
	if !m.waitLines("valid", lines-base, 5*time.Second) {
		return time.Time{}, fmt.Errorf("mad did not read the last burst within 5 s")
	}
	last := bursts[len(bursts)-1]
	return last.at.Truncate(time.Second).Add(800 * time.Millisecond), nil
}

//go:build linux

package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"
)

// lineCounter reads r, counting lines, until it ends or until the
// deadline, when it closes r (the reader goes away).
type lineCounter struct {
	lines atomic.Int64
	done  chan struct{}
}

func countLines(r io.ReadCloser, closeAt time.Time) *lineCounter {
	lc := &lineCounter{done: make(chan struct{})}
	t := time.AfterFunc(time.Until(closeAt), func() { r.Close() })
	go func() {
		defer close(lc.done)
		defer t.Stop()
		buf := make([]byte, 256<<10)
		for {
			k, err := r.Read(buf)
			lc.lines.Add(int64(bytes.Count(buf[:k], []byte{'\n'})))
			if err != nil {
				return
			}
		}
	}()
	return lc
}

// faultJSONLines runs JSON-lines sinks whose output fails: one on a full
// disk (/dev/full: every write fails with ENOSPC) and one on a FIFO whose
// reader goes away (EPIPE), beside a good JSON-lines sink that takes the
// valid traffic; then mad with its standard output (the default
// configuration's JSON lines) a pipe whose reader goes away. The failing
// sinks must count what they lose, count as written only what was written,
// and never stall the emitter.
func faultJSONLines(c *campaign) []result {
	dur := c.dur(time.Minute, 15*time.Second)
	rs := jsonFullAndFIFO(c, dur)
	return append(rs, jsonStdoutClosed(c, c.dur(30*time.Second, 10*time.Second)))
}

func jsonFullAndFIFO(c *campaign, dur time.Duration) []result {
	const fault = "JSON lines on /dev/full and on a closed FIFO"
	dir, err := c.subdir("jsonlines")
	if err != nil {
		return errResult(fault, err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		return errResult(fault, err)
	}
	// mad's open of the FIFO waits for this reader, and this open for mad.
	opened := make(chan *os.File, 1)
	go func() {
		f, err := os.OpenFile(fifo, os.O_RDONLY, 0)
		if err != nil {
			opened <- nil
			return
		}
		opened <- f
	}()
	sinks := []string{jsonSink("json", "-"), jsonSink("full", "/dev/full"), jsonSink("fifo", fifo)}
	s, err := c.startSession(dir, "mad", configText(pipelineText("fault", []string{tcpSource("valid")}, sinks)))
	if err != nil {
		// Release the reader's open.
		if w, e := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); e == nil {
			w.Close()
		}
		return errResult(fault, err)
	}
	rf := <-opened
	if rf == nil {
		s.end()
		return errResult(fault, fmt.Errorf("cannot open the FIFO"))
	}
	start := time.Now()
	fifoReader := countLines(rf, start.Add(dur/3))
	v := newValidStream(200)
	var mem memory
	mem.Before, _ = rss(s.m.PID())
	if err := v.start(s.m.Source("valid"), 100*time.Millisecond, 50*time.Millisecond); err != nil {
		s.end()
		return errResult(fault, err)
	}
	time.Sleep(dur)
	verr := v.halt()
	lines, bursts := v.sent()
	s.m.waitLines("valid", lines, time.Minute)
	time.Sleep(3 * time.Second)
	<-fifoReader.done
	m2, err := s.m.Metrics()
	if err != nil {
		s.end()
		return errResult(fault, err)
	}
	mem.After, mem.Peak = rss(s.m.PID())
	mem.SampledPeak = s.samp.sampledPeak()
	lag := s.out.lag()
	ping, exit := s.end()
	valid, validOK := s.out.check(v, bursts)
	if verr != nil {
		valid, validOK = "sender failed: "+verr.Error(), false
	}
	offered := m2.get("mad_emitter_metrics_total")
	goodWritten := m2.get("mad_sink_written_total", "sink", "json")
	var out []result
	for _, k := range []struct {
		sink, what string
		delivered  int64
	}{
		{"full", "/dev/full (ENOSPC)", 0},
		{"fifo", fmt.Sprintf("a FIFO whose reader left after %s", (dur / 3).Round(time.Second)), fifoReader.lines.Load()},
	} {
		r := result{Fault: "JSON lines on " + k.what, Mem: mem, Ping: ping, Valid: valid}
		l := []string{"sink", k.sink}
		written, dropped := m2.get("mad_sink_written_total", l...), m2.get("mad_sink_dropped_total", l...)
		errs, queued := m2.get("mad_sink_errors_total", l...), m2.get("mad_sink_queue_length", l...)
		r.Sent = n(offered) + " rows"
		r.Emitted = fmt.Sprintf("%s written (counted), %s arrived", n(written), n(k.delivered))
		r.Dropped = fmt.Sprintf("%s rows, %s write errors", n(dropped), n(errs))
		if !validOK {
			r.fail("valid traffic not exact")
		}
		if float64(k.delivered) != written {
			r.fail("%s rows counted as written, %s arrived", n(written), n(k.delivered))
		}
		if written+dropped != offered {
			r.fail("written + dropped = %s of %s rows handed to the sink", n(written+dropped), n(offered))
		}
		if lag > 3*time.Second {
			r.fail("the emitter stalled: a PT1S row of the good sink arrived %s after its period", lag.Round(100*time.Millisecond))
		}
		if exit != "exit status 0" && exit != "exit status 1" {
			r.fail("mad ended with %s", exit)
		}
		r.detail("The pipeline has three JSON-lines sinks: `json` on standard output (read by the campaign; it carries the valid traffic), `full` on /dev/full, `fifo` on a FIFO read by the campaign for the first third of the run, then closed.")
		r.detail("")
		r.detail("Rows the emitter handed each sink: %s; the good sink wrote %s. This sink: %s written, %s dropped, %s errors, %v chunks still queued; %s rows arrived at the device.",
			n(offered), n(goodWritten), n(written), n(dropped), n(errs), queued, n(k.delivered))
		r.detail("The good sink's PT1S rows arrived at most %s after the end of their period (1 s of it is MAD's timeout). mad exited with %q (1: `stopped with errors`, the sinks' write errors, reported at stop).", lag.Round(10*time.Millisecond), exit)
		out = append(out, r)
	}
	return out
}

// jsonStdoutClosed runs mad with its JSON lines on standard output, read
// through a pipe whose reader goes away after a third of the run (as with
// `mad | head`), and a good JSON-lines sink on a file for the valid traffic.
func jsonStdoutClosed(c *campaign, dur time.Duration) result {
	r := result{Fault: "JSON lines on standard output, reader gone"}
	dir, err := c.subdir("stdout")
	if err != nil {
		r.Err = err
		return r
	}
	good := filepath.Join(dir, "good.jsonl")
	pr, pw, err := os.Pipe()
	if err != nil {
		r.Err = err
		return r
	}
	conf := configText(pipelineText("fault", []string{tcpSource("valid")}, []string{jsonSink("stdout", "-"), jsonSink("json", good)}))
	m, err := startMad(c.bin, dir, "mad", conf, c.cpus, pw)
	pw.Close()
	if err != nil {
		pr.Close()
		r.Err = err
		return r
	}
	samp := startSampler(m)
	reader := countLines(pr, time.Now().Add(dur/3))
	r.Mem.Before, _ = rss(m.PID())
	v := newValidStream(200)
	if err := v.start(m.Source("valid"), 100*time.Millisecond, 50*time.Millisecond); err != nil {
		samp.finish()
		m.Stop()
		r.Err = err
		return r
	}
	time.Sleep(dur)
	verr := v.halt()
	lines, bursts := v.sent()
	alive := m.Alive()
	var m2 prom
	if alive {
		m.waitLines("valid", lines, time.Minute)
		time.Sleep(3 * time.Second)
		m2, _ = m.Metrics()
		r.Mem.After, r.Mem.Peak = rss(m.PID())
	}
	r.Mem.SampledPeak = samp.sampledPeak()
	r.Ping = samp.finish()
	exit := m.Stop()
	<-reader.done
	o := newOutput()
	if f, err := os.Open(good); err == nil {
		o.readFrom(bufio.NewReader(f))
		f.Close()
	}
	var validOK bool
	r.Valid, validOK = o.check(v, bursts)
	if verr != nil {
		r.Valid = fmt.Sprintf("%s (sender: %v)", r.Valid, verr)
	}
	r.Sent = fmt.Sprintf("%s valid lines over %s", n(lines), dur)
	if alive {
		offered := m2.get("mad_emitter_metrics_total")
		r.Sent = n(offered) + " rows"
		written, dropped, errs := m2.get("mad_sink_written_total", "sink", "stdout"), m2.get("mad_sink_dropped_total", "sink", "stdout"), m2.get("mad_sink_errors_total", "sink", "stdout")
		r.Emitted = fmt.Sprintf("%s written (counted), %s arrived", n(written), n(reader.lines.Load()))
		r.Dropped = fmt.Sprintf("%s rows, %s write errors", n(dropped), n(errs))
		if written != float64(reader.lines.Load()) {
			r.fail("%s rows counted as written, %s arrived", n(written), n(reader.lines.Load()))
		}
		if written+dropped != offered {
			r.fail("written + dropped = %s of %s rows handed to the sink", n(written+dropped), n(offered))
		}
	} else {
		r.Emitted = fmt.Sprintf("%s rows arrived before the reader left", n(reader.lines.Load()))
		r.Dropped = "n/a: mad died"
		r.fail("mad died when its standard output's reader went away (%s)", exit)
	}
	if !validOK {
		r.fail("valid traffic not exact")
	}
	r.detail("mad ran with two JSON-lines sinks: `stdout` on standard output, a pipe read by the campaign for the first third of the run (%s), then closed; `json` on a file, which takes the valid traffic.",
		(dur / 3).Round(time.Second))
	r.detail("")
	r.detail("mad was %s at the end of the run and exited with %q.", map[bool]string{true: "alive", false: "dead"}[alive], exit)
	if !alive {
		r.detail("Go's runtime kills a program that writes to a broken pipe on file descriptor 1 or 2 with SIGPIPE unless the program asks for the signal (os/signal: \"If the program is not calling Notify for SIGPIPE … a write to a broken pipe on file descriptors 1 or 2 causes the program to exit\"); mad does not, so `mad | head` or a log shipper that restarts kills the daemon and loses its open buckets.")
	}
	return r
}

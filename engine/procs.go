package engine

import (
	"os"
	"runtime"

	"github.com/gomad/mad/affinity"
	"github.com/gomad/mad/engine/pipeline"
)

// Processors for the control plane (issue 14, item 9). The data plane is a
// set of loops that never block on anything but their input: each shard
// and each UDP loop on an OS thread of its own (runtime.LockOSThread), each
// TCP event loop in gnet. Under load every one of them runs without pause,
// and each running goroutine holds one of GOMAXPROCS Ps. Go's default,
// one P per usable CPU, leaves the control plane no P while as many loops
// as CPUs are busy: /ping's goroutine (and the emitter, and an HTTP ingest
// request) then waits for the scheduler to preempt a loop, every 10 ms at
// best, behind every other runnable goroutine, and the network is polled
// only by the runtime's monitor. Bound to one CPU under overload, /ping took
// 50 ms at the median and up to a second or more.
//
// So the daemon runs with one P per usable CPU plus one per data-plane
// loop, plus a third more for the garbage collector, whose dedicated mark
// workers take a quarter of the Ps while a cycle runs: busy loops take
// their own Ps, the control plane keeps as many as there are CPUs, even
// during a GC cycle, and the operating system's scheduler shares the CPUs
// between the threads, as it does between processes, waking a thread that
// has work (a /ping request) promptly. Loops that are idle sleep and hold
// no P. The count follows the running pipelines (after start-up and every
// reload). A GOMAXPROCS set in the environment is left as it is.
//
// Measured on 2 shared CPUs, mad bound to one of them, under cmd/madfault's
// overload (UDP, TCP and HTTP together), /ping's median went from 55-64 ms
// to 1 ms, that of an idle Go HTTP server bound to the same CPU; its tail
// (p99 50-400 ms) is the idle server's too, the machine's other jobs.

// sizeProcsLocked sets GOMAXPROCS for the running pipelines (procsFor),
// unless the environment sets it. Under d.mu.
func (d *Daemon) sizeProcsLocked() {
	if os.Getenv("GOMAXPROCS") != "" {
		return
	}
	if n := procsFor(affinity.Usable(), d.pipelinesLocked()); n != runtime.GOMAXPROCS(0) {
		runtime.GOMAXPROCS(n)
	}
}

// procsFor returns the Ps for cpus usable CPUs and the data-plane loops of
// ps (their shards, and the loops of their sources that have any: UDP,
// TCP): n = cpus + loops, and a third more (rounded up) for the GC's
// dedicated workers, so that n remain during a GC cycle.
func procsFor(cpus int, ps []*pipeline.Pipeline) int {
	n := cpus
	for _, p := range ps {
		n += len(p.Shards())
		for _, s := range p.Sources() {
			if l, ok := s.(interface{ Loops() int }); ok {
				n += l.Loops()
			}
		}
	}
	return (4*n + 2) / 3
}

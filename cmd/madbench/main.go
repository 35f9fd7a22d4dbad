//go:build linux

// Command madbench measures StatsD daemons (mad, its peers, a Java MAD)
// from outside, on the workloads of PERF.md.
//
//	madbench s1 -name mad -pid 1234 -addr 127.0.0.1:8125 -names 10000 -datagrams 300000
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"

	"github.com/gomad/mad/bench"
)

func main() {
	if len(os.Args) < 2 || os.Args[1] != "s1" {
		fmt.Fprintln(os.Stderr, "usage: madbench s1 -pid PID [-name NAME] [-addr HOST:PORT] [-names N] [-datagrams N] [-sockets N] [-seed N]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet("s1", flag.ExitOnError)
	name := fs.String("name", "target", "name of the target in the results")
	pid := fs.Int("pid", 0, "PID of the target daemon")
	addr := fs.String("addr", "127.0.0.1:8125", "StatsD UDP address of the target")
	names := fs.Int("names", 10000, "distinct metric names")
	datagrams := fs.Int("datagrams", 300000, "datagrams to send")
	sockets := fs.Int("sockets", 4, "sending sockets (source ports)")
	seed := fs.Uint64("seed", 1, "workload seed")
	fs.Parse(os.Args[2:])
	if *pid == 0 {
		fmt.Fprintln(os.Stderr, "madbench: -pid is required")
		os.Exit(2)
	}
	_, p, err := net.SplitHostPort(*addr)
	port, _ := strconv.Atoi(p)
	if err != nil || port == 0 {
		fmt.Fprintln(os.Stderr, "madbench: bad -addr")
		os.Exit(2)
	}
	payloads := bench.S1{Names: *names, Seed: *seed}.Build()
	r, err := bench.Measure(bench.Target{Name: *name, PID: *pid, Addr: *addr, Port: port}, payloads, *datagrams, *sockets)
	if err != nil {
		fmt.Fprintln(os.Stderr, "madbench:", err)
		os.Exit(1)
	}
	fmt.Print(bench.Table([]bench.Result{r}))
}

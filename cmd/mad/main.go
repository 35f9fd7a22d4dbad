// Command mad is the Metrics Aggregator Daemon.
//
//	mad            run on the embedded default configuration
//	mad -version   print the version
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/gomad/mad/engine"
)

func main() {
	start := time.Now()
	version := flag.Bool("version", false, "print the version and exit")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: mad [-version]\n\nWithout arguments mad runs its embedded default configuration:\nStatsD on UDP and TCP :8125, periods PT1S and PT1M, JSON lines on standard output,\nthe control plane (/ping, /status, /metrics, /debug/pprof) on :7090.\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if engine.Commit == "unknown" {
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" {
					engine.Commit = s.Value
				}
			}
		}
	}
	if *version {
		fmt.Printf("mad %s (%s)\n", engine.Version, engine.Commit)
		return
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	slog.SetDefault(log)
	if flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "mad: configuration files are not supported yet; run without arguments for the default configuration")
		os.Exit(2)
	}
	cfg, err := engine.DefaultConfig()
	if err != nil {
		log.Error("cannot build the default configuration", "err", err)
		os.Exit(1)
	}
	cfg.Log = log
	d, err := engine.Start(cfg)
	if err != nil {
		log.Error("cannot start", "err", err)
		os.Exit(1)
	}
	log.Info("mad started", "version", engine.Version, "http", cfg.HTTPAddr, "startup", time.Since(start).String())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	s := <-sig
	log.Info("stopping: flushing open buckets", "signal", s.String())
	if err := d.Stop(); err != nil {
		log.Error("stopped with errors", "err", err)
		os.Exit(1)
	}
	log.Info("stopped")
}

// Command mad is the Metrics Aggregator Daemon.
//
//	mad                          run on the embedded default configuration
//	mad <config>                 run on a MAD main configuration file (as bin/mad <config>)
//	mad -config <config>         the same
//	mad -check-config <file>     validate a main configuration (and its pipelines) or one pipeline file
//	mad -print-default-config    print the embedded default configuration
//	mad -version                 print the version
package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gomad/mad/engine"
	"github.com/gomad/mad/engine/config"
)

// properties collects -D key=value flags (Java system properties).
type properties map[string]string

func (p properties) String() string { return "" }

func (p properties) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value, got %q", s)
	}
	p[k] = v
	return nil
}

func main() {
	start := time.Now()
	props := properties{}
	version := flag.Bool("version", false, "print the version and exit")
	configFile := flag.String("config", "", "MAD main configuration file (HOCON if it ends in .conf, JSON otherwise)")
	check := flag.String("check-config", "", "check this main configuration (with its pipelines) or pipeline file as start-up would, without binding: print every problem, exit non-zero if there is any (with -skip-unavailable, classes mad lacks are listed as left out)")
	printDefault := flag.Bool("print-default-config", false, "print the embedded default configuration and exit")
	skip := flag.Bool("skip-unavailable", false, "run pipelines without the sources and sinks mad does not implement yet (each is reported) instead of refusing them")
	logLevel := flag.String("log-level", "info", "debug, info, warn or error")
	flag.Var(props, "D", "a Java-style system property key=value, visible to ${key} substitutions (repeatable)")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), `usage: mad [flags] [config]

Without a configuration mad runs its embedded default (mad -print-default-config):
StatsD on UDP and TCP :8125, periods PT1S and PT1M, JSON lines on standard output,
the control plane (/ping, /status, /metrics, POST /reload, /debug/pprof) on :7090.
With a MAD main configuration file it runs its pipelines and reloads them when the
files change (every reloadInterval, on SIGHUP, on POST /reload).

`)
		flag.PrintDefaults()
	}
	flag.Parse()
	switch {
	case *version:
		fmt.Printf("mad %s (%s)\n", engine.Version, engine.Commit)
		return
	case *printDefault:
		os.Stdout.Write(config.DefaultConfigText)
		return
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(os.Stderr, "mad: -log-level: %v\n", err)
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(log)
	opt := config.LoadOptions{Properties: props, SkipUnavailable: *skip}
	if *check != "" {
		summary, problems := engine.CheckConfig(*check, opt)
		for _, s := range summary {
			fmt.Println(s)
		}
		for _, p := range problems {
			fmt.Println(p.Error())
		}
		if len(problems) > 0 {
			fmt.Printf("%d problems\n", len(problems))
			os.Exit(1)
		}
		fmt.Println("ok")
		return
	}
	path := *configFile
	switch {
	case path != "" && flag.NArg() > 0:
		fmt.Fprintln(os.Stderr, "mad: give the configuration either as -config or as an argument, not both")
		os.Exit(2)
	case flag.NArg() == 1:
		path = flag.Arg(0)
	case flag.NArg() > 1:
		fmt.Fprintln(os.Stderr, "mad: one configuration file at most")
		os.Exit(2)
	}
	// Signals are caught before the daemon starts: a SIGHUP that arrives
	// while it starts (its control plane is already up) must not kill it,
	// and a SIGTERM then still flushes.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	// A standard output or error whose reader went away (mad | head, a log
	// shipper restarting) must not kill the daemon: Go dies of SIGPIPE on a
	// broken pipe at fd 1 or 2 unless SIGPIPE is handled. Ignored, the
	// write fails with EPIPE and the sink counts its lines dropped and logs.
	signal.Ignore(syscall.SIGPIPE)
	var d *engine.Daemon
	var err error
	if path == "" {
		d, err = engine.Open(config.DefaultConfigName, config.DefaultConfigText, opt, log)
	} else {
		d, err = engine.Open(path, nil, opt, log)
	}
	if err != nil {
		var refused *engine.RefusedError
		if ps, ok := err.(config.Problems); ok {
			for _, p := range ps {
				fmt.Fprintln(os.Stderr, p.Error())
			}
			fmt.Fprintln(os.Stderr, "mad: the configuration was refused")
		} else if errors.As(err, &refused) {
			for _, p := range refused.Problems {
				fmt.Fprintln(os.Stderr, p)
			}
			fmt.Fprintln(os.Stderr, "mad: the configuration cannot run (mad -skip-unavailable leaves out what mad does not implement)")
		} else {
			log.Error("cannot start", "err", err)
		}
		os.Exit(1)
	}
	log.Info("mad started", "version", engine.Version, "commit", engine.Commit, "http", d.HTTPAddr(), "pipelines", len(d.Pipelines()), "startup", time.Since(start).String())
	for s := range sig {
		if s == syscall.SIGHUP {
			log.Info("SIGHUP: checking the configuration")
			d.Reload()
			continue
		}
		log.Info("stopping: flushing open buckets", "signal", s.String())
		break
	}
	if err := d.Stop(); err != nil {
		log.Error("stopped with errors", "err", err)
		os.Exit(1)
	}
	log.Info("stopped")
}

// Command mad is the Metrics Aggregator Daemon.
//
//	mad                          run on the embedded default configuration
//	mad <config>                 run on a MAD main configuration file (as bin/mad <config>)
//	mad -config <config>         the same
//	MAD_CONFIG=<config> mad      the same (MAD's image variable; MAD_OPTS adds flags)
//	mad -check-config <file>     validate a main configuration (and its pipelines) or one pipeline file
//	mad -print-default-config    print the embedded default configuration
//	mad -health-check <url>      exit 0 if a mad's /ping answers HEALTHY (a container's HEALTHCHECK)
//	mad help [config]            the usage (mad -h), or the configuration keys mad adds to MAD's
//	mad -version                 print the version
//
// flags.go holds the flags, their examples and the environment variables;
// under systemd (Type=notify) mad reports readiness, reloads and shutdown
// through internal/sdnotify.
package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gomad/mad/engine"
	"github.com/gomad/mad/engine/config"
	"github.com/gomad/mad/internal/sdnotify"
)

func main() {
	start := time.Now()
	var o options
	fs := flag.NewFlagSet("mad", flag.ContinueOnError)
	o.define(fs)
	if err := o.parse(fs, os.Args[1:], os.Getenv); err != nil {
		exitOnParseError(err, fs)
	}
	switch {
	case o.healthCheck != "":
		if !healthCheck(o.healthCheck, os.Stdout) {
			os.Exit(1)
		}
		return
	case o.help == "usage":
		printUsage(os.Stdout, fs)
		return
	case o.help == "config":
		os.Stdout.Write(config.KeysHelp)
		return
	case o.version:
		fmt.Printf("mad %s (%s)\n", engine.Version, engine.Commit)
		return
	case o.printDefault:
		os.Stdout.Write(config.DefaultConfigText)
		return
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		fmt.Fprintf(os.Stderr, "mad: -log-level: %v\n", err)
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(log)
	for _, n := range o.notes {
		log.Info(n)
	}
	opt := config.LoadOptions{Properties: o.props, SkipUnavailable: o.skip}
	if o.check != "" {
		summary, problems := engine.CheckConfig(o.check, opt)
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
	path := o.config
	if path == "" {
		log.Info("no configuration given (-config, an argument, MAD_CONFIG): running the embedded default")
	} else {
		log.Info("configuration", "file", path, "from", o.configFrom)
	}
	// systemd's notification socket (Type=notify): READY=1 once Open has
	// returned, that is once every socket is bound.
	notify, err := sdnotify.FromEnv()
	if err != nil {
		log.Warn("no readiness notifications", "err", err)
	}
	notified := func(err error) {
		if err != nil {
			log.Warn("systemd notification failed", "err", err)
		}
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
	notified(notify.Ready(runningStatus(d, nil)))
	for s := range sig {
		if s == syscall.SIGHUP {
			log.Info("SIGHUP: checking the configuration")
			notified(notify.Reloading("reloading the configuration (SIGHUP)"))
			res := d.Reload()
			notified(notify.Ready(runningStatus(d, &res)))
			continue
		}
		log.Info("stopping: flushing open buckets", "signal", s.String())
		notified(notify.Stopping("stopping: flushing open buckets"))
		break
	}
	if err := d.Stop(); err != nil {
		log.Error("stopped with errors", "err", err)
		os.Exit(1)
	}
	log.Info("stopped")
}

// runningStatus is the STATUS= line systemctl status shows: what runs, and
// what the last reload refused.
func runningStatus(d *engine.Daemon, res *engine.ReloadResult) string {
	s := fmt.Sprintf("running %d pipelines; http %v", len(d.Pipelines()), d.HTTPAddr())
	if res != nil && len(res.Errors) > 0 {
		s += fmt.Sprintf("; the last reload refused %d files (what ran keeps running; see the log and mad_config_refused)", len(res.Errors))
	}
	return s
}

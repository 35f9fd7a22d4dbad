package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// options are mad's flags and what the environment adds to them.
type options struct {
	version, printDefault, skip bool
	config, check, logLevel     string
	healthCheck                 string
	props                       properties

	// configFrom says where the configuration path came from: "-config",
	// "argument", "MAD_CONFIG" or "" (the embedded default).
	configFrom string
	// help is the topic of `mad help [topic]` ("usage" for mad help).
	help string
	// notes are what the environment did, logged once the logger exists.
	notes []string
}

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

// define defines mad's flags on fs. Each needs an entry in flagExamples.
func (o *options) define(fs *flag.FlagSet) {
	o.props = properties{}
	fs.StringVar(&o.config, "config", "", "MAD main `file` to run (HOCON if it ends in .conf, JSON otherwise); the same as giving it as the argument")
	fs.StringVar(&o.check, "check-config", "", "check this main configuration (with its pipelines) or pipeline `file` as start-up would, without binding: print every problem, exit non-zero if there is any (with -skip-unavailable, classes mad lacks are listed as left out)")
	fs.BoolVar(&o.skip, "skip-unavailable", false, "run pipelines without the sources and sinks mad does not implement yet (each is reported) instead of refusing them")
	fs.Var(o.props, "D", "a Java-style system property `key=value`, visible to ${key} substitutions in the configuration (repeatable)")
	fs.StringVar(&o.logLevel, "log-level", "info", "`level` of the log on standard error: debug, info, warn or error")
	fs.BoolVar(&o.printDefault, "print-default-config", false, "print the embedded default configuration and exit")
	fs.StringVar(&o.healthCheck, "health-check", "", "GET this `URL` (a running mad's /ping), print the answer, exit 0 if it is 200 and HEALTHY, 1 otherwise or after 3 s: a container's HEALTHCHECK, where there is no curl")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
}

// flagExamples is an invocation of each flag, printed by mad -h under the
// flag.
var flagExamples = map[string]string{
	"config":               "mad -config /etc/mad/config.conf",
	"check-config":         "mad -check-config /opt/mad/config/config.conf",
	"skip-unavailable":     "mad -skip-unavailable /opt/mad/config/config.conf",
	"D":                    "mad -Dcagg.host=cagg.internal config.conf   # the file reads ${cagg.host}",
	"log-level":            "mad -log-level debug",
	"print-default-config": "mad -print-default-config > config.conf",
	"health-check":         "mad -health-check http://127.0.0.1:7090/ping",
	"version":              "mad -version",
}

const usageHead = `usage: mad [flags] [config]
       mad help config

Without a configuration mad runs its embedded default (mad -print-default-config):
StatsD on UDP and TCP :8125, MAD's HTTP protocols and OpenTelemetry on :7090,
periods PT1S and PT1M, JSON lines on standard output, and the control plane
(/ping, /status, /metrics, POST /reload, /debug/pprof, the live page /ui) on
:7090. With a MAD main configuration file it runs its pipelines and reloads
them when the files change (every reloadInterval, on SIGHUP, on POST /reload);
SIGINT and SIGTERM emit every open bucket, then exit. mad help config lists the
configuration keys mad adds to MAD's. A configuration file named help is given
as ./help.

Flags:
`

const usageTail = `
Environment (a flag or an argument on the command line wins over it):
  MAD_CONFIG      the main configuration file when neither the command line nor
                  MAD_OPTS names one (MAD's image variable; mad's image sets
                  /opt/mad/config/config.conf); without any, the embedded default
  MAD_OPTS        more flags, split on white space, read before the command line's:
                  MAD_OPTS="-log-level debug -Dregion=eu-west-1"
  JAVA_OPTS       MAD's JVM options: its -Dkey=value properties are read (before
                  MAD_OPTS and the command line); any other option is ignored (logged)
  JVM_XMS, JVM_XMX, LOGBACK_CONFIG
                  MAD's image variables, ignored (logged): mad has no JVM heap (set
                  GOMEMLIMIT or a memory limit instead) and logs to standard error
                  (-log-level)
  GOMEMLIMIT      Go's soft memory limit; with it (or a cgroup memory limit) mad
                  derives its default series limit (maxSeries) from that memory
  GOMAXPROCS      mad sizes it to its loops and shards unless it is set
  NOTIFY_SOCKET   set by systemd for Type=notify units: mad sends READY=1 once every
                  socket is bound, RELOADING=1 and READY=1 around a SIGHUP reload,
                  STOPPING=1 when it stops

Examples:
  mad                                              # the embedded default
  mad /opt/mad/config/config.conf                  # a MAD configuration, as bin/mad <config>
  MAD_CONFIG=/etc/mad/config.conf mad              # the same through the environment
  mad -check-config /opt/mad/config/pipelines/p.conf
  echo "api.latency:120|ms|#host:web-1" > /dev/udp/127.0.0.1/8125   # send a line (bash)
  curl -s localhost:7090/metrics | grep mad_pipeline_series
  kill -HUP $(pidof mad)                           # reload now
`

// printUsage writes mad -h: the synopsis, each flag with an example, the
// environment and typical invocations.
func printUsage(w io.Writer, fs *flag.FlagSet) {
	io.WriteString(w, usageHead)
	fs.VisitAll(func(f *flag.Flag) {
		arg, text := flag.UnquoteUsage(f)
		fmt.Fprintf(w, "  -%s", f.Name)
		if arg != "" {
			fmt.Fprintf(w, " %s", arg)
		}
		if f.DefValue != "" && f.DefValue != "false" {
			text += fmt.Sprintf(" (default %q)", f.DefValue)
		}
		io.WriteString(w, "\n")
		wrap(w, text, "        ", 80)
		fmt.Fprintf(w, "        $ %s\n", flagExamples[f.Name])
	})
	io.WriteString(w, usageTail)
}

// wrap writes text in lines of at most width columns (unless a word is
// longer), each after indent.
func wrap(w io.Writer, text, indent string, width int) {
	line := indent
	for _, word := range strings.Fields(text) {
		if len(line) > len(indent) && len(line)+1+len(word) > width {
			io.WriteString(w, line+"\n")
			line = indent
		}
		if len(line) > len(indent) {
			line += " "
		}
		line += word
	}
	io.WriteString(w, line+"\n")
}

// errUsage is a command line mad cannot run; the message says why.
var errUsage = errors.New("usage")

// parse reads the command line args after the environment: JAVA_OPTS's
// -D properties first, then MAD_OPTS's flags, then args, so that what
// comes later wins (a flag given twice keeps its last value, a -D
// property its last). The configuration is -config or the argument, else
// MAD_OPTS's -config, else MAD_CONFIG, else none (the embedded default). fs has o's flags, and reports nothing
// itself: parse returns flag.ErrHelp for -h, and other errors with the
// message to print.
func (o *options) parse(fs *flag.FlagSet, args []string, getenv func(string) string) error {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	if v := getenv("JAVA_OPTS"); v != "" {
		var ignored []string
		for _, a := range strings.Fields(v) {
			p, ok := strings.CutPrefix(a, "-D")
			if !ok || p == "" || strings.HasPrefix(p, "=") {
				ignored = append(ignored, a)
				continue
			}
			k, v, _ := strings.Cut(p, "=")
			o.props[k] = v // Java: -Dkey alone is key=""
		}
		if len(ignored) > 0 {
			o.notes = append(o.notes, fmt.Sprintf("JAVA_OPTS: options other than -Dkey=value ignored: %s", strings.Join(ignored, " ")))
		}
	}
	if v := getenv("MAD_OPTS"); strings.TrimSpace(v) != "" {
		if err := fs.Parse(javaProps(strings.Fields(v))); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return fmt.Errorf("MAD_OPTS: %w", err)
		}
		if fs.NArg() > 0 {
			return fmt.Errorf("MAD_OPTS holds flags only, not %q (name the configuration with -config or MAD_CONFIG)", fs.Arg(0))
		}
	}
	// MAD_OPTS's -config comes after the command line's configuration.
	fromOpts := o.config
	o.config = ""
	if err := fs.Parse(javaProps(args)); err != nil {
		return err
	}
	for _, k := range []string{"JVM_XMS", "JVM_XMX", "LOGBACK_CONFIG"} {
		if v := getenv(k); v != "" {
			o.notes = append(o.notes, fmt.Sprintf("%s=%s ignored: %s", k, v, map[string]string{
				"JVM_XMS":        "mad has no JVM heap (Go's garbage collector sizes it)",
				"JVM_XMX":        "mad has no JVM heap: set GOMEMLIMIT (a soft limit) or the container's memory limit",
				"LOGBACK_CONFIG": "mad logs to standard error; -log-level sets the level",
			}[k]))
		}
	}
	rest := fs.Args()
	if len(rest) > 0 && rest[0] == "help" {
		switch {
		case len(rest) == 1:
			o.help = "usage"
		case len(rest) == 2 && slices.Contains(helpTopics, rest[1]):
			o.help = rest[1]
		default:
			return fmt.Errorf("%w: mad help takes one topic of %s, not %q", errUsage, strings.Join(helpTopics, ", "), strings.Join(rest[1:], " "))
		}
		return nil
	}
	switch {
	case len(rest) > 1:
		return fmt.Errorf("%w: one configuration file at most, not %q", errUsage, strings.Join(rest, " "))
	case o.config != "" && len(rest) == 1:
		return fmt.Errorf("%w: give the configuration either as -config or as an argument, not both", errUsage)
	case len(rest) == 1:
		o.config, o.configFrom = rest[0], "argument"
	case o.config != "":
		o.configFrom = "-config"
	case fromOpts != "":
		o.config, o.configFrom = fromOpts, "MAD_OPTS"
	case getenv("MAD_CONFIG") != "":
		o.config, o.configFrom = getenv("MAD_CONFIG"), "MAD_CONFIG"
	}
	return nil
}

// javaProps splits Java's -Dkey=value, which the flag package would read
// as a flag named Dkey, into -D key=value (before a "--").
func javaProps(args []string) []string {
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			return append(out, args[i:]...)
		}
		if p, ok := strings.CutPrefix(a, "-D"); ok && p != "" {
			out = append(out, "-D", p)
			continue
		}
		out = append(out, a)
	}
	return out
}

// helpTopics are the topics of mad help.
var helpTopics = []string{"config"}

// exitOnParseError ends the process for a command line that does not parse:
// 0 after printing the usage for -h, 2 otherwise.
func exitOnParseError(err error, fs *flag.FlagSet) {
	if errors.Is(err, flag.ErrHelp) {
		printUsage(os.Stdout, fs)
		os.Exit(0)
	}
	fmt.Fprintf(os.Stderr, "mad: %s\n(mad -h lists the flags)\n", strings.TrimPrefix(err.Error(), errUsage.Error()+": "))
	os.Exit(2)
}

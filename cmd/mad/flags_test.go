package main

import (
	"bytes"
	"errors"
	"flag"
	"maps"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/gomad/mad/engine/config"
)

// TestParse checks where the configuration and the properties come from:
// the command line, then MAD_OPTS, then JAVA_OPTS's -D, then MAD_CONFIG.
func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name       string
		env        map[string]string
		args       []string
		config     string
		from       string
		props      map[string]string
		logLevel   string
		help       string
		err        string
		notesCount int
	}{
		{name: "nothing", args: nil, props: map[string]string{}},
		{name: "argument", args: []string{"a.conf"}, config: "a.conf", from: "argument", props: map[string]string{}},
		{name: "-config", args: []string{"-config", "a.conf"}, config: "a.conf", from: "-config", props: map[string]string{}},
		{name: "MAD_CONFIG", env: map[string]string{"MAD_CONFIG": "/opt/mad/config/config.conf"},
			config: "/opt/mad/config/config.conf", from: "MAD_CONFIG", props: map[string]string{}},
		{name: "argument over MAD_CONFIG", env: map[string]string{"MAD_CONFIG": "/opt/mad/config/config.conf"}, args: []string{"b.conf"},
			config: "b.conf", from: "argument", props: map[string]string{}},
		{name: "-config over MAD_OPTS's -config", env: map[string]string{"MAD_OPTS": "-config m.conf"}, args: []string{"-config", "c.conf"},
			config: "c.conf", from: "-config", props: map[string]string{}},
		{name: "argument over MAD_OPTS's -config", env: map[string]string{"MAD_OPTS": "-config m.conf"}, args: []string{"c.conf"},
			config: "c.conf", from: "argument", props: map[string]string{}},
		{name: "MAD_OPTS's -config over MAD_CONFIG", env: map[string]string{"MAD_OPTS": "-config m.conf", "MAD_CONFIG": "e.conf"},
			config: "m.conf", from: "MAD_OPTS", props: map[string]string{}},
		{name: "flags: the command line over MAD_OPTS", env: map[string]string{"MAD_OPTS": " -log-level debug\t-Da=1 -Db=2 "},
			args: []string{"-log-level", "warn", "-Db=3", "-D", "c=4"}, logLevel: "warn", props: map[string]string{"a": "1", "b": "3", "c": "4"}},
		{name: "JAVA_OPTS: -D read, the rest noted", env: map[string]string{"JAVA_OPTS": "-Xmx1g -Da=1 -Dflag -Db=x=y -XX:+UseG1GC", "MAD_OPTS": "-Da=2"},
			props: map[string]string{"a": "2", "flag": "", "b": "x=y"}, notesCount: 1},
		{name: "JVM variables noted", env: map[string]string{"JVM_XMS": "64m", "JVM_XMX": "1024m", "LOGBACK_CONFIG": "/opt/mad/config/logback.xml"},
			props: map[string]string{}, notesCount: 3},
		{name: "help", args: []string{"help"}, help: "usage", props: map[string]string{}},
		{name: "help config", args: []string{"help", "config"}, help: "config", props: map[string]string{}},
		{name: "a file named help", args: []string{"./help"}, config: "./help", from: "argument", props: map[string]string{}},
		{name: "help, an unknown topic", args: []string{"help", "pipelines"}, err: `one topic of config, not "pipelines"`},
		{name: "two files", args: []string{"a.conf", "b.conf"}, err: "one configuration file at most"},
		{name: "-config and an argument", args: []string{"-config", "a.conf", "b.conf"}, err: "either as -config or as an argument"},
		{name: "MAD_OPTS with an argument", env: map[string]string{"MAD_OPTS": "-log-level debug a.conf"}, err: `MAD_OPTS holds flags only, not "a.conf"`},
		{name: "MAD_OPTS with an unknown flag", env: map[string]string{"MAD_OPTS": "-Xmx1g"}, err: "MAD_OPTS: flag provided but not defined: -Xmx1g"},
		{name: "-h", args: []string{"-h"}, err: flag.ErrHelp.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var o options
			fs := flag.NewFlagSet("mad", flag.ContinueOnError)
			o.define(fs)
			err := o.parse(fs, tc.args, func(k string) string { return tc.env[k] })
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got error %v; want one with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.config != tc.config || o.configFrom != tc.from {
				t.Errorf("configuration: got %q from %q; want %q from %q", o.config, o.configFrom, tc.config, tc.from)
			}
			if !maps.Equal(o.props, properties(tc.props)) {
				t.Errorf("properties: got %v; want %v", o.props, tc.props)
			}
			if want := cmpOr(tc.logLevel, "info"); o.logLevel != want {
				t.Errorf("-log-level: got %q; want %q", o.logLevel, want)
			}
			if o.help != tc.help {
				t.Errorf("help: got %q; want %q", o.help, tc.help)
			}
			if len(o.notes) != tc.notesCount {
				t.Errorf("notes: got %q; want %d", o.notes, tc.notesCount)
			}
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// TestUsage runs mad -h, mad help and mad help config: the usage names
// every flag mad defines, each with an example invocation, and the
// environment variables mad reads; mad help config prints the keys mad adds
// (engine/config's TestKeysHelp checks that it names all of them).
func TestUsage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	bin := buildMad(t)
	usage, code := runEnv(t, bin, nil, "-h")
	if code != 0 {
		t.Fatalf("mad -h: exit %d; want 0\n%s", code, usage)
	}
	var o options
	fs := flag.NewFlagSet("mad", flag.ContinueOnError)
	o.define(fs)
	n := 0
	fs.VisitAll(func(f *flag.Flag) {
		n++
		ex := flagExamples[f.Name]
		if !strings.Contains(usage, "\n  -"+f.Name+" ") && !strings.Contains(usage, "\n  -"+f.Name+"\n") {
			t.Errorf("mad -h does not list -%s", f.Name)
		}
		if !strings.HasPrefix(ex, "mad ") || !strings.Contains(ex, "-"+f.Name) {
			t.Errorf("-%s: its example %q does not use it (flagExamples)", f.Name, ex)
		} else if !strings.Contains(usage, "$ "+ex+"\n") {
			t.Errorf("mad -h does not show -%s's example %q", f.Name, ex)
		}
	})
	if n != len(flagExamples) {
		t.Errorf("flagExamples has %d entries for %d flags: one names no flag", len(flagExamples), n)
	}
	for _, v := range []string{"MAD_CONFIG", "MAD_OPTS", "JAVA_OPTS", "JVM_XMS", "JVM_XMX", "LOGBACK_CONFIG", "GOMEMLIMIT", "NOTIFY_SOCKET", "Examples:"} {
		if !strings.Contains(usage, v) {
			t.Errorf("mad -h does not mention %s", v)
		}
	}
	if help, code := runEnv(t, bin, nil, "help"); code != 0 || help != usage {
		t.Errorf("mad help: exit %d, %d bytes; want exit 0 and mad -h's %d bytes", code, len(help), len(usage))
	}
	if keys, code := runEnv(t, bin, nil, "help", "config"); code != 0 || keys != string(config.KeysHelp) {
		t.Errorf("mad help config: exit %d; want 0 and engine/config/keys.txt:\n%s", code, keys)
	}
	if out, code := runEnv(t, bin, nil, "-no-such-flag"); code != 2 || !strings.Contains(out, "mad -h lists the flags") || strings.Contains(out, "Examples:") {
		t.Errorf("an unknown flag: exit %d; want 2 and a hint, not the whole usage:\n%s", code, out)
	}
}

// runEnv runs bin with args, env added to the test's environment, and
// returns its combined output and exit code.
func runEnv(t *testing.T, bin string, env []string, args ...string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return out.String(), ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return out.String(), 0
}

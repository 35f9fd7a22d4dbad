package config

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/gomad/mad/internal/hocon"
)

// LoadOptions are the environment configuration files are read in.
type LoadOptions struct {
	// Env looks up environment variables for ${VAR} and ${?VAR}
	// substitutions (default os.LookupEnv).
	Env func(string) (string, bool)
	// Properties are Java-style system properties (mad -Dkey=value): like
	// MAD's JVM system properties they are a fallback under every HOCON
	// file's root, so ${user.home} or ${?my.setting} resolve. A few
	// standard ones (user.dir, user.home, user.name, java.io.tmpdir,
	// os.name, os.arch, file.separator, path.separator, line.separator) are
	// always defined.
	Properties map[string]string
	// ReadFile reads configuration files, included ones too (default
	// os.ReadFile).
	ReadFile func(string) ([]byte, error)
	// SkipUnavailable runs pipelines without the sources and sinks mad does
	// not implement yet (each is still reported) instead of refusing them.
	SkipUnavailable bool
}

func (o LoadOptions) hocon() hocon.Options {
	props := map[string]string{
		"file.separator": string(filepath.Separator),
		"path.separator": string(filepath.ListSeparator),
		"line.separator": "\n",
		"os.name":        osName(),
		"os.arch":        runtime.GOARCH,
		"java.io.tmpdir": os.TempDir(),
	}
	if wd, err := os.Getwd(); err == nil {
		props["user.dir"] = wd
	}
	if h, err := os.UserHomeDir(); err == nil {
		props["user.home"] = h
	}
	if u := os.Getenv("USER"); u != "" {
		props["user.name"] = u
	}
	for k, v := range o.Properties {
		props[k] = v
	}
	return hocon.Options{Env: o.Env, Fallback: props, ReadFile: o.ReadFile}
}

func osName() string {
	switch runtime.GOOS {
	case "linux":
		return "Linux"
	case "darwin":
		return "Mac OS X"
	case "windows":
		return "Windows"
	}
	return runtime.GOOS
}

// Read reads a configuration file through ReadFile (default os.ReadFile).
func (o LoadOptions) Read(path string) ([]byte, error) {
	if o.ReadFile != nil {
		return o.ReadFile(path)
	}
	return os.ReadFile(path)
}

// parseFile reads and parses one configuration file (HOCON for .conf,
// strict JSON otherwise), returning its content hash.
func parseFile(path string, opt LoadOptions) (*hocon.Value, [32]byte, Problems) {
	data, err := opt.Read(path)
	if err != nil {
		return nil, [32]byte{}, Problems{{Pos: hocon.Pos{File: path}, Msg: fmt.Sprintf("cannot read: %v", err)}}
	}
	return parseBytes(path, data, opt)
}

// Hash is the content hash that tells whether a file changed.
func Hash(data []byte) [32]byte { return sha256.Sum256(data) }

func parseBytes(path string, data []byte, opt LoadOptions) (*hocon.Value, [32]byte, Problems) {
	sum := Hash(data)
	var v *hocon.Value
	var err error
	if strings.HasSuffix(strings.ToLower(path), ".conf") {
		v, err = hocon.Parse(path, data, opt.hocon())
	} else {
		v, err = hocon.ParseJSON(path, data)
	}
	if err != nil {
		return nil, sum, problemsOf(path, err)
	}
	if v.Kind != hocon.Object {
		return nil, sum, Problems{{Pos: v.Pos, Msg: "the configuration must be an object"}}
	}
	return v, sum, nil
}

func problemsOf(path string, err error) Problems {
	if e, ok := err.(*hocon.Error); ok {
		return Problems{{Pos: e.Pos, Msg: e.Msg}}
	}
	return Problems{{Pos: hocon.Pos{File: path}, Msg: err.Error()}}
}

// LoadMain reads a main configuration file and binds it, with its inline
// pipelines (the pipelines directory is read by the daemon). Problems lists
// everything wrong; the spec is nil if anything but unavailable classes
// (which SkipUnavailable tolerates) is wrong.
func LoadMain(path string, opt LoadOptions) (*MainSpec, Problems) {
	root, sum, ps := parseFile(path, opt)
	if ps != nil {
		return nil, ps
	}
	m, ps := bindMain(path, root, opt)
	if m != nil {
		m.Hash = sum
	}
	return m, ps
}

// ParseMain binds a main configuration from bytes (the embedded default).
func ParseMain(name string, data []byte, opt LoadOptions) (*MainSpec, Problems) {
	root, sum, ps := parseBytes(name, data, opt)
	if ps != nil {
		return nil, ps
	}
	m, ps := bindMain(name, root, opt)
	if m != nil {
		m.Hash = sum
	}
	return m, ps
}

// ignoreFallback marks as known the root keys that only the system
// properties define.
func ignoreFallback(n *node) {
	for _, k := range n.v.Obj.Keys {
		if v := n.v.Obj.Fields[k]; v.Pos.File == "" || v.Pos.File == "fallback" { // hocon marks values of Options.Fallback so
			n.ignore(k)
		}
	}
}

// fatal returns the problems that refuse a configuration: all of them, or,
// with SkipUnavailable, all but the unavailable classes.
func fatal(ps Problems, opt LoadOptions) Problems {
	var out Problems
	for _, p := range ps {
		if !p.Unavailable || !opt.SkipUnavailable {
			out = append(out, p)
		}
	}
	return out
}

// LoadPipeline reads and binds one pipeline file.
func LoadPipeline(path string, opt LoadOptions) (*PipelineSpec, Problems) {
	root, sum, ps := parseFile(path, opt)
	if ps != nil {
		return nil, ps
	}
	b := &binder{file: path}
	n := b.root(root)
	p := bindPipeline(n, path, opt)
	p.Hash = sum
	p.Pos = root.Pos
	ignoreFallback(n)
	n.done()
	p.Unknown = b.unknown
	if bad := fatal(b.problems, opt); len(bad) > 0 {
		return nil, b.problems
	}
	return p, b.problems
}

// IsMainFile reads and parses the file at path and reports whether it is a
// main configuration rather than a pipeline file.
func IsMainFile(path string, opt LoadOptions) (bool, Problems) {
	root, _, ps := parseFile(path, opt)
	if ps != nil {
		return false, ps
	}
	return IsMainConfig(root), nil
}

// PipelineFiles lists the pipeline files of dir as MAD does (every file,
// no recursion), except hidden files and editor backups ("~"), which mad
// skips. A missing directory has no pipelines.
func PipelineFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~") {
			continue
		}
		out = append(out, filepath.Join(dir, name))
	}
	sort.Strings(out)
	return out, nil
}

// ParsePipeline binds one pipeline file from its content (data, read
// before; files it includes are read).
func ParsePipeline(path string, data []byte, opt LoadOptions) (*PipelineSpec, Problems) {
	o := opt
	o.ReadFile = func(p string) ([]byte, error) {
		if p == path {
			return data, nil
		}
		return opt.Read(p)
	}
	return LoadPipeline(path, o)
}

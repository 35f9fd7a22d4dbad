package lint

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/gomad/mad"

// allowed lists, for each project package (a "/*" pattern matches its
// subpackages), the project packages it may import (DESIGN.md's package
// list). Nothing imports engine from below it, ingest never imports shard,
// sinks never import shard, ring or ingest; engine/pipeline knows nothing of
// configuration files, and engine/config nothing of the daemon.
var allowed = []struct {
	pkg     string
	imports []string
}{
	// A dimension set's text is tested for JSON escaping where its
	// encoding is read (PlainDims).
	{"internal/sample", []string{"internal/inplace", "internal/jsonstr"}},
	// A leaf: appending to a slice without building the element first
	// (store forwarding), usable by any package.
	{"internal/inplace", nil},
	{"internal/sidcache", []string{"internal/sample", "internal/prefetch"}},
	{"internal/sidcache/sidcachetest", []string{"internal/sample", "internal/sidcache"}},
	{"internal/lint", nil},
	// A leaf of a few instructions (software prefetch hints), usable by
	// any data-plane package.
	{"internal/prefetch", nil},
	// Likewise: huge-page advice for large arrays.
	{"internal/hugepage", nil},
	// Likewise: big pointer-free arrays kept off the heap, in mappings.
	{"internal/vmem", nil},
	// Java's NumberFormat, shared by the StatsD, Graphite and Telegraf decoders.
	{"internal/javanum", nil},
	{"internal/javanum/javanumtest", nil}, // Java's answers, for the tests of javanum's callers
	// An independent reference for javanum (math/big), for its tests and
	// the reference decoders.
	{"internal/javanum/javanumref", nil},
	// mad's one JSON string escaper.
	{"internal/jsonstr", nil},
	{"internal/decimal", nil},
	// HOCON and strict JSON with positions: configuration syntax, nothing
	// of what it means; of ours it shares only the JSON string escaper.
	{"internal/hocon", []string{"internal/jsonstr"}},
	// The vocabulary of self-metrics and the throttled log, shared by
	// sources, sinks and the control plane.
	{"internal/selfmetric", nil},
	{"internal/throttle", nil},
	// Seeds of randomized tests (imported by tests only).
	{"internal/testseed", nil},
	// Sealed rows rendered as text (imported by tests only).
	{"hist/histtest", []string{"hist"}},
	// The protobuf wire format as protobuf-java reads it, shared by the
	// protobuf decoders.
	{"internal/pbwire", nil},
	// The server side of unary gRPC on net/http's HTTP/2 (OTLP/gRPC).
	{"internal/grpcunary", []string{"internal/gunzip"}},
	// gzip bodies inflated by a reused reader whose answer does not depend
	// on the bodies before.
	{"internal/gunzip", []string{"internal/bounded"}},
	// A stream read whole into a reused buffer, up to a limit.
	{"internal/bounded", nil},
	// MAD's TransformingSource and TagDroppingSource rules, one series at a
	// time.
	{"internal/transform", []string{"internal/sample"}},
	{"internal/kafkaprops", nil},
	{"internal/kafkatxn", nil},
	// The partials format of mad's KafkaSink, which its tier parser reads.
	{"internal/partials", nil},
	// systemd's readiness datagram, for the daemon's command.
	{"internal/sdnotify", nil},
	{"affinity", nil},
	{"ring", nil},
	{"hist", []string{"internal/prefetch", "internal/hugepage", "internal/vmem"}},
	{"ingest/*", []string{"internal/sample", "internal/sidcache", "internal/javanum", "internal/pbwire", "internal/partials", "internal/jsonstr", "internal/inplace", "internal/bounded"}},
	// Reference decoders: independent of the decoders they check; they
	// share only the input vocabulary and read numbers with javanumref.
	{"ingest/statsd/statsdref", []string{"internal/sample", "internal/javanum/javanumref"}},
	{"ingest/graphite/graphiteref", []string{"internal/sample", "internal/javanum/javanumref"}},
	// (Java's Double.toString, for the text of a number node, is javanum's,
	// held to Java's own output by its tests.)
	{"ingest/telegraf/telegrafref", []string{"internal/sample", "internal/javanum/javanumref", "internal/javanum"}},
	{"ingest/collectd/collectdref", []string{"internal/sample"}},
	// The protobuf references read the wire on their own, without pbwire.
	{"ingest/clientpb/clientpbref", []string{"internal/sample"}},
	{"ingest/promrw/promrwref", []string{"internal/sample"}},
	{"ingest/otlp/otlpref", []string{"internal/sample"}},
	{"ingest/partials/partialsref", []string{"internal/sample"}},
	{"ingest", []string{"ingest/*", "ring", "affinity", "internal/sample", "internal/sidcache", "internal/prefetch", "internal/hugepage", "internal/selfmetric", "internal/throttle", "internal/grpcunary", "internal/gunzip", "internal/bounded", "internal/jsonstr", "internal/transform", "internal/kafkaprops", "internal/kafkatxn", "internal/partials"}},
	// The shard notes, once a key part, whether its text needs JSON
	// escaping (jsonstr.Plain), for the sinks.
	{"shard", []string{"ring", "hist", "internal/sample", "internal/prefetch", "internal/hugepage", "internal/vmem", "internal/jsonstr"}},
	// The reference aggregator: independent of the shard; of hist it reads
	// only snapshots, to render the shard's side alike.
	{"shard/shardref", []string{"internal/sample", "hist"}},
	// A bucket's dimension is a key's (sample.Dim).
	{"sinks", []string{"hist", "internal/sample", "internal/selfmetric", "internal/throttle", "internal/jsonstr"}},
	{"sinks/*", []string{"sinks", "sinks/*", "hist", "internal/selfmetric", "internal/throttle", "internal/jsonstr", "internal/decimal", "internal/javanum", "internal/kafkaprops", "internal/kafkatxn", "internal/partials"}}, // sinks share helpers (caggtest) among themselves
	// Pipelines run sources, shards and sinks; they know nothing of MAD's
	// files.
	{"engine/pipeline", []string{"ingest", "shard", "sinks", "sinks/*", "hist", "ring", "affinity", "internal/sample", "internal/inplace", "internal/prefetch", "internal/selfmetric", "internal/throttle"}},
	// Configuration binds MAD's files and builds pipelines from them.
	{"engine/config", []string{"engine/pipeline", "internal/hocon", "ingest", "ingest/*", "shard", "hist", "sinks", "sinks/*", "affinity", "internal/sample", "internal/transform", "internal/kafkaprops", "internal/kafkatxn"}},
	// The daemon: everything but the commands.
	{"engine", []string{"*"}},
	// The Kafka tier's test helpers, for engine's and the commands' tests.
	{"engine/tiertest", []string{"hist", "ingest/partials", "internal/sample", "sinks", "sinks/kafka"}},
	{"bench", []string{"engine", "engine/*", "ingest", "ingest/*", "bench/*"}},
	{"bench/*", []string{"engine", "engine/*", "ingest", "ingest/*", "bench/*"}},
	{"fuzz", []string{"internal/sample", "hist", "ring", "shard", "ingest", "ingest/*", "sinks", "sinks/*", "shard/shardref"}},
	{"cmd/*", []string{"engine", "engine/*", "bench", "bench/*"}},
	// mad tells systemd when it is ready; its packaging test reads the
	// packaged configuration files as HOCON, to compare them with the
	// embedded default.
	{"cmd/mad", []string{"engine", "engine/*", "bench", "bench/*", "internal/sdnotify", "internal/hocon"}},
	// The fault campaign also runs a Cluster Aggregator (caggtest reads its
	// frames) and reports the shards' default series limit.
	{"cmd/madfault", []string{"engine", "engine/*", "bench", "bench/*", "sinks/cagg/caggtest"}},
}

func match(pattern, pkg string) bool {
	switch {
	case pattern == "*":
		return pkg != "cmd" && !strings.HasPrefix(pkg, "cmd/") // nothing imports a main
	case strings.HasSuffix(pattern, "/*"):
		return strings.HasPrefix(pkg, strings.TrimSuffix(pattern, "*"))
	}
	return pattern == pkg
}

// referenceOf is the path of pkg's reference implementation, the package
// its tests hold it to: pkg/<last element of pkg>ref.
func referenceOf(pkg string) string { return pkg + "/" + path.Base(pkg) + "ref" }

func rulesFor(pkg string) ([]string, bool) {
	// An exact rule wins over a pattern.
	for _, r := range allowed {
		if r.pkg == pkg {
			return r.imports, true
		}
	}
	for _, r := range allowed {
		if match(r.pkg, pkg) {
			return r.imports, true
		}
	}
	return nil, false
}

type goFile struct {
	pkg  string // package path relative to the module root
	path string
	ast  *ast.File
}

// files parses every Go file of the module (all build tags, tests included;
// testdata excluded).
func files(t *testing.T) []goFile {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(root, "go.mod")); err != nil || !strings.Contains(string(b), "module "+module) {
		t.Fatalf("cannot find the module root from %s", root)
	}
	var out []goFile
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); p != root && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(p))
		out = append(out, goFile{pkg: filepath.ToSlash(rel), path: p, ast: f})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestImportDirections fails when a package imports a project package the
// architecture does not allow it to.
func TestImportDirections(t *testing.T) {
	var problems []string
	seen := map[string]bool{}
	for _, f := range files(t) {
		// External test packages (package x_test) may use anything.
		if strings.HasSuffix(f.ast.Name.Name, "_test") {
			continue
		}
		seen[f.pkg] = true
		rules, ok := rulesFor(f.pkg)
		if !ok {
			problems = append(problems, f.pkg+": no import rule; add the package to internal/lint's table (and to DESIGN.md)")
			continue
		}
		for _, imp := range f.ast.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if !strings.HasPrefix(p, module+"/") {
				continue
			}
			dep := strings.TrimPrefix(p, module+"/")
			// Any test may take a replayable seed and the shards' stand-in
			// for a series cache, and the tests of a package its reference
			// (pkg/<name>ref, e.g. shard/shardref).
			test := strings.HasSuffix(f.path, "_test.go")
			okDep := dep == f.pkg || test && (dep == "internal/testseed" || dep == "internal/sidcache/sidcachetest" || dep == "hist/histtest" || dep == referenceOf(f.pkg))
			for _, r := range rules {
				okDep = okDep || match(r, dep)
			}
			if !okDep {
				problems = append(problems, f.path+": "+f.pkg+" must not import "+dep)
			}
		}
	}
	for _, must := range []string{"internal/sample", "hist", "ring", "shard", "engine", "ingest", "sinks", "affinity", "bench", "fuzz"} {
		if !seen[must] {
			problems = append(problems, "package "+must+" of the design card's layout is missing")
		}
	}
	sort.Strings(problems)
	for _, p := range problems {
		t.Error(p)
	}
}

// TestRulesReject makes sure the checker itself can fail.
func TestRulesReject(t *testing.T) {
	for _, tc := range []struct{ pkg, dep string }{
		{"ingest", "shard"}, {"ingest/statsd", "hist"}, {"sinks", "shard"}, {"sinks", "ring"},
		{"sinks/telemetry", "ingest"}, {"shard", "engine"}, {"hist", "internal/sample"}, {"engine", "cmd/mad"},
		{"engine/pipeline", "engine/config"}, {"engine/pipeline", "engine"}, {"engine/pipeline", "internal/hocon"},
		{"engine/config", "engine"}, {"internal/hocon", "engine/config"}, {"sinks", "engine/pipeline"}, {"ingest", "engine/config"},
		// A reference shares nothing with what it checks.
		{"shard/shardref", "shard"}, {"ingest/statsd/statsdref", "ingest/statsd"}, {"ingest/statsd/statsdref", "internal/javanum"},
		{"ingest/graphite/graphiteref", "ingest/graphite"}, {"ingest/telegraf/telegrafref", "ingest/telegraf"},
		{"ingest/collectd/collectdref", "ingest/collectd"}, {"internal/javanum/javanumref", "internal/javanum"},
		{"ingest/clientpb/clientpbref", "ingest/clientpb"}, {"ingest/clientpb/clientpbref", "internal/pbwire"},
		{"ingest/promrw/promrwref", "ingest/promrw"}, {"ingest/promrw/promrwref", "internal/pbwire"},
		{"ingest/otlp/otlpref", "ingest/otlp"}, {"ingest/otlp/otlpref", "internal/pbwire"}, {"ingest/otlp/otlpref", "internal/javanum"},
	} {
		rules, _ := rulesFor(tc.pkg)
		for _, r := range rules {
			if match(r, tc.dep) {
				t.Errorf("%s may import %s; the architecture forbids it", tc.pkg, tc.dep)
			}
		}
	}
}

// TestNoRawAtomics bans the sync/atomic functions (atomic.AddUint64(&x, …)):
// only the typed atomics (atomic.Uint64, …), which are aligned on 32-bit
// platforms and caught by vet when copied, may be used.
func TestNoRawAtomics(t *testing.T) {
	for _, f := range files(t) {
		name := ""
		for _, imp := range f.ast.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == "sync/atomic" {
				name = path.Base(p)
				if imp.Name != nil {
					name = imp.Name.Name
				}
			}
		}
		if name == "" {
			continue
		}
		ast.Inspect(f.ast, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok {
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == name {
					t.Errorf("%s: raw atomic %s.%s; use a typed atomic", f.path, name, sel.Sel.Name)
				}
			}
			return true
		})
	}
}

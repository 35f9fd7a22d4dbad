package hocon

import (
	"os"
	"path/filepath"
	"strings"
)

// Limits that keep hostile or broken input from exhausting the stack, memory
// or time.
const (
	// maxDepth bounds the nesting of objects and arrays (as Jackson's
	// default does), counting the objects a dotted key creates.
	maxDepth = 1000
	// maxResolveDepth bounds the recursion of substitution resolution.
	maxResolveDepth = 10000
	// maxIncludes bounds the number of files included by one configuration.
	maxIncludes = 1000
	// maxEnvList bounds ${NAME[]}.
	maxEnvList = 10000
	// warmStack is the length from which merge stacks are resolved
	// bottom-up before the usual top-down scan.
	warmStack = 32
	// Resolution work and the values created by substitution are bounded in
	// proportion to the input (a "billion laughs" of substitutions fails).
	minSteps      = 1 << 20
	stepsPerByte  = 64
	minValues     = 1 << 18
	valuesPerByte = 32
	minText       = 1 << 24
	textPerByte   = 256
)

// Options configure Parse and ParseFile. The zero value uses the process
// environment and file system.
type Options struct {
	// Env looks up environment variables for substitutions not found in the
	// configuration (default os.LookupEnv). As the spec says, a variable
	// set to the empty string counts as unset.
	Env func(name string) (string, bool)
	// Fallback is merged under the root before resolving, as MAD does with
	// parseFile(f).withFallback(ConfigFactory.systemProperties()): keys are
	// dotted paths like "user.dir" (split on every '.'), values strings.
	// Substitutions not found in the configuration are also looked up here
	// by their dotted path before the environment. May be nil.
	Fallback map[string]string
	// ReadFile reads the file given to ParseFile and included files (default
	// os.ReadFile). A missing file must be reported with an error that
	// matches fs.ErrNotExist, so that a non-required include of it is
	// skipped.
	ReadFile func(path string) ([]byte, error)
}

func (o Options) withDefaults() Options {
	if o.Env == nil {
		o.Env = os.LookupEnv
	}
	if o.ReadFile == nil {
		o.ReadFile = os.ReadFile
	}
	return o
}

// ParseFile reads and parses a configuration file: HOCON if its name ends in
// ".conf" (in any case), strict JSON otherwise.
func ParseFile(path string, opt Options) (*Value, error) {
	opt = opt.withDefaults()
	data, err := opt.ReadFile(path)
	if err != nil {
		return nil, &Error{Pos: Pos{File: path}, Msg: "cannot read: " + err.Error()}
	}
	if strings.HasSuffix(strings.ToLower(path), ".conf") {
		return Parse(path, data, opt)
	}
	return ParseJSON(path, data)
}

// Parse parses and resolves a HOCON document. name is used in positions and
// is the base of relative includes. The result is always an Object.
func Parse(name string, data []byte, opt Options) (*Value, error) {
	opt = opt.withDefaults()
	inc := &includer{read: opt.ReadFile, bytes: len(data)}
	if name != "" {
		inc.chain = []string{filepath.Clean(name)}
	}
	root, err := parseHOCON(name, data, inc, []string{}, true, 1)
	if err != nil {
		return nil, err
	}
	if len(opt.Fallback) > 0 {
		mergeUnder(root, fallbackTree(opt.Fallback))
	}
	return newResolver(root, opt, inc.bytes).run()
}

// ParseJSON parses strict JSON (RFC 8259) whose root must be an object. As
// with Jackson, the last of duplicate keys wins (keeping the position of the
// first in Keys).
func ParseJSON(name string, data []byte) (*Value, error) {
	return parseJSON(name, data, maxDepth)
}

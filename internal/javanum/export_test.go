package javanum

// For the tests of package javanum_test: Parse without its fast path, and
// the helpers.
var (
	ParseSlow = parseSlow
	JavaDigit = javaDigit
)

const Overflow = overflow

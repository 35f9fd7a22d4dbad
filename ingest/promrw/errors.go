package promrw

import "strconv"

// strconvQuote quotes a label name for an error message.
func strconvQuote(b []byte) string { return strconv.Quote(string(b)) }

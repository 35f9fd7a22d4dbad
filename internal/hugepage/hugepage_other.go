//go:build !linux

package hugepage

// Advise does nothing on this platform.
func Advise(b []byte) {}

//go:build !(amd64 || arm64) || race || purego

package prefetch

// Line hints that the cache line holding addr will be read soon. This build
// has no prefetch instruction; it does nothing.
func Line(addr uintptr) {}

// Lines2 hints two lines at once.
func Lines2(a, b uintptr) {}

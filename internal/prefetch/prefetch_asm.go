//go:build (amd64 || arm64) && !race && !purego

package prefetch

// Line hints that the cache line holding addr will be read soon.
//
//go:noescape
func Line(addr uintptr)

// Lines2 hints two lines at once (one call instead of two).
//
//go:noescape
func Lines2(a, b uintptr)

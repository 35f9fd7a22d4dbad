// Package hugepage asks the kernel to back large, randomly accessed arrays
// with transparent huge pages. mad's hot arrays (series index and records,
// bucket rows) are read at random; with 4 KiB pages nearly every access also
// misses the TLB, and in a virtual machine each miss is a two-dimensional
// page walk. Where transparent huge pages are in "madvise" mode (common,
// and the Go runtime does not advise its heap), the advice is what makes
// the kernel use 2 MiB pages.
//
// The advice is a hint: it never changes contents or results, and failure
// is ignored. Only memory that has not been touched yet is backed by huge
// pages at once; the kernel may collapse the rest later.
package hugepage

// Threshold is the smallest array worth advising: below one huge page there
// is nothing to gain.
const Threshold = 2 << 20

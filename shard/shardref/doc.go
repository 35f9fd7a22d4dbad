// Package shardref is the reference aggregator: a slow, obviously correct
// model of the shard's documented semantics (DESIGN.md, MAD-SPEC §6-§8),
// written independently of its data structures. It shares no code with
// package shard or with package hist's histograms beyond the input types
// (internal/sample), so a bug in either shows up as a difference.
//
// An Aggregator takes batches as a shard does (Add) and closes buckets as
// a shard's Tick and Flush seal them (Close, CloseAll), changes its
// configuration as a shard's Reconfigure does (Reconfigure), rendering each
// closed bucket as one line. RenderSnapshot renders a shard's sealed
// snapshot in the same format, so that a shard and the reference can be
// compared line by line (Diff); it is the only code here that reads package
// hist, and only what a snapshot exposes.
//
// It is for tests: the shard's differential test and the cross-package
// harnesses of package fuzz.
package shardref

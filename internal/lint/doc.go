// Package lint holds the repository's lint-as-test checks: the package
// dependency directions DESIGN.md describes and the ban on raw sync/atomic
// functions. It has no code of its own; see lint_test.go.
package lint

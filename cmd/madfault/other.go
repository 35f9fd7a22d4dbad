//go:build !linux

// Command madfault is mad's fault campaign; it runs on Linux only (it reads
// /proc and uses sendmmsg through package bench).
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "madfault: Linux only")
	os.Exit(1)
}

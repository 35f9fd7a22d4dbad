//go:build !linux

package clientpb

func threadCPU() int64 { return 0 }

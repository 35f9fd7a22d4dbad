//go:build !linux

package otlpjson

func processCPU() int64 { return 0 }

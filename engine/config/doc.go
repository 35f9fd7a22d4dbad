// Package config reads MAD's configuration files: it binds the main
// configuration and pipeline files (HOCON or JSON, package internal/hocon)
// the way MAD's Jackson binding does, validates every key with its file and
// line, and builds pipeline.Configs from them.
//
// Every MAD class (`type`: a Java class name, or its simple name) has one
// registry entry, in the file of its family next to its configuration
// struct: source_statsd.go, source_tcpline.go, source_http.go,
// source_wrapping.go, source_kafka.go, source_experimental.go,
// sink_wrapping.go, sink_cagg.go, sink_telemetry.go, sink_statistics.go,
// sink_files.go. An entry says how the class's keys bind and, for the
// classes mad runs, how it is built (registry.go). Adding a source or a
// sink is one entry in one file.
//
// Files: load.go (reading files, LoadMain, LoadPipeline),
// mainspec.go and pipelinespec.go (the two kinds of files), binder.go and
// duration.go (Jackson-style binding), problem.go, build.go (Builder),
// defaults.go and default.conf (the embedded default configuration),
// keys.txt (mad help config: the keys mad adds to MAD's).
package config

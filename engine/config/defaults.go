package config

import (
	_ "embed" // the default configuration
)

// DefaultConfigText is the configuration `mad` runs without arguments, in
// MAD's format (a HOCON main configuration with one inline pipeline):
// StatsD on UDP and TCP port 8125 (MAD's StatsdSource default), periods
// PT1S and PT1M with MAD's default statistics, every bucket written as JSON
// lines to standard output, and the control plane on 0.0.0.0:7090 (MAD's
// httpPort).
//
//go:embed default.conf
var DefaultConfigText []byte

// DefaultConfigName is the name errors in the default configuration carry.
const DefaultConfigName = "default.conf"

// KeysHelp is `mad help config`: the configuration keys mad adds to MAD's,
// with their defaults. TestKeysHelp checks that it names every key the
// binder reads that MAD's specification does not.
//
//go:embed keys.txt
var KeysHelp []byte

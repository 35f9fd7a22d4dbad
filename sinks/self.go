package sinks

// SelfRecord is a record of mad's own metrics, as MAD's metrics client
// would send it (to MAD's own V3 route): dimensions and metrics. Sinks that
// produce metrics about what they see (PeriodicStatisticsSink, TracingSink)
// hand them to a SelfEmitter, which the daemon feeds back into the
// aggregation with the monitoring cluster, service and host.
type SelfRecord struct {
	Dimensions [][2]string
	Metrics    []SelfMetric
}

// SelfMetric is one metric of a SelfRecord.
type SelfMetric struct {
	Name string
	// Type is "counter", "gauge" or "timer".
	Type   string
	Values []float64
	// Unit is a MAD unit name ("MILLISECOND", …) or "".
	Unit string
}

// SelfEmitter takes records of mad's own metrics. It must not block.
type SelfEmitter func(SelfRecord)

// Package clientpb decodes MAD's client protocols, the protobuf bodies that
// the metrics client libraries POST to MAD (MAD-SPEC §9.1, §9.2), into
// samples:
//
//	POST /metrics/v1/application  RecordSet of client.v1.proto  DecodeV1
//	POST /metrics/v2/application  RecordSet of client.v2.proto  DecodeV2
//	POST /metrics/v3/application  Request of client.v3.proto    DecodeV3
//
//	V1/V2  RecordSet{ repeated Record records = 1 }
//	       Record{ annotations = 1, dimensions = 2, gauges = 3, counters = 4,
//	               timers = 5, bytes id = 6, uint64 endMillisSinceEpoch = 7,
//	               startMillisSinceEpoch = 8 }
//	       MetricEntry{ string name = 1; repeated Quantity samples = 2 }
//	       V1 DoubleQuantity{ double value = 1; CompoundUnit unit = 2 }
//	       V2 Quantity{ oneof { double doubleValue = 1; int64 longValue = 2 }
//	                    CompoundUnit unit = 3 }
//	       CompoundUnit{ repeated Unit numerator = 1, denominator = 2 }
//	       Unit{ enum type = 1; enum scale = 2 }
//	V3     Request{ repeated Record records = 1 }
//	       Record{ bytes id = 1; uint64 end_millis_since_epoch = 2,
//	               start_millis_since_epoch = 3, request_millis_since_epoch = 6;
//	               repeated DimensionEntry dimensions = 4;
//	               repeated MetricDataEntry data = 5 }
//	       DimensionEntry{ Identifier name = 1, value = 2 }
//	       MetricDataEntry{ Identifier name = 1; oneof { NumericalData numerical_data = 2 } }
//	       Identifier{ oneof { string string_value = 1 } }
//	       NumericalData{ repeated double samples = 1; AugmentedHistogram statistics = 2 }
//	       AugmentedHistogram{ repeated SparseHistogramEntry entries = 1;
//	               int32 precision = 2; double min = 3, max = 4, sum = 5 }
//	       SparseHistogramEntry{ int64 bucket = 1; uint64 count = 2 }
//
// The decoder is pure (bytes in, samples routed to the caller's batches) and
// hand-written over internal/pbwire's primitives: no reflection, no
// generated code. It
// references the body while it decodes (names and dimensions are offsets
// into it until sample.Batch.PutKeyBytes copies a key into a batch) and
// keeps nothing of it afterwards. Its scratch space and caches are reused,
// so decoding allocates nothing in steady state.
//
// # MAD's rules
//
// The wire format is read as protobuf-java reads it, by internal/pbwire's
// rules (MAD parses the whole body before it builds any record): varints of
// up to ten bytes, tags and lengths as 32-bit varints, unknown fields (and
// known field numbers with another wire type) skipped after validation,
// groups matched and nested at most 100 deep, proto3 strings valid UTF-8,
// packed doubles a multiple of 8 bytes. Repeated occurrences of a singular
// field: the last scalar wins,
// messages merge (the last string_value of an Identifier, samples and
// histogram entries appended, the last min, max and sum).
//
// A record becomes samples as MAD builds its Record:
//   - time = endMillisSinceEpoch (0, the epoch, when absent; a uint64 above
//     2^63 is a negative Java long); startMillisSinceEpoch is ignored; V3's
//     requestTime = request_millis_since_epoch when it is not 0 (Sample.ReqTime);
//   - the id must have at least 16 bytes (only the first 16 are read);
//   - dimensions: the whole map keys the bucket; V1/V2 annotations are
//     checked and dropped (V3 has none);
//   - V1/V2 counters, timers and gauges are KindCounter, KindTimer and
//     KindGauge; every V3 metric is KindGauge (MAD-SPEC §15.8);
//   - V1/V2 units: the first numerator of the CompoundUnit only, named by
//     scale and type (V1: an unrecognised type is no unit, UNIT or an unrecognised
//     scale is the type alone, and an unset scale is YOCTO; V2: type UNKNOWN
//     or unrecognised is no unit, scale UNKNOWN, UNIT or unrecognised the
//     type alone) and looked up among MAD's units (so CELSIUS, ROTATION,
//     KILOSECOND, binary scales … are refused); values are normalised with
//     sample.Normalize (508 MILLISECOND → 0.508 SECOND); a V2 Quantity with
//     neither doubleValue nor longValue is skipped, unit unchecked;
//   - V3 has no units; samples are values; statistics are one set of
//     pre-aggregated statistics (sample.FlagAgg): min, max, sum, count = Σ
//     entries.count as a Java long, and the histogram of entries whose
//     bucket is a packed key (the value is the double of bits bucket << 45;
//     precision is ignored, 7 is assumed); an entry without data is skipped
//     (its name must still be set); entries of one name merge into one
//     metric: all its samples are routed before all its statistics, each in
//     body order, which is MAD's accumulation order;
//   - a record that routes no sample (no metrics, or none with a value)
//     still routes one KindNone sample (no name, the record's dimensions,
//     time and requestTime): MAD makes a bucket, and emits a PeriodicData,
//     for every record it receives.
//
// Errors are *sample.DecodeErrors. What MAD answers with 400 (a
// ParsingException) is of kind sample.ErrMalformed: any malformed protobuf
// (including invalid UTF-8), a duplicate annotation, dimension or metric
// name in one record (V1/V2 metric names across the three lists, even
// without samples), an unknown unit, a V3 Identifier not set (dimension name
// or value, metric name). A record id shorter than 16 bytes is a
// BufferUnderflowException in MAD, answered with 500: kind
// sample.ErrMADFails. More records than Config.MaxRecords, or a body over
// 2 GiB, is sample.ErrTooLarge (413). As in MAD, the whole body is parsed
// first (a wire error anywhere wins), then records are built in order and
// the first that fails decides.
//
// # Deviations
//
//   - A series key longer than sample.MaxKeyLen (64 KiB) cannot be stored:
//     that metric is dropped and counted in Stats.TooLong. MAD has no limit.
//   - Bodies over 2 GiB are refused with 413 (Java arrays cannot hold them
//     either).
//   - Samples of different metrics of a record are routed in no particular
//     order; only each series' order is kept (it is all that aggregation
//     sees).
//   - Non-finite values are routed as they are; the shard refuses and
//     counts them.
//
// None of these needs a switch: no MAD client can depend on them.
//
// # Speed
//
// Records of one client repeat their dimensions and metrics. The decoder
// caches, by the bytes of a record's run of dimension entries, the bucket
// key and the keys and hashes of the metrics seen under it (cache.go), and
// shares a metric's key among the records of a body within a batch
// (batches.go). Both are transparent: the fuzz targets hold a warmed
// decoder to a fresh one and to a slow reference decoder (ref_test.go).
package clientpb

package otlp

import "github.com/gomad/mad/internal/pbwire"

// What protobuf-java checks in the parts of a request that mad does not
// read. MAD parses the whole request before it looks at any metric, so
// bytes that mad's decoder has no use for still refuse the request when
// Java cannot parse them: a data member of a Metric that a later member
// replaced (a oneof: Java parses every member it meets), the same for an
// AnyValue's array or kvlist, a Summary's points, and, when MAD's own
// failure (ErrMADFails) ends the decoding early, the rest of the body (Java
// would have refused it as malformed first). check walks such bytes with
// MAD's schema: every field's wire format (pbwire), the strings' UTF-8, the
// packed runs, the nesting depth, recursively; it allocates nothing.

// A rule says what Java checks in a length-delimited field beyond its
// wire format.
type rule struct {
	kind uint8 // ruleBytes (nothing), ruleString, ruleMessage, ruleFixed64s, ruleVarints
	sub  msgID // ruleMessage: the message's schema
}

const (
	ruleBytes uint8 = iota // bytes, an unknown field, a scalar as wire type 2
	ruleString
	ruleMessage
	ruleFixed64s // a packed repeated double or fixed64
	ruleVarints  // a packed repeated uint64
)

// msgID names a message of MAD's OTLP schema (metrics.proto, common.proto,
// resource.proto of open-telemetry-protocol 1.4.0).
type msgID uint8

const (
	msgRequest msgID = iota
	msgResourceMetrics
	msgResource
	msgScopeMetrics
	msgScope
	msgMetric
	msgKeyValue
	msgAnyValue
	msgArrayValue
	msgKeyValueList
	msgGauge
	msgSum
	msgHistogram
	msgExpHistogram
	msgSummary
	msgNumberPoint
	msgHistogramPoint
	msgExpHistogramPoint
	msgBuckets
	msgSummaryPoint
	msgQuantile
	msgExemplar
	numMsgs
)

// schema holds, per message, the rule of each field number below 16 (no
// length-delimited field of MAD's schema has a higher one). A number
// missing is a field Java does not know (or a scalar): its wire format is
// all it checks.
var schema = func() (s [numMsgs][16]rule) {
	str := rule{kind: ruleString}
	m := func(id msgID) rule { return rule{kind: ruleMessage, sub: id} }
	s[msgRequest][1] = m(msgResourceMetrics)
	s[msgResourceMetrics][1] = m(msgResource)
	s[msgResourceMetrics][2] = m(msgScopeMetrics)
	s[msgResourceMetrics][3] = str
	s[msgResource][1] = m(msgKeyValue) // entity_refs (3) is newer than MAD's protos
	s[msgScopeMetrics][1] = m(msgScope)
	s[msgScopeMetrics][2] = m(msgMetric)
	s[msgScopeMetrics][3] = str
	s[msgScope][1], s[msgScope][2] = str, str
	s[msgScope][3] = m(msgKeyValue)
	s[msgMetric][1], s[msgMetric][2], s[msgMetric][3] = str, str, str
	s[msgMetric][5], s[msgMetric][7] = m(msgGauge), m(msgSum)
	s[msgMetric][9] = m(msgHistogram)
	s[msgMetric][10] = m(msgExpHistogram)
	s[msgMetric][11] = m(msgSummary)
	s[msgMetric][12] = m(msgKeyValue)
	s[msgKeyValue][1] = str
	s[msgKeyValue][2] = m(msgAnyValue)
	s[msgAnyValue][1] = str
	s[msgAnyValue][5] = m(msgArrayValue)
	s[msgAnyValue][6] = m(msgKeyValueList)
	s[msgArrayValue][1] = m(msgAnyValue)
	s[msgKeyValueList][1] = m(msgKeyValue)
	s[msgGauge][1], s[msgSum][1] = m(msgNumberPoint), m(msgNumberPoint)
	s[msgHistogram][1] = m(msgHistogramPoint)
	s[msgExpHistogram][1] = m(msgExpHistogramPoint)
	s[msgSummary][1] = m(msgSummaryPoint)
	s[msgNumberPoint][5] = m(msgExemplar)
	s[msgNumberPoint][7] = m(msgKeyValue)
	s[msgHistogramPoint][6] = rule{kind: ruleFixed64s}
	s[msgHistogramPoint][7] = rule{kind: ruleFixed64s}
	s[msgHistogramPoint][8] = m(msgExemplar)
	s[msgHistogramPoint][9] = m(msgKeyValue)
	s[msgExpHistogramPoint][1] = m(msgKeyValue)
	s[msgExpHistogramPoint][8], s[msgExpHistogramPoint][9] = m(msgBuckets), m(msgBuckets)
	s[msgExpHistogramPoint][11] = m(msgExemplar)
	s[msgBuckets][2] = rule{kind: ruleVarints}
	s[msgSummaryPoint][6] = m(msgQuantile)
	s[msgSummaryPoint][7] = m(msgKeyValue)
	s[msgExemplar][7] = m(msgKeyValue) // span_id (4), trace_id (5): bytes
	return s
}()

// dataSchema is the schema of a Metric's data member (by its tag).
func dataSchema(member uint32) msgID {
	switch member {
	case metricHistogram:
		return msgHistogram
	case metricExpHist:
		return msgExpHistogram
	case metricSummary:
		return msgSummary
	case metricSum:
		return msgSum
	}
	return msgGauge
}

// check validates the message that r reads against id's schema, as
// protobuf-java parses it; on failure the returned Reader (r or the one of
// a nested message) holds the failure.
func check(r pbwire.Reader, id msgID) (pbwire.Reader, bool) {
	rules := &schema[id]
	for r.More() {
		f := r.Next()
		if f.Type() != pbwire.BytesType || f.Num() >= uint32(len(rules)) {
			continue // validated by Next
		}
		switch ru := rules[f.Num()]; ru.kind {
		case ruleString:
			r.String(f)
		case ruleMessage:
			if sub, ok := check(r.Message(f), ru.sub); !ok {
				return sub, false
			}
		case ruleFixed64s:
			r.CheckPacked(f, 8)
		case ruleVarints:
			r.CheckPacked(f, 0)
		}
	}
	return r, r.Err() == pbwire.OK
}

// checkAt validates body[s:e], a message id whose fields are at depth, and
// records a failure (in field) as the decoder's.
func (d *Decoder) checkAt(s, e, depth int, id msgID, field string) bool {
	if r, ok := check(pbwire.NewReaderAt(d.body, s, e, depth), id); !ok {
		return d.wire(r, field)
	}
	return true
}

// checkBody runs after MAD's own failure (d.f, ErrMADFails) ended the
// decoding: if Java could not have parsed the body, it is malformed, and
// that failure replaces MAD's.
func (d *Decoder) checkBody() {
	if r, ok := check(pbwire.NewReader(d.body), msgRequest); !ok {
		d.f = failure{}
		d.at = path{-1, -1, -1, -1}
		d.name, d.dataName = span{}, ""
		d.wire(r, "")
	}
}

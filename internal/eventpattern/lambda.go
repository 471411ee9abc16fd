package eventpattern

import (
	"encoding/base64"
	"fmt"
)

// Envelope names the member of an event source's record whose content
// Lambda filters as JSON: the SQS body, the Kinesis data (base64), the
// Kafka value (base64), the Amazon MQ data (base64). DynamoDB stream records
// have none; their "dynamodb" member is JSON already.
type Envelope struct {
	Key    string
	Base64 bool
}

// Envelopes of the event sources Lambda filters.
var (
	EnvelopeSQS      = Envelope{Key: "body"}
	EnvelopeKinesis  = Envelope{Key: "data", Base64: true}
	EnvelopeKafka    = Envelope{Key: "value", Base64: true}
	EnvelopeMQ       = Envelope{Key: "data", Base64: true}
	EnvelopeDynamoDB = Envelope{}
)

// Filters is an event source mapping's compiled FilterCriteria: a record
// passes when any filter matches (no filters: every record passes).
type Filters struct {
	set *Set
}

// CompileFilters validates and compiles the Pattern of each Filter of a
// FilterCriteria, as CreateEventSourceMapping and UpdateEventSourceMapping
// do.
func CompileFilters(patterns []string) (*Filters, error) {
	if len(patterns) > MaxFiltersPerMapping {
		return nil, &Error{Code: CodeInvalidParameterValue, Reason: "too many filters",
			Message: fmt.Sprintf("The number of filters in FilterCriteria (%d) exceeds the limit of %d.", len(patterns), MaxFiltersPerMapping)}
	}
	ps := make([]*Pattern, 0, len(patterns))
	for _, s := range patterns {
		p, err := Compile(Lambda, []byte(s))
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	return &Filters{set: NewSet(ps...)}, nil
}

// Len is the number of filters.
func (f *Filters) Len() int { return f.set.Len() }

// Match reports whether a record (the JSON Lambda would put in the event's
// Records array) passes the filters. When the envelope member holds a string
// that is (after base64 decoding, for the sources that encode it) a JSON
// object or array, patterns see it as that JSON; otherwise they see the
// string as it is in the record.
func (f *Filters) Match(record []byte, env Envelope) (bool, error) {
	if f.set.Len() == 0 {
		return true, nil
	}
	ev := eventPool.Get().(*event)
	defer eventPool.Put(ev)
	if err := ev.parse(record, f.set.dict); err != nil {
		return false, err
	}
	if id, ok := f.set.dict[env.Key]; ok && env.Key != "" {
		ev.expand(id, env.Base64, f.set.dict)
	}
	var dst [MaxFiltersPerMapping]int
	return len(f.set.matchParsed(ev, dst[:0])) > 0, nil
}

// expand replaces the top-level string member id with the JSON it holds.
func (e *event) expand(id int32, b64 bool, dict map[string]int32) {
	if e.root < 0 || e.nodes[e.root].kind != kObj {
		return
	}
	m := int32(-1)
	for c := e.nodes[e.root].child; c >= 0; c = e.nodes[c].next {
		if e.nodes[c].id == id {
			m = c
		}
	}
	if m < 0 || e.nodes[m].kind != kStr {
		return
	}
	payload := e.nodes[m].str
	if b64 {
		n := base64.StdEncoding.DecodedLen(len(payload))
		if cap(e.scratch) < n {
			e.scratch = make([]byte, n)
		}
		k, err := base64.StdEncoding.Decode(e.scratch[:n], payload)
		if err != nil {
			return
		}
		payload = e.scratch[:k]
	}
	p := parser{s: payload, ev: e, dict: dict}
	p.ws()
	if p.i >= len(p.s) || (p.s[p.i] != '{' && p.s[p.i] != '[') {
		return
	}
	mark := len(e.nodes)
	sub, err := p.value(0, false)
	if err == nil {
		p.ws()
		if p.i != len(p.s) {
			err = p.fail("data after the top-level value")
		}
	}
	if err != nil {
		e.nodes = e.nodes[:mark]
		return
	}
	e.nodes[m].kind = e.nodes[sub].kind
	e.nodes[m].child = e.nodes[sub].child
	e.nodes[m].str = nil
}

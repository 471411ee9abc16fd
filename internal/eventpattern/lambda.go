package eventpattern

import (
	"encoding/base64"
	"fmt"
)

// Envelope says where in an event source's record the payload Lambda
// filters as JSON is, and what else a filter may see. SQS filters see the
// whole message record with its body as JSON (when it is JSON); Kinesis,
// Kafka and Amazon MQ mappings filter on their payload only ("only support
// filtering on the data key" / "the value key"), base64-decoded; DynamoDB
// stream records are JSON already and filtered whole.
type Envelope struct {
	// Path leads from the record's root to the payload member.
	Path []string
	// Base64 payloads are decoded first.
	Base64 bool
	// Only: filters see {"<last element of Path>": payload} and nothing else
	// of the record.
	Only bool
}

// Envelopes of the event sources Lambda filters; records are the elements
// of the event's Records array (for Kafka, of a topic-partition's array).
var (
	EnvelopeSQS      = Envelope{Path: []string{"body"}}
	EnvelopeKinesis  = Envelope{Path: []string{"kinesis", "data"}, Base64: true, Only: true}
	EnvelopeKafka    = Envelope{Path: []string{"value"}, Base64: true, Only: true}
	EnvelopeMQ       = Envelope{Path: []string{"data"}, Base64: true, Only: true}
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
	set := NewSet(ps...)
	for _, env := range []Envelope{EnvelopeSQS, EnvelopeKinesis, EnvelopeKafka, EnvelopeMQ} {
		for _, k := range env.Path {
			if _, ok := set.dict[k]; !ok {
				set.dict[k] = int32(len(set.dict)) //nolint:gosec // G115: a handful of keys
			}
		}
	}
	return &Filters{set: set}, nil
}

// Len is the number of filters.
func (f *Filters) Len() int { return f.set.Len() }

// Match reports whether a record (the JSON Lambda would put in the event's
// Records array) passes the filters. When the payload is (after base64
// decoding, for the sources that encode it) a JSON object or array,
// patterns see it as that JSON; otherwise they see it as a string (decoded,
// when base64 decodes).
func (f *Filters) Match(record []byte, env Envelope) (bool, error) {
	if f.set.Len() == 0 {
		return true, nil
	}
	ev := eventPool.Get().(*event)
	defer eventPool.Put(ev)
	if err := ev.parse(record, f.set.dict); err != nil {
		return false, err
	}
	if len(env.Path) > 0 {
		ev.expand(env, f.set.dict)
	}
	var dst [MaxFiltersPerMapping]int
	return len(f.set.matchParsed(ev, dst[:0])) > 0, nil
}

// expand replaces the payload string at env.Path with the JSON it holds and,
// for Only envelopes, makes it the one member of a new root.
func (e *event) expand(env Envelope, dict map[string]int32) {
	n := e.root
	for _, k := range env.Path {
		id, ok := dict[k]
		if !ok {
			n = -1
			break
		}
		n = e.member(n, id)
	}
	if n >= 0 && e.nodes[n].kind == kStr {
		e.decodePayload(n, env.Base64, dict)
	}
	if !env.Only {
		return
	}
	root := int32(len(e.nodes)) //nolint:gosec // G115: bounded by MaxEventSize
	e.nodes = append(e.nodes, node{kind: kObj, id: -1, next: -1, child: -1})
	if n >= 0 {
		c := e.nodes[n]
		c.next = -1
		e.nodes = append(e.nodes, c)
		e.nodes[root].child = root + 1
	}
	e.root = root
}

func (e *event) decodePayload(n int32, b64 bool, dict map[string]int32) {
	payload := e.nodes[n].str
	if b64 {
		size := base64.StdEncoding.DecodedLen(len(payload))
		if cap(e.scratch) < size {
			e.scratch = make([]byte, size)
		}
		k, err := base64.StdEncoding.Decode(e.scratch[:size], payload)
		if err != nil {
			return
		}
		payload = e.scratch[:k]
		e.nodes[n].str = payload
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
	e.nodes[n].kind = e.nodes[sub].kind
	e.nodes[n].child = e.nodes[sub].child
	e.nodes[n].str = nil
}

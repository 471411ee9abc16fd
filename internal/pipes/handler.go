package pipes

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/nimbus-serverless/nimbus/internal/deliver"
	"github.com/nimbus-serverless/nimbus/internal/esm"
)

// handler is what a pipe does with a batch its source gathered: the
// records in the pipe's event shape, the enrichment (a synchronous
// invocation with the batch as a JSON array; its answer is the new
// batch), the target's InputTemplate per event, then the target: Lambda
// and Step Functions get the batch as one JSON array, SQS, SNS and event
// buses one message or event per element. An error returns the batch to
// the source (SQS: after its visibility timeout; streams: retried).
func (s *Service) handler(p *stored) esm.Handler {
	kind := sourceKind(p.Source)
	return func(ctx context.Context, records []json.RawMessage) ([]string, error) {
		ingested := time.Now()
		events := make([]json.RawMessage, 0, len(records))
		for _, r := range records {
			events = append(events, pipeEvent(kind, r))
		}
		if p.Enrichment != "" {
			var err error
			if events, err = s.enrich(ctx, p, events, ingested); err != nil {
				return nil, err
			}
			if len(events) == 0 {
				return nil, nil // the enrichment filtered everything out
			}
		}
		tp := p.TargetParameters
		if tp != nil && tp.InputTemplate != nil {
			for i, ev := range events {
				events[i] = render(*tp.InputTemplate, ev, p, ingested)
			}
		}
		return s.deliverTarget(ctx, p, events)
	}
}

// pipeEvent is a source record as a pipe passes it on: SQS and DynamoDB
// records as Lambda's events carry them; a Kinesis record flattened (its
// kinesis members at the top, as Pipes sends them).
func pipeEvent(kind string, rec json.RawMessage) json.RawMessage {
	if kind != kindKinesis {
		return rec
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(rec, &m) != nil {
		return rec
	}
	var inner map[string]json.RawMessage
	if json.Unmarshal(m["kinesis"], &inner) != nil {
		return rec
	}
	delete(m, "kinesis")
	for k, v := range inner {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		return rec
	}
	return b
}

func (s *Service) enrich(ctx context.Context, p *stored, events []json.RawMessage, ingested time.Time) ([]json.RawMessage, error) {
	in := events
	if ep := p.EnrichmentParameters; ep != nil && ep.InputTemplate != nil {
		in = make([]json.RawMessage, len(events))
		for i, ev := range events {
			in[i] = render(*ep.InputTemplate, ev, p, ingested)
		}
	}
	payload := jsonArray(in)
	if err := s.mayCall(ctx, p, p.Enrichment); err != nil {
		return nil, err
	}
	out, fnErr, err := s.inv.InvokeSync(ctx, p.Enrichment, payload)
	if err != nil {
		return nil, fmt.Errorf("invoke enrichment: %w", err)
	}
	if fnErr != "" {
		return nil, fmt.Errorf("enrichment %s failed (%s): the batch is retried", p.Enrichment, fnErr)
	}
	return enrichmentEvents(out), nil
}

// enrichmentEvents reads an enrichment's answer: a JSON array is the new
// batch; null or nothing drops the batch; any other value is one event.
func enrichmentEvents(out []byte) []json.RawMessage {
	t := bytes.TrimSpace(out)
	if len(t) == 0 || string(t) == "null" {
		return nil
	}
	var arr []json.RawMessage
	if t[0] == '[' && json.Unmarshal(t, &arr) == nil {
		return arr
	}
	return []json.RawMessage{json.RawMessage(t)}
}

// deliverTarget hands the events to the pipe's target.
func (s *Service) deliverTarget(ctx context.Context, p *stored, events []json.RawMessage) ([]string, error) {
	tp := p.TargetParameters
	if tp == nil {
		tp = &TargetParameters{}
	}
	switch deliver.Service(p.Target) {
	case "lambda":
		batch := jsonArray(events)
		if lp := tp.LambdaFunctionParameters; lp != nil && lp.InvocationType == "FIRE_AND_FORGET" {
			return nil, s.targets.Deliver(ctx, &deliver.Delivery{TargetArn: p.Target, DedupID: uuid.NewString(), Body: batch, Source: s.as(p)})
		}
		if err := s.mayCall(ctx, p, p.Target); err != nil {
			return nil, err
		}
		out, fnErr, err := s.inv.InvokeSync(ctx, p.Target, batch)
		if err != nil {
			return nil, fmt.Errorf("invoke target: %w", err)
		}
		if fnErr != "" {
			return nil, fmt.Errorf("target %s failed (%s): the batch is retried", p.Target, fnErr)
		}
		ids, ok := esm.BatchItemFailures(out)
		if !ok {
			return nil, nil // an answer that is not a batchItemFailures report: the batch succeeded
		}
		return ids, nil
	case "states":
		return nil, s.targets.Deliver(ctx, &deliver.Delivery{TargetArn: p.Target, DedupID: uuid.NewString(), Body: jsonArray(events), Source: s.as(p)})
	case "events":
		if s.bus == nil {
			return nil, errors.New("event-bus targets are not wired on this node")
		}
		bp := tp.EventBridgeEventBusParameters
		if bp == nil {
			bp = &BusParameters{}
		}
		source, detailType := bp.Source, bp.DetailType
		if source == "" {
			source = "Pipe " + p.Name
		}
		if detailType == "" {
			detailType = "Event from " + sourceLabel(p.Source)
		}
		if err := s.mayCall(ctx, p, p.Target); err != nil {
			return nil, err
		}
		bus := p.Target[strings.Index(p.Target, ":event-bus/")+len(":event-bus/"):]
		for _, ev := range events {
			if err := s.bus.PutEvent(ctx, bus, source, detailType, string(ev), bp.Resources); err != nil {
				return nil, fmt.Errorf("put event: %w", err)
			}
		}
		return nil, nil
	}
	// SQS and SNS: one message per event.
	for _, ev := range events {
		d := &deliver.Delivery{TargetArn: p.Target, DedupID: uuid.NewString(), Body: messageBody(ev), Source: s.as(p)}
		if qp := tp.SqsQueueParameters; qp != nil {
			d.GroupID = dynamic(qp.MessageGroupId, ev)
			if id := dynamic(qp.MessageDeduplicationId, ev); id != "" {
				d.DedupID = id
			}
		}
		if err := s.targets.Deliver(ctx, d); err != nil {
			return nil, fmt.Errorf("deliver to %s: %w", p.Target, err)
		}
	}
	return nil, nil
}

// jsonArray joins events into a JSON array as they are written (a
// template's whitespace is kept).
func jsonArray(events []json.RawMessage) []byte {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, ev := range events {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(ev)
	}
	b.WriteByte(']')
	return b.Bytes()
}

// messageBody is an event as a message body: a JSON string's content,
// anything else as its JSON text.
func messageBody(ev json.RawMessage) []byte {
	var s string
	if len(ev) > 0 && ev[0] == '"' && json.Unmarshal(ev, &s) == nil {
		return []byte(s)
	}
	return ev
}

// dynamic resolves a target parameter that may be a path into the event
// ($.name...): the value at the path as text, or v as written.
func dynamic(v string, ev json.RawMessage) string {
	if !strings.HasPrefix(v, "$.") {
		return v
	}
	val := lookup(v, ev)
	if val == nil {
		return ""
	}
	return string(messageBody(val))
}

func sourceLabel(arn string) string {
	switch sourceKind(arn) {
	case kindQueue:
		return "aws:sqs"
	case kindKinesis:
		return "aws:kinesis"
	case kindDynamo:
		return "aws:dynamodb"
	}
	return "pipe"
}

// decodedBody is ev with the record's payload readable by paths: an SQS
// body or a Kinesis data that holds JSON is parsed in place (Pipes reads
// $.body.<field> of a JSON message body).
func decodedBody(ev json.RawMessage) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(ev, &m) != nil {
		return ev
	}
	changed := false
	if raw, ok := m["body"]; ok {
		var s string
		if json.Unmarshal(raw, &s) == nil && json.Valid([]byte(s)) {
			m["body"], changed = json.RawMessage(s), true
		}
	}
	if raw, ok := m["data"]; ok {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			if b, err := base64.StdEncoding.DecodeString(s); err == nil && json.Valid(b) {
				m["data"], changed = json.RawMessage(b), true
			}
		}
	}
	if !changed {
		return ev
	}
	b, err := json.Marshal(m)
	if err != nil {
		return ev
	}
	return b
}

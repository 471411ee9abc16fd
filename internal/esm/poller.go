package esm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/eventpattern"
	"github.com/nimbus-serverless/nimbus/internal/invoke"
)

// defaultConcurrency is the batches a mapping without ScalingConfig runs
// at once on a node (Lambda starts SQS polling with five).
const defaultConcurrency = 5

// pollWait is a poller's long poll: short enough that a stopping node
// does not wait long for its pollers.
const pollWait = 5 * time.Second

// poller runs one mapping's workers on this node.
type poller struct {
	rev    uint64
	cancel context.CancelFunc
	done   chan struct{}
}

// Run watches the mappings and runs a poller for each enabled one until
// ctx ends; a changed mapping's poller restarts with its new settings.
func (s *Service) Run(ctx context.Context) error {
	w, err := s.kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("watch event source mappings: %w", err)
	}
	defer func() { _ = w.Stop() }()
	defer s.stopAll()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return nil
			}
			if e == nil {
				continue // the initial values are all in
			}
			s.apply(ctx, e)
		}
	}
}

func (s *Service) apply(ctx context.Context, e jetstream.KeyValueEntry) {
	id := e.Key()
	s.mu.Lock()
	old := s.running[id]
	delete(s.running, id)
	s.mu.Unlock()
	if old != nil {
		old.cancel()
		<-old.done
	}
	if e.Operation() != jetstream.KeyValuePut {
		return
	}
	var m stored
	if err := json.Unmarshal(e.Value(), &m); err != nil || !m.Enabled {
		return
	}
	f, err := m.filters()
	if err != nil {
		s.log.Warn("event source mapping filters do not compile", "uuid", id, "err", err)
		return
	}
	pctx, cancel := context.WithCancel(ctx)
	p := &poller{rev: e.Revision(), cancel: cancel, done: make(chan struct{})}
	if isStreamArn(m.EventSourceArn) {
		if !s.ownsStream(m.EventSourceArn) {
			cancel()
			return
		}
		go func() {
			defer close(p.done)
			s.workStream(pctx, &m, f)
		}()
		s.mu.Lock()
		s.running[id] = p
		s.mu.Unlock()
		return
	}
	n := defaultConcurrency
	if m.ScalingConfig != nil && m.ScalingConfig.MaximumConcurrency > 0 {
		n = min(m.ScalingConfig.MaximumConcurrency, n)
	}
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.work(pctx, &m.Mapping, f)
		}()
	}
	go func() {
		wg.Wait()
		close(p.done)
	}()
	s.mu.Lock()
	s.running[id] = p
	s.mu.Unlock()
}

func (s *Service) stopAll() {
	s.mu.Lock()
	ps := s.running
	s.running = map[string]*poller{}
	s.mu.Unlock()
	for _, p := range ps {
		p.cancel()
	}
	for _, p := range ps {
		<-p.done
	}
}

// work polls, filters, invokes and deletes until ctx ends.
func (s *Service) work(ctx context.Context, m *Mapping, f *eventpattern.Filters) {
	acct, name, _ := sqsQueue(m.EventSourceArn)
	for ctx.Err() == nil {
		batch, err := s.gather(ctx, m, acct, name)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("event source mapping cannot receive", "uuid", m.UUID, "err", err)
				pause(ctx, 5*time.Second)
			}
			continue
		}
		if len(batch) == 0 {
			continue
		}
		if err := s.process(ctx, m, f, acct, name, batch); err != nil && ctx.Err() == nil {
			s.log.Info("event source mapping batch failed", "uuid", m.UUID, "messages", len(batch), "err", err)
			pause(ctx, time.Second)
		}
	}
}

func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// gather receives one batch: up to BatchSize messages, for up to the
// batching window once the first arrived (receives of at most 10).
func (s *Service) gather(ctx context.Context, m *Mapping, acct, name string) ([]Message, error) {
	first, err := s.queues.Receive(ctx, acct, name, min(m.BatchSize, 10), pollWait)
	if err != nil || len(first) == 0 || m.MaximumBatchingWindowInSeconds == 0 || len(first) >= m.BatchSize {
		return first, err
	}
	deadline := time.Now().Add(time.Duration(m.MaximumBatchingWindowInSeconds) * time.Second)
	batch := first
	for len(batch) < m.BatchSize && ctx.Err() == nil {
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		more, err := s.queues.Receive(ctx, acct, name, min(m.BatchSize-len(batch), 10), min(left, pollWait))
		if err != nil {
			break
		}
		batch = append(batch, more...)
	}
	return batch, nil
}

// sqsRecord is a record of Lambda's SQS event.
type sqsRecord struct {
	MessageID              string                `json:"messageId"`
	ReceiptHandle          string                `json:"receiptHandle"`
	Body                   string                `json:"body"`
	Attributes             map[string]string     `json:"attributes"`
	MessageAttributes      map[string]recordAttr `json:"messageAttributes"`
	MD5OfBody              string                `json:"md5OfBody"`
	MD5OfMessageAttributes *string               `json:"md5OfMessageAttributes"`
	EventSource            string                `json:"eventSource"`
	EventSourceARN         string                `json:"eventSourceARN"`
	AWSRegion              string                `json:"awsRegion"`
}

type recordAttr struct {
	StringValue      *string  `json:"stringValue,omitempty"`
	BinaryValue      []byte   `json:"binaryValue,omitempty"`
	StringListValues []string `json:"stringListValues"`
	BinaryListValues []string `json:"binaryListValues"`
	DataType         string   `json:"dataType"`
}

func (s *Service) record(m *Mapping, msg *Message) sqsRecord {
	r := sqsRecord{MessageID: msg.MessageID, ReceiptHandle: msg.ReceiptHandle, Body: msg.Body, Attributes: msg.Attributes,
		MessageAttributes: map[string]recordAttr{}, MD5OfBody: msg.MD5OfBody, EventSource: "aws:sqs",
		EventSourceARN: m.EventSourceArn, AWSRegion: s.region}
	if msg.MD5OfAttributes != "" {
		r.MD5OfMessageAttributes = &msg.MD5OfAttributes
	}
	for k, v := range msg.MessageAttributes {
		r.MessageAttributes[k] = recordAttr{StringValue: v.StringValue, BinaryValue: v.BinaryValue,
			StringListValues: []string{}, BinaryListValues: []string{}, DataType: v.DataType}
	}
	if r.Attributes == nil {
		r.Attributes = map[string]string{}
	}
	return r
}

// process filters a batch, invokes the function and deletes what is
// done. Records the filters reject are deleted (as Lambda does).
func (s *Service) process(ctx context.Context, m *Mapping, f *eventpattern.Filters, acct, name string, batch []Message) error {
	var records []sqsRecord
	for i := range batch {
		r := s.record(m, &batch[i])
		raw, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("encode record: %w", err)
		}
		ok, err := f.Match(raw, eventpattern.EnvelopeSQS)
		if err != nil || !ok {
			_ = s.queues.Delete(ctx, acct, name, r.ReceiptHandle)
			continue
		}
		records = append(records, r)
	}
	if len(records) == 0 {
		return nil
	}
	payload, err := json.Marshal(map[string]any{"Records": records})
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	ref, err := awsapi.ParseFunctionRef(m.FunctionArn)
	if err != nil {
		return err
	}
	cfg, err := s.fns.Resolve(ctx, ref.Name, ref.Qualifier)
	if err != nil {
		return fmt.Errorf("resolve function: %w", err)
	}
	res, err := s.inv.Invoke(ctx, cfg, &invoke.Request{RequestID: uuid.NewString(), InvokedFunctionArn: m.FunctionArn, Payload: payload, Enqueued: time.Now()})
	if err != nil {
		return fmt.Errorf("invoke: %w", err)
	}
	if res.FunctionError != "" {
		return errors.New("function error: the batch returns to the queue")
	}
	failed := map[string]bool{}
	if len(m.FunctionResponseTypes) > 0 {
		ids, ok := batchItemFailures(res.Payload)
		if !ok {
			return errors.New("malformed batchItemFailures response: the whole batch returns to the queue")
		}
		known := map[string]bool{}
		for _, r := range records {
			known[r.MessageID] = true
		}
		for _, id := range ids {
			if !known[id] {
				return errors.New("batchItemFailures names a message not in the batch: the whole batch returns to the queue")
			}
			failed[id] = true
		}
	}
	// The deletes are independent acknowledgements: sent together (up
	// to 10 at once), they share the backbone's round trips and fsyncs.
	var wg sync.WaitGroup
	slots := make(chan struct{}, 10)
	for _, r := range records {
		if failed[r.MessageID] {
			continue
		}
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			if err := s.queues.Delete(ctx, acct, name, r.ReceiptHandle); err != nil {
				s.log.Warn("delete processed message", "uuid", m.UUID, "err", err)
			}
		})
	}
	wg.Wait()
	return nil
}

// batchItemFailures reads a ReportBatchItemFailures response. An empty
// or null response, or one without batchItemFailures, means all
// succeeded; anything else that does not parse, or an entry without an
// itemIdentifier, fails the whole batch (ok false), as Lambda does.
func batchItemFailures(payload []byte) (ids []string, ok bool) {
	var top any
	if len(payload) == 0 {
		return nil, true
	}
	if err := json.Unmarshal(payload, &top); err != nil {
		return nil, false
	}
	obj, isObj := top.(map[string]any)
	if top == nil || !isObj {
		return nil, top == nil
	}
	raw, present := obj["batchItemFailures"]
	if !present || raw == nil {
		return nil, true
	}
	list, isList := raw.([]any)
	if !isList {
		return nil, false
	}
	for _, e := range list {
		item, isItem := e.(map[string]any)
		if !isItem {
			return nil, false
		}
		id, isStr := item["itemIdentifier"].(string)
		if !isStr || id == "" {
			return nil, false
		}
		ids = append(ids, id)
	}
	return ids, true
}

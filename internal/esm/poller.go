package esm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
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
		s.mu.Lock()
		delete(s.problems, id)
		s.mu.Unlock()
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
	ceil := s.ceiling(&m)
	src := &QueueSource{Queues: s.queues, Arn: m.EventSourceArn, Region: s.region, BatchSize: m.BatchSize,
		Window: m.MaximumBatchingWindowInSeconds, Concurrency: min(defaultConcurrency, ceil), MaxConcurrency: ceil,
		Filters: f, Log: s.log.With("uuid", id), Check: s.pollCheck(&m)}
	if d, ok := s.queues.(QueueDepth); ok {
		acct, name, _ := sqsQueue(m.EventSourceArn)
		src.Depth = func(ctx context.Context) (int, error) { return d.Depth(ctx, acct, name) }
		// The function's reserved concurrency may change while the
		// mapping runs: the pollers read the ceiling at every look.
		src.Concurrency = defaultConcurrency
		src.Ceiling = func() int { return s.ceiling(&m) }
		src.Slots = &shareSlots{b: s.slots, key: id, ceiling: src.Ceiling}
	}
	mp := m.Mapping
	go func() {
		defer close(p.done)
		src.Run(pctx, func(ctx context.Context, records []json.RawMessage) ([]string, error) {
			return s.invokeBatch(ctx, &mp, records)
		})
	}()
	s.mu.Lock()
	s.running[id] = p
	s.mu.Unlock()
}

// QueueDepth is what scaling needs of an SQS source besides Queues: the
// queue's visible messages (ApproximateNumberOfMessages). A Queues
// without it polls with a fixed number of workers.
type QueueDepth interface {
	Depth(ctx context.Context, account, name string) (int, error)
}

// reservedConcurrency is what a Functions may tell of a function's
// reserved concurrency (*registry.Registry does).
type reservedConcurrency interface {
	ReservedConcurrency(name string) (int, bool)
}

// ceiling is the most batches mapping m processes at once, cluster-wide:
// Lambda's 1,000, ScalingConfig.MaximumConcurrency, and the function's
// reserved concurrency (pollers beyond it would only be throttled, and a
// throttled batch counts toward the queue's maxReceiveCount), at least 1.
func (s *Service) ceiling(m *stored) int {
	n := maxBatches
	if m.ScalingConfig != nil && m.ScalingConfig.MaximumConcurrency > 0 {
		n = min(n, m.ScalingConfig.MaximumConcurrency)
	}
	if rc, ok := s.fns.(reservedConcurrency); ok {
		if ref, err := awsapi.ParseFunctionRef(m.FunctionArn); err == nil {
			if r, set := rc.ReservedConcurrency(ref.Name); set {
				n = min(n, r)
			}
		}
	}
	return max(n, 1)
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

func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
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

// invokeBatch invokes a mapping's function with a batch and answers the
// records to retry: none, or those a ReportBatchItemFailures response
// names (an error fails the whole batch).
func (s *Service) invokeBatch(ctx context.Context, m *Mapping, records []json.RawMessage) ([]string, error) {
	payload, err := json.Marshal(map[string]any{"Records": records})
	if err != nil {
		return nil, fmt.Errorf("encode event: %w", err)
	}
	ref, err := awsapi.ParseFunctionRef(m.FunctionArn)
	if err != nil {
		return nil, err
	}
	cfg, err := s.fns.Resolve(ctx, ref.Name, ref.Qualifier)
	if err != nil {
		return nil, fmt.Errorf("resolve function: %w", err)
	}
	res, err := s.inv.Invoke(ctx, cfg, &invoke.Request{RequestID: uuid.NewString(), InvokedFunctionArn: m.FunctionArn, Payload: payload, Enqueued: time.Now()})
	if err != nil {
		return nil, fmt.Errorf("invoke: %w", err)
	}
	if res.FunctionError != "" {
		return nil, errors.New("function error: the batch is retried")
	}
	if len(m.FunctionResponseTypes) == 0 {
		return nil, nil
	}
	ids, ok := batchItemFailures(res.Payload)
	if !ok {
		return nil, errors.New("malformed batchItemFailures response: the whole batch is retried")
	}
	return ids, nil
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

// BatchItemFailures reads a ReportBatchItemFailures response (EventBridge
// Pipes' Lambda targets answer the same way): the identifiers to retry,
// ok false when the whole batch fails.
func BatchItemFailures(payload []byte) (ids []string, ok bool) { return batchItemFailures(payload) }

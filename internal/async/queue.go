package async

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
)

// Queue layout. See docs/design/async.md for why each setting.
const (
	StreamName = "NIMBUS_ASYNC"
	// subject is the prefix of every message's subject,
	// nimbus.async.event.<n>, where n is how many events the message
	// holds (1, or a group's size): the stream's per-subject counts then
	// give the number of events queued.
	subject      = "nimbus.async.event"
	subjects     = subject + ".>"
	consumerName = "nimbus-dispatcher"
	// dedupWindow is how long a Nats-Msg-Id is remembered: a client or
	// dispatcher that retries a publish within it does not enqueue twice.
	dedupWindow = 10 * time.Minute
	// maxMsgSize bounds one message: a destination record carries the
	// request (1 MB) and the response (6 MB).
	maxMsgSize = 8<<20 - 64<<10
	// maxAckPending bounds events pulled and not yet acknowledged,
	// including those waiting out a retry delay (NakWithDelay).
	maxAckPending = 100_000
	// Group commit: at most this many events (and bytes) share one
	// message, i.e. one fsync.
	maxBatch      = 256
	maxBatchBytes = 4 << 20
)

func streamConfig(maxMsgs, maxBytes int64, replicas int) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        StreamName,
		Description: "Nimbus asynchronous invocations",
		// The bare subject is the format before groups, still drained.
		Subjects: []string{subjects, subject},
		// A message leaves the stream only when the dispatcher acks it.
		Retention: jetstream.WorkQueuePolicy,
		// A full queue refuses new events; it never deletes queued ones.
		Discard:    jetstream.DiscardNew,
		MaxMsgs:    maxMsgs,
		MaxBytes:   maxBytes,
		MaxMsgSize: maxMsgSize,
		Storage:    jetstream.FileStorage,
		Replicas:   max(replicas, 1),
		Duplicates: dedupWindow,
	}
}

func consumerConfig(ackWait time.Duration) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:        consumerName,
		Description:    "Nimbus async dispatcher",
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        ackWait,
		MaxDeliver:     -1, // retries are counted in the message, not here
		MaxAckPending:  maxAckPending,
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		FilterSubjects: []string{subjects, subject},
	}
}

// Event is one asynchronous invocation as the edge accepts it.
type Event struct {
	// RequestID is the invocation's id (the 202's X-Amzn-RequestId, the
	// function's Lambda-Runtime-Aws-Request-Id).
	RequestID string
	// FunctionName and Qualifier name what was invoked ("" = $LATEST).
	FunctionName string
	Qualifier    string
	// InvokedFunctionArn is the ARN as the caller named it.
	InvokedFunctionArn string
	// Payload is the event: JSON, at most function.MaxAsyncPayload bytes.
	Payload       []byte
	ClientContext []byte
	TraceID       string
	TenantID      string
	// DedupID, when set, is the publish's Nats-Msg-Id instead of RequestID.
	DedupID string
}

// envelope is an event on the queue: the request plus its retry state.
// It is the message body, so the state survives restarts.
type envelope struct {
	RequestID     string          `json:"requestId"`
	Function      string          `json:"function"`
	Qualifier     string          `json:"qualifier,omitempty"`
	InvokedArn    string          `json:"invokedArn"`
	Payload       json.RawMessage `json:"payload"`
	ClientContext json.RawMessage `json:"clientContext,omitempty"`
	TraceID       string          `json:"traceId,omitempty"`
	TenantID      string          `json:"tenantId,omitempty"`
	// Enqueued is when the event was first accepted (Unix ms): its age.
	Enqueued int64 `json:"enqueued"`
	// NotBefore is when a retry is due (Unix ms); 0 = now.
	NotBefore int64 `json:"notBefore,omitempty"`
	// Attempts counts failed attempts (function errors).
	Attempts int `json:"attempts,omitempty"`
	// Invokes counts invocations of any outcome (approximateInvokeCount).
	Invokes int `json:"invokes,omitempty"`
	// Throttles counts throttle and platform-error retries (the backoff
	// exponent).
	Throttles int `json:"throttles,omitempty"`
	// Gen numbers the re-publications of this event (for Nats-Msg-Id).
	Gen int `json:"gen,omitempty"`
	// DedupID is the first publish's Nats-Msg-Id.
	DedupID string `json:"dedupId"`
	// Last is the outcome of the latest invocation, for a failure record.
	Last *outcome `json:"last,omitempty"`
}

// outcome is one invocation's response as a record reports it.
type outcome struct {
	StatusCode      int             `json:"statusCode"`
	ExecutedVersion string          `json:"executedVersion,omitempty"`
	FunctionError   string          `json:"functionError,omitempty"`
	Payload         json.RawMessage `json:"payload,omitempty"`
}

// maxKeptResponse bounds the response kept in a re-published event for
// its eventual failure record.
const maxKeptResponse = 256 << 10

// subjectOf is the subject of a message holding n events.
func subjectOf(n int) string { return subject + "." + strconv.Itoa(n) }

func decodeEnvelope(data []byte) (*envelope, error) {
	env := new(envelope)
	if err := json.Unmarshal(data, env); err != nil {
		return nil, fmt.Errorf("decode event: %w", err)
	}
	if env.RequestID == "" || env.Function == "" || env.DedupID == "" || env.Enqueued <= 0 {
		return nil, errors.New("decode event: missing request id, function, dedup id or enqueue time")
	}
	if len(env.Payload) == 0 {
		env.Payload = json.RawMessage("{}")
	}
	return env, nil
}

// msgID is the Nats-Msg-Id of generation gen of the event.
func (e *envelope) msgID() string {
	if e.Gen == 0 {
		return e.DedupID
	}
	return e.DedupID + "#" + strconv.Itoa(e.Gen)
}

func (e *envelope) message() (*nats.Msg, error) {
	data, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode event %s: %w", e.RequestID, err)
	}
	m := nats.NewMsg(subjectOf(1))
	m.Data = data
	m.Header.Set(jetstream.MsgIDHeader, e.msgID())
	return m, nil
}

// Enqueue writes ev durably to the queue and returns once the backbone has
// fsynced it (concurrent calls share one fsync). A repeated DedupID (or
// RequestID) within the dedup window is accepted once. Errors are
// *awsapi.Error values for the edge.
func (s *Service) Enqueue(ctx context.Context, ev *Event) error {
	dedup := ev.DedupID
	if dedup == "" {
		dedup = ev.RequestID
	}
	env := &envelope{
		RequestID:     ev.RequestID,
		Function:      ev.FunctionName,
		Qualifier:     ev.Qualifier,
		InvokedArn:    ev.InvokedFunctionArn,
		Payload:       ev.Payload,
		ClientContext: ev.ClientContext,
		TraceID:       ev.TraceID,
		TenantID:      ev.TenantID,
		Enqueued:      s.now().UnixMilli(),
		DedupID:       dedup,
	}
	if s.storage != nil {
		if err := s.storage(); err != nil {
			return fmt.Errorf("enqueue async event %s: %w", ev.RequestID, err)
		}
	}
	if err := s.publish(ctx, env); err != nil {
		s.log.Warn("enqueue async event", "request_id", ev.RequestID, "function", ev.FunctionName, "err", err)
		if s.storage != nil {
			if serr := s.storage(); serr != nil {
				return fmt.Errorf("enqueue async event %s: %w", ev.RequestID, serr)
			}
		}
		if tr := awsapi.Transient(nil); errors.As(err, &tr) {
			// The queue stream is electing a leader (a node died): 503,
			// which clients retry, not a failure of the service.
			return fmt.Errorf("enqueue async event %s: %w", ev.RequestID, err)
		}
		return awsapi.Service("The asynchronous invocation could not be queued; retry the request.")
	}
	s.counters.enqueued.Add(1)
	return nil
}

// publish writes env through the group-commit publisher.
func (s *Service) publish(ctx context.Context, env *envelope) error {
	data, err := json.Marshal(env)
	if err != nil {
		return fmt.Errorf("encode event %s: %w", env.RequestID, err)
	}
	return s.pub.publish(ctx, data, env.msgID())
}

// publishDirect writes env as a message of its own (retries: they carry a
// due time and a generation id that dedup relies on).
func (s *Service) publishDirect(ctx context.Context, env *envelope) error {
	m, err := env.message()
	if err != nil {
		return err
	}
	if _, err := s.js.PublishMsg(ctx, m); err != nil {
		return fmt.Errorf("publish async event %s: %w", env.RequestID, err)
	}
	return nil
}

// publisher commits concurrent enqueues together. JetStream fsyncs every
// message (SyncAlways) and does not share fsyncs between concurrent
// publishes, so one goroutine takes every enqueue waiting and writes them
// as ONE message (a JSON array of envelopes): one write, one fsync, one
// acknowledgement for all. While it is written the next group gathers, so
// the group size follows the load. The dispatcher runs the events of a
// group message side by side and acknowledges it when all are done (see
// group.go).
type publisher struct {
	js   jetstream.JetStream
	reqs chan *pubReq
	// commits counts writes to the backbone (a group counts once).
	commits atomic.Uint64
}

type pubReq struct {
	data  []byte // the envelope's JSON
	msgID string
	done  chan error // buffered, receives exactly once
}

func newPublisher(js jetstream.JetStream) *publisher {
	return &publisher{js: js, reqs: make(chan *pubReq, maxBatch)}
}

func (p *publisher) publish(ctx context.Context, data []byte, msgID string) error {
	r := &pubReq{data: data, msgID: msgID, done: make(chan error, 1)}
	select {
	case p.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		// The write may still complete: the event then runs although the
		// caller saw an error (at-least-once).
		return ctx.Err()
	}
}

// run serves requests until ctx ends, then fails those still waiting.
func (p *publisher) run(ctx context.Context) {
	var carry *pubReq // taken from the channel but left for the next group
	for {
		first := carry
		carry = nil
		if first == nil {
			select {
			case first = <-p.reqs:
			case <-ctx.Done():
				for {
					select {
					case r := <-p.reqs:
						r.done <- errors.New("async publisher stopped")
					default:
						return
					}
				}
			}
		}
		group := []*pubReq{first}
		size := len(first.data)
	gather:
		for len(group) < maxBatch {
			select {
			case r := <-p.reqs:
				if size+len(r.data) > maxBatchBytes {
					carry = r
					break gather
				}
				group = append(group, r)
				size += len(r.data)
			default:
				break gather
			}
		}
		p.commit(ctx, group)
	}
}

// commit writes group: one event as a message of its own, more as one
// group message whose Nats-Msg-Id is derived from all its events' ids.
func (p *publisher) commit(ctx context.Context, group []*pubReq) {
	p.commits.Add(1)
	m := nats.NewMsg(subjectOf(len(group)))
	if len(group) == 1 {
		m.Data = group[0].data
		m.Header.Set(jetstream.MsgIDHeader, group[0].msgID)
	} else {
		var b bytes.Buffer
		b.WriteByte('[')
		for i, r := range group {
			if i > 0 {
				b.WriteByte(',')
			}
			b.Write(r.data)
		}
		b.WriteByte(']')
		m.Data = b.Bytes()
		m.Header.Set(jetstream.MsgIDHeader, groupMsgID(group))
	}
	_, err := p.js.PublishMsg(ctx, m)
	if err != nil {
		err = fmt.Errorf("publish async events: %w", err)
	}
	for _, r := range group {
		r.done <- err
	}
}

// groupMsgID is the Nats-Msg-Id of a group message: a digest of every
// event's id in order, so only a group of exactly the same events is a
// duplicate. (An id made of the first event's id and the size would make
// a later group that starts with the same event, such as a destination
// record queued again after a crash, a "duplicate" JetStream acknowledges
// without storing, losing the other events in it.)
func groupMsgID(group []*pubReq) string {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	for _, r := range group {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(r.msgID)))])
		h.Write([]byte(r.msgID))
	}
	return "group:" + strconv.Itoa(len(group)) + ":" + hex.EncodeToString(h.Sum(nil))
}

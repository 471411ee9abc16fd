package sfn

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Backbone layout:
//
//	KV nimbus_sfn         sm.<hex name>                 state machines
//	                      ex.<hex machine>.<hex name>   Standard executions
//	stream NIMBUS_SFN_HISTORY  sfn.h.<hex machine>.<hex name>   journal batches
//	                      (compare-and-set on the subject's last sequence)
//	stream NIMBUS_SFN_WORK     sfn.w                     runs due: {arn, due}
//	                      (work queue; one durable consumer all nodes pull)
const (
	bucketName    = "nimbus_sfn"
	HistoryStream = "NIMBUS_SFN_HISTORY"
	WorkStream    = "NIMBUS_SFN_WORK"
	workSubject   = "sfn.w"
	workConsumer  = "nimbus_sfn_runner"
	// historyMaxAge keeps an ended execution's history for AWS's 90 days.
	historyMaxAge = 90 * 24 * time.Hour
)

// machineRecord is a stored state machine.
type machineRecord struct {
	ARN, Name, Definition, RoleARN, Type string
	Created, Updated                     time.Time
	Logging, Tracing                     json.RawMessage `json:",omitempty"`
	Tags                                 map[string]string
	RevisionID                           string
}

// execRecord is a stored Standard execution.
type execRecord struct {
	ARN, Name, StateMachineARN, StateMachineName, RoleARN string
	Status                                                string
	Input, Output                                         string
	Error, Cause                                          string
	Start, Stop                                           time.Time
	Definition                                            string
	Seed                                                  []byte
	// Watch is a parent's .sync Task waiting for this execution's end
	// (childsync.go).
	Watch *syncWatch `json:",omitempty"`
	// MapRunARN names the Map Run of a distributed Map's child.
	MapRunARN string `json:",omitempty"`
	// RedriveCount, RedriveDate and RedriveToken (the last redrive's
	// clientToken): redrive.go.
	RedriveCount int       `json:",omitempty"`
	RedriveDate  time.Time `json:",omitzero"`
	RedriveToken string    `json:",omitempty"`
	// Events is how many history events the execution had when it ended
	// (a redrive needs room for more).
	Events int64 `json:",omitempty"`
}

func machineKey(name string) string { return "sm." + hex.EncodeToString([]byte(name)) }

func execKey(machine, name string) string {
	return "ex." + hex.EncodeToString([]byte(machine)) + "." + hex.EncodeToString([]byte(name))
}

func historySubject(machine, name string) string {
	return "sfn.h." + hex.EncodeToString([]byte(machine)) + "." + hex.EncodeToString([]byte(name))
}

func (s *Service) openBackbone(ctx context.Context, replicas int) error {
	var err error
	s.kv, err = s.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: bucketName, Description: "Nimbus Step Functions state machines and executions",
		Storage: jetstream.FileStorage, Replicas: replicas, History: 1,
	})
	if err != nil {
		return fmt.Errorf("bucket %s: %w", bucketName, err)
	}
	if s.hist, err = s.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: HistoryStream, Description: "Nimbus Step Functions execution histories",
		Subjects: []string{"sfn.h.>"}, Storage: jetstream.FileStorage, Replicas: replicas,
		MaxAge: historyMaxAge, Discard: jetstream.DiscardNew, MaxMsgSize: 8 << 20,
	}); err != nil {
		return fmt.Errorf("stream %s: %w", HistoryStream, err)
	}
	if _, err = s.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: WorkStream, Description: "Nimbus Step Functions runs due (starts, waits, callbacks)",
		Subjects: []string{workSubject}, Retention: jetstream.WorkQueuePolicy, Storage: jetstream.FileStorage,
		Replicas: replicas, Discard: jetstream.DiscardNew, MaxMsgs: 1_000_000, Duplicates: time.Minute,
	}); err != nil {
		return fmt.Errorf("stream %s: %w", WorkStream, err)
	}
	if s.singleNode {
		if err := s.js.DeleteConsumer(ctx, WorkStream, workConsumer); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return fmt.Errorf("reset consumer: %w", err)
		}
	}
	if s.cons, err = s.js.CreateOrUpdateConsumer(ctx, WorkStream, jetstream.ConsumerConfig{
		Durable: workConsumer, Description: "Nimbus Step Functions runner",
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: runAckWait, MaxDeliver: -1, MaxAckPending: 100_000,
	}); err != nil {
		return fmt.Errorf("consumer: %w", err)
	}
	return nil
}

// runAckWait is how long a run may go without reporting progress before
// another node (or this one, restarted) takes its execution over.
const runAckWait = 30 * time.Second

// workMsg asks for a run of an execution at or after Due.
type workMsg struct {
	ARN string `json:"arn"`
	Due int64  `json:"due,omitempty"` // Unix ms
}

func (s *Service) schedule(ctx context.Context, arn string, due time.Time, msgID string) error {
	b, _ := json.Marshal(workMsg{ARN: arn, Due: due.UnixMilli()})
	m := nats.NewMsg(workSubject)
	m.Data = b
	if msgID != "" {
		m.Header.Set(jetstream.MsgIDHeader, msgID)
	}
	if _, err := s.js.PublishMsg(ctx, m); err != nil {
		return fmt.Errorf("schedule run of %s: %w", arn, err)
	}
	return nil
}

func getJSON[T any](ctx context.Context, kv jetstream.KeyValue, key string) (*T, uint64, error) {
	e, err := kv.Get(ctx, key)
	if err != nil {
		return nil, 0, err
	}
	var v T
	if err := json.Unmarshal(e.Value(), &v); err != nil {
		return nil, 0, fmt.Errorf("decode %s: %w", key, err)
	}
	return &v, e.Revision(), nil
}

// jsJournal is an execution's journal on the history stream.
type jsJournal struct {
	stream  jetstream.Stream
	js      jetstream.JetStream
	subject string
	cache   *journalCache // nil: every load reads the whole journal
}

func (j *jsJournal) load(ctx context.Context) ([]*Event, uint64, error) {
	var out []*Event
	var pos uint64
	var size int
	if c, ok := j.cache.get(j.subject); ok {
		out, pos, size = c.evs, c.pos, c.size
	}
	seq := pos + 1
	for {
		m, err := j.stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(j.subject))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			j.cache.put(j.subject, out, pos, size)
			return out, pos, nil
		}
		if err != nil {
			return nil, 0, fmt.Errorf("read history %s: %w", j.subject, err)
		}
		var evs []*Event
		if err := json.Unmarshal(m.Data, &evs); err != nil {
			return nil, 0, fmt.Errorf("decode history %s: %w", j.subject, err)
		}
		out = append(out, evs...)
		pos, seq, size = m.Sequence, m.Sequence+1, size+len(m.Data)
	}
}

func (j *jsJournal) append(ctx context.Context, evs []*Event, last uint64) (uint64, error) {
	b, err := json.Marshal(evs)
	if err != nil {
		return 0, err
	}
	ack, err := j.js.Publish(ctx, j.subject, b, jetstream.WithExpectLastSequencePerSubject(last))
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
		return last, errConflict
	}
	if err != nil {
		if strings.Contains(err.Error(), "wrong last sequence") {
			return last, errConflict
		}
		return 0, fmt.Errorf("append history %s: %w", j.subject, err)
	}
	j.cache.extend(j.subject, last, evs, ack.Sequence, len(b))
	return ack.Sequence, nil
}

func (s *Service) journalStore(machine, name string) *jsJournal {
	return &jsJournal{stream: s.hist, js: s.js, subject: historySubject(machine, name), cache: s.jcache}
}

package esm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/eventpattern"
	"github.com/nimbus-serverless/nimbus/internal/invoke"
)

// Stream sources (DynamoDB Streams). A stream mapping runs one worker, on
// the node whose Streams source has the stream, that reads the shard in
// order from its checkpoint (KV bucket nimbus_esm_pos, by UUID; at
// creation, TRIM_HORIZON or LATEST), invokes the function with up to
// BatchSize records, and moves the checkpoint past the batch when the
// function succeeds. A failing batch is retried, halved first when
// BisectBatchOnFunctionError is set, until MaximumRetryAttempts or
// MaximumRecordAgeInSeconds is exceeded; then its failure record goes to
// DestinationConfig.OnFailure and the worker moves on. With
// ReportBatchItemFailures the checkpoint moves to the first failed record.
// Records are processed one batch at a time, so order is kept for every
// key (ParallelizationFactor is accepted and is 1 in effect).

// PositionBucket holds stream mappings' checkpoints.
const PositionBucket = "nimbus_esm_pos"

// streamIdle is how long a worker waits when its shard has no new record.
const streamIdle = 20 * time.Millisecond

// Streams is a stream source: ordered records with one sequence per
// stream (one shard).
type Streams interface {
	// Exists reports whether this node serves the stream.
	Exists(arn string) bool
	// Latest is the sequence a LATEST reader starts at.
	Latest(ctx context.Context, arn string) (uint64, error)
	// Read returns up to max records from sequence from on, and the
	// sequence to read next.
	Read(ctx context.Context, arn string, from uint64, max int) ([]StreamRecord, uint64, error)
}

// StreamRecord is one record of a stream source.
type StreamRecord struct {
	Sequence uint64
	// SequenceNumber is its text as the event carries it.
	SequenceNumber string
	// Event is the record as Lambda's event has it (Records[]).
	Event json.RawMessage
	// Created is when the change was made.
	Created time.Time
	// ShardID is its shard.
	ShardID string
}

// DestinationConfig is a mapping's OnFailure destination.
type DestinationConfig struct {
	OnFailure *struct {
		Destination string `json:"Destination,omitempty"`
	} `json:"OnFailure,omitempty"`
}

// streamRequest are the request members of stream mappings.
type streamRequest struct {
	StartingPosition           *string            `json:"StartingPosition"`
	MaximumRetryAttempts       *int               `json:"MaximumRetryAttempts"`
	MaximumRecordAgeInSeconds  *int               `json:"MaximumRecordAgeInSeconds"`
	BisectBatchOnFunctionError *bool              `json:"BisectBatchOnFunctionError"`
	ParallelizationFactor      *int               `json:"ParallelizationFactor"`
	DestinationConfig          *DestinationConfig `json:"DestinationConfig"`
}

// isStreamArn recognises a DynamoDB stream ARN
// (arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>).
func isStreamArn(arn string) bool {
	return strings.HasPrefix(arn, "arn:aws:dynamodb:") && strings.Contains(arn, "/stream/")
}

func (s *Service) ownsStream(arn string) bool { return s.streams != nil && s.streams.Exists(arn) }

// applyStream validates and sets the stream members.
func (r *request) applyStream(m *stored) error {
	stream := isStreamArn(m.EventSourceArn)
	sr := r.streamRequest
	if !stream {
		if sr.StartingPosition != nil || sr.MaximumRetryAttempts != nil || sr.MaximumRecordAgeInSeconds != nil ||
			sr.BisectBatchOnFunctionError != nil || sr.ParallelizationFactor != nil || sr.DestinationConfig != nil {
			return awsapi.InvalidParameter("StartingPosition, MaximumRetryAttempts, MaximumRecordAgeInSeconds, BisectBatchOnFunctionError, ParallelizationFactor and DestinationConfig are not supported for Amazon SQS event sources.")
		}
		return nil
	}
	if sr.StartingPosition != nil {
		if m.StartingPosition != "" && m.StartingPosition != *sr.StartingPosition {
			return awsapi.InvalidParameter("StartingPosition cannot be updated.")
		}
		switch *sr.StartingPosition {
		case "TRIM_HORIZON", "LATEST":
		case "AT_TIMESTAMP":
			return awsapi.InvalidParameter("Unsupported starting position for DynamoDB streams: AT_TIMESTAMP.")
		default:
			return awsapi.InvalidParameter("1 validation error detected: Value '%s' at 'startingPosition' failed to satisfy constraint: Member must satisfy enum value set: [AT_TIMESTAMP, LATEST, TRIM_HORIZON]", *sr.StartingPosition)
		}
		m.StartingPosition = *sr.StartingPosition
	}
	if v := sr.MaximumRetryAttempts; v != nil {
		if *v < -1 || *v > 10000 {
			return awsapi.InvalidParameter("1 validation error detected: Value '%d' at 'maximumRetryAttempts' failed to satisfy constraint: Member must have value less than or equal to 10000", *v)
		}
		m.MaximumRetryAttempts = v
	}
	if v := sr.MaximumRecordAgeInSeconds; v != nil {
		if *v != -1 && (*v < 60 || *v > 604800) {
			return awsapi.InvalidParameter("1 validation error detected: Value '%d' at 'maximumRecordAgeInSeconds' failed to satisfy constraint: Member must have value greater than or equal to -1", *v)
		}
		m.MaximumRecordAgeInSeconds = v
	}
	if v := sr.ParallelizationFactor; v != nil {
		if *v < 1 || *v > 10 {
			return awsapi.InvalidParameter("1 validation error detected: Value '%d' at 'parallelizationFactor' failed to satisfy constraint: Member must have value between 1 and 10", *v)
		}
		m.ParallelizationFactor = v
	}
	if sr.BisectBatchOnFunctionError != nil {
		m.BisectBatchOnFunctionError = sr.BisectBatchOnFunctionError
	}
	if d := sr.DestinationConfig; d != nil {
		if d.OnFailure != nil && d.OnFailure.Destination != "" {
			if p := strings.Split(d.OnFailure.Destination, ":"); len(p) < 6 || (p[2] != "sqs" && p[2] != "sns") {
				return awsapi.InvalidParameter("The provided destination config DestinationConfig(onSuccess=null, onFailure=OnFailure(destination=%s)) is invalid.", d.OnFailure.Destination)
			}
		}
		m.DestinationConfig = d
	}
	if m.BatchSize > 10000 {
		return awsapi.InvalidParameter("1 validation error detected: Value '%d' at 'batchSize' failed to satisfy constraint: Member must have value less than or equal to 10000", m.BatchSize)
	}
	return nil
}

// startSeq resolves a new stream mapping's StartingPosition.
func (s *Service) startSeq(ctx context.Context, m *stored) (uint64, error) {
	if m.StartingPosition == "LATEST" {
		n, err := s.streams.Latest(ctx, m.EventSourceArn)
		if err != nil {
			return 0, fmt.Errorf("stream position: %w", err)
		}
		return n, nil
	}
	return 1, nil
}

func (s *Service) checkpoint(ctx context.Context, m *stored) uint64 {
	e, err := s.pos.Get(ctx, m.UUID)
	if err == nil {
		if n, err := strconv.ParseUint(string(e.Value()), 10, 64); err == nil {
			return n
		}
	}
	return max(m.StartSeq, 1)
}

func (s *Service) setCheckpoint(ctx context.Context, id string, seq uint64) {
	if _, err := s.pos.Put(ctx, id, []byte(strconv.FormatUint(seq, 10))); err != nil && ctx.Err() == nil {
		s.log.Warn("store stream mapping checkpoint", "uuid", id, "err", err)
	}
}

// workStream processes a stream mapping until ctx ends.
func (s *Service) workStream(ctx context.Context, m *stored, f *eventpattern.Filters) {
	pos := s.checkpoint(ctx, m)
	limit := m.BatchSize
	attempts := 0
	for ctx.Err() == nil {
		batch, next, err := s.gatherStream(ctx, m, pos, limit)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("event source mapping cannot read its stream", "uuid", m.UUID, "err", err)
				pause(ctx, time.Second)
			}
			continue
		}
		if len(batch) == 0 {
			if next > pos {
				pos = next
				s.setCheckpoint(ctx, m.UUID, pos)
			}
			pause(ctx, streamIdle)
			continue
		}
		// Records the filters reject are skipped, as Lambda does.
		var kept []StreamRecord
		for _, r := range batch {
			if ok, err := f.Match(r.Event, eventpattern.EnvelopeDynamoDB); err == nil && ok {
				kept = append(kept, r)
			}
		}
		if len(kept) == 0 {
			pos = next
			s.setCheckpoint(ctx, m.UUID, pos)
			continue
		}
		failedAt, err := s.invokeStream(ctx, m, kept)
		if err == nil && failedAt == 0 {
			pos, limit, attempts = next, m.BatchSize, 0
			s.setCheckpoint(ctx, m.UUID, pos)
			continue
		}
		if ctx.Err() != nil {
			return
		}
		attempts++
		if failedAt > 0 {
			pos = failedAt // ReportBatchItemFailures: retry from the first failed record
		}
		if s.exhausted(m, attempts, kept) {
			s.sendFailure(ctx, m, kept, attempts)
			pos, limit, attempts = next, m.BatchSize, 0
			s.setCheckpoint(ctx, m.UUID, pos)
			continue
		}
		s.setCheckpoint(ctx, m.UUID, pos)
		if m.BisectBatchOnFunctionError != nil && *m.BisectBatchOnFunctionError && len(batch) > 1 {
			limit = max(1, len(batch)/2)
		}
		pause(ctx, 100*time.Millisecond)
	}
}

// gatherStream reads up to limit records from pos, waiting up to the
// batching window for a full batch.
func (s *Service) gatherStream(ctx context.Context, m *stored, pos uint64, limit int) ([]StreamRecord, uint64, error) {
	batch, next, err := s.streams.Read(ctx, m.EventSourceArn, pos, min(limit, 1000))
	if err != nil || len(batch) == 0 || m.MaximumBatchingWindowInSeconds == 0 {
		return batch, next, err
	}
	deadline := time.Now().Add(time.Duration(m.MaximumBatchingWindowInSeconds) * time.Second)
	for len(batch) < limit && time.Now().Before(deadline) && ctx.Err() == nil {
		more, n, err := s.streams.Read(ctx, m.EventSourceArn, next, min(limit-len(batch), 1000))
		if err != nil {
			break
		}
		batch, next = append(batch, more...), n
		if len(more) == 0 {
			pause(ctx, min(streamIdle*5, time.Until(deadline)))
		}
	}
	return batch, next, nil
}

// exhausted reports whether a failing batch has used its retries or its
// oldest record is too old.
func (s *Service) exhausted(m *stored, attempts int, batch []StreamRecord) bool {
	if r := m.MaximumRetryAttempts; r != nil && *r >= 0 && attempts > *r {
		return true
	}
	if a := m.MaximumRecordAgeInSeconds; a != nil && *a > 0 && time.Since(batch[0].Created) > time.Duration(*a)*time.Second {
		return true
	}
	return false
}

// invokeStream invokes the function with a batch. failedAt is the
// sequence of the first record a ReportBatchItemFailures answer names.
func (s *Service) invokeStream(ctx context.Context, m *stored, batch []StreamRecord) (failedAt uint64, err error) {
	events := make([]json.RawMessage, len(batch))
	for i, r := range batch {
		events[i] = r.Event
	}
	payload, err := json.Marshal(map[string]any{"Records": events})
	if err != nil {
		return 0, fmt.Errorf("encode event: %w", err)
	}
	ref, err := awsapi.ParseFunctionRef(m.FunctionArn)
	if err != nil {
		return 0, err
	}
	cfg, err := s.fns.Resolve(ctx, ref.Name, ref.Qualifier)
	if err != nil {
		return 0, fmt.Errorf("resolve function: %w", err)
	}
	if s.iterAge != nil {
		s.iterAge(m.FunctionArn, time.Since(batch[len(batch)-1].Created))
	}
	res, err := s.inv.Invoke(ctx, cfg, &invoke.Request{RequestID: uuid.NewString(), InvokedFunctionArn: m.FunctionArn, Payload: payload, Enqueued: time.Now()})
	if err != nil {
		return 0, fmt.Errorf("invoke: %w", err)
	}
	if res.FunctionError != "" {
		return 0, errors.New("function error")
	}
	if len(m.FunctionResponseTypes) == 0 {
		return 0, nil
	}
	ids, ok := batchItemFailures(res.Payload)
	if !ok {
		return 0, errors.New("malformed batchItemFailures response")
	}
	for _, id := range ids {
		found := false
		for _, r := range batch {
			if r.SequenceNumber == id {
				found = true
				if failedAt == 0 || r.Sequence < failedAt {
					failedAt = r.Sequence
				}
			}
		}
		if !found {
			return 0, errors.New("batchItemFailures names a record not in the batch")
		}
	}
	return failedAt, nil
}

// sendFailure sends a batch's failure record (Lambda's shape for stream
// sources) to the OnFailure destination, if the mapping has one.
func (s *Service) sendFailure(ctx context.Context, m *stored, batch []StreamRecord, attempts int) {
	s.log.Info("event source mapping dropped a failing batch", "uuid", m.UUID, "records", len(batch), "attempts", attempts)
	d := m.DestinationConfig
	if d == nil || d.OnFailure == nil || d.OnFailure.Destination == "" || s.onFail == nil {
		return
	}
	condition := "RetryAttemptsExhausted"
	if a := m.MaximumRecordAgeInSeconds; a != nil && *a > 0 && time.Since(batch[0].Created) > time.Duration(*a)*time.Second {
		condition = "RecordAgeExceeded"
	}
	first, last := batch[0], batch[len(batch)-1]
	rec := map[string]any{
		"requestContext": map[string]any{"requestId": uuid.NewString(), "functionArn": m.FunctionArn,
			"condition": condition, "approximateInvokeCount": attempts},
		"responseContext": map[string]any{"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
		"version":         "1.0",
		"timestamp":       time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		"DDBStreamBatchInfo": map[string]any{
			"shardId": first.ShardID, "startSequenceNumber": first.SequenceNumber, "endSequenceNumber": last.SequenceNumber,
			"approximateArrivalOfFirstRecord": first.Created.UTC().Format("2006-01-02T15:04:05Z"),
			"approximateArrivalOfLastRecord":  last.Created.UTC().Format("2006-01-02T15:04:05Z"),
			"batchSize":                       len(batch), "streamArn": m.EventSourceArn,
		},
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return
	}
	if err := s.onFail(ctx, d.OnFailure.Destination, b); err != nil {
		s.log.Warn("send failure record", "uuid", m.UUID, "destination", d.OnFailure.Destination, "err", err)
	}
}

// deletePosition forgets a deleted mapping's checkpoint.
func (s *Service) deletePosition(ctx context.Context, id string) {
	if s.pos != nil {
		if err := s.pos.Delete(ctx, id); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			s.log.Warn("delete stream mapping checkpoint", "uuid", id, "err", err)
		}
	}
}

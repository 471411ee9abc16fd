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
)

// Stream sources (DynamoDB Streams). A stream mapping runs one worker (on
// a cluster, on the holder of its lease), that reads the shard in
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
// (arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>) or a
// Kinesis stream ARN (arn:aws:kinesis:<region>:<account>:stream/<name>).
func isStreamArn(arn string) bool {
	return strings.HasPrefix(arn, "arn:aws:dynamodb:") && strings.Contains(arn, "/stream/") || IsKinesisArn(arn)
}

// IsKinesisArn recognises a Kinesis stream ARN.
func IsKinesisArn(arn string) bool {
	p := strings.Split(arn, ":")
	return len(p) == 6 && p[0] == "arn" && p[2] == "kinesis" && strings.HasPrefix(p[5], "stream/") && len(p[5]) > len("stream/")
}

// envelopeOf is where the filters of a stream source's records look.
func envelopeOf(arn string) eventpattern.Envelope {
	if IsKinesisArn(arn) {
		return eventpattern.EnvelopeKinesis
	}
	return eventpattern.EnvelopeDynamoDB
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
			return awsapi.InvalidParameter("Nimbus does not implement StartingPosition AT_TIMESTAMP on event source mappings yet.")
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
	src := &StreamSource{Streams: s.streams, Arn: m.EventSourceArn, BatchSize: m.BatchSize, Window: m.MaximumBatchingWindowInSeconds,
		MaximumRetryAttempts: m.MaximumRetryAttempts, MaximumRecordAgeInSeconds: m.MaximumRecordAgeInSeconds,
		Bisect: m.BisectBatchOnFunctionError != nil && *m.BisectBatchOnFunctionError, Filters: f, Envelope: envelopeOf(m.EventSourceArn),
		Checkpoint:    func(ctx context.Context) uint64 { return s.checkpoint(ctx, m) },
		SetCheckpoint: func(ctx context.Context, seq uint64) { s.setCheckpoint(ctx, m.UUID, seq) },
		OnFailure: func(ctx context.Context, batch []StreamRecord, attempts int, condition string) {
			s.sendFailure(ctx, m, batch, attempts, condition)
		},
		Log: s.log.With("uuid", m.UUID), Check: s.pollCheck(m)}
	if s.iterAge != nil {
		src.IteratorAge = func(age time.Duration) { s.iterAge(m.FunctionArn, age) }
	}
	mp := m.Mapping
	run := func(ctx context.Context) error {
		src.Run(ctx, func(ctx context.Context, records []json.RawMessage) ([]string, error) {
			return s.invokeBatch(ctx, &mp, records)
		})
		return nil
	}
	if s.lease == nil {
		_ = run(ctx)
		return
	}
	// A stream is the cluster's (a Kinesis stream, or a table stream whose
	// records the table node relays to the backbone): one node reads each
	// mapping, from the shared checkpoint, and another takes over when it
	// dies.
	if err := s.lease(ctx, StreamLeaseName(m.UUID), run); err != nil && ctx.Err() == nil {
		s.log.Warn("stream mapping lease", "uuid", m.UUID, "err", err)
	}
}

// StreamLeaseName is the lease a stream mapping's reader holds.
func StreamLeaseName(uuid string) string { return "esm-" + uuid }

// sendFailure sends a batch's failure record (Lambda's shape for stream
// sources) to the OnFailure destination, if the mapping has one.
func (s *Service) sendFailure(ctx context.Context, m *stored, batch []StreamRecord, attempts int, condition string) {
	d := m.DestinationConfig
	if d == nil || d.OnFailure == nil || d.OnFailure.Destination == "" || s.onFail == nil {
		return
	}
	first, last := batch[0], batch[len(batch)-1]
	rec := map[string]any{
		"requestContext": map[string]any{"requestId": uuid.NewString(), "functionArn": m.FunctionArn,
			"condition": condition, "approximateInvokeCount": attempts},
		"responseContext": map[string]any{"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
		"version":         "1.0",
		"timestamp":       time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		batchInfoKey(m.EventSourceArn): map[string]any{
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
	if err := s.onFail(ctx, m.FunctionArn, d.OnFailure.Destination, b); err != nil {
		s.log.Warn("send failure record", "uuid", m.UUID, "destination", d.OnFailure.Destination, "err", err)
	}
}

// batchInfoKey names the batch in a failure record, by source.
func batchInfoKey(arn string) string {
	if IsKinesisArn(arn) {
		return "KinesisBatchInfo"
	}
	return "DDBStreamBatchInfo"
}

// deletePosition forgets a deleted mapping's checkpoint.
func (s *Service) deletePosition(ctx context.Context, id string) {
	if s.pos != nil {
		if err := s.pos.Delete(ctx, id); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			s.log.Warn("delete stream mapping checkpoint", "uuid", id, "err", err)
		}
	}
}

package kinesis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The stream as event source pollers read it (esm.Streams through the
// daemon's adapter): every shard of a stream in one order, the
// JetStream sequence, so each partition key's records stay in order.

// Record is one data record as a poller reads it.
type Record struct {
	Sequence       uint64
	SequenceNumber string
	ShardID        string
	PartitionKey   string
	Data           []byte
	Arrival        time.Time
}

// streamOf resolves a stream ARN of this account and region.
func (s *Service) streamOf(ctx context.Context, arn string) (*stream, error) {
	prefix := "arn:aws:kinesis:" + s.o.Region + ":" + s.o.AccountID + ":stream/"
	name, ok := strings.CutPrefix(arn, prefix)
	if !ok || name == "" {
		return nil, fmt.Errorf("%s is not a stream of this region and account", arn)
	}
	return s.get(ctx, name)
}

// StreamExists reports whether arn names a stream.
func (s *Service) StreamExists(ctx context.Context, arn string) bool {
	_, err := s.streamOf(ctx, arn)
	return err == nil
}

// LatestSequence is where a LATEST reader of arn starts.
func (s *Service) LatestSequence(ctx context.Context, arn string) (uint64, error) {
	st, err := s.streamOf(ctx, arn)
	if err != nil {
		return 0, err
	}
	js, err := s.o.JetStream.Stream(ctx, st.jsName())
	if err != nil {
		return 0, fmt.Errorf("open stream storage: %w", err)
	}
	info, err := js.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("stream info: %w", err)
	}
	return info.State.LastSeq + 1, nil
}

// ReadRecords returns up to limit records of every shard from sequence
// from on, and the sequence to read next.
func (s *Service) ReadRecords(ctx context.Context, arn string, from uint64, limit int) ([]Record, uint64, error) {
	st, err := s.streamOf(ctx, arn)
	if err != nil {
		return nil, from, err
	}
	js, err := s.o.JetStream.Stream(ctx, st.jsName())
	if err != nil {
		return nil, from, fmt.Errorf("open stream storage: %w", err)
	}
	info, err := js.Info(ctx)
	if err != nil {
		return nil, from, fmt.Errorf("stream info: %w", err)
	}
	next := max(from, info.State.FirstSeq, 1)
	var out []Record
	for next <= info.State.LastSeq && len(out) < limit {
		m, err := js.GetMsg(ctx, next)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			next++
			continue
		}
		if err != nil {
			return out, next, fmt.Errorf("read record: %w", err)
		}
		shard := ""
		if i := strings.LastIndexByte(m.Subject, '.'); i >= 0 {
			if n, err := strconv.Atoi(m.Subject[i+1:]); err == nil && n < len(st.Shards) {
				shard = st.Shards[n].ID
			}
		}
		out = append(out, Record{Sequence: m.Sequence, SequenceNumber: seqText(m.Sequence), ShardID: shard,
			PartitionKey: m.Header.Get("Kinesis-Partition-Key"), Data: m.Data, Arrival: m.Time})
		next = m.Sequence + 1
	}
	return out, next, nil
}

// SequenceOf reads a record's SequenceNumber (0 if it is not one).
func SequenceOf(s string) uint64 {
	n, _ := strconv.ParseUint(strings.TrimLeft(s, "0"), 10, 64)
	return n
}

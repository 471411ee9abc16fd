package dynamodb

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	bolt "go.etcd.io/bbolt"
)

// A table stream's records live in a JetStream stream of their own
// (file storage, 24 hours), one shard per table stream. The write path
// puts each record in the store's outbox in the same transaction as the
// change; the relay moves outbox records to JetStream in order, with the
// outbox sequence as Nats-Msg-Id so a record re-sent after a crash is
// dropped as a duplicate, and deletes them once acknowledged. A record's
// SequenceNumber is its JetStream sequence.

const (
	streamRetention = 24 * time.Hour
	iteratorTTL     = 15 * time.Minute
)

// jsStreamName is the JetStream stream of a table stream's ARN.
func jsStreamName(arn string) string {
	h := sha256.Sum256([]byte(arn))
	return "NIMBUS_DDBSTREAM_" + hex.EncodeToString(h[:10])
}

func jsSubject(arn string) string {
	h := sha256.Sum256([]byte(arn))
	return "nimbus.ddbstream." + hex.EncodeToString(h[:10])
}

// ShardID is the one shard of a table stream.
func ShardID(arn string) string {
	h := sha256.Sum256([]byte(arn))
	return "shardId-00000000000000000001-" + hex.EncodeToString(h[:4])
}

func seqText(n uint64) string { return fmt.Sprintf("%021d", n) }

type relay struct {
	s    *Service
	mu   sync.Mutex
	made map[string]bool // guarded by mu: JetStream streams known to exist
}

func newRelay(s *Service) *relay {
	return &relay{s: s, made: map[string]bool{}}
}

// run relays outbox records until ctx ends (on the node that writes the
// tables).
func (r *relay) run(ctx context.Context) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		if err := r.drain(ctx); err != nil {
			r.s.log.Warn("relay table stream records", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-r.s.e.committed:
		case <-tick.C:
		}
	}
}

// ensure creates a table stream's JetStream stream if needed.
func (r *relay) ensure(ctx context.Context, arn string) (jetstream.Stream, error) {
	js := r.s.opts.JetStream
	name := jsStreamName(arn)
	r.mu.Lock()
	made := r.made[name]
	r.mu.Unlock()
	if made {
		return js.Stream(ctx, name)
	}
	st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: name, Subjects: []string{jsSubject(arn)}, Storage: jetstream.FileStorage,
		MaxAge: streamRetention, Replicas: r.s.opts.Replicas, Duplicates: 10 * time.Minute,
		Description: arn,
	})
	if err != nil {
		return nil, fmt.Errorf("create table stream %s: %w", name, err)
	}
	r.mu.Lock()
	r.made[name] = true
	r.mu.Unlock()
	return st, nil
}

// drain relays every outbox record, oldest first.
func (r *relay) drain(ctx context.Context) error {
	for {
		var keys [][]byte
		var vals [][]byte
		if err := r.s.e.view(func(tx *bolt.Tx) error {
			c := tx.Bucket(bucketOutbox).Cursor()
			for k, v := c.First(); k != nil && len(keys) < 256; k, v = c.Next() {
				keys = append(keys, append([]byte{}, k...))
				vals = append(vals, append([]byte{}, v...))
			}
			return nil
		}); err != nil {
			return err
		}
		if len(keys) == 0 {
			return nil
		}
		for i, k := range keys {
			var e outboxEntry
			if err := json.Unmarshal(vals[i], &e); err != nil {
				return fmt.Errorf("decode outbox record: %w", err)
			}
			if _, err := r.ensure(ctx, e.StreamArn); err != nil {
				return err
			}
			b, err := json.Marshal(e.Record)
			if err != nil {
				return err
			}
			msg := &nats.Msg{Subject: jsSubject(e.StreamArn), Data: b, Header: nats.Header{}}
			msg.Header.Set(jetstream.MsgIDHeader, strconv.FormatUint(binary.BigEndian.Uint64(k), 10))
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_, err = r.s.opts.JetStream.PublishMsg(pctx, msg)
			cancel()
			if err != nil {
				return fmt.Errorf("publish stream record: %w", err)
			}
		}
		err := r.s.e.write(ctx, func(w *wtx) error {
			b := w.tx.Bucket(bucketOutbox)
			for _, k := range keys {
				if err := w.deleteIn(b, bucketOutbox, k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
}

// tableDeleted keeps a deleted table's stream readable until it ages out
// (its JetStream stream's MaxAge): nothing to do now.
func (r *relay) tableDeleted(string) {}

// The Streams API.

type streamsInput struct {
	TableName               string `json:"TableName"`
	StreamArn               string `json:"StreamArn"`
	Limit                   *int   `json:"Limit"`
	ExclusiveStartStreamArn string `json:"ExclusiveStartStreamArn"`
	ExclusiveStartShardID   string `json:"ExclusiveStartShardId"`
	ShardID                 string `json:"ShardId"`
	ShardIteratorType       string `json:"ShardIteratorType"`
	SequenceNumber          string `json:"SequenceNumber"`
	ShardIterator           string `json:"ShardIterator"`
}

// findStream finds a stream by ARN among the tables' streams.
func (s *Service) findStream(arn string) (*tableDesc, *streamRef) {
	i := strings.Index(arn, ":table/")
	if i < 0 {
		return nil, nil
	}
	name, _, _ := strings.Cut(arn[i+7:], "/")
	t, ok := s.e.table(name)
	if !ok {
		return nil, nil
	}
	for j := range t.StreamHistory {
		if t.StreamHistory[j].Arn == arn {
			return t, &t.StreamHistory[j]
		}
	}
	return nil, nil
}

func errStreamNotFound(arn string) *Error {
	return newErr(http.StatusBadRequest, "ResourceNotFoundException", "Requested resource not found: Stream: %s not found", arn)
}

func (s *Service) dispatchStreams(ctx context.Context, op string, body []byte) (any, error) {
	if s.relay == nil {
		return nil, validationf("DynamoDB Streams are not available on this node")
	}
	var in streamsInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	switch op {
	case "ListStreams":
		var out []map[string]string
		for _, name := range s.e.tableNames() {
			if in.TableName != "" && name != in.TableName {
				continue
			}
			t, _ := s.e.table(name)
			for _, h := range t.StreamHistory {
				out = append(out, map[string]string{"StreamArn": h.Arn, "TableName": name, "StreamLabel": h.Label})
			}
		}
		if out == nil {
			out = []map[string]string{}
		}
		return map[string]any{"Streams": out}, nil
	case "DescribeStream":
		t, ref := s.findStream(in.StreamArn)
		if t == nil {
			return nil, errStreamNotFound(in.StreamArn)
		}
		status := "ENABLED"
		if ref.Disabled != 0 {
			status = "DISABLED"
		}
		shard := map[string]any{"ShardId": ShardID(ref.Arn), "SequenceNumberRange": map[string]string{"StartingSequenceNumber": seqText(1)}}
		if st, err := s.relay.ensure(ctx, ref.Arn); err == nil {
			if info, err := st.Info(ctx); err == nil && info.State.FirstSeq > 0 {
				shard["SequenceNumberRange"] = map[string]string{"StartingSequenceNumber": seqText(info.State.FirstSeq)}
			}
		}
		return map[string]any{"StreamDescription": map[string]any{
			"StreamArn": ref.Arn, "StreamLabel": ref.Label, "StreamStatus": status, "StreamViewType": ref.ViewType,
			"CreationRequestDateTime": t.CreationDateTime, "TableName": t.TableName, "KeySchema": t.KeySchema,
			"Shards": []any{shard},
		}}, nil
	case "GetShardIterator":
		t, ref := s.findStream(in.StreamArn)
		if t == nil {
			return nil, errStreamNotFound(in.StreamArn)
		}
		if in.ShardID != ShardID(ref.Arn) {
			return nil, newErr(http.StatusBadRequest, "ResourceNotFoundException", "Requested resource not found: Shard: %s in Stream: %s not found", in.ShardID, in.StreamArn)
		}
		st, err := s.relay.ensure(ctx, ref.Arn)
		if err != nil {
			return nil, err
		}
		info, err := st.Info(ctx)
		if err != nil {
			return nil, fmt.Errorf("stream info: %w", err)
		}
		var next uint64
		switch in.ShardIteratorType {
		case "TRIM_HORIZON":
			next = max(info.State.FirstSeq, 1)
		case "LATEST":
			next = info.State.LastSeq + 1
		case "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER":
			n, err := strconv.ParseUint(in.SequenceNumber, 10, 64)
			if err != nil || n == 0 {
				return nil, validationf("Invalid SequenceNumber: %s", in.SequenceNumber)
			}
			if n > info.State.LastSeq {
				return nil, validationf("Invalid SequenceNumber for ShardIterator: the sequence number %s is beyond the shard's last record", in.SequenceNumber)
			}
			next = n
			if in.ShardIteratorType == "AFTER_SEQUENCE_NUMBER" {
				next++
			}
		default:
			return nil, validationf("1 validation error detected: Value '%s' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: [TRIM_HORIZON, LATEST, AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER]", in.ShardIteratorType)
		}
		text, err := s.encodeIterator(ctx, ref.Arn, next, s.opts.Now())
		if err != nil {
			return nil, err
		}
		return map[string]any{"ShardIterator": text}, nil
	case "GetRecords":
		it, err := s.decodeIterator(ctx, in.ShardIterator)
		if err != nil {
			return nil, err
		}
		if s.opts.Now().Sub(time.UnixMilli(it.At)) > iteratorTTL {
			return nil, newErr(http.StatusBadRequest, "ExpiredIteratorException", "Iterator expired. The iterator was created at time %s while right now it is %s which is further in the future than the tolerated delay of 900000 milliseconds.",
				time.UnixMilli(it.At).UTC().Format(time.RFC1123), s.opts.Now().UTC().Format(time.RFC1123))
		}
		limit := 1000
		if in.Limit != nil {
			if *in.Limit < 1 || *in.Limit > 1000 {
				return nil, validationf("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and 1000", *in.Limit)
			}
			limit = *in.Limit
		}
		t, ref := s.findStream(it.Arn)
		if t == nil {
			return nil, errStreamNotFound(it.Arn)
		}
		recs, next, err := s.ReadStream(ctx, ref.Arn, it.Next, limit)
		if err != nil {
			return nil, err
		}
		out := map[string]any{"Records": recs}
		if ref.Disabled == 0 || len(recs) > 0 {
			if out["NextShardIterator"], err = s.encodeIterator(ctx, ref.Arn, next, s.opts.Now()); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, errUnknownOperation(op)
}

// ReadStream reads up to limit records of a table stream from sequence
// from on, and the sequence to read next.
func (s *Service) ReadStream(ctx context.Context, arn string, from uint64, limit int) ([]StreamRecord, uint64, error) {
	st, err := s.relay.ensure(ctx, arn)
	if err != nil {
		return nil, from, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return nil, from, fmt.Errorf("stream info: %w", err)
	}
	if from < info.State.FirstSeq {
		from = info.State.FirstSeq
	}
	recs := []StreamRecord{}
	next := from
	for seq := from; seq <= info.State.LastSeq && len(recs) < limit; seq++ {
		m, err := st.GetMsg(ctx, seq)
		next = seq + 1
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return nil, from, fmt.Errorf("read stream record: %w", err)
		}
		var r StreamRecord
		if err := json.Unmarshal(m.Data, &r); err != nil {
			return nil, from, fmt.Errorf("decode stream record: %w", err)
		}
		r.Dynamodb.SequenceNumber = seqText(seq)
		recs = append(recs, r)
	}
	return recs, next, nil
}

// LatestSequence is the sequence a LATEST reader of a table stream
// starts at.
func (s *Service) LatestSequence(ctx context.Context, arn string) (uint64, error) {
	if s.relay == nil {
		return 0, errors.New("streams are off")
	}
	st, err := s.relay.ensure(ctx, arn)
	if err != nil {
		return 0, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.State.LastSeq + 1, nil
}

// StreamExists reports whether arn is a table stream this node serves
// (on a cluster, one of the table node's: every node reads the records
// from the backbone).
func (s *Service) StreamExists(arn string) bool {
	if s.peer != nil && !s.peer.isHome() {
		// ListStreams of the table: unlike DescribeStream, it does not
		// wait for the records' JetStream stream.
		i := strings.Index(arn, ":table/")
		if i < 0 {
			return false
		}
		name, _, _ := strings.Cut(arn[i+7:], "/")
		b, err := json.Marshal(map[string]string{"TableName": name})
		if err != nil {
			return false
		}
		ctx, cancel := context.WithTimeout(s.peer.ctx, 30*time.Second)
		defer cancel()
		a := s.peer.forward(ctx, StreamsTargetPrefix+"ListStreams", "", b)
		var out struct{ Streams []struct{ StreamArn string } }
		if a.status != http.StatusOK || json.Unmarshal(a.body, &out) != nil {
			return false
		}
		for _, st := range out.Streams {
			if st.StreamArn == arn {
				return true
			}
		}
		return false
	}
	t, _ := s.findStream(arn)
	return t != nil
}

type shardIterator struct {
	Arn  string `json:"a"`
	Next uint64 `json:"n"`
	At   int64  `json:"t"`
}

// A shard iterator is base64url(JSON) "." base64url(HMAC-SHA256 of the
// JSON under the store's iterator key): opaque, and unforgeable, so the
// stream it names, which IAM judges GetRecords on (Accesses), is the one
// GetShardIterator issued it for. The key is in the store (bucket meta),
// so on a cluster it travels with the change log and a new table node
// accepts the iterators the old one issued.
var keyIterator = []byte("iterator-key")

// iteratorKey is the store's iterator key, created on first use.
func (s *Service) iteratorKey(ctx context.Context) ([]byte, error) {
	if k := s.iterKey.Load(); k != nil {
		return *k, nil
	}
	read := func() []byte {
		var k []byte
		_ = s.e.view(func(tx *bolt.Tx) error {
			k = append([]byte(nil), tx.Bucket(bucketMeta).Get(keyIterator)...)
			return nil
		})
		return k
	}
	k := read()
	if len(k) != 32 {
		fresh := make([]byte, 32)
		_, _ = rand.Read(fresh)
		err := s.e.write(ctx, func(w *wtx) error {
			if len(w.tx.Bucket(bucketMeta).Get(keyIterator)) == 32 {
				return nil
			}
			return w.putIn(w.tx.Bucket(bucketMeta), bucketMeta, keyIterator, fresh)
		})
		if err != nil {
			return nil, err
		}
		if k = read(); len(k) != 32 {
			return nil, errInternal()
		}
	}
	s.iterKey.Store(&k)
	return k, nil
}

func iteratorMAC(key, payload []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(payload)
	return m.Sum(nil)
}

func (s *Service) encodeIterator(ctx context.Context, arn string, next uint64, now time.Time) (string, error) {
	key, err := s.iteratorKey(ctx)
	if err != nil {
		return "", err
	}
	b, _ := json.Marshal(shardIterator{arn, next, now.UnixMilli()})
	return base64.RawURLEncoding.EncodeToString(b) + "." + base64.RawURLEncoding.EncodeToString(iteratorMAC(key, b)), nil
}

// parseIterator reads an iterator without checking its signature (the
// front door's view, for IAM).
func parseIterator(text string) (*shardIterator, bool) {
	payload, _, ok := strings.Cut(text, ".")
	b, err := base64.RawURLEncoding.DecodeString(payload)
	var it shardIterator
	if !ok || err != nil || json.Unmarshal(b, &it) != nil || it.Arn == "" {
		return nil, false
	}
	return &it, true
}

// decodeIterator reads an iterator this store's key signed.
func (s *Service) decodeIterator(ctx context.Context, text string) (*shardIterator, error) {
	key, err := s.iteratorKey(ctx)
	if err != nil {
		return nil, err
	}
	payload, sig, _ := strings.Cut(text, ".")
	b, err1 := base64.RawURLEncoding.DecodeString(payload)
	m, err2 := base64.RawURLEncoding.DecodeString(sig)
	if err1 != nil || err2 != nil || !hmac.Equal(m, iteratorMAC(key, b)) {
		return nil, validationf("Invalid ShardIterator")
	}
	it, ok := parseIterator(text)
	if !ok {
		return nil, validationf("Invalid ShardIterator")
	}
	return it, nil
}

// SequenceOf reads a record's SequenceNumber (0 if it is not one).
func SequenceOf(s string) uint64 {
	n, _ := strconv.ParseUint(s, 10, 64)
	return n
}

// Package kinesis serves Amazon Kinesis Data Streams' API (AWS JSON 1.1,
// X-Amz-Target Kinesis_20131202.<Operation>) on the node's NATS
// JetStream backbone: stream records in the KV bucket nimbus_kinesis, the
// data records of each stream in a JetStream stream of its own (file
// storage, MaxAge = the retention period), one subject per shard, so
// every node of a cluster serves the same streams. A partition key is
// hashed to its shard as AWS does (the MD5 of the key, as a 128-bit
// number, within the shard's hash key range); a record's SequenceNumber
// is its JetStream sequence. docs/design/tables.md has the details
// (Kinesis event source mappings, resharding and enhanced fan-out are not
// served yet).
//
// The daemon wires it into the front door; nothing else imports it.
package kinesis

import (
	"context"
	"crypto/hmac"
	"crypto/md5" //nolint:gosec // Kinesis hashes partition keys with MD5 by definition
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
)

// TargetPrefix is the X-Amz-Target prefix of the API.
const TargetPrefix = "Kinesis_20131202."

// Bucket holds the stream records.
const Bucket = "nimbus_kinesis"

// Kinesis's limits.
const (
	maxRecordData  = 1 << 20
	maxPutRecords  = 500
	maxPutBytes    = 5 << 20
	maxShards      = 200
	maxGetRecords  = 10000
	iteratorExpiry = 5 * time.Minute
)

// Options configure the service.
type Options struct {
	JetStream jetstream.JetStream
	Replicas  int
	Region    string
	AccountID string
	Logger    *slog.Logger
}

// Service is Kinesis Data Streams for one node.
type Service struct {
	o   Options
	kv  jetstream.KeyValue
	key []byte     // signs shard iterators; the same on every node (iteratorKeyName)
	mu  sync.Mutex // serialises stream creation and deletion on this node
}

// iteratorKeyName is the KV key of the secret that signs shard iterators.
// It is no stream name ('=' is not in nameRE), so ListStreams skips it.
const iteratorKeyName = "=iterator-key"

// New opens the stream bucket.
func New(ctx context.Context, o Options) (*Service, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Replicas < 1 {
		o.Replicas = 1
	}
	kv, err := o.JetStream.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: Bucket, Storage: jetstream.FileStorage, History: 1, Replicas: o.Replicas})
	if err != nil {
		return nil, fmt.Errorf("open kinesis bucket: %w", err)
	}
	key, err := iteratorKey(ctx, kv)
	if err != nil {
		return nil, err
	}
	return &Service{o: o, kv: kv, key: key}, nil
}

// iteratorKey reads the cluster's iterator-signing secret, creating it if
// no node has yet (create-if-absent: the first node's wins). On a cluster
// a read is answered by any replica (direct get), which may not have the
// key another node has just created, and a bucket just created may have
// no leader yet (no responders): each is tried again until the replicas
// agree (bounded: a minute, since a loaded cluster elects slowly).
func iteratorKey(ctx context.Context, kv jetstream.KeyValue) ([]byte, error) {
	deadline := time.Now().Add(time.Minute)
	var last error
	for time.Now().Before(deadline) {
		e, err := kv.Get(ctx, iteratorKeyName)
		switch {
		case err == nil && len(e.Value()) == 32:
			return e.Value(), nil
		case err == nil:
			return nil, errors.New("iterator key: stored value is not 32 bytes")
		case errors.Is(err, jetstream.ErrKeyNotFound):
			key := make([]byte, 32)
			_, _ = rand.Read(key)
			_, err = kv.Create(ctx, iteratorKeyName, key)
			if err == nil {
				return key, nil
			}
			last = fmt.Errorf("create iterator key: %w", err)
		default:
			last = fmt.Errorf("read iterator key: %w", err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil, last
}

// Handler is the service's API.
func (s *Service) Handler() *awsapi.JSONService {
	return &awsapi.JSONService{
		Prefix: TargetPrefix, Protocol: awsapi.ProtocolJSON11, Name: "Kinesis", MaxBody: 6 << 20, Log: s.o.Logger,
		Internal: "InternalFailureException",
		Ops: map[string]awsapi.JSONOp{
			"CreateStream":          awsapi.Op(s.createStream),
			"DeleteStream":          awsapi.Op(s.deleteStream),
			"DescribeStream":        awsapi.Op(s.describeStream),
			"DescribeStreamSummary": awsapi.Op(s.describeSummary),
			"ListStreams":           awsapi.Op(s.listStreams),
			"ListShards":            awsapi.Op(s.listShards),
			"PutRecord":             awsapi.Op(s.putRecord),
			"PutRecords":            awsapi.Op(s.putRecords),
			"GetShardIterator":      awsapi.Op(s.getShardIterator),
			"GetRecords":            awsapi.Op(s.getRecords),
		},
		Refused: map[string]string{
			"SplitShard": "resharding", "MergeShards": "resharding", "UpdateShardCount": "resharding",
			"SubscribeToShard": "enhanced fan-out", "RegisterStreamConsumer": "enhanced fan-out",
			"StartStreamEncryption": "server-side encryption",
		},
	}
}

// IsRequest recognises the API's requests.
func IsRequest(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("X-Amz-Target"), TargetPrefix)
}

func kerr(code, format string, args ...any) *awsapi.Error {
	return &awsapi.Error{Status: http.StatusBadRequest, Code: code, Type: "User", Message: fmt.Sprintf(format, args...)}
}

func invalid(format string, args ...any) *awsapi.Error {
	return kerr("InvalidArgumentException", format, args...)
}

// shard is one shard of a stream.
type shard struct {
	ID       string `json:"id"`
	StartKey string `json:"start"` // decimal
	EndKey   string `json:"end"`
}

// stream is a stream's record.
type stream struct {
	Name      string  `json:"name"`
	ARN       string  `json:"arn"`
	Mode      string  `json:"mode"`
	Retention int     `json:"retention"`
	Created   float64 `json:"created"`
	Shards    []shard `json:"shards"`
}

func (st *stream) jsName() string {
	h := sha256.Sum256([]byte(st.ARN))
	return "NIMBUS_KINESIS_" + hex.EncodeToString(h[:10])
}

func (st *stream) subject(i int) string {
	h := sha256.Sum256([]byte(st.ARN))
	return "nimbus.kinesis." + hex.EncodeToString(h[:10]) + "." + strconv.Itoa(i)
}

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,128}$`)

type streamRef struct {
	StreamName *string `json:"StreamName"`
	StreamARN  *string `json:"StreamARN"`
}

// Resource is the ARN of the stream a request's body names, as the
// operation resolves it (StreamName first, else the name in StreamARN;
// members matched as the operation's decoding matches them), for IAM;
// "" when the body names none (or does not decode). A body with a
// ShardIterator (GetRecords) names the stream the iterator was issued
// for, whatever else it says: GetRecords reads that stream, refusing an
// iterator whose signature fails and a StreamARN naming another.
func Resource(region, account string, body []byte) string {
	var r struct {
		streamRef
		ShardIterator *string `json:"ShardIterator"`
	}
	if json.Unmarshal(body, &r) != nil {
		return ""
	}
	n := ""
	switch {
	case r.ShardIterator != nil:
		if it, ok := parseIterator(*r.ShardIterator); ok {
			n = it.Stream
		}
	case r.StreamName != nil:
		n = *r.StreamName
	case r.StreamARN != nil:
		_, n, _ = strings.Cut(*r.StreamARN, ":stream/")
	}
	if n == "" {
		return ""
	}
	return "arn:aws:kinesis:" + region + ":" + account + ":stream/" + n
}

// name resolves a request's StreamName or StreamARN.
func (s *Service) name(r streamRef) (string, error) {
	switch {
	case r.StreamName != nil:
		return *r.StreamName, nil
	case r.StreamARN != nil:
		if _, n, ok := strings.Cut(*r.StreamARN, ":stream/"); ok {
			return n, nil
		}
		return "", invalid("StreamARN %s is not a stream ARN.", *r.StreamARN)
	}
	return "", invalid("Either StreamName or StreamARN should be provided.")
}

func (s *Service) get(ctx context.Context, name string) (*stream, error) {
	if !nameRE.MatchString(name) {
		return nil, kerr("ResourceNotFoundException", "Stream %s under account %s not found.", name, s.o.AccountID)
	}
	e, err := s.kv.Get(ctx, name)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, kerr("ResourceNotFoundException", "Stream %s under account %s not found.", name, s.o.AccountID)
	}
	if err != nil {
		return nil, fmt.Errorf("read stream: %w", err)
	}
	var st stream
	if err := json.Unmarshal(e.Value(), &st); err != nil {
		return nil, fmt.Errorf("decode stream: %w", err)
	}
	return &st, nil
}

var maxHash = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1))

type createInput struct {
	StreamName        string `json:"StreamName"`
	ShardCount        *int   `json:"ShardCount"`
	StreamModeDetails *struct {
		StreamMode string `json:"StreamMode"`
	} `json:"StreamModeDetails"`
}

func (s *Service) createStream(ctx context.Context, in *createInput) (any, error) {
	if !nameRE.MatchString(in.StreamName) {
		return nil, kerr("ValidationException", "1 validation error detected: Value '%s' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+", in.StreamName)
	}
	mode := "PROVISIONED"
	if in.StreamModeDetails != nil && in.StreamModeDetails.StreamMode != "" {
		mode = in.StreamModeDetails.StreamMode
	}
	n := 4 // on-demand streams start with four shards
	switch {
	case mode != "PROVISIONED" && mode != "ON_DEMAND":
		return nil, kerr("ValidationException", "1 validation error detected: Value '%s' at 'streamModeDetails.streamMode' failed to satisfy constraint: Member must satisfy enum value set: [ON_DEMAND, PROVISIONED]", mode)
	case mode == "PROVISIONED" && in.ShardCount == nil:
		return nil, invalid("ShardCount is required for a PROVISIONED stream.")
	case in.ShardCount != nil && mode == "ON_DEMAND":
		return nil, invalid("ShardCount cannot be set for an ON_DEMAND stream.")
	case in.ShardCount != nil && (*in.ShardCount < 1 || *in.ShardCount > maxShards):
		return nil, invalid("ShardCount must be between 1 and %d on Nimbus.", maxShards)
	}
	if in.ShardCount != nil {
		n = *in.ShardCount
	}
	st := &stream{Name: in.StreamName, Mode: mode, Retention: 24, Created: float64(time.Now().UnixMilli()) / 1000,
		ARN: "arn:aws:kinesis:" + s.o.Region + ":" + s.o.AccountID + ":stream/" + in.StreamName}
	// Shard i covers [i*2^128/n, (i+1)*2^128/n - 1].
	size := new(big.Int).Div(new(big.Int).Add(maxHash, big.NewInt(1)), big.NewInt(int64(n)))
	for i := range n {
		start := new(big.Int).Mul(size, big.NewInt(int64(i)))
		end := new(big.Int).Sub(new(big.Int).Add(start, size), big.NewInt(1))
		if i == n-1 {
			end = maxHash
		}
		st.Shards = append(st.Shards, shard{ID: fmt.Sprintf("shardId-%012d", i), StartKey: start.String(), EndKey: end.String()})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.o.JetStream.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: st.jsName(), Subjects: []string{st.subject(0)[:len(st.subject(0))-1] + ">"},
		Storage: jetstream.FileStorage, MaxAge: time.Duration(st.Retention) * time.Hour, Replicas: s.o.Replicas, Description: st.ARN,
		Duplicates: 2 * time.Minute}); err != nil {
		return nil, fmt.Errorf("create stream storage: %w", err)
	}
	b, _ := json.Marshal(st)
	if _, err := s.kv.Create(ctx, st.Name, b); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return nil, kerr("ResourceInUseException", "Stream %s under account %s already exists.", st.Name, s.o.AccountID)
		}
		return nil, fmt.Errorf("store stream: %w", err)
	}
	return struct{}{}, nil
}

type deleteInput struct {
	streamRef
	EnforceConsumerDeletion bool `json:"EnforceConsumerDeletion"`
}

func (s *Service) deleteStream(ctx context.Context, in *deleteInput) (any, error) {
	name, err := s.name(in.streamRef)
	if err != nil {
		return nil, err
	}
	st, err := s.get(ctx, name)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.kv.Delete(ctx, name); err != nil {
		return nil, fmt.Errorf("delete stream: %w", err)
	}
	if err := s.o.JetStream.DeleteStream(ctx, st.jsName()); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("delete stream storage: %w", err)
	}
	return struct{}{}, nil
}

func (s *Service) shardsOf(ctx context.Context, st *stream) []map[string]any {
	out := make([]map[string]any, len(st.Shards))
	for i, sh := range st.Shards {
		out[i] = map[string]any{"ShardId": sh.ID, "HashKeyRange": map[string]string{"StartingHashKey": sh.StartKey, "EndingHashKey": sh.EndKey},
			"SequenceNumberRange": map[string]string{"StartingSequenceNumber": seqText(1)}}
	}
	return out
}

func (s *Service) describeStream(ctx context.Context, in *streamRef) (any, error) {
	name, err := s.name(*in)
	if err != nil {
		return nil, err
	}
	st, err := s.get(ctx, name)
	if err != nil {
		return nil, err
	}
	return map[string]any{"StreamDescription": map[string]any{
		"StreamName": st.Name, "StreamARN": st.ARN, "StreamStatus": "ACTIVE", "StreamModeDetails": map[string]string{"StreamMode": st.Mode},
		"Shards": s.shardsOf(ctx, st), "HasMoreShards": false, "RetentionPeriodHours": st.Retention,
		"StreamCreationTimestamp": st.Created, "EnhancedMonitoring": []any{map[string]any{"ShardLevelMetrics": []string{}}}, "EncryptionType": "NONE",
	}}, nil
}

func (s *Service) describeSummary(ctx context.Context, in *streamRef) (any, error) {
	name, err := s.name(*in)
	if err != nil {
		return nil, err
	}
	st, err := s.get(ctx, name)
	if err != nil {
		return nil, err
	}
	return map[string]any{"StreamDescriptionSummary": map[string]any{
		"StreamName": st.Name, "StreamARN": st.ARN, "StreamStatus": "ACTIVE", "StreamModeDetails": map[string]string{"StreamMode": st.Mode},
		"RetentionPeriodHours": st.Retention, "StreamCreationTimestamp": st.Created,
		"EnhancedMonitoring": []any{map[string]any{"ShardLevelMetrics": []string{}}}, "EncryptionType": "NONE",
		"OpenShardCount": len(st.Shards), "ConsumerCount": 0,
	}}, nil
}

type listInput struct {
	Limit                    *int   `json:"Limit"`
	ExclusiveStartStreamName string `json:"ExclusiveStartStreamName"`
	NextToken                string `json:"NextToken"`
}

func (s *Service) listStreams(ctx context.Context, in *listInput) (any, error) {
	keys, err := s.kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list streams: %w", err)
	}
	var names []string
	for k := range keys.Keys() {
		if nameRE.MatchString(k) {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	limit := 100
	if in.Limit != nil {
		limit = max(1, min(*in.Limit, 10000))
	}
	start := in.ExclusiveStartStreamName
	if in.NextToken != "" {
		b, _ := base64.RawURLEncoding.DecodeString(in.NextToken)
		start = string(b)
	}
	out := []string{}
	summaries := []map[string]any{}
	more := false
	for _, n := range names {
		if start != "" && n <= start {
			continue
		}
		if len(out) == limit {
			more = true
			break
		}
		out = append(out, n)
		summaries = append(summaries, map[string]any{"StreamName": n, "StreamARN": "arn:aws:kinesis:" + s.o.Region + ":" + s.o.AccountID + ":stream/" + n,
			"StreamStatus": "ACTIVE"})
	}
	r := map[string]any{"StreamNames": out, "HasMoreStreams": more, "StreamSummaries": summaries}
	if more {
		r["NextToken"] = base64.RawURLEncoding.EncodeToString([]byte(out[len(out)-1]))
	}
	return r, nil
}

type listShardsInput struct {
	streamRef
	MaxResults *int   `json:"MaxResults"`
	NextToken  string `json:"NextToken"`
}

func (s *Service) listShards(ctx context.Context, in *listShardsInput) (any, error) {
	name, err := s.name(in.streamRef)
	if err != nil {
		return nil, err
	}
	st, err := s.get(ctx, name)
	if err != nil {
		return nil, err
	}
	return map[string]any{"Shards": s.shardsOf(ctx, st)}, nil
}

// shardFor is the shard whose hash key range holds a partition key's
// MD5 (or the explicit hash key).
func shardFor(st *stream, key string, explicit *string) (int, error) {
	var h *big.Int
	if explicit != nil {
		var ok bool
		h, ok = new(big.Int).SetString(*explicit, 10)
		if !ok || h.Sign() < 0 || h.Cmp(maxHash) > 0 {
			return 0, invalid("Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was %s", *explicit)
		}
	} else {
		sum := md5.Sum([]byte(key)) //nolint:gosec // Kinesis's definition
		h = new(big.Int).SetBytes(sum[:])
	}
	for i, sh := range st.Shards {
		lo, _ := new(big.Int).SetString(sh.StartKey, 10)
		hi, _ := new(big.Int).SetString(sh.EndKey, 10)
		if h.Cmp(lo) >= 0 && h.Cmp(hi) <= 0 {
			return i, nil
		}
	}
	return 0, invalid("No shard holds hash key %s.", h)
}

func seqText(n uint64) string { return fmt.Sprintf("%056d", n) }

type putInput struct {
	streamRef
	Data            []byte  `json:"Data"`
	PartitionKey    string  `json:"PartitionKey"`
	ExplicitHashKey *string `json:"ExplicitHashKey"`
}

func checkRecord(data []byte, key string) error {
	if len(key) < 1 || len(key) > 256 {
		return kerr("ValidationException", "1 validation error detected: Value '%s' at 'partitionKey' failed to satisfy constraint: Member must have length less than or equal to 256", key)
	}
	if len(data)+len(key) > maxRecordData {
		return kerr("ValidationException", "1 validation error detected: Value at 'data' failed to satisfy constraint: Member must have length less than or equal to 1048576")
	}
	return nil
}

func (s *Service) publish(ctx context.Context, st *stream, data []byte, key string, explicit *string) (map[string]any, error) {
	i, err := shardFor(st, key, explicit)
	if err != nil {
		return nil, err
	}
	msg := &nats.Msg{Subject: st.subject(i), Data: data, Header: nats.Header{}}
	msg.Header.Set("Kinesis-Partition-Key", key)
	ack, err := s.o.JetStream.PublishMsg(ctx, msg)
	if err != nil {
		return nil, fmt.Errorf("store record: %w", err)
	}
	return map[string]any{"ShardId": st.Shards[i].ID, "SequenceNumber": seqText(ack.Sequence)}, nil
}

func (s *Service) putRecord(ctx context.Context, in *putInput) (any, error) {
	name, err := s.name(in.streamRef)
	if err != nil {
		return nil, err
	}
	if err := checkRecord(in.Data, in.PartitionKey); err != nil {
		return nil, err
	}
	st, err := s.get(ctx, name)
	if err != nil {
		return nil, err
	}
	out, err := s.publish(ctx, st, in.Data, in.PartitionKey, in.ExplicitHashKey)
	if err != nil {
		return nil, err
	}
	out["EncryptionType"] = "NONE"
	return out, nil
}

type putRecordsInput struct {
	streamRef
	Records []struct {
		Data            []byte  `json:"Data"`
		PartitionKey    string  `json:"PartitionKey"`
		ExplicitHashKey *string `json:"ExplicitHashKey"`
	} `json:"Records"`
}

func (s *Service) putRecords(ctx context.Context, in *putRecordsInput) (any, error) {
	name, err := s.name(in.streamRef)
	if err != nil {
		return nil, err
	}
	if len(in.Records) == 0 || len(in.Records) > maxPutRecords {
		return nil, kerr("ValidationException", "1 validation error detected: Value at 'records' failed to satisfy constraint: Member must have length less than or equal to 500")
	}
	total := 0
	for _, r := range in.Records {
		if err := checkRecord(r.Data, r.PartitionKey); err != nil {
			return nil, err
		}
		total += len(r.Data) + len(r.PartitionKey)
	}
	if total > maxPutBytes {
		return nil, invalid("Records size exceeds 5 MB limit")
	}
	st, err := s.get(ctx, name)
	if err != nil {
		return nil, err
	}
	// Published in order, asynchronously, then acknowledged together.
	type pending struct {
		shard int
		ack   jetstream.PubAckFuture
		err   error
	}
	ps := make([]pending, len(in.Records))
	for i, r := range in.Records {
		sh, err := shardFor(st, r.PartitionKey, r.ExplicitHashKey)
		if err != nil {
			ps[i].err = err
			continue
		}
		msg := &nats.Msg{Subject: st.subject(sh), Data: r.Data, Header: nats.Header{}}
		msg.Header.Set("Kinesis-Partition-Key", r.PartitionKey)
		ps[i].shard = sh
		ps[i].ack, ps[i].err = s.o.JetStream.PublishMsgAsync(msg)
	}
	results := make([]map[string]any, len(in.Records))
	failed := 0
	for i, p := range ps {
		if p.err == nil {
			select {
			case a := <-p.ack.Ok():
				results[i] = map[string]any{"ShardId": st.Shards[p.shard].ID, "SequenceNumber": seqText(a.Sequence)}
				continue
			case err := <-p.ack.Err():
				p.err = err
			case <-ctx.Done():
				p.err = ctx.Err()
			}
		}
		failed++
		results[i] = map[string]any{"ErrorCode": "InternalFailure", "ErrorMessage": "Internal service failure."}
		var ae *awsapi.Error
		if errors.As(p.err, &ae) {
			results[i] = map[string]any{"ErrorCode": ae.Code, "ErrorMessage": ae.Message}
		}
	}
	return map[string]any{"FailedRecordCount": failed, "Records": results, "EncryptionType": "NONE"}, nil
}

type iterator struct {
	Stream string `json:"s"`
	Shard  int    `json:"h"`
	Next   uint64 `json:"n"`
	At     int64  `json:"t"`
}

// A shard iterator is base64url(JSON) "." base64url(HMAC-SHA256 of the
// JSON under the cluster's iterator key): opaque to clients as AWS's are,
// and unforgeable, so the stream it names (which IAM judges GetRecords
// on) is the one it was issued for by GetShardIterator, itself judged on
// that stream.
func (s *Service) encodeIterator(it iterator) string {
	b, _ := json.Marshal(it)
	return base64.RawURLEncoding.EncodeToString(b) + "." + base64.RawURLEncoding.EncodeToString(s.mac(b))
}

func (s *Service) mac(b []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write(b)
	return m.Sum(nil)
}

// parseIterator reads an iterator without checking its signature (the
// front door's view, for IAM; GetRecords checks it).
func parseIterator(text string) (iterator, bool) {
	var it iterator
	payload, _, ok := strings.Cut(text, ".")
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if !ok || err != nil || json.Unmarshal(b, &it) != nil || it.Stream == "" {
		return iterator{}, false
	}
	return it, true
}

// decodeIterator reads an iterator this cluster signed.
func (s *Service) decodeIterator(text string) (iterator, bool) {
	payload, sig, ok := strings.Cut(text, ".")
	if !ok {
		return iterator{}, false
	}
	b, err1 := base64.RawURLEncoding.DecodeString(payload)
	m, err2 := base64.RawURLEncoding.DecodeString(sig)
	if err1 != nil || err2 != nil || !hmac.Equal(m, s.mac(b)) {
		return iterator{}, false
	}
	return parseIterator(text)
}

type iteratorInput struct {
	streamRef
	ShardID                string   `json:"ShardId"`
	ShardIteratorType      string   `json:"ShardIteratorType"`
	StartingSequenceNumber string   `json:"StartingSequenceNumber"`
	Timestamp              *float64 `json:"Timestamp"`
}

func (s *Service) getShardIterator(ctx context.Context, in *iteratorInput) (any, error) {
	name, err := s.name(in.streamRef)
	if err != nil {
		return nil, err
	}
	st, err := s.get(ctx, name)
	if err != nil {
		return nil, err
	}
	idx := slices.IndexFunc(st.Shards, func(sh shard) bool { return sh.ID == in.ShardID })
	if idx < 0 {
		return nil, kerr("ResourceNotFoundException", "Shard %s in stream %s under account %s does not exist", in.ShardID, st.Name, s.o.AccountID)
	}
	js, err := s.o.JetStream.Stream(ctx, st.jsName())
	if err != nil {
		return nil, fmt.Errorf("open stream storage: %w", err)
	}
	info, err := js.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("stream info: %w", err)
	}
	it := iterator{Stream: st.Name, Shard: idx, At: time.Now().UnixMilli()}
	switch in.ShardIteratorType {
	case "TRIM_HORIZON":
		it.Next = max(info.State.FirstSeq, 1)
	case "LATEST":
		it.Next = info.State.LastSeq + 1
	case "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER":
		n, err := strconv.ParseUint(strings.TrimLeft(in.StartingSequenceNumber, "0"), 10, 64)
		if err != nil || n == 0 {
			return nil, invalid("StartingSequenceNumber %s used in GetShardIterator on shard %s in stream %s under account %s is invalid.", in.StartingSequenceNumber, in.ShardID, st.Name, s.o.AccountID)
		}
		it.Next = n
		if in.ShardIteratorType == "AFTER_SEQUENCE_NUMBER" {
			it.Next++
		}
	case "AT_TIMESTAMP":
		if in.Timestamp == nil {
			return nil, invalid("Timestamp is required for ShardIteratorType AT_TIMESTAMP.")
		}
		it.Next = max(info.State.FirstSeq, 1)
		at := time.UnixMilli(int64(*in.Timestamp * 1000))
		for seq := it.Next; seq <= info.State.LastSeq; {
			m, err := js.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(st.subject(idx)))
			if err != nil {
				it.Next = info.State.LastSeq + 1
				break
			}
			if !m.Time.Before(at) {
				it.Next = m.Sequence
				break
			}
			seq = m.Sequence + 1
			it.Next = seq
		}
	default:
		return nil, kerr("ValidationException", "1 validation error detected: Value '%s' at 'shardIteratorType' failed to satisfy constraint: Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, AT_SEQUENCE_NUMBER, AT_TIMESTAMP, TRIM_HORIZON, LATEST]", in.ShardIteratorType)
	}
	return map[string]any{"ShardIterator": s.encodeIterator(it)}, nil
}

type recordsInput struct {
	ShardIterator string `json:"ShardIterator"`
	Limit         *int   `json:"Limit"`
	StreamARN     string `json:"StreamARN"`
}

func (s *Service) getRecords(ctx context.Context, in *recordsInput) (any, error) {
	it, ok := s.decodeIterator(in.ShardIterator)
	if !ok {
		return nil, invalid("Invalid ShardIterator.")
	}

	if time.Since(time.UnixMilli(it.At)) > iteratorExpiry {
		return nil, kerr("ExpiredIteratorException", "Iterator expired. The iterator was created at time %s while right now it is %s which is further in the future than the tolerated delay of 300000 milliseconds.",
			time.UnixMilli(it.At).UTC().Format(time.RFC1123), time.Now().UTC().Format(time.RFC1123))
	}
	limit := maxGetRecords
	if in.Limit != nil {
		if *in.Limit < 1 || *in.Limit > maxGetRecords {
			return nil, kerr("ValidationException", "1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 10000", *in.Limit)
		}
		limit = *in.Limit
	}
	st, err := s.get(ctx, it.Stream)
	if err != nil {
		return nil, err
	}
	if in.StreamARN != "" && in.StreamARN != st.ARN {
		return nil, invalid("StreamARN %s does not match the stream of the ShardIterator.", in.StreamARN)
	}
	if it.Shard < 0 || it.Shard >= len(st.Shards) {
		return nil, invalid("Invalid ShardIterator.")
	}
	js, err := s.o.JetStream.Stream(ctx, st.jsName())
	if err != nil {
		return nil, fmt.Errorf("open stream storage: %w", err)
	}
	info, err := js.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("stream info: %w", err)
	}
	recs := []map[string]any{}
	next := max(it.Next, info.State.FirstSeq)
	var behind int64
	for size := 0; next <= info.State.LastSeq && len(recs) < limit && size < 10<<20; {
		m, err := js.GetMsg(ctx, next, jetstream.WithGetMsgSubject(st.subject(it.Shard)))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			next = info.State.LastSeq + 1
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read record: %w", err)
		}
		if m.Sequence > info.State.LastSeq {
			next = info.State.LastSeq + 1
			break
		}
		recs = append(recs, map[string]any{"SequenceNumber": seqText(m.Sequence), "ApproximateArrivalTimestamp": float64(m.Time.UnixMilli()) / 1000,
			"Data": m.Data, "PartitionKey": m.Header.Get("Kinesis-Partition-Key"), "EncryptionType": "NONE"})
		size += len(m.Data)
		behind = time.Since(m.Time).Milliseconds()
		next = m.Sequence + 1
	}
	if len(recs) == 0 || next > info.State.LastSeq {
		behind = 0
	}
	it.Next, it.At = next, time.Now().UnixMilli()
	return map[string]any{"Records": recs, "NextShardIterator": s.encodeIterator(it), "MillisBehindLatest": behind}, nil
}

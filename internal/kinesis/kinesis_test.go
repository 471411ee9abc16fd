package kinesis

import (
	"crypto/md5" //nolint:gosec // the test computes Kinesis's hash
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

func serve(t *testing.T) *awskinesis.Client {
	t.Helper()
	st := storetest.Open(t)
	s, err := New(t.Context(), Options{JetStream: st.JetStream(), Region: "us-east-1", AccountID: "000000000000"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return awskinesis.New(awskinesis.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")})
}

// TestStreams: a stream of four shards; records go to the shard whose
// hash key range holds the MD5 of their partition key, in order per
// shard, and read back from TRIM_HORIZON, AFTER_SEQUENCE_NUMBER and LATEST.
func TestStreams(t *testing.T) {
	c := serve(t)
	ctx := t.Context()
	if _, err := c.CreateStream(ctx, &awskinesis.CreateStreamInput{StreamName: aws.String("clicks"), ShardCount: aws.Int32(4)}); err != nil {
		t.Fatal(err)
	}
	var inUse *types.ResourceInUseException
	if _, err := c.CreateStream(ctx, &awskinesis.CreateStreamInput{StreamName: aws.String("clicks"), ShardCount: aws.Int32(1)}); !errors.As(err, &inUse) {
		t.Fatalf("second create: %v", err)
	}
	d, err := c.DescribeStream(ctx, &awskinesis.DescribeStreamInput{StreamName: aws.String("clicks")})
	if err != nil || len(d.StreamDescription.Shards) != 4 || *d.StreamDescription.StreamARN != "arn:aws:kinesis:us-east-1:000000000000:stream/clicks" {
		t.Fatalf("describe: %v %+v", err, d)
	}
	shardOf := func(key string) string {
		sum := md5.Sum([]byte(key)) //nolint:gosec // Kinesis's hash
		h := new(big.Int).SetBytes(sum[:])
		for _, s := range d.StreamDescription.Shards {
			lo, _ := new(big.Int).SetString(*s.HashKeyRange.StartingHashKey, 10)
			hi, _ := new(big.Int).SetString(*s.HashKeyRange.EndingHashKey, 10)
			if h.Cmp(lo) >= 0 && h.Cmp(hi) <= 0 {
				return *s.ShardId
			}
		}
		return ""
	}
	one, err := c.PutRecord(ctx, &awskinesis.PutRecordInput{StreamName: aws.String("clicks"), PartitionKey: aws.String("user-1"), Data: []byte("first")})
	if err != nil || *one.ShardId != shardOf("user-1") {
		t.Fatalf("put: %v %+v", err, one)
	}
	var entries []types.PutRecordsRequestEntry
	for i := range 20 {
		entries = append(entries, types.PutRecordsRequestEntry{PartitionKey: aws.String(fmt.Sprint("user-", i%5)), Data: []byte(fmt.Sprint("r", i))})
	}
	many, err := c.PutRecords(ctx, &awskinesis.PutRecordsInput{StreamName: aws.String("clicks"), Records: entries})
	if err != nil || *many.FailedRecordCount != 0 || len(many.Records) != 20 {
		t.Fatalf("put records: %v %+v", err, many)
	}
	for i, r := range many.Records {
		if *r.ShardId != shardOf(fmt.Sprint("user-", i%5)) {
			t.Fatalf("record %d in %s, want %s", i, *r.ShardId, shardOf(fmt.Sprint("user-", i%5)))
		}
	}
	// Read user-1's shard from the start: "first", then r1, r6, r11, r16
	// (and the other keys of that shard), in order.
	sh := shardOf("user-1")
	it, err := c.GetShardIterator(ctx, &awskinesis.GetShardIteratorInput{StreamName: aws.String("clicks"), ShardId: aws.String(sh),
		ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.GetRecords(ctx, &awskinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
	if err != nil {
		t.Fatal(err)
	}
	var user1 []string
	for _, r := range got.Records {
		if *r.PartitionKey == "user-1" {
			user1 = append(user1, string(r.Data))
		}
		if shardOf(*r.PartitionKey) != sh {
			t.Fatalf("record of %s read from %s", *r.PartitionKey, sh)
		}
	}
	if fmt.Sprint(user1) != "[first r1 r6 r11 r16]" {
		t.Fatalf("user-1 records %v", user1)
	}
	after, err := c.GetShardIterator(ctx, &awskinesis.GetShardIteratorInput{StreamName: aws.String("clicks"), ShardId: aws.String(sh),
		ShardIteratorType: types.ShardIteratorTypeAfterSequenceNumber, StartingSequenceNumber: one.SequenceNumber})
	if err != nil {
		t.Fatal(err)
	}
	rest, err := c.GetRecords(ctx, &awskinesis.GetRecordsInput{ShardIterator: after.ShardIterator, Limit: aws.Int32(2)})
	if err != nil || len(rest.Records) != 2 || string(rest.Records[0].Data) == "first" {
		t.Fatalf("after sequence: %v %+v", err, rest)
	}
	latest, _ := c.GetShardIterator(ctx, &awskinesis.GetShardIteratorInput{StreamName: aws.String("clicks"), ShardId: aws.String(sh),
		ShardIteratorType: types.ShardIteratorTypeLatest})
	if _, err := c.PutRecord(ctx, &awskinesis.PutRecordInput{StreamName: aws.String("clicks"), PartitionKey: aws.String("user-1"), Data: []byte("new")}); err != nil {
		t.Fatal(err)
	}
	lr, err := c.GetRecords(ctx, &awskinesis.GetRecordsInput{ShardIterator: latest.ShardIterator})
	if err != nil || len(lr.Records) != 1 || string(lr.Records[0].Data) != "new" {
		t.Fatalf("latest: %v %+v", err, lr)
	}
	// Refusals: an oversized record, a bad partition key, a missing stream.
	if _, err := c.PutRecord(ctx, &awskinesis.PutRecordInput{StreamName: aws.String("clicks"), PartitionKey: aws.String("k"), Data: make([]byte, 1<<20)}); err == nil {
		t.Fatal("an oversized record was accepted")
	}
	var nf *types.ResourceNotFoundException
	if _, err := c.PutRecord(ctx, &awskinesis.PutRecordInput{StreamName: aws.String("nope"), PartitionKey: aws.String("k"), Data: []byte("x")}); !errors.As(err, &nf) {
		t.Fatalf("missing stream: %v", err)
	}
	ls, err := c.ListStreams(ctx, &awskinesis.ListStreamsInput{})
	if err != nil || len(ls.StreamNames) != 1 {
		t.Fatalf("list: %v %+v", err, ls)
	}
	if _, err := c.DeleteStream(ctx, &awskinesis.DeleteStreamInput{StreamName: aws.String("clicks")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DescribeStreamSummary(ctx, &awskinesis.DescribeStreamSummaryInput{StreamName: aws.String("clicks")}); !errors.As(err, &nf) {
		t.Fatalf("after delete: %v", err)
	}
}

// TestIteratorForgery: a ShardIterator names its stream, and IAM judges
// GetRecords on that stream (Resource), so an iterator must be the one
// GetShardIterator issued: one rewritten for another stream, with or
// without its signature, is refused, and so is a StreamARN naming a
// stream other than the iterator's.
func TestIteratorForgery(t *testing.T) {
	c := serve(t)
	ctx := t.Context()
	for _, name := range []string{"public", "secret"} {
		if _, err := c.CreateStream(ctx, &awskinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(1)}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.PutRecord(ctx, &awskinesis.PutRecordInput{StreamName: aws.String(name), PartitionKey: aws.String("k"), Data: []byte(name)}); err != nil {
			t.Fatal(err)
		}
	}
	d, err := c.DescribeStream(ctx, &awskinesis.DescribeStreamInput{StreamName: aws.String("public")})
	if err != nil {
		t.Fatal(err)
	}
	it, err := c.GetShardIterator(ctx, &awskinesis.GetShardIteratorInput{StreamName: aws.String("public"),
		ShardId: d.StreamDescription.Shards[0].ShardId, ShardIteratorType: types.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	if got := Resource("us-east-1", "000000000000", []byte(`{"ShardIterator":"`+*it.ShardIterator+`"}`)); got != "arn:aws:kinesis:us-east-1:000000000000:stream/public" {
		t.Fatalf("Resource of public's iterator: %q", got)
	}
	// The iterator wins over a StreamName or StreamARN beside it for IAM.
	if got := Resource("us-east-1", "000000000000", []byte(`{"StreamName":"secret","ShardIterator":"`+*it.ShardIterator+`"}`)); got != "arn:aws:kinesis:us-east-1:000000000000:stream/public" {
		t.Fatalf("Resource with a StreamName beside the iterator: %q", got)
	}
	ok, err := c.GetRecords(ctx, &awskinesis.GetRecordsInput{ShardIterator: it.ShardIterator})
	if err != nil || len(ok.Records) != 1 || string(ok.Records[0].Data) != "public" {
		t.Fatalf("public's records: %v %+v", err, ok)
	}
	payload, sig, _ := strings.Cut(*it.ShardIterator, ".")
	b, _ := base64.RawURLEncoding.DecodeString(payload)
	forged := base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(b), `"s":"public"`, `"s":"secret"`, 1)))
	if forged == payload {
		t.Fatalf("iterator payload %s names no stream", b)
	}
	var bad *types.InvalidArgumentException
	for what, tok := range map[string]string{
		"forged, old signature": forged + "." + sig,
		"forged, no signature":  forged,
		"forged, empty":         forged + ".",
		"unsigned original":     payload,
		"signature cut short":   payload + "." + sig[:len(sig)-2],
	} {
		got, err := c.GetRecords(ctx, &awskinesis.GetRecordsInput{ShardIterator: aws.String(tok)})
		if !errors.As(err, &bad) {
			t.Errorf("%s: %v %+v", what, err, got)
		}
	}
	if _, err := c.GetRecords(ctx, &awskinesis.GetRecordsInput{ShardIterator: it.ShardIterator,
		StreamARN: aws.String("arn:aws:kinesis:us-east-1:000000000000:stream/secret")}); !errors.As(err, &bad) {
		t.Errorf("a StreamARN other than the iterator's: %v", err)
	}
	// The signing key is not a stream.
	ls, err := c.ListStreams(ctx, &awskinesis.ListStreamsInput{})
	if err != nil || fmt.Sprint(ls.StreamNames) != "[public secret]" {
		t.Fatalf("list: %v %+v", err, ls)
	}
}

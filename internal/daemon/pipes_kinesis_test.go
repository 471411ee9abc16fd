package daemon

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskinesis "github.com/aws/aws-sdk-go-v2/service/kinesis"
	kinesistypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
)

// TestPipeFromARealKinesisStream: a pipe reads a Kinesis stream served by
// the node (two shards, records put through the Kinesis API), filters on
// the records' data, renders its template and sends each event to an SQS
// queue: the clicks arrive, the views do not, and each partition key's
// records keep their order.
func TestPipeFromARealKinesisStream(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	ctx := t.Context()
	kc := awskinesis.NewFromConfig(n.awsConfig())
	if _, err := kc.CreateStream(ctx, &awskinesis.CreateStreamInput{StreamName: aws.String("clicks"), ShardCount: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	var streamArn string
	for i := 0; ; i++ {
		d, err := kc.DescribeStreamSummary(ctx, &awskinesis.DescribeStreamSummaryInput{StreamName: aws.String("clicks")})
		if err != nil {
			t.Fatal(err)
		}
		if d.StreamDescriptionSummary.StreamStatus == kinesistypes.StreamStatusActive {
			streamArn = aws.ToString(d.StreamDescriptionSummary.StreamARN)
			break
		}
		if i > 1500 {
			t.Fatalf("stream status %s", d.StreamDescriptionSummary.StreamStatus)
		}
		time.Sleep(20 * time.Millisecond) // polling for the stream to be active, not a timing assertion
	}
	sq := awssqs.NewFromConfig(n.awsConfig())
	q, err := sq.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String("pipe-out")})
	if err != nil {
		t.Fatal(err)
	}
	queueArn := "arn:aws:sqs:us-east-1:" + n.d.cfg.AccountID + ":pipe-out"
	// The pipe reads and sends as its role, which Pipes may assume.
	createServiceRole(t, n, "pipe", "pipes.amazonaws.com", `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Action":["kinesis:GetRecords","kinesis:GetShardIterator","kinesis:DescribeStream","kinesis:ListShards"],"Resource":"`+streamArn+`"},
	  {"Effect":"Allow","Action":"sqs:SendMessage","Resource":"`+queueArn+`"}]}`)

	pc := n.httpClient("pipes")
	call := func(method, path string, body any) (int, map[string]any) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, err := http.NewRequestWithContext(ctx, method, n.endpoint()+path, rd)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := pc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	if code, out := call(http.MethodPost, "/v1/pipes/clickpipe", map[string]any{
		"Source": streamArn, "RoleArn": "arn:aws:iam::" + n.d.cfg.AccountID + ":role/pipe", "Target": queueArn,
		"SourceParameters": map[string]any{
			"FilterCriteria":          map[string]any{"Filters": []any{map[string]any{"Pattern": `{"data":{"kind":["click"]}}`}}},
			"KinesisStreamParameters": map[string]any{"StartingPosition": "TRIM_HORIZON", "BatchSize": 10},
		},
		"TargetParameters": map[string]any{"InputTemplate": `{"n": <$.data.n>, "key": "<$.partitionKey>"}`},
	}); code != 200 {
		t.Fatalf("CreatePipe: %d %v", code, out)
	}
	for i := 0; ; i++ {
		code, out := call(http.MethodGet, "/v1/pipes/clickpipe", nil)
		if code == 200 && out["CurrentState"] == "RUNNING" {
			break
		}
		if i > 1500 || code != 200 || fmt.Sprint(out["CurrentState"]) == "CREATE_FAILED" {
			t.Fatalf("DescribePipe: %d %v", code, out)
		}
		time.Sleep(20 * time.Millisecond) // polling for the state, not a timing assertion
	}

	// Six records over two keys; the views are filtered out.
	var entries []kinesistypes.PutRecordsRequestEntry
	for i := 1; i <= 6; i++ {
		kind := "click"
		if i%3 == 0 {
			kind = "view"
		}
		entries = append(entries, kinesistypes.PutRecordsRequestEntry{
			Data: fmt.Appendf(nil, `{"kind":%q,"n":%d}`, kind, i), PartitionKey: aws.String([]string{"a", "b"}[i%2])})
	}
	put, err := kc.PutRecords(ctx, &awskinesis.PutRecordsInput{StreamName: aws.String("clicks"), Records: entries})
	if err != nil || aws.ToInt32(put.FailedRecordCount) != 0 {
		t.Fatalf("PutRecords: %v %v", put, err)
	}

	type event struct {
		N   int    `json:"n"`
		Key string `json:"key"`
	}
	var got []event
	for tries := 0; len(got) < 4; tries++ {
		if tries > 60 {
			t.Fatalf("the queue got %v, want the four clicks", got)
		}
		r, err := sq.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range r.Messages {
			var e event
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &e); err != nil {
				t.Fatalf("message %q: %v", aws.ToString(m.Body), err)
			}
			got = append(got, e)
			if _, err := sq.DeleteMessage(ctx, &awssqs.DeleteMessageInput{QueueUrl: q.QueueUrl, ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
	byKey := map[string][]int{}
	for _, e := range got {
		byKey[e.Key] = append(byKey[e.Key], e.N)
	}
	if fmt.Sprint(byKey["a"]) != "[2 4]" || fmt.Sprint(byKey["b"]) != "[1 5]" || len(got) != 4 {
		t.Fatalf("events by partition key %v (all: %v); want a: [2 4], b: [1 5], no views", byKey, got)
	}
}

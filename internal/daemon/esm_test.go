package daemon

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// TestSQSEventSourceMapping: a queue triggers a function through an
// event source mapping: records the filter rejects are deleted, records
// the function reports in batchItemFailures come back and reach the
// dead-letter queue by the queue's redrive policy, the rest are deleted.
func TestSQSEventSourceMapping(t *testing.T) {
	n := startNode(t, t.TempDir())
	ctx := t.Context()
	q := awssqs.NewFromConfig(n.awsConfig())
	lc := lambda.NewFromConfig(n.awsConfig())
	dlq, err := q.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String("esm-dlq")})
	if err != nil {
		t.Fatal(err)
	}
	src, err := q.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String("esm-src"), Attributes: map[string]string{
		// Longer than a cold start under -race: a message still being
		// processed must not come back and count as a failed receive.
		"VisibilityTimeout": "8",
		"RedrivePolicy":     `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:esm-dlq","maxReceiveCount":2}`,
	}})
	if err != nil {
		t.Fatal(err)
	}
	create(t, n, &lambda.CreateFunctionInput{
		FunctionName: aws.String("worker"), Runtime: types.RuntimeProvidedal2023, Handler: aws.String("bootstrap"),
		// The poller reads as the function's role (AWSLambdaSQSQueueExecutionRole's actions).
		Role: aws.String(createRole(t, n, "worker", allow([]string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"},
			"arn:aws:sqs:us-east-1:000000000000:esm-src"))),
		Code: &types.FunctionCode{ZipFile: goZip(t, "./internal/daemon/testdata/sqsworker")},
	})
	// Refusals first: a source Nimbus does not poll, a FIFO-only limit.
	if _, err := lc.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("worker"),
		EventSourceArn: aws.String("arn:aws:kinesis:us-east-1:000000000000:stream/s")}); err == nil {
		t.Fatal("a Kinesis mapping was accepted")
	}
	if _, err := lc.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("worker"),
		EventSourceArn: aws.String("arn:aws:sqs:us-east-1:000000000000:esm-src"), BatchSize: aws.Int32(100)}); err == nil {
		t.Fatal("BatchSize 100 without a batching window was accepted")
	}
	m, err := lc.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{
		FunctionName: aws.String("worker"), EventSourceArn: aws.String("arn:aws:sqs:us-east-1:000000000000:esm-src"),
		BatchSize: aws.Int32(10), FunctionResponseTypes: []types.FunctionResponseType{types.FunctionResponseTypeReportBatchItemFailures},
		FilterCriteria: &types.FilterCriteria{Filters: []types.Filter{{Pattern: aws.String(`{"body":{"kind":[{"anything-but":"skip"}]}}`)}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if *m.State != "Creating" || *m.FunctionArn != "arn:aws:lambda:us-east-1:000000000000:function:worker" {
		t.Fatalf("created %+v", m)
	}
	var entries []sqstypes.SendMessageBatchRequestEntry
	for i, kind := range []string{"ok", "skip", "fail", "ok", "ok", "skip"} {
		entries = append(entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)),
			MessageBody:       aws.String(`{"kind":"` + kind + `","i":` + strconv.Itoa(i) + `}`),
			MessageAttributes: map[string]sqstypes.MessageAttributeValue{"n": {DataType: aws.String("Number"), StringValue: aws.String(strconv.Itoa(i))}}})
	}
	if out, err := q.SendMessageBatch(ctx, &awssqs.SendMessageBatchInput{QueueUrl: src.QueueUrl, Entries: entries}); err != nil || len(out.Failed) > 0 {
		t.Fatalf("send: %v %+v", err, out)
	}
	// The failing record: received twice by the poller, then moved.
	var got []sqstypes.Message
	for range 3 {
		out, err := q.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: dlq.QueueUrl, WaitTimeSeconds: 20, MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		if got = out.Messages; len(got) > 0 {
			break
		}
	}
	if len(got) != 1 || *got[0].Body != `{"kind":"fail","i":2}` {
		for _, m := range got {
			t.Logf("dead-letter queue: %s", *m.Body)
		}
		t.Fatalf("dead-letter queue holds %d messages, want the failing one", len(got))
	}
	// Everything else is gone from the source: processed or filtered.
	deadline := time.Now().Add(30 * time.Second)
	for {
		a, err := q.GetQueueAttributes(ctx, &awssqs.GetQueueAttributesInput{QueueUrl: src.QueueUrl,
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll}})
		if err != nil {
			t.Fatal(err)
		}
		if a.Attributes["ApproximateNumberOfMessages"] == "0" && a.Attributes["ApproximateNumberOfMessagesNotVisible"] == "0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("source queue still holds messages: %v", a.Attributes)
		}
		// Wait on the backbone's pace, not a fixed sleep: a long poll of
		// the dead-letter queue, which must stay empty.
		more, err := q.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: dlq.QueueUrl, WaitTimeSeconds: 1})
		if err != nil || len(more.Messages) > 0 {
			t.Fatalf("more in the dead-letter queue: %+v %v", more, err)
		}
	}
	list, err := lc.ListEventSourceMappings(ctx, &lambda.ListEventSourceMappingsInput{FunctionName: aws.String("worker")})
	if err != nil || len(list.EventSourceMappings) != 1 || *list.EventSourceMappings[0].State != "Enabled" {
		t.Fatalf("list %+v %v", list, err)
	}
	if _, err := lc.DeleteEventSourceMapping(ctx, &lambda.DeleteEventSourceMappingInput{UUID: m.UUID}); err != nil {
		t.Fatal(err)
	}
	var nf *types.ResourceNotFoundException
	if _, err := lc.GetEventSourceMapping(ctx, &lambda.GetEventSourceMappingInput{UUID: m.UUID}); err == nil {
		t.Fatal("deleted mapping still answers")
	} else if !errors.As(err, &nf) {
		t.Fatalf("get of a deleted mapping: %v", err)
	}
}

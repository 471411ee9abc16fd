package sqs

import (
	"context"
	"errors"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/nimbus-serverless/nimbus/internal/store"
	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

const testAccount = "000000000000"

// serve runs the SQS API of st on a real HTTP server and returns an
// aws-sdk-go-v2 client for it (which verifies SQS's MD5 digests).
func serve(t testing.TB, st *store.Store) *awssqs.Client {
	t.Helper()
	svc, err := New(t.Context(), Options{JetStream: st.JetStream(), Region: "us-east-1", AccountID: testAccount})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Close) // before the store closes (cleanups run last first)
	srv := httptest.NewServer(NewHandler(svc))
	t.Cleanup(srv.Close)
	return awssqs.New(awssqs.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
	})
}

func createQueue(t testing.TB, c *awssqs.Client, name string, attrs map[string]string) string {
	t.Helper()
	out, err := c.CreateQueue(t.Context(), &awssqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return *out.QueueUrl
}

func receive(t *testing.T, c *awssqs.Client, url string, n int32, wait int32) []types.Message {
	t.Helper()
	out, err := c.ReceiveMessage(t.Context(), &awssqs.ReceiveMessageInput{
		QueueUrl: aws.String(url), MaxNumberOfMessages: n, WaitTimeSeconds: wait,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
		MessageAttributeNames:       []string{"All"},
	})
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	return out.Messages
}

func TestSendReceiveDelete(t *testing.T) {
	c := serve(t, storetest.Open(t))
	ctx := t.Context()
	url := createQueue(t, c, "orders", nil)
	if want := "/" + testAccount + "/orders"; len(url) < len(want) || url[len(url)-len(want):] != want {
		t.Fatalf("queue url %s", url)
	}
	sent, err := c.SendMessage(ctx, &awssqs.SendMessageInput{
		QueueUrl: aws.String(url), MessageBody: aws.String("hello ✓"),
		MessageAttributes: map[string]types.MessageAttributeValue{
			"kind": {DataType: aws.String("String"), StringValue: aws.String("order")},
			"n":    {DataType: aws.String("Number"), StringValue: aws.String("42")},
			"raw":  {DataType: aws.String("Binary"), BinaryValue: []byte{0, 1, 2}},
		},
	})
	if err != nil {
		t.Fatal(err) // the SDK checks MD5OfMessageBody and MD5OfMessageAttributes
	}
	msgs := receive(t, c, url, 10, 1)
	if len(msgs) != 1 || *msgs[0].Body != "hello ✓" || *msgs[0].MessageId != *sent.MessageId {
		t.Fatalf("received %+v", msgs)
	}
	if got := msgs[0].MessageAttributes["raw"].BinaryValue; string(got) != "\x00\x01\x02" {
		t.Fatalf("binary attribute %q", got)
	}
	if msgs[0].Attributes["ApproximateReceiveCount"] != "1" || msgs[0].Attributes["SentTimestamp"] == "" {
		t.Fatalf("system attributes %v", msgs[0].Attributes)
	}
	// In flight: not received again.
	if again := receive(t, c, url, 10, 0); len(again) != 0 {
		t.Fatalf("in-flight message received again: %v", again)
	}
	if _, err := c.DeleteMessage(ctx, &awssqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: msgs[0].ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	attrs, err := c.GetQueueAttributes(ctx, &awssqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameAll}})
	if err != nil {
		t.Fatal(err)
	}
	if attrs.Attributes["ApproximateNumberOfMessages"] != "0" || attrs.Attributes["ApproximateNumberOfMessagesNotVisible"] != "0" ||
		attrs.Attributes["QueueArn"] != "arn:aws:sqs:us-east-1:"+testAccount+":orders" || attrs.Attributes["VisibilityTimeout"] != "30" {
		t.Fatalf("attributes %v", attrs.Attributes)
	}
}

func TestErrors(t *testing.T) {
	c := serve(t, storetest.Open(t))
	ctx := t.Context()
	_, err := c.GetQueueUrl(ctx, &awssqs.GetQueueUrlInput{QueueName: aws.String("nope")})
	var dne *types.QueueDoesNotExist
	if !errors.As(err, &dne) {
		t.Fatalf("GetQueueUrl of a missing queue: %v", err)
	}
	url := createQueue(t, c, "q1", map[string]string{"VisibilityTimeout": "10"})
	_, err = c.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String("q1"), Attributes: map[string]string{"VisibilityTimeout": "11"}})
	var exists *types.QueueNameExists
	if !errors.As(err, &exists) {
		t.Fatalf("create with other attributes: %v", err)
	}
	if again := createQueue(t, c, "q1", map[string]string{"VisibilityTimeout": "10"}); again != url {
		t.Fatalf("same create answered %s", again)
	}
	_, err = c.SetQueueAttributes(ctx, &awssqs.SetQueueAttributesInput{QueueUrl: aws.String(url), Attributes: map[string]string{"DelaySeconds": "901"}})
	var bad *types.InvalidAttributeValue
	if !errors.As(err, &bad) {
		t.Fatalf("DelaySeconds 901: %v", err)
	}
	_, err = c.SendMessageBatch(ctx, &awssqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: []types.SendMessageBatchRequestEntry{
		{Id: aws.String("a"), MessageBody: aws.String("1")}, {Id: aws.String("a"), MessageBody: aws.String("2")}}})
	var dup *types.BatchEntryIdsNotDistinct
	if !errors.As(err, &dup) {
		t.Fatalf("duplicate batch ids: %v", err)
	}
	_, err = c.DeleteMessage(ctx, &awssqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: aws.String("forged")})
	var rh *types.ReceiptHandleIsInvalid
	if !errors.As(err, &rh) {
		t.Fatalf("forged receipt handle: %v", err)
	}
	_, err = c.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("bad \x01")})
	var contents *types.InvalidMessageContents
	if !errors.As(err, &contents) {
		t.Fatalf("control character in body: %v", err)
	}
}

func TestVisibilityAndDeadLetterQueue(t *testing.T) {
	c := serve(t, storetest.Open(t))
	ctx := t.Context()
	dlq := createQueue(t, c, "dead", nil)
	src := createQueue(t, c, "work", map[string]string{
		"RedrivePolicy": `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:` + testAccount + `:dead","maxReceiveCount":"2"}`,
	})
	sent, err := c.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: aws.String(src), MessageBody: aws.String("poison")})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2; i++ {
		msgs := receive(t, c, src, 1, 5)
		if len(msgs) != 1 || msgs[0].Attributes["ApproximateReceiveCount"] != strconv.Itoa(i) {
			t.Fatalf("receive %d: %+v", i, msgs)
		}
		// Visible again at once, as a failed consumer would leave it.
		if _, err := c.ChangeMessageVisibility(ctx, &awssqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(src),
			ReceiptHandle: msgs[0].ReceiptHandle, VisibilityTimeout: 0}); err != nil {
			t.Fatal(err)
		}
	}
	// The third receive would exceed maxReceiveCount: it moves instead.
	if msgs := receive(t, c, src, 1, 1); len(msgs) != 0 {
		t.Fatalf("message past maxReceiveCount received: %+v", msgs)
	}
	msgs := receive(t, c, dlq, 1, 5)
	if len(msgs) != 1 || *msgs[0].MessageId != *sent.MessageId || *msgs[0].Body != "poison" ||
		msgs[0].Attributes["DeadLetterQueueSourceArn"] != "arn:aws:sqs:us-east-1:"+testAccount+":work" {
		t.Fatalf("dead-letter queue holds %+v", msgs)
	}
	src2, err := c.ListDeadLetterSourceQueues(ctx, &awssqs.ListDeadLetterSourceQueuesInput{QueueUrl: aws.String(dlq)})
	if err != nil || len(src2.QueueUrls) != 1 || src2.QueueUrls[0] != src {
		t.Fatalf("dead-letter sources %v, %v", src2, err)
	}
}

func TestFIFOOrderAndDeduplication(t *testing.T) {
	c := serve(t, storetest.Open(t))
	ctx := t.Context()
	url := createQueue(t, c, "jobs.fifo", map[string]string{"FifoQueue": "true"})
	_, err := c.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("x"), MessageGroupId: aws.String("g")})
	if err == nil {
		t.Fatal("FIFO send without a deduplication id or content-based deduplication accepted")
	}
	var first string
	for i := range 6 {
		out, err := c.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(strconv.Itoa(i)),
			MessageGroupId: aws.String("g" + strconv.Itoa(i%2)), MessageDeduplicationId: aws.String("d" + strconv.Itoa(i))})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = *out.MessageId
		}
	}
	// A duplicate answers the original's MessageId and is not queued.
	dup, err := c.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("again"),
		MessageGroupId: aws.String("g0"), MessageDeduplicationId: aws.String("d0")})
	if err != nil || *dup.MessageId != first {
		t.Fatalf("duplicate send answered %v, %v; want %s", dup, err, first)
	}
	msgs := receive(t, c, url, 10, 1)
	if len(msgs) != 6 {
		t.Fatalf("received %d messages, want 6", len(msgs))
	}
	for i, m := range msgs {
		if *m.Body != strconv.Itoa(i) {
			t.Fatalf("message %d is %q: order lost", i, *m.Body)
		}
	}
	// While a batch is in flight, its groups' later messages wait.
	if _, err := c.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("6"),
		MessageGroupId: aws.String("g0"), MessageDeduplicationId: aws.String("d6")}); err != nil {
		t.Fatal(err)
	}
	if more := receive(t, c, url, 10, 0); len(more) != 0 {
		t.Fatalf("received %q while its group has messages in flight", *more[0].Body)
	}
	entries := make([]types.DeleteMessageBatchRequestEntry, len(msgs))
	for i, m := range msgs {
		entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle}
	}
	del, err := c.DeleteMessageBatch(ctx, &awssqs.DeleteMessageBatchInput{QueueUrl: aws.String(url), Entries: entries})
	if err != nil || len(del.Successful) != 6 {
		t.Fatalf("delete batch %+v, %v", del, err)
	}
	if more := receive(t, c, url, 10, 2); len(more) != 1 || *more[0].Body != "6" {
		t.Fatalf("after deleting the batch: %+v", more)
	}
}

// TestMessagesSurviveRestart: an answered send is on disk; a new server
// over the same data directory delivers it.
func TestMessagesSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	st := storetest.OpenDir(t, dir)
	c := serve(t, st)
	url := createQueue(t, c, "durable", nil)
	for i := range 5 {
		if _, err := c.SendMessage(t.Context(), &awssqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(strconv.Itoa(i))}); err != nil {
			t.Fatal(err)
		}
	}
	// And batches, written by group commit, from concurrent senders.
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var entries []types.SendMessageBatchRequestEntry
			for i := range 10 {
				entries = append(entries, types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)),
					MessageBody: aws.String(strconv.Itoa(100 + g*10 + i))})
			}
			out, err := c.SendMessageBatch(context.Background(), &awssqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: entries})
			if err != nil || len(out.Successful) != 10 {
				t.Errorf("batch %d: %v %+v", g, err, out)
			}
		}()
	}
	wg.Wait()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	c = serve(t, storetest.OpenDir(t, dir))
	got := map[string]bool{}
	for len(got) < 45 {
		msgs := receive(t, c, url, 10, 2)
		if len(msgs) == 0 {
			t.Fatalf("after restart only %d of 45 messages", len(got))
		}
		for _, m := range msgs {
			got[*m.Body] = true
		}
	}
}

func TestLongPollWakesOnSend(t *testing.T) {
	c := serve(t, storetest.Open(t))
	url := createQueue(t, c, "poll", nil)
	done := make(chan []types.Message, 1)
	go func() {
		out, err := c.ReceiveMessage(context.Background(), &awssqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 20})
		if err != nil {
			done <- nil
			return
		}
		done <- out.Messages
	}()
	if _, err := c.SendMessage(t.Context(), &awssqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("ping")}); err != nil {
		t.Fatal(err)
	}
	if msgs := <-done; len(msgs) != 1 || *msgs[0].Body != "ping" {
		t.Fatalf("long poll got %+v", msgs)
	}
}

func TestListTagsPurgeDelete(t *testing.T) {
	c := serve(t, storetest.Open(t))
	ctx := t.Context()
	for i := range 5 {
		createQueue(t, c, "list-"+strconv.Itoa(i), nil)
	}
	createQueue(t, c, "other", nil)
	var urls []string
	p := awssqs.NewListQueuesPaginator(c, &awssqs.ListQueuesInput{QueueNamePrefix: aws.String("list-"), MaxResults: aws.Int32(2)})
	pages := 0
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		urls = append(urls, out.QueueUrls...)
	}
	if len(urls) != 5 || pages != 3 {
		t.Fatalf("listed %d queues in %d pages: %v", len(urls), pages, urls)
	}
	url := urls[0]
	if _, err := c.TagQueue(ctx, &awssqs.TagQueueInput{QueueUrl: aws.String(url), Tags: map[string]string{"a": "1", "b": "2"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UntagQueue(ctx, &awssqs.UntagQueueInput{QueueUrl: aws.String(url), TagKeys: []string{"a"}}); err != nil {
		t.Fatal(err)
	}
	tags, err := c.ListQueueTags(ctx, &awssqs.ListQueueTagsInput{QueueUrl: aws.String(url)})
	if err != nil || len(tags.Tags) != 1 || tags.Tags["b"] != "2" {
		t.Fatalf("tags %v %v", tags, err)
	}
	if _, err := c.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("x")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PurgeQueue(ctx, &awssqs.PurgeQueueInput{QueueUrl: aws.String(url)}); err != nil {
		t.Fatal(err)
	}
	var inProgress *types.PurgeQueueInProgress
	if _, err := c.PurgeQueue(ctx, &awssqs.PurgeQueueInput{QueueUrl: aws.String(url)}); !errors.As(err, &inProgress) {
		t.Fatalf("second purge within 60 s: %v", err)
	}
	if msgs := receive(t, c, url, 10, 0); len(msgs) != 0 {
		t.Fatalf("purged queue still holds %d", len(msgs))
	}
	if _, err := c.DeleteQueue(ctx, &awssqs.DeleteQueueInput{QueueUrl: aws.String(url)}); err != nil {
		t.Fatal(err)
	}
	var recently *types.QueueDeletedRecently
	if _, err := c.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String("list-0")}); !errors.As(err, &recently) {
		t.Fatalf("re-create within 60 s of delete: %v", err)
	}
}

package sqs

import (
	"slices"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

func bodies(msgs []types.Message) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, *m.Body)
	}
	return out
}

// TestFIFOGroupsFlowIndependently: while one group's message is in flight
// (received on one node), another node receives the other group's
// messages in order and none of the busy group's; the held-back
// deliveries count neither as receives nor toward maxReceiveCount.
func TestFIFOGroupsFlowIndependently(t *testing.T) {
	st := storetest.Open(t)
	node1, node2 := serve(t, st), serve(t, st) // two engines over one JetStream: two nodes
	ctx := t.Context()
	dlq := createQueue(t, node1, "dead.fifo", map[string]string{"FifoQueue": "true"})
	dlqArn, err := node1.GetQueueAttributes(ctx, &awssqs.GetQueueAttributesInput{QueueUrl: aws.String(dlq),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	url := createQueue(t, node1, "work.fifo", map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "true",
		"RedrivePolicy": `{"deadLetterTargetArn":"` + dlqArn.Attributes["QueueArn"] + `","maxReceiveCount":"1"}`})
	send := func(group, body string) {
		t.Helper()
		if _, err := node1.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body),
			MessageGroupId: aws.String(group)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range []struct{ g, b string }{{"A", "a1"}, {"A", "a2"}, {"B", "b1"}, {"A", "a3"}, {"B", "b2"}} {
		send(m.g, m.b)
	}
	first := receive(t, node1, url, 1, 1)
	if got := bodies(first); !slices.Equal(got, []string{"a1"}) {
		t.Fatalf("first receive %q, want [a1]", got)
	}
	// Group A is in flight on node 1: node 2 gets group B, in order.
	got := bodies(receive(t, node2, url, 10, 2))
	if !slices.Equal(got, []string{"b1", "b2"}) {
		t.Fatalf("receive on node 2 while group A is in flight: %q, want [b1 b2]", got)
	}
	// Both groups in flight: nothing, however long it waits.
	if more := receive(t, node2, url, 10, 1); len(more) != 0 {
		t.Fatalf("received %q with every group in flight", bodies(more))
	}
	if _, err := node1.DeleteMessage(ctx, &awssqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: first[0].ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	// a2 and a3 were held back several times; they are still on their
	// first receive (maxReceiveCount 1 did not move them to the DLQ).
	// (They may come back one receive at a time: each was held with its
	// own delay.)
	var rest []types.Message
	for len(rest) < 2 {
		msgs := receive(t, node2, url, 10, 5)
		if len(msgs) == 0 {
			t.Fatalf("nothing received after a1's delete; so far %q", bodies(rest))
		}
		rest = append(rest, msgs...)
		for _, m := range msgs {
			if _, err := node2.DeleteMessage(ctx, &awssqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := bodies(rest); !slices.Equal(got, []string{"a2", "a3"}) {
		t.Fatalf("after deleting a1: %q, want [a2 a3]", got)
	}
	for _, m := range rest {
		if n := m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)]; n != "1" {
			t.Fatalf("%s: ApproximateReceiveCount %s, want 1 (holds are not receives)", *m.Body, n)
		}
		if g := m.Attributes[string(types.MessageSystemAttributeNameMessageGroupId)]; g != "A" {
			t.Fatalf("%s: MessageGroupId %q", *m.Body, g)
		}
	}
	if dead := receive(t, node1, dlq, 10, 0); len(dead) != 0 {
		t.Fatalf("dead-letter queue holds %q", bodies(dead))
	}
}

// TestFIFOOrderAfterVisibilityTimeout: a group's message that comes back
// after its visibility timeout is received before the group's later
// messages, which were held back meanwhile.
func TestFIFOOrderAfterVisibilityTimeout(t *testing.T) {
	c := serve(t, storetest.Open(t))
	ctx := t.Context()
	url := createQueue(t, c, "order.fifo", map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "true"})
	for i := range 4 {
		if _, err := c.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(strconv.Itoa(i)),
			MessageGroupId: aws.String("g")}); err != nil {
			t.Fatal(err)
		}
	}
	out, err := c.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 2, VisibilityTimeout: 1})
	if err != nil || !slices.Equal(bodies(out.Messages), []string{"0", "1"}) {
		t.Fatalf("first receive %v, %v", bodies(out.Messages), err)
	}
	// 2 and 3 are held back until 0 and 1 come back, then all four
	// arrive in order (over one or more receives).
	var got []string
	for len(got) < 4 {
		msgs := receive(t, c, url, 10, 5)
		if len(msgs) == 0 {
			t.Fatalf("nothing received; so far %q", got)
		}
		got = append(got, bodies(msgs)...)
		for _, m := range msgs {
			if _, err := c.DeleteMessage(ctx, &awssqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !slices.Equal(got, []string{"0", "1", "2", "3"}) {
		t.Fatalf("received %q, want 0 1 2 3 in order", got)
	}
}

package clustertest

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/nimbus-serverless/nimbus/internal/sigv4/sigv4test"
)

// queuesAndTopics: a message sent on node0 is received once,
// on node1; concurrent sends on node0 (packed by its intake) are all
// received and deleted on node1; a FIFO group whose message is in flight on node1 holds its
// next message back on node2 while another group flows there; a topic
// published on node1 reaches a subscribed queue read on node2; a pipe
// created on node0 is RUNNING as node1 describes it and carries a message
// sent on node2 to its target queue, read on node1 (pipes run on the
// holder of the lease "pipes", whichever node that is).
func queuesAndTopics(t *testing.T, c *Cluster) {
	creds := c.Credentials(t)
	provider := aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil }))
	sqsOf := func(n *Node) *awssqs.Client {
		return awssqs.New(awssqs.Options{Region: "us-east-1", BaseEndpoint: aws.String(n.Endpoint), Credentials: provider})
	}
	ctx := t.Context()
	n0, n1, n2 := sqsOf(c.Nodes[0]), sqsOf(c.Nodes[1]), sqsOf(c.Nodes[2])
	var work, fifo, sink, pipeIn, pipeOut string
	Eventually(t, time.Minute, "node0 creates the queues", func() bool {
		w, err1 := n0.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String("work")})
		f, err2 := n0.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String("groups.fifo"),
			Attributes: map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "true"}})
		s, err3 := n0.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String("sink")})
		pi, err4 := n0.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String("pipe-in")})
		po, err5 := n0.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String("pipe-out")})
		if err1 != nil || err2 != nil || err3 != nil || err4 != nil || err5 != nil {
			return false
		}
		work, fifo, sink, pipeIn, pipeOut = *w.QueueUrl, *f.QueueUrl, *s.QueueUrl, *pi.QueueUrl, *po.QueueUrl
		return true
	})
	receive := func(cl *awssqs.Client, url string, max, wait int32) []string {
		t.Helper()
		out, err := cl.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: max, WaitTimeSeconds: wait})
		if err != nil {
			t.Fatalf("receive %s: %v", url, err)
		}
		var bodies []string
		for _, m := range out.Messages {
			bodies = append(bodies, *m.Body)
		}
		return bodies
	}

	if _, err := n0.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: aws.String(work), MessageBody: aws.String("hello")}); err != nil {
		t.Fatal(err)
	}
	if got := receive(n1, work, 10, 20); !slices.Equal(got, []string{"hello"}) {
		t.Fatalf("node1 received %q, want [hello]", got)
	}
	if got := receive(n2, work, 10, 1); len(got) != 0 {
		t.Fatalf("node2 received %q as well: a message went to two receivers", got)
	}

	// Concurrent single sends on node0 meet at its intake (packs, moved
	// to the queue after they are answered); node1 receives and deletes
	// every one of them, and nothing is left for node2.
	const burst = 24
	bq, err := n0.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String("burst")})
	if err != nil {
		t.Fatal(err)
	}
	burstURL := *bq.QueueUrl
	var wg sync.WaitGroup
	for i := range burst {
		wg.Go(func() {
			if _, err := n0.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: aws.String(burstURL), MessageBody: aws.String("p" + strconv.Itoa(i))}); err != nil {
				t.Errorf("send p%d on node0: %v", i, err)
			}
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for tries := 0; len(seen) < burst && tries < 60; tries++ { // long polls: a hang guard
		out, err := n1.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: aws.String(burstURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 5})
		if err != nil {
			t.Fatalf("receive on node1: %v", err)
		}
		var del []types.DeleteMessageBatchRequestEntry
		for i, m := range out.Messages {
			seen[*m.Body] = true
			del = append(del, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
		}
		if len(del) > 0 {
			if d, err := n1.DeleteMessageBatch(ctx, &awssqs.DeleteMessageBatchInput{QueueUrl: aws.String(burstURL), Entries: del}); err != nil || len(d.Failed) > 0 {
				t.Fatalf("delete on node1: %v %+v", err, d)
			}
		}
	}
	if len(seen) != burst {
		t.Fatalf("node1 received %d of the %d messages sent concurrently on node0", len(seen), burst)
	}
	if got := receive(n2, burstURL, 10, 1); len(got) != 0 {
		t.Fatalf("node2 received %q after node1 deleted every message", got)
	}

	for _, m := range []struct{ g, b string }{{"A", "a1"}, {"A", "a2"}, {"B", "b1"}} {
		if _, err := n0.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: aws.String(fifo), MessageBody: aws.String(m.b),
			MessageGroupId: aws.String(m.g)}); err != nil {
			t.Fatal(err)
		}
	}
	if got := receive(n1, fifo, 1, 20); !slices.Equal(got, []string{"a1"}) {
		t.Fatalf("node1's FIFO receive %q, want [a1]", got)
	}
	if got := receive(n2, fifo, 10, 3); !slices.Equal(got, []string{"b1"}) {
		t.Fatalf("node2's FIFO receive while a1 is in flight on node1: %q, want [b1]", got)
	}

	snsOf := func(n *Node) *awssns.Client {
		return awssns.New(awssns.Options{Region: "us-east-1", BaseEndpoint: aws.String(n.Endpoint), Credentials: provider})
	}
	p1 := snsOf(c.Nodes[1])
	topic, err := p1.CreateTopic(ctx, &awssns.CreateTopicInput{Name: aws.String("news")})
	if err != nil {
		t.Fatal(err)
	}
	arn, err := n0.GetQueueAttributes(ctx, &awssqs.GetQueueAttributesInput{QueueUrl: aws.String(sink),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	// The queue's policy lets the topic send to it (SNS delivers as
	// sns.amazonaws.com, which the queue must allow).
	policy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"sns.amazonaws.com"},` +
		`"Action":"sqs:SendMessage","Resource":"` + arn.Attributes["QueueArn"] + `",` +
		`"Condition":{"ArnEquals":{"aws:SourceArn":"` + aws.ToString(topic.TopicArn) + `"}}}]}`
	if _, err := n0.SetQueueAttributes(ctx, &awssqs.SetQueueAttributesInput{QueueUrl: aws.String(sink),
		Attributes: map[string]string{"Policy": policy}}); err != nil {
		t.Fatal(err)
	}
	if _, err := p1.Subscribe(ctx, &awssns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"),
		Endpoint: aws.String(arn.Attributes["QueueArn"]), Attributes: map[string]string{"RawMessageDelivery": "true"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := p1.Publish(ctx, &awssns.PublishInput{TopicArn: topic.TopicArn, Message: aws.String("extra")}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for range 3 { // long polls: a hang guard, not a timing assertion
		if got = receive(n2, sink, 10, 20); len(got) > 0 {
			break
		}
	}
	if !slices.Equal(got, []string{"extra"}) {
		t.Fatalf("node2 read %q from the subscribed queue, want [extra]", got)
	}

	// Pipes: created on node0, described on node1, fed on node2.
	pipes := func(n *Node, method, path string, body any) (int, map[string]any) {
		t.Helper()
		var b []byte
		if body != nil {
			b, _ = json.Marshal(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, n.Endpoint+path, bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := sigv4test.Client(provider, "us-east-1", "pipes").Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	queueArn := func(url string) string {
		t.Helper()
		a, err := n0.GetQueueAttributes(ctx, &awssqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
			AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn}})
		if err != nil {
			t.Fatal(err)
		}
		return a.Attributes["QueueArn"]
	}
	in := queueArn(pipeIn)
	account := strings.Split(in, ":")[4]
	// The pipe reads and sends as its role (--iam enforce), which Pipes
	// may assume and every node sees.
	ic := awsiam.New(awsiam.Options{Region: "us-east-1", BaseEndpoint: aws.String(c.Nodes[0].Endpoint), Credentials: provider})
	if _, err := ic.CreateRole(ctx, &awsiam.CreateRoleInput{RoleName: aws.String("pipe"), AssumeRolePolicyDocument: aws.String(
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pipes.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := ic.PutRolePolicy(ctx, &awsiam.PutRolePolicyInput{RoleName: aws.String("pipe"), PolicyName: aws.String("relay"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sqs:ReceiveMessage","sqs:DeleteMessage",` +
			`"sqs:GetQueueAttributes","sqs:SendMessage"],"Resource":"*"}]}`)}); err != nil {
		t.Fatal(err)
	}
	if code, out := pipes(c.Nodes[0], http.MethodPost, "/v1/pipes/relay", map[string]any{
		"Source": in, "Target": queueArn(pipeOut), "RoleArn": "arn:aws:iam::" + account + ":role/pipe", "TargetParameters": map[string]any{"InputTemplate": `{"relayed": <$.body>}`},
	}); code != 200 {
		t.Fatalf("CreatePipe on node0: %d %v", code, out)
	}
	Eventually(t, time.Minute, "node1 describes the pipe RUNNING", func() bool {
		code, out := pipes(c.Nodes[1], http.MethodGet, "/v1/pipes/relay", nil)
		return code == 200 && out["CurrentState"] == "RUNNING"
	})
	if _, err := n2.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: aws.String(pipeIn), MessageBody: aws.String(`"through the pipe"`)}); err != nil {
		t.Fatal(err)
	}
	got = nil
	for range 3 { // long polls: a hang guard, not a timing assertion
		if got = receive(n1, pipeOut, 10, 20); len(got) > 0 {
			break
		}
	}
	if len(got) != 1 || !strings.Contains(got[0], `"relayed": "through the pipe"`) {
		t.Fatalf("node1 read %q from the pipe's target, want the relayed message", got)
	}
}

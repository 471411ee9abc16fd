package daemon

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/nimbus-serverless/nimbus/internal/async"
)

// TestSNSFanOut: through the front door, a topic fans out to a real SQS
// queue (AWS's envelope) and a real function (the SNS event); the AWS CLI
// publishes and boto3 lists; an async invocation's OnSuccess destination
// that is the topic reaches the queue through the delivery router.
func TestSNSFanOut(t *testing.T) {
	t.Parallel()
	n := asyncNode(t)
	s := newSink(t, n)
	fnArn := destination(t, n, s)
	ctx := context.Background()
	q := awssqs.NewFromConfig(n.awsConfig())
	c := awssns.NewFromConfig(n.awsConfig())
	qout, err := q.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String("fan")})
	if err != nil {
		t.Fatal(err)
	}
	queueURL := aws.ToString(qout.QueueUrl)
	queueArn := "arn:aws:sqs:" + n.d.cfg.Region + ":" + n.d.cfg.AccountID + ":fan"
	tout, err := c.CreateTopic(ctx, &awssns.CreateTopicInput{Name: aws.String("news")})
	if err != nil {
		t.Fatal(err)
	}
	topic := aws.ToString(tout.TopicArn)
	permit(t, n, "dest", "sns.amazonaws.com", topic)
	allowService(t, n, queueURL, queueArn, "sns.amazonaws.com", topic)
	for proto, ep := range map[string]string{"sqs": queueArn, "lambda": fnArn} {
		if _, err := c.Subscribe(ctx, &awssns.SubscribeInput{TopicArn: aws.String(topic), Protocol: aws.String(proto), Endpoint: aws.String(ep)}); err != nil {
			t.Fatal(err)
		}
	}
	needTool(t, "aws", "--version")
	cmd := exec.Command("aws", "--endpoint-url", n.endpoint(), "sns", "publish", "--output", "json",
		"--topic-arn", topic, "--message", "hello", "--subject", "greeting",
		"--message-attributes", `{"kind":{"DataType":"String","StringValue":"test"}}`)
	cmd.Env = n.toolEnv()
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"MessageId"`) {
		t.Fatalf("aws sns publish: %v\n%s", err, out)
	}
	receive := func() map[string]any {
		t.Helper()
		for range 60 { // each a 1 s long poll: a hang guard, not a timing assertion
			r, err := q.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: aws.String(queueURL), WaitTimeSeconds: 1})
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Messages) > 0 {
				if _, err := q.DeleteMessage(ctx, &awssqs.DeleteMessageInput{QueueUrl: aws.String(queueURL), ReceiptHandle: r.Messages[0].ReceiptHandle}); err != nil {
					t.Fatal(err)
				}
				var env map[string]any
				if err := json.Unmarshal([]byte(aws.ToString(r.Messages[0].Body)), &env); err != nil {
					t.Fatalf("envelope %s: %v", aws.ToString(r.Messages[0].Body), err)
				}
				return env
			}
		}
		t.Fatal("nothing reached the queue")
		return nil
	}
	env := receive()
	if env["Type"] != "Notification" || env["Message"] != "hello" || env["Subject"] != "greeting" || env["TopicArn"] != topic {
		t.Fatalf("envelope %v", env)
	}
	var ev struct {
		Records []struct {
			EventSource string
			Sns         struct {
				Message, Subject, TopicArn string
				MessageAttributes          map[string]struct{ Type, Value string }
			}
		}
	}
	if err := json.Unmarshal(s.next(t), &ev); err != nil || len(ev.Records) != 1 {
		t.Fatalf("function event: %v %+v", err, ev)
	}
	if r := ev.Records[0]; r.EventSource != "aws:sns" || r.Sns.Message != "hello" || r.Sns.TopicArn != topic ||
		r.Sns.MessageAttributes["kind"].Value != "test" {
		t.Fatalf("function record %+v", r)
	}
	fams := scrapeMetrics(t, n)
	if v := sample(fams, "nimbus_sns_number_of_messages_published_total", nil); v != 1 {
		t.Errorf("NumberOfMessagesPublished = %v, want 1", v)
	}
	if v := sample(fams, "nimbus_sns_number_of_notifications_delivered_total", nil); v < 2 {
		t.Errorf("NumberOfNotificationsDelivered = %v, want 2 (queue and function)", v)
	}
	if err := exec.Command("python3", "-c", "import boto3").Run(); err == nil {
		py := exec.Command("python3", "-c", `import boto3, sys
c = boto3.client("sns", endpoint_url=sys.argv[1], region_name="us-east-1")
subs = c.list_subscriptions_by_topic(TopicArn=sys.argv[2])["Subscriptions"]
print(sorted(s["Protocol"] for s in subs))
try:
    c.get_topic_attributes(TopicArn=sys.argv[2] + "-missing")
except c.exceptions.NotFoundException as e:
    print("NotFound")
`, n.endpoint(), topic)
		py.Env = n.toolEnv()
		out, err := py.CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "['lambda', 'sqs']\nNotFound" {
			t.Fatalf("boto3: %v\n%s", err, out)
		}
	}
	// An async destination that is the topic.
	createGoFunction(t, n, "ok", sendsAs(t, n))
	if _, err := n.client.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{
		FunctionName:      aws.String("ok"),
		DestinationConfig: &types.DestinationConfig{OnSuccess: &types.OnSuccess{Destination: aws.String(topic)}},
	}); err != nil {
		t.Fatal(err)
	}
	id := invokeEvent(t, n, "ok", `{}`)
	env = receive()
	var rec async.Record
	if err := json.Unmarshal([]byte(env["Message"].(string)), &rec); err != nil || rec.RequestContext.RequestID != id ||
		rec.RequestContext.Condition != async.ConditionSuccess {
		t.Fatalf("record through the topic: %v %s", err, env["Message"])
	}
}

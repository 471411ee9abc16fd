package daemon

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	awssqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// TestEventBridgeRuleInvokesFunction: on a real node, a rule's pattern
// sends the matching event, as EventBridge shapes it, to a real function
// through the async path, and not the other one (aws-sdk-go-v2, signed).
func TestEventBridgeRuleInvokesFunction(t *testing.T) {
	n := asyncNode(t)
	s := newSink(t, n)
	dest := destination(t, n, s)
	eb := eventbridge.NewFromConfig(n.awsConfig())
	ctx := t.Context()
	rule, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("orders"),
		EventPattern: aws.String(`{"source":["shop"],"detail":{"status":["paid"]}}`)})
	if err != nil {
		t.Fatal(err)
	}
	permit(t, n, "dest", "events.amazonaws.com", aws.ToString(rule.RuleArn))
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("orders"),
		Targets: []ebtypes.Target{{Id: aws.String("dest"), Arn: aws.String(dest)}}}); err != nil {
		t.Fatal(err)
	}
	out, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
		{Source: aws.String("shop"), DetailType: aws.String("Order"), Detail: aws.String(`{"status":"open"}`)},
		{Source: aws.String("shop"), DetailType: aws.String("Order"), Detail: aws.String(`{"status":"paid","id":7}`)},
	}})
	if err != nil || out.FailedEntryCount != 0 {
		t.Fatalf("PutEvents: %+v %v", out, err)
	}
	var got struct {
		ID         string          `json:"id"`
		Source     string          `json:"source"`
		DetailType string          `json:"detail-type"`
		Account    string          `json:"account"`
		Region     string          `json:"region"`
		Detail     json.RawMessage `json:"detail"`
	}
	rec := s.next(t)
	if err := json.Unmarshal(rec, &got); err != nil {
		t.Fatalf("event %s: %v", rec, err)
	}
	if got.ID != *out.Entries[1].EventId || got.Source != "shop" || got.DetailType != "Order" ||
		got.Account != n.d.cfg.AccountID || got.Region != n.d.cfg.Region || string(got.Detail) != `{"status":"paid","id":7}` {
		t.Errorf("the function received %s", rec)
	}
	if st := n.d.events.Stats(); st.MatchedEvents != 1 || st.Invocations != 1 {
		t.Errorf("stats %+v: want one matched event and one invocation", st)
	}
	if n.d.metrics != nil {
		resp, err := http.Get(n.endpoint() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if !strings.Contains(string(b), "nimbus_events_matched_events_total 1") {
			t.Errorf("/metrics lacks the EventBridge counters:\n%s", b)
		}
	}
}

// TestEventBridgeWithBoto3: boto3 manages a bus and a rule, gets
// per-entry results from PutEvents and AWS's error for a bad schedule.
func TestEventBridgeWithBoto3(t *testing.T) {
	if err := exec.Command("python3", "-c", "import boto3").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the host's python3 must have boto3 in CI: %v", err)
		}
		t.Skip("the host's python3 has no boto3")
	}
	n := startNode(t, t.TempDir())
	creds := n.creds()
	script := `
import boto3, json, sys
eb = boto3.client("events", endpoint_url=sys.argv[1], region_name="us-east-1",
    aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3])
eb.create_event_bus(Name="app")
arn = eb.put_rule(Name="r", EventBusName="app", EventPattern=json.dumps({"detail-type": [{"prefix": "Order"}]}))["RuleArn"]
out = eb.put_events(Entries=[{"Source": "s", "DetailType": "Order Placed", "Detail": "{}", "EventBusName": "app"},
                             {"Source": "s", "DetailType": "x", "Detail": "not json", "EventBusName": "app"}])
res = eb.test_event_pattern(EventPattern='{"source":["s"]}', Event=json.dumps({"id": "1", "account": "1",
    "source": "s", "time": "2020-01-01T00:00:00Z", "region": "us-east-1", "detail-type": "x", "detail": {}}))
try:
    eb.put_rule(Name="bad", ScheduleExpression="rate(1 minutes)")
    bad = "accepted"
except eb.exceptions.ClientError as e:
    bad = e.response["Error"]["Code"]
print(json.dumps({"arn": arn, "failed": out["FailedEntryCount"], "code": out["Entries"][1].get("ErrorCode"),
    "match": res["Result"], "bad": bad, "rules": [r["Name"] for r in eb.list_rules(EventBusName="app")["Rules"]]}))
`
	cmd := exec.Command("python3", "-c", script, n.endpoint(), creds.AccessKeyID, creds.SecretAccessKey)
	cmd.Env = append(os.Environ(), "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("boto3: %v\n%s", err, b)
	}
	var got struct {
		Arn    string
		Failed int
		Code   string
		Match  bool
		Bad    string
		Rules  []string
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if got.Arn != "arn:aws:events:"+n.d.cfg.Region+":"+n.d.cfg.AccountID+":rule/app/r" || got.Failed != 1 ||
		got.Code != "MalformedDetail" || !got.Match || got.Bad != "ValidationException" || strings.Join(got.Rules, ",") != "r" {
		t.Errorf("boto3 saw %s", b)
	}
}

// TestEventBridgeToSQS: a rule delivers to an SQS queue, and a target that
// cannot be delivered (its function does not exist) sends the event to its
// SQS dead-letter queue with the rule named; events are put with the AWS
// CLI.
func TestEventBridgeToSQS(t *testing.T) {
	n := startNode(t, t.TempDir())
	ctx := t.Context()
	q := awssqs.NewFromConfig(n.awsConfig())
	eb := eventbridge.NewFromConfig(n.awsConfig())
	queueArn := func(name string) (string, string) {
		out, err := q.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		return *out.QueueUrl, "arn:aws:sqs:" + n.d.cfg.Region + ":" + n.d.cfg.AccountID + ":" + name
	}
	targetURL, target := queueArn("target")
	dlqURL, dlq := queueArn("dlq")
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("r"), EventPattern: aws.String(`{"source":["cli"]}`)}); err != nil {
		t.Fatal(err)
	}
	// The queue's policy lets the rule send (as the console or SAM adds it).
	allowService(t, n, targetURL, target, "events.amazonaws.com", "arn:aws:events:"+n.d.cfg.Region+":"+n.d.cfg.AccountID+":rule/r")
	allowService(t, n, dlqURL, dlq, "events.amazonaws.com", "arn:aws:events:"+n.d.cfg.Region+":"+n.d.cfg.AccountID+":rule/r")
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("r"), Targets: []ebtypes.Target{
		{Id: aws.String("queue"), Arn: aws.String(target), InputPath: aws.String("$.detail")},
		{Id: aws.String("gone"), Arn: aws.String("arn:aws:lambda:" + n.d.cfg.Region + ":" + n.d.cfg.AccountID + ":function:gone"),
			DeadLetterConfig: &ebtypes.DeadLetterConfig{Arn: aws.String(dlq)}},
	}}); err != nil {
		t.Fatal(err)
	}
	needTool(t, "aws", "--version")
	cmd := exec.Command("aws", "--endpoint-url", n.endpoint(), "events", "put-events", "--output", "json",
		"--entries", `[{"Source":"cli","DetailType":"t","Detail":"{\"n\":1}"}]`)
	cmd.Env = n.toolEnv()
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"FailedEntryCount": 0`) {
		t.Fatalf("aws events put-events: %v\n%s", err, out)
	}
	receive := func(url string) awssqstypes.Message {
		t.Helper()
		for range 30 { // each a 1 s long poll: a hang guard, not a timing assertion
			r, err := q.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 1,
				MessageAttributeNames: []string{"All"}})
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Messages) > 0 {
				return r.Messages[0]
			}
		}
		t.Fatalf("nothing reached %s", url)
		return awssqstypes.Message{}
	}
	if m := receive(targetURL); aws.ToString(m.Body) != `{"n":1}` {
		t.Errorf("the queue target received %s, want the event's detail", aws.ToString(m.Body))
	}
	m := receive(dlqURL)
	var env struct{ Source string }
	if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &env); err != nil || env.Source != "cli" {
		t.Errorf("dead letter %s", aws.ToString(m.Body))
	}
	if a := m.MessageAttributes["RULE_ARN"]; aws.ToString(a.StringValue) != "arn:aws:events:"+n.d.cfg.Region+":"+n.d.cfg.AccountID+":rule/r" {
		t.Errorf("dead letter attributes %v", m.MessageAttributes)
	}
}

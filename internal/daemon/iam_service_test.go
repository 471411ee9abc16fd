package daemon

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	awssqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/nimbus-serverless/nimbus/internal/deliver"
)

// trustOf is a trust policy letting service principal svc assume a role.
func trustOf(svc string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"` + svc + `"},"Action":"sts:AssumeRole"}]}`
}

// createServiceRole creates a role that service principal svc may assume,
// with an inline policy (none if "").
func createServiceRole(t testing.TB, n *node, name, svc, inline string) string {
	t.Helper()
	ctx := context.Background()
	ic := awsiam.NewFromConfig(n.awsConfig())
	role, err := ic.CreateRole(ctx, &awsiam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trustOf(svc))})
	if err != nil {
		t.Fatalf("CreateRole %s: %v", name, err)
	}
	if inline != "" {
		if _, err := ic.PutRolePolicy(ctx, &awsiam.PutRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String(name),
			PolicyDocument: aws.String(inline)}); err != nil {
			t.Fatalf("PutRolePolicy %s: %v", name, err)
		}
	}
	return aws.ToString(role.Role.Arn)
}

// createUserWithKey creates an IAM user with an inline policy and returns
// an SDK configuration signed with a new access key of it.
func createUserWithKey(t testing.TB, n *node, name, inline string) aws.Config {
	t.Helper()
	ctx := context.Background()
	ic := awsiam.NewFromConfig(n.awsConfig())
	if _, err := ic.CreateUser(ctx, &awsiam.CreateUserInput{UserName: aws.String(name)}); err != nil {
		t.Fatalf("CreateUser %s: %v", name, err)
	}
	if _, err := ic.PutUserPolicy(ctx, &awsiam.PutUserPolicyInput{UserName: aws.String(name), PolicyName: aws.String(name),
		PolicyDocument: aws.String(inline)}); err != nil {
		t.Fatalf("PutUserPolicy %s: %v", name, err)
	}
	k, err := ic.CreateAccessKey(ctx, &awsiam.CreateAccessKeyInput{UserName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	cfg := n.awsConfig()
	cfg.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(k.AccessKey.AccessKeyId), aws.ToString(k.AccessKey.SecretAccessKey), "")
	cfg.RetryMaxAttempts = 1
	return cfg
}

// TestStepFunctionsTasksActAsTheirRole is the escalation Step Functions
// opened: a Task used to call its service as the node's root, so whoever
// could create a state machine could invoke any function and write to any
// queue. Now each Task is signed as the machine's role: a role allowed to
// invoke "mine" cannot invoke "victim" nor send to a queue, a role that
// does not trust states.amazonaws.com can do nothing, and creating a
// machine with a role needs iam:PassRole on it.
func TestStepFunctionsTasksActAsTheirRole(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	ctx := t.Context()
	createGoFunction(t, n, "mine", nil)
	createGoFunction(t, n, "victim", nil)
	acct := n.d.cfg.AccountID
	fnArn := func(name string) string { return "arn:aws:lambda:us-east-1:" + acct + ":function:" + name }
	q := awssqs.NewFromConfig(n.awsConfig())
	qu, err := q.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String("orders")})
	if err != nil {
		t.Fatal(err)
	}
	role := createServiceRole(t, n, "machine-role", "states.amazonaws.com", allow([]string{"lambda:InvokeFunction"}, fnArn("mine")))
	untrusted := createRole(t, n, "lambda-only-role", allow([]string{"lambda:InvokeFunction", "sqs:SendMessage"}, "*"))
	c := awssfn.NewFromConfig(n.awsConfig())
	run := func(name, roleArn, state string) *awssfn.DescribeExecutionOutput {
		t.Helper()
		def := `{"StartAt": "T", "States": {"T": ` + state + `}}`
		m, err := c.CreateStateMachine(ctx, &awssfn.CreateStateMachineInput{Name: aws.String(name), Definition: aws.String(def),
			RoleArn: aws.String(roleArn)})
		if err != nil {
			t.Fatalf("CreateStateMachine %s: %v", name, err)
		}
		st, err := c.StartExecution(ctx, &awssfn.StartExecutionInput{StateMachineArn: m.StateMachineArn, Name: aws.String("run-1"),
			Input: aws.String(`{}`)})
		if err != nil {
			t.Fatal(err)
		}
		return waitExecution(ctx, t, c, *st.ExecutionArn)
	}
	invoke := func(fn string) string {
		return `{"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "` + fn + `"}, "End": true}`
	}
	principal := "arn:aws:sts::" + acct + ":assumed-role/machine-role/run-1"

	if d := run("allowed", role, invoke("mine")); d.Status != sfntypes.ExecutionStatusSucceeded {
		t.Errorf("invoking the function the role allows: %s %s %s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
	}
	d := run("attack-invoke", role, invoke("victim"))
	if d.Status != sfntypes.ExecutionStatusFailed || aws.ToString(d.Error) != "Lambda.AccessDeniedException" ||
		!strings.Contains(aws.ToString(d.Cause), "User: "+principal+" is not authorized to perform: lambda:InvokeFunction on resource: "+fnArn("victim")) {
		t.Errorf("invoking another function: %s %s %s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
	}
	d = run("attack-send", role, `{"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
	  "Parameters": {"QueueUrl": "`+*qu.QueueUrl+`", "MessageBody": "forged"}, "End": true}`)
	if d.Status != sfntypes.ExecutionStatusFailed || !strings.Contains(aws.ToString(d.Cause), "is not authorized to perform: sqs:SendMessage") {
		t.Errorf("sending to a queue the role does not allow: %s %s %s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
	}
	d = run("untrusted", untrusted, invoke("mine"))
	if d.Status != sfntypes.ExecutionStatusFailed || !strings.Contains(aws.ToString(d.Cause), "states.amazonaws.com") {
		t.Errorf("a role Step Functions may not assume: %s %s %s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
	}
	if a, err := q.GetQueueAttributes(ctx, &awssqs.GetQueueAttributesInput{QueueUrl: qu.QueueUrl,
		AttributeNames: []awssqstypes.QueueAttributeName{"ApproximateNumberOfMessages"}}); err != nil || a.Attributes["ApproximateNumberOfMessages"] != "0" {
		t.Errorf("the queue got the forged message: %v %v", a, err)
	}

	// A user allowed to create state machines but not to pass the role.
	user := createUserWithKey(t, n, "builder", allow([]string{"states:CreateStateMachine"}, "*"))
	uc := awssfn.NewFromConfig(user)
	_, err = uc.CreateStateMachine(ctx, &awssfn.CreateStateMachineInput{Name: aws.String("escalate"),
		Definition: aws.String(`{"StartAt": "T", "States": {"T": ` + invoke("victim") + `}}`), RoleArn: aws.String(role)})
	wantDenied(t, "CreateStateMachine without iam:PassRole", err, "AccessDeniedException", 403,
		"User: arn:aws:iam::"+acct+":user/builder is not authorized to perform: iam:PassRole on resource: "+role+
			" because no identity-based policy allows the iam:PassRole action")
}

// TestPollersReadAsTheFunctionsRole is the exfiltration an event source
// mapping opened: Lambda's poller read any queue for any function, so a
// caller allowed to create mappings could drain another team's queue into
// its own function. Now the poller reads as the function's execution
// role: a mapping on a queue the role may not read is refused with AWS's
// message, and a mapping whose role loses the permission reads nothing
// (LastProcessingResult says why) until it has it again.
func TestPollersReadAsTheFunctionsRole(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	ctx := t.Context()
	acct := n.d.cfg.AccountID
	queueArn := func(name string) string { return "arn:aws:sqs:us-east-1:" + acct + ":" + name }
	q := awssqs.NewFromConfig(n.awsConfig())
	for _, name := range []string{"payroll", "own"} {
		if _, err := q.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
	}
	role := createRole(t, n, "reader", allow([]string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}, queueArn("own")))
	createGoFunction(t, n, "mine", func(in *lambda.CreateFunctionInput) { in.Role = aws.String(role) })
	lc := n.client

	_, err := lc.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("mine"),
		EventSourceArn: aws.String(queueArn("payroll"))})
	wantDenied(t, "a mapping on a queue the role may not read", err, "InvalidParameterValueException", 400,
		"The provided execution role does not have permissions to call ReceiveMessage on SQS")

	// Allowed when created; the permission is then taken away before
	// the mapping is enabled.
	m, err := lc.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("mine"),
		EventSourceArn: aws.String(queueArn("own")), Enabled: aws.Bool(false)})
	if err != nil {
		t.Fatalf("a mapping on the queue the role may read: %v", err)
	}
	ic := awsiam.NewFromConfig(n.awsConfig())
	if _, err := ic.DeleteRolePolicy(ctx, &awsiam.DeleteRolePolicyInput{RoleName: aws.String("reader"), PolicyName: aws.String("reader")}); err != nil {
		t.Fatal(err)
	}
	if _, err := lc.UpdateEventSourceMapping(ctx, &lambda.UpdateEventSourceMappingInput{UUID: m.UUID, Enabled: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	var result string
	for time.Now().Before(deadline) {
		g, err := lc.GetEventSourceMapping(ctx, &lambda.GetEventSourceMappingInput{UUID: m.UUID})
		if err != nil {
			t.Fatal(err)
		}
		if result = aws.ToString(g.LastProcessingResult); strings.HasPrefix(result, "PROBLEM:") {
			break
		}
		time.Sleep(50 * time.Millisecond) // polling the mapping, as a client does
	}
	if result != "PROBLEM: The provided execution role does not have permissions to call ReceiveMessage on SQS" {
		t.Fatalf("LastProcessingResult %q", result)
	}
	own, err := q.GetQueueUrl(ctx, &awssqs.GetQueueUrlInput{QueueName: aws.String("own")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: own.QueueUrl, MessageBody: aws.String("salary")}); err != nil {
		t.Fatal(err)
	}
	// The poller never received it: the first receive is ours.
	r, err := q.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: own.QueueUrl, WaitTimeSeconds: 5,
		MessageSystemAttributeNames: []awssqstypes.MessageSystemAttributeName{"ApproximateReceiveCount"}})
	if err != nil || len(r.Messages) != 1 || r.Messages[0].Attributes["ApproximateReceiveCount"] != "1" {
		t.Fatalf("the message was read by a poller without the permission: %+v %v", r, err)
	}
}

// allowService sets queueURL's policy to let service principal svc send
// to it for sourceArn, as a user (or SAM) does before SNS, S3 or
// EventBridge may deliver to a queue.
func allowService(t testing.TB, n *node, queueURL, queueArn, svc, sourceArn string) {
	t.Helper()
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"` + svc + `"},"Action":"sqs:SendMessage",` +
		`"Resource":"` + queueArn + `","Condition":{"ArnEquals":{"aws:SourceArn":"` + sourceArn + `"}}}]}`
	if _, err := awssqs.NewFromConfig(n.awsConfig()).SetQueueAttributes(context.Background(), &awssqs.SetQueueAttributesInput{
		QueueUrl: aws.String(queueURL), Attributes: map[string]string{"Policy": doc}}); err != nil {
		t.Fatalf("SetQueueAttributes Policy: %v", err)
	}
}

// TestQueuesAndTopicsTakeServiceDeliveriesByPolicy is the injection SNS,
// S3 and EventBridge opened: any topic subscribed to a queue, any bucket
// or rule pointed at it, wrote into it. Now a queue (or topic) takes a
// service's delivery only when its own policy names that service and
// source, as SQS and SNS do: another topic, another service and a queue
// with no policy are refused; end to end, a topic an attacker subscribes
// to a victim's queue delivers nothing there (the message goes to the
// subscription's dead-letter queue with the denial).
func TestQueuesAndTopicsTakeServiceDeliveriesByPolicy(t *testing.T) {
	t.Parallel()
	n := asyncNode(t)
	ctx := t.Context()
	acct := n.d.cfg.AccountID
	q := awssqs.NewFromConfig(n.awsConfig())
	queue := func(name string) (url, arn string) {
		out, err := q.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.QueueUrl), "arn:aws:sqs:us-east-1:" + acct + ":" + name
	}
	topicArn := func(name string) string { return "arn:aws:sns:us-east-1:" + acct + ":" + name }
	payrollURL, payroll := queue("payroll")
	_, bare := queue("bare")
	allowService(t, n, payrollURL, payroll, "sns.amazonaws.com", topicArn("news"))
	sc := awssns.NewFromConfig(n.awsConfig())
	for _, name := range []string{"news", "alerts"} {
		if _, err := sc.CreateTopic(ctx, &awssns.CreateTopicInput{Name: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := sc.SetTopicAttributes(ctx, &awssns.SetTopicAttributesInput{TopicArn: aws.String(topicArn("alerts")),
		AttributeName: aws.String("Policy"), AttributeValue: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow",` +
			`"Principal":{"Service":"events.amazonaws.com"},"Action":"sns:Publish","Resource":"` + topicArn("alerts") + `",` +
			`"Condition":{"ArnEquals":{"aws:SourceArn":"arn:aws:events:us-east-1:` + acct + `:rule/orders"}}}]}`)}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, target string
		src          deliver.Source
		ok           bool
	}{
		{"SNS for the topic the queue policy names", payroll, deliver.Source{Service: "sns.amazonaws.com", Arn: topicArn("news"), Account: acct}, true},
		{"SNS for another topic", payroll, deliver.Source{Service: "sns.amazonaws.com", Arn: topicArn("attacker"), Account: acct}, false},
		{"S3 for a bucket", payroll, deliver.Source{Service: "s3.amazonaws.com", Arn: "arn:aws:s3:::uploads", Account: acct}, false},
		{"EventBridge for a rule", payroll, deliver.Source{Service: "events.amazonaws.com", Arn: "arn:aws:events:us-east-1:" + acct + ":rule/r",
			Account: acct}, false},
		{"SNS to a queue with no policy", bare, deliver.Source{Service: "sns.amazonaws.com", Arn: topicArn("news"), Account: acct}, false},
		{"EventBridge for the rule the topic policy names", topicArn("alerts"), deliver.Source{Service: "events.amazonaws.com",
			Arn: "arn:aws:events:us-east-1:" + acct + ":rule/orders", Account: acct}, true},
		{"EventBridge for another rule to the topic", topicArn("alerts"), deliver.Source{Service: "events.amazonaws.com",
			Arn: "arn:aws:events:us-east-1:" + acct + ":rule/other", Account: acct}, false},
		{"S3 to a topic whose policy names EventBridge", topicArn("alerts"), deliver.Source{Service: "s3.amazonaws.com",
			Arn: "arn:aws:s3:::uploads", Account: acct}, false},
	} {
		src := c.src
		err := n.d.deliveryGuard(ctx, &deliver.Delivery{TargetArn: c.target, Body: []byte("{}"), Source: &src})
		switch {
		case c.ok && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case !c.ok && err == nil:
			t.Errorf("%s: allowed", c.name)
		case !c.ok && (!errors.Is(err, deliver.ErrUndeliverable) ||
			!strings.Contains(err.Error(), "User: "+src.Service+" is not authorized to perform: ")):
			t.Errorf("%s: %v, want an undeliverable AccessDenied", c.name, err)
		}
	}

	// End to end: the attacker's topic, subscribed to the payroll queue.
	dlqURL, dlq := queue("attacker-dlq")
	allowService(t, n, dlqURL, dlq, "sns.amazonaws.com", topicArn("attacker"))
	at, err := sc.CreateTopic(ctx, &awssns.CreateTopicInput{Name: aws.String("attacker")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Subscribe(ctx, &awssns.SubscribeInput{TopicArn: at.TopicArn, Protocol: aws.String("sqs"), Endpoint: aws.String(payroll),
		Attributes: map[string]string{"RedrivePolicy": `{"deadLetterTargetArn":"` + dlq + `"}`, "RawMessageDelivery": "true"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Publish(ctx, &awssns.PublishInput{TopicArn: at.TopicArn, Message: aws.String("pay me")}); err != nil {
		t.Fatal(err)
	}
	var got []awssqstypes.Message
	for range 60 { // each a 1 s long poll: a hang guard, not a timing assertion
		r, err := q.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: aws.String(dlqURL), WaitTimeSeconds: 1,
			MessageAttributeNames: []string{"All"}})
		if err != nil {
			t.Fatal(err)
		}
		if got = r.Messages; len(got) > 0 {
			break
		}
	}
	if len(got) != 1 || aws.ToString(got[0].Body) != "pay me" ||
		!strings.Contains(aws.ToString(got[0].MessageAttributes["ErrorMessage"].StringValue),
			"User: sns.amazonaws.com is not authorized to perform: sqs:SendMessage on resource: "+payroll) {
		t.Fatalf("dead-lettered %+v", got)
	}
	r, err := q.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: aws.String(payrollURL)})
	if err != nil || len(r.Messages) != 0 {
		t.Fatalf("the attacker's message reached the payroll queue: %+v %v", r.Messages, err)
	}
}

// senders are the "sender" role of each node (sendsAs).
var senders sync.Map // *node -> role ARN

// sendsAs gives a function the node's "sender" role, which may invoke
// functions, send to queues and publish to topics and buses: Lambda sends
// a function's async records and dead-lettered events as its role.
func sendsAs(t testing.TB, n *node) func(*lambda.CreateFunctionInput) {
	t.Helper()
	arn, ok := senders.Load(n)
	if !ok {
		arn, _ = senders.LoadOrStore(n, createRole(t, n, "sender",
			allow([]string{"lambda:InvokeFunction", "sqs:SendMessage", "sns:Publish", "events:PutEvents"}, "*")))
	}
	return func(in *lambda.CreateFunctionInput) { in.Role = aws.String(arn.(string)) }
}

// TestAsyncDestinationsSendAsTheFunctionsRole is the injection an async
// destination opened: Lambda sent a function's invocation records to any
// queue, topic or function its DestinationConfig named. Now it sends as
// the function's execution role: a destination the role may not reach
// gets nothing (the record counts as a failed delivery), one it may gets
// the record.
func TestAsyncDestinationsSendAsTheFunctionsRole(t *testing.T) {
	t.Parallel()
	n := asyncNode(t)
	ctx := t.Context()
	acct := n.d.cfg.AccountID
	q := awssqs.NewFromConfig(n.awsConfig())
	queue := func(name string) (url, arn string) {
		out, err := q.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.QueueUrl), "arn:aws:sqs:us-east-1:" + acct + ":" + name
	}
	payrollURL, payroll := queue("payroll")
	ownURL, own := queue("own")
	role := createRole(t, n, "mine-role", allow([]string{"sqs:SendMessage"}, own))
	createGoFunction(t, n, "mine", func(in *lambda.CreateFunctionInput) { in.Role = aws.String(role) })
	setDest := func(arn string) {
		t.Helper()
		if _, err := n.client.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{FunctionName: aws.String("mine"),
			DestinationConfig: &lambdatypes.DestinationConfig{OnSuccess: &lambdatypes.OnSuccess{Destination: aws.String(arn)}}}); err != nil {
			t.Fatal(err)
		}
	}
	setDest(payroll)
	invokeEvent(t, n, "mine", `{}`)
	failed := 0.0
	for range 600 { // a hang guard, not a timing assertion
		if failed = sample(scrapeMetrics(t, n), "nimbus_lambda_destination_delivery_failures_total", nil); failed > 0 {
			break
		}
		time.Sleep(100 * time.Millisecond) // waiting for the dispatcher
	}
	if failed != 1 {
		t.Fatalf("destination failures = %v, want 1", failed)
	}
	if r, err := q.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: aws.String(payrollURL)}); err != nil || len(r.Messages) != 0 {
		t.Fatalf("the record reached a queue the role may not send to: %+v %v", r, err)
	}
	// The role's own queue gets its records.
	setDest(own)
	id := invokeEvent(t, n, "mine", `{}`)
	for range 60 { // each a 1 s long poll: a hang guard, not a timing assertion
		r, err := q.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: aws.String(ownURL), WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Messages) > 0 {
			if !strings.Contains(aws.ToString(r.Messages[0].Body), id) {
				t.Fatalf("record %s, want request %s", aws.ToString(r.Messages[0].Body), id)
			}
			return
		}
	}
	t.Fatal("the record never reached the role's own queue")
}

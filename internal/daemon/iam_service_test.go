package daemon

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	awssqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
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

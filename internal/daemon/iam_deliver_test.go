package daemon

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/nimbus-serverless/nimbus/internal/config"
	"github.com/nimbus-serverless/nimbus/internal/deliver"
	"github.com/nimbus-serverless/nimbus/internal/sigv4/sigv4test"
)

// TestServicePrincipalsNeedThePermission: S3, SNS and EventBridge invoke a
// function only for the bucket, topic or rule its resource policy names
// (AddPermission with SourceArn), and Scheduler only as a role whose
// policies allow lambda:InvokeFunction. An attacker's bucket, topic or
// rule, another service, and a role without the policy (or no role) are
// refused as undeliverable with AWS's message.
func TestServicePrincipalsNeedThePermission(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	ctx := context.Background()
	createGoFunction(t, n, "target", nil)
	acct := n.d.cfg.AccountID
	fn := "arn:aws:lambda:us-east-1:" + acct + ":function:target"
	topic := func(name string) string { return "arn:aws:sns:us-east-1:" + acct + ":" + name }
	rule := func(name string) string { return "arn:aws:events:us-east-1:" + acct + ":rule/" + name }
	permit(t, n, "target", "s3.amazonaws.com", "arn:aws:s3:::uploads")
	permit(t, n, "target", "sns.amazonaws.com", topic("news"))
	permit(t, n, "target", "events.amazonaws.com", rule("orders"))
	strong := createServiceRole(t, n, "sched-strong", "scheduler.amazonaws.com", allow([]string{"lambda:InvokeFunction"}, fn))
	weak := createServiceRole(t, n, "sched-weak", "scheduler.amazonaws.com", allow([]string{"lambda:GetFunction"}, fn))
	// Allowed to invoke, but Scheduler may not assume it (its trust
	// policy names Lambda): a schedule cannot borrow a function's role.
	lambdaOnly := createRole(t, n, "lambda-only", allow([]string{"lambda:InvokeFunction"}, fn))
	// Tag conditions hold for services acting as roles too: a role
	// allowed to invoke, except what is tagged env=prod.
	if _, err := n.client.TagResource(ctx, &lambda.TagResourceInput{Resource: aws.String(fn), Tags: map[string]string{"env": "prod"}}); err != nil {
		t.Fatal(err)
	}
	notProd := createServiceRole(t, n, "sched-not-prod", "scheduler.amazonaws.com", `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"*"},
	  {"Effect":"Deny","Action":"lambda:InvokeFunction","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/env":"prod"}}}]}`)

	for _, c := range []struct {
		name string
		src  deliver.Source
		ok   bool
	}{
		{"S3 for the permitted bucket", deliver.Source{Service: "s3.amazonaws.com", Arn: "arn:aws:s3:::uploads", Account: acct}, true},
		{"S3 for another bucket", deliver.Source{Service: "s3.amazonaws.com", Arn: "arn:aws:s3:::attacker", Account: acct}, false},
		{"S3 for no bucket", deliver.Source{Service: "s3.amazonaws.com", Account: acct}, false},
		{"SNS for the permitted topic", deliver.Source{Service: "sns.amazonaws.com", Arn: topic("news"), Account: acct}, true},
		{"SNS for another topic", deliver.Source{Service: "sns.amazonaws.com", Arn: topic("attacker"), Account: acct}, false},
		{"SNS claiming the bucket's permission", deliver.Source{Service: "sns.amazonaws.com", Arn: "arn:aws:s3:::uploads", Account: acct}, false},
		{"EventBridge for the permitted rule", deliver.Source{Service: "events.amazonaws.com", Arn: rule("orders"), Account: acct}, true},
		{"EventBridge for another rule", deliver.Source{Service: "events.amazonaws.com", Arn: rule("orders-2"), Account: acct}, false},
		{"a service with no statement", deliver.Source{Service: "sqs.amazonaws.com", Arn: "arn:aws:sqs:us-east-1:" + acct + ":q", Account: acct}, false},
		{"Scheduler as a role allowed to invoke", deliver.Source{Service: "scheduler.amazonaws.com", RoleArn: strong}, true},
		{"Scheduler as a role without the permission", deliver.Source{Service: "scheduler.amazonaws.com", RoleArn: weak}, false},
		{"Scheduler as a role that does not exist", deliver.Source{Service: "scheduler.amazonaws.com",
			RoleArn: "arn:aws:iam::" + acct + ":role/made-up"}, false},
		{"Scheduler as a role that does not trust it", deliver.Source{Service: "scheduler.amazonaws.com", RoleArn: lambdaOnly}, false},
		{"Scheduler as a role denied prod-tagged targets", deliver.Source{Service: "scheduler.amazonaws.com", RoleArn: notProd}, false},
		{"EventBridge as a role that does not trust it", deliver.Source{Service: "events.amazonaws.com", RoleArn: lambdaOnly}, false},
		{"Pipes as a role that does not trust it", deliver.Source{Service: "pipes.amazonaws.com", RoleArn: lambdaOnly}, false},
		{"Lambda as the function's role", deliver.Source{Service: "lambda.amazonaws.com", RoleArn: lambdaOnly}, true},
	} {
		src := c.src
		err := n.d.deliveryGuard(ctx, &deliver.Delivery{TargetArn: fn, Body: []byte("{}"), Source: &src})
		switch {
		case c.ok && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case !c.ok && err == nil:
			t.Errorf("%s: allowed", c.name)
		case !c.ok && (!errors.Is(err, deliver.ErrUndeliverable) ||
			(!strings.Contains(err.Error(), "is not authorized to perform: lambda:InvokeFunction on resource: "+fn) &&
				!strings.Contains(err.Error(), "is not authorized to perform: sts:AssumeRole on resource: "+c.src.RoleArn))):
			t.Errorf("%s: %v, want an undeliverable AccessDenied", c.name, err)
		}
	}
	// A stream mapping's OnFailure record goes as the function's role:
	// "target" (testRole, no policies) may not send to a queue, a
	// function whose role may does.
	var sent []string
	r := deliver.NewRouter()
	r.Guard(n.d.deliveryGuard)
	r.Handle("sqs", deliverFunc(func(_ context.Context, d *deliver.Delivery) error { sent = append(sent, d.TargetArn); return nil }))
	queue := "arn:aws:sqs:us-east-1:" + acct + ":failures"
	createGoFunction(t, n, "sender", func(in *lambda.CreateFunctionInput) {
		in.Role = aws.String(createRole(t, n, "sender", allow([]string{"sqs:SendMessage"}, queue)))
	})
	onFailure := n.d.onFailureTo(r)
	if err := onFailure(ctx, fn, queue, []byte("{}")); !errors.Is(err, deliver.ErrUndeliverable) {
		t.Errorf("OnFailure record of a function whose role may not send: %v", err)
	}
	if err := onFailure(ctx, "arn:aws:lambda:us-east-1:"+acct+":function:sender", queue, []byte("{}")); err != nil || len(sent) != 1 {
		t.Errorf("OnFailure record of a function whose role may send: %v, sent %v", err, sent)
	}
	// A function that does not exist is the target's to answer.
	if err := n.d.deliveryGuard(ctx, &deliver.Delivery{TargetArn: fn + "-gone",
		Source: &deliver.Source{Service: "events.amazonaws.com", Arn: rule("orders")}}); err != nil {
		t.Errorf("guard on a missing function: %v", err)
	}
}

// TestEventBridgeRuleWithoutPermission: end to end, a rule that targets a
// function whose resource policy does not name it never invokes it; the
// event goes to the target's dead-letter queue with the denial.
func TestEventBridgeRuleWithoutPermission(t *testing.T) {
	t.Parallel()
	n := asyncNode(t)
	ctx := t.Context()
	createGoFunction(t, n, "victim", nil)
	q := awssqs.NewFromConfig(n.awsConfig())
	dlq, err := q.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String("denied")})
	if err != nil {
		t.Fatal(err)
	}
	eb := eventbridge.NewFromConfig(n.awsConfig())
	allowService(t, n, aws.ToString(dlq.QueueUrl), "arn:aws:sqs:us-east-1:"+n.d.cfg.AccountID+":denied", "events.amazonaws.com",
		"arn:aws:events:us-east-1:"+n.d.cfg.AccountID+":rule/attacker")
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("attacker"), EventPattern: aws.String(`{"source":["x"]}`)}); err != nil {
		t.Fatal(err)
	}
	acct := n.d.cfg.AccountID
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("attacker"), Targets: []ebtypes.Target{{
		Id: aws.String("victim"), Arn: aws.String("arn:aws:lambda:us-east-1:" + acct + ":function:victim"),
		DeadLetterConfig: &ebtypes.DeadLetterConfig{Arn: aws.String("arn:aws:sqs:us-east-1:" + acct + ":denied")}}}}); err != nil {
		t.Fatal(err)
	}
	if out, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{
		{Source: aws.String("x"), DetailType: aws.String("t"), Detail: aws.String(`{}`)}}}); err != nil || out.FailedEntryCount != 0 {
		t.Fatalf("PutEvents: %v", err)
	}
	for range 60 { // each a 1 s long poll: a hang guard, not a timing assertion
		r, err := q.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: dlq.QueueUrl, WaitTimeSeconds: 1,
			MessageAttributeNames: []string{"All"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Messages) == 0 {
			continue
		}
		msg := aws.ToString(r.Messages[0].MessageAttributes["ERROR_MESSAGE"].StringValue)
		if !strings.Contains(msg, "User: events.amazonaws.com is not authorized to perform: lambda:InvokeFunction") {
			t.Errorf("dead letter's ERROR_MESSAGE %q", msg)
		}
		if st := n.d.events.Stats(); st.Invocations != 0 {
			t.Errorf("events stats %+v: the function was invoked", st)
		}
		return
	}
	t.Fatal("the denied event never reached the dead-letter queue")
}

// TestSchedulerCallsEvaluated: Scheduler's REST API is evaluated like the
// others: a function's role without scheduler permissions cannot create
// or delete schedules; with scheduler:CreateSchedule it still cannot
// hand the schedule a role it may not pass (iam:PassRole with
// iam:PassedToService scheduler.amazonaws.com).
func TestSchedulerCallsEvaluated(t *testing.T) {
	t.Parallel()
	n, roleArn := iamNode(t, config.IAMEnforce, "")
	ctx := context.Background()
	acct := n.d.cfg.AccountID
	target := createRole(t, n, "sched-target", allow([]string{"lambda:InvokeFunction"}, "*"))
	body := `{"ScheduleExpression":"rate(5 minutes)","FlexibleTimeWindow":{"Mode":"OFF"},` +
		`"Target":{"Arn":"arn:aws:lambda:us-east-1:` + acct + `:function:victim","RoleArn":"` + target + `"}}`
	call := func(creds aws.Credentials, method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, method, n.endpoint()+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if err := sigv4test.Sign(req, creds, "us-east-1", "scheduler", time.Now()); err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType") + " " + string(b)
	}
	if st, b := call(n.creds(), http.MethodPost, "/schedules/existing", body); st != http.StatusOK {
		t.Fatalf("root CreateSchedule: %d %s", st, b)
	}
	fcreds, err := functionConfig(t, n, roleArn, "mine").Credentials.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	principal := "arn:aws:sts::" + acct + ":assumed-role/app-role/mine"
	for _, c := range []struct{ method, path, body, action, resource string }{
		{http.MethodPost, "/schedules/evil", body, "scheduler:CreateSchedule", "arn:aws:scheduler:us-east-1:" + acct + ":schedule/default/evil"},
		{http.MethodDelete, "/schedules/existing", "", "scheduler:DeleteSchedule", "arn:aws:scheduler:us-east-1:" + acct + ":schedule/default/existing"},
		{http.MethodGet, "/schedules", "", "scheduler:ListSchedules", "*"},
	} {
		st, b := call(fcreds, c.method, c.path, c.body)
		want := "User: " + principal + " is not authorized to perform: " + c.action + " on resource: " + c.resource
		if st != http.StatusForbidden || !strings.Contains(b, "AccessDeniedException") || !strings.Contains(b, want) {
			t.Errorf("%s %s with the function's credentials: %d %s", c.method, c.path, st, b)
		}
	}
	// Allowed to create schedules, but not to pass the target's role.
	if _, err := awsiam.NewFromConfig(n.awsConfig()).PutRolePolicy(ctx, &awsiam.PutRolePolicyInput{RoleName: aws.String("app-role"),
		PolicyName: aws.String("sched"), PolicyDocument: aws.String(allow([]string{"scheduler:CreateSchedule"}, "*"))}); err != nil {
		t.Fatal(err)
	}
	if st, b := call(fcreds, http.MethodPost, "/schedules/evil", body); st != http.StatusForbidden ||
		!strings.Contains(b, "is not authorized to perform: iam:PassRole on resource: "+target) {
		t.Errorf("CreateSchedule handing over a role not passable: %d %s", st, b)
	}
	if _, err := awsiam.NewFromConfig(n.awsConfig()).PutRolePolicy(ctx, &awsiam.PutRolePolicyInput{RoleName: aws.String("app-role"),
		PolicyName: aws.String("pass"), PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow",` +
			`"Action":"iam:PassRole","Resource":"` + target + `","Condition":{"StringEquals":{"iam:PassedToService":"scheduler.amazonaws.com"}}}]}`)}); err != nil {
		t.Fatal(err)
	}
	if st, b := call(fcreds, http.MethodPost, "/schedules/evil", body); st != http.StatusOK {
		t.Errorf("CreateSchedule with both permissions: %d %s", st, b)
	}

	// EventBridge: a target's RoleArn needs iam:PassRole to
	// events.amazonaws.com (the scheduler's grant does not do).
	if _, err := eventbridge.NewFromConfig(n.awsConfig()).PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("r1"),
		EventPattern: aws.String(`{"source":["app"]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := awsiam.NewFromConfig(n.awsConfig()).PutRolePolicy(ctx, &awsiam.PutRolePolicyInput{RoleName: aws.String("app-role"),
		PolicyName: aws.String("events"), PolicyDocument: aws.String(allow([]string{"events:PutTargets"}, "*"))}); err != nil {
		t.Fatal(err)
	}
	ec := eventbridge.NewFromConfig(functionConfig(t, n, roleArn, "mine"))
	put := func() error {
		_, err := ec.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("r1"), Targets: []ebtypes.Target{
			{Id: aws.String("plain"), Arn: aws.String("arn:aws:lambda:us-east-1:" + acct + ":function:victim")},
			{Id: aws.String("as-role"), Arn: aws.String("arn:aws:sqs:us-east-1:" + acct + ":q"), RoleArn: aws.String(target)}}})
		return err
	}
	if err := put(); err == nil || !strings.Contains(err.Error(), "is not authorized to perform: iam:PassRole on resource: "+target) {
		t.Errorf("PutTargets handing over a role passable to Scheduler only: %v", err)
	}
	if _, err := awsiam.NewFromConfig(n.awsConfig()).PutRolePolicy(ctx, &awsiam.PutRolePolicyInput{RoleName: aws.String("app-role"),
		PolicyName: aws.String("pass-events"), PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow",` +
			`"Action":"iam:PassRole","Resource":"` + target + `","Condition":{"StringEquals":{"iam:PassedToService":"events.amazonaws.com"}}}]}`)}); err != nil {
		t.Fatal(err)
	}
	if err := put(); err != nil {
		t.Errorf("PutTargets with both permissions: %v", err)
	}
}

// TestMissingRolesNamed: the functions a start under enforce warns about
// are those whose role does not exist (a made-up role from before enforce
// was the default), not those with a real one.
func TestMissingRolesNamed(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	role := createRole(t, n, "real", "")
	gone := createRole(t, n, "gone", "")
	createGoFunction(t, n, "old", func(in *lambda.CreateFunctionInput) { in.Role = aws.String(gone) })
	createGoFunction(t, n, "new", func(in *lambda.CreateFunctionInput) { in.Role = aws.String(role) })
	// A role deleted after its function was made (or one from a data
	// directory from before enforce, which CreateFunction now refuses).
	if _, err := awsiam.NewFromConfig(n.awsConfig()).DeleteRole(t.Context(), &awsiam.DeleteRoleInput{RoleName: aws.String("gone")}); err != nil {
		t.Fatal(err)
	}
	if got := n.d.missingRoles(t.Context()); strings.Join(got, ",") != "old" {
		t.Errorf("missing roles named %v, want [old]", got)
	}

	// CreateFunction and UpdateFunctionConfiguration refuse a role that
	// does not exist (the one just deleted, a made-up one) or that does
	// not trust lambda.amazonaws.com, with AWS's answer, even for root.
	states := createServiceRole(t, n, "states-only", "states.amazonaws.com", "")
	const msg = "The role defined for the function cannot be assumed by Lambda."
	code := zipFiles(t, map[string]zipEntry{"bootstrap": {data: []byte("#!/bin/sh\nexit 1\n"), mode: 0o755}})
	for _, r := range []string{gone, "arn:aws:iam::" + n.d.cfg.AccountID + ":role/made-up", states} {
		_, err := n.client.CreateFunction(t.Context(), &lambda.CreateFunctionInput{FunctionName: aws.String("refused"),
			Runtime: types.RuntimeProvidedal2023, Handler: aws.String("bootstrap"), Role: aws.String(r), Code: &types.FunctionCode{ZipFile: code}})
		wantDenied(t, "CreateFunction with "+r, err, "InvalidParameterValueException", 400, msg)
		_, err = n.client.UpdateFunctionConfiguration(t.Context(), &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("new"),
			Role: aws.String(r)})
		wantDenied(t, "UpdateFunctionConfiguration to "+r, err, "InvalidParameterValueException", 400, msg)
	}
}

// deliverFunc adapts a function to deliver.Deliverer.
type deliverFunc func(ctx context.Context, d *deliver.Delivery) error

func (f deliverFunc) Deliver(ctx context.Context, d *deliver.Delivery) error { return f(ctx, d) }

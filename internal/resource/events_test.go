package resource_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
)

// TestEventsRuleProvider: a rule with a pattern given as an object and a
// target with an input transformer, retry policy and dead-letter queue;
// an update that changes the pattern, drops one target and adds another
// (in place), a rename (replacement), a schedule, and refusals that
// store nothing.
func TestEventsRuleProvider(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	eb := eventbridge.NewFromConfig(e.awsConfig())
	fnArn := "arn:aws:lambda:us-east-1:000000000000:function:handler"
	bus := e.create(t, "Bus", "AWS::Events::EventBus", map[string]any{"Name": "app"})
	if bus.PhysicalID != "app" || bus.Attrs["Arn"] != "arn:aws:events:us-east-1:000000000000:event-bus/app" {
		t.Fatalf("bus = %+v", bus.Result)
	}
	props := map[string]any{
		"EventBusName": "app",
		"EventPattern": map[string]any{"source": []any{"shop"}},
		"Targets": []any{
			map[string]any{"Id": "a", "Arn": fnArn,
				"InputTransformer": map[string]any{"InputPathsMap": map[string]any{"s": "$.source"}, "InputTemplate": `{"s": <s>}`},
				"RetryPolicy":      map[string]any{"MaximumRetryAttempts": "3", "MaximumEventAgeInSeconds": 120.0}},
			map[string]any{"Id": "b", "Arn": fnArn, "Input": `{"k": 1}`},
		},
	}
	rule := e.create(t, "Rule", "AWS::Events::Rule", props)
	name := rule.PhysicalID[len("app|"):]
	if rule.PhysicalID[:4] != "app|" || rule.Attrs["Arn"] != "arn:aws:events:us-east-1:000000000000:rule/app/"+name {
		t.Fatalf("rule = %+v", rule.Result)
	}
	ts, err := eb.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: &name, EventBusName: aws.String("app")})
	if err != nil || len(ts.Targets) != 2 || aws.ToInt32(ts.Targets[0].RetryPolicy.MaximumRetryAttempts) != 3 ||
		aws.ToString(ts.Targets[0].InputTransformer.InputTemplate) != `{"s": <s>}` {
		t.Fatalf("targets = %+v, %v", ts, err)
	}

	props2 := map[string]any{
		"EventBusName": "app",
		"EventPattern": `{"source": ["store"]}`,
		"State":        "DISABLED",
		"Targets":      []any{map[string]any{"Id": "c", "Arn": fnArn}},
	}
	rule = e.update(t, rule, props2)
	d, err := eb.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: &name, EventBusName: aws.String("app")})
	if err != nil || aws.ToString(d.EventPattern) != `{"source": ["store"]}` || d.State != "DISABLED" {
		t.Fatalf("after update: %+v %v", d, err)
	}
	ts, err = eb.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: &name, EventBusName: aws.String("app")})
	if err != nil || len(ts.Targets) != 1 || aws.ToString(ts.Targets[0].Id) != "c" {
		t.Fatalf("targets after update = %+v, %v", ts, err)
	}
	props3 := map[string]any{"Name": "renamed", "EventBusName": "app", "EventPattern": `{"source": ["store"]}`,
		"Targets": []any{map[string]any{"Id": "c", "Arn": fnArn}}}
	rule = e.replace(t, rule, props3)
	if rule.PhysicalID != "app|renamed" {
		t.Fatalf("replaced rule = %q", rule.PhysicalID)
	}
	if _, err := eb.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: &name, EventBusName: aws.String("app")}); err == nil {
		t.Error("the replaced rule is still there")
	}
	e.delete(t, rule)

	sched := e.create(t, "Tick", "AWS::Events::Rule", map[string]any{"ScheduleExpression": "cron(0 12 * * ? *)",
		"Targets": []any{map[string]any{"Id": "t", "Arn": fnArn}}})
	if sched.Attrs["Arn"] != "arn:aws:events:us-east-1:000000000000:rule/"+sched.PhysicalID {
		t.Errorf("a default-bus rule's Ref is its name: %+v", sched.Result)
	}
	e.delete(t, sched)

	_, err = e.ps["AWS::Events::Rule"].Create(ctx, request("Bad", "AWS::Events::Rule", map[string]any{"ScheduleExpression": "rate(1 minutes)"}))
	wantErr(t, err, "ScheduleExpression is not valid", "HandlerErrorCode: InvalidRequest")
	_, err = e.ps["AWS::Events::Rule"].Create(ctx, request("Bad", "AWS::Events::Rule", map[string]any{"EventPattern": map[string]any{"source": []any{"x"}},
		"Targets": []any{map[string]any{"Id": "t", "Arn": "arn:aws:kinesis:us-east-1:000000000000:stream/s"}}}))
	wantErr(t, err, "Kinesis")
	if l, err := eb.ListRules(ctx, &eventbridge.ListRulesInput{}); err != nil || len(l.Rules) != 0 {
		t.Errorf("a refused rule was left behind: %+v %v", l, err)
	}
	_, err = e.ps["AWS::Events::Rule"].Create(ctx, request("Bad", "AWS::Events::Rule", map[string]any{"Description": "x"}))
	wantErr(t, err, "EventPattern or ScheduleExpression")
	arch := e.create(t, "Archive", "AWS::Events::Archive", map[string]any{"SourceArn": bus.Attrs["Arn"],
		"EventPattern": map[string]any{"source": []any{"shop"}}, "RetentionDays": 3.0})
	if arch.Attrs["Arn"] != "arn:aws:events:us-east-1:000000000000:archive/"+arch.PhysicalID {
		t.Errorf("archive = %+v", arch.Result)
	}
	arch = e.update(t, arch, map[string]any{"SourceArn": bus.Attrs["Arn"], "RetentionDays": 5.0})
	if d, err := eb.DescribeArchive(ctx, &eventbridge.DescribeArchiveInput{ArchiveName: aws.String(arch.PhysicalID)}); err != nil ||
		aws.ToInt32(d.RetentionDays) != 5 || aws.ToString(d.EventPattern) != "" {
		t.Errorf("archive after update = %+v, %v", d, err)
	}
	e.delete(t, arch)
	e.delete(t, bus)
	if _, err := eb.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{Name: aws.String("app")}); err == nil {
		t.Error("the bus is still there")
	}
}

// TestSchedulerProviders: a schedule group and a schedule in it (dates as
// CloudFormation writes them), an in-place update, a rename (replaced),
// a refused schedule (nothing stored), and deletes that tolerate what is
// already gone.
func TestSchedulerProviders(t *testing.T) {
	e := newEnv(t)
	fnArn := "arn:aws:lambda:us-east-1:000000000000:function:handler"
	group := e.create(t, "Group", "AWS::Scheduler::ScheduleGroup", map[string]any{"Name": "team",
		"Tags": []any{map[string]any{"Key": "env", "Value": "dev"}}})
	if group.PhysicalID != "team" || group.Attrs["Arn"] != "arn:aws:scheduler:us-east-1:000000000000:schedule-group/team" ||
		group.Attrs["State"] != "ACTIVE" {
		t.Fatalf("group = %+v", group.Result)
	}
	group = e.update(t, group, map[string]any{"Name": "team", "Tags": []any{map[string]any{"Key": "team", "Value": "a"}}})
	props := map[string]any{
		"GroupName": "team", "ScheduleExpression": "rate(5 minutes)", "StartDate": "2030-01-01T00:00:00Z",
		"FlexibleTimeWindow": map[string]any{"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 5.0},
		"Target":             map[string]any{"Arn": fnArn, "RoleArn": "arn:aws:iam::000000000000:role/s", "Input": `{"k": 1}`},
	}
	sched := e.create(t, "Tick", "AWS::Scheduler::Schedule", props)
	if !strings.HasPrefix(sched.Attrs["Arn"].(string), "arn:aws:scheduler:us-east-1:000000000000:schedule/team/") {
		t.Fatalf("schedule = %+v", sched.Result)
	}
	props["State"] = "DISABLED"
	sched = e.update(t, sched, props)
	renamed := map[string]any{}
	for k, v := range props {
		renamed[k] = v
	}
	renamed["Name"] = "tock"
	sched = e.replace(t, sched, renamed)
	if sched.PhysicalID != "tock" {
		t.Errorf("replaced schedule = %q", sched.PhysicalID)
	}
	_, err := e.ps["AWS::Scheduler::Schedule"].Create(t.Context(), request("Bad", "AWS::Scheduler::Schedule", map[string]any{
		"ScheduleExpression": "cron(0 0 30 2 ? *)", "FlexibleTimeWindow": map[string]any{"Mode": "OFF"},
		"Target": map[string]any{"Arn": fnArn, "RoleArn": "arn:aws:iam::000000000000:role/s"}}))
	wantErr(t, err, "Invalid Schedule Expression", "HandlerErrorCode: InvalidRequest")
	e.delete(t, sched)
	e.delete(t, group)
}

// TestEventBusPolicyProvider: a statement given as an object and one in
// PutPermission's older form both land in the bus's policy; deleting one
// removes only its statement.
func TestEventBusPolicyProvider(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	eb := eventbridge.NewFromConfig(e.awsConfig())
	e.create(t, "Bus", "AWS::Events::EventBus", map[string]any{"Name": "shared"})
	a := e.create(t, "AllowAcct", "AWS::Events::EventBusPolicy", map[string]any{"EventBusName": "shared", "StatementId": "acct",
		"Statement": map[string]any{"Effect": "Allow", "Principal": map[string]any{"AWS": "arn:aws:iam::111122223333:root"},
			"Action": "events:PutEvents", "Resource": "arn:aws:events:us-east-1:000000000000:event-bus/shared"}})
	e.create(t, "AllowOrg", "AWS::Events::EventBusPolicy", map[string]any{"EventBusName": "shared", "StatementId": "org",
		"Action": "events:PutEvents", "Principal": "*",
		"Condition": map[string]any{"Type": "StringEquals", "Key": "aws:PrincipalOrgID", "Value": "o-abc"}})
	d, err := eb.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{Name: aws.String("shared")})
	if err != nil || d.Policy == nil || !strings.Contains(*d.Policy, `"Sid":"acct"`) || !strings.Contains(*d.Policy, `"Sid":"org"`) {
		t.Fatalf("policy %v %v", d, err)
	}
	e.create(t, "Bus2", "AWS::Events::EventBus", map[string]any{"Name": "withpolicy", "Policy": map[string]any{
		"Version": "2012-10-17", "Statement": []any{map[string]any{"Sid": "p", "Effect": "Allow", "Principal": "*", "Action": "events:PutEvents",
			"Resource": "arn:aws:events:us-east-1:000000000000:event-bus/withpolicy"}}}})
	if d, err := eb.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{Name: aws.String("withpolicy")}); err != nil || d.Policy == nil || !strings.Contains(*d.Policy, `"Sid":"p"`) {
		t.Fatalf("bus Policy %v %v", d, err)
	}
	e.delete(t, a)
	d, err = eb.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{Name: aws.String("shared")})
	if err != nil || d.Policy == nil || strings.Contains(*d.Policy, `"Sid":"acct"`) || !strings.Contains(*d.Policy, `"Sid":"org"`) {
		t.Fatalf("policy after delete %v %v", aws.ToString(d.Policy), err)
	}
}

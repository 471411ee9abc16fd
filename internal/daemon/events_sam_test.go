package daemon

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/nimbus-serverless/nimbus/internal/config"
	"github.com/nimbus-serverless/nimbus/internal/fakeclock"
)

// eventsSAMTemplate is a SAM application with a custom bus and one
// function that a schedule and an event pattern on that bus invoke.
func eventsSAMTemplate(sha string) string {
	return `AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Orders:
    Type: AWS::Events::EventBus
    Properties:
      Name: orders
  Recorder:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: s3://nimbus-artifacts/` + sha + `
      Handler: bootstrap
      Runtime: provided.al2023
      Timeout: 30
      Policies:
        - Statement:
            - Effect: Allow
              Action: lambda:UpdateFunctionConfiguration
              Resource: !Sub "arn:aws:lambda:${AWS::Region}:${AWS::AccountId}:function:sink"
      Environment:
        Variables:
          NIMBUS_TEST_SINK: sink
      Events:
        Tick:
          Type: Schedule
          Properties:
            Schedule: rate(5 minutes)
            Input: '{"from": "schedule"}'
        Once:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: at(2026-06-01T14:07:00)
            ScheduleExpressionTimezone: Europe/Paris
            Input: '{"from": "scheduler"}'
        Paid:
          Type: EventBridgeRule
          Properties:
            EventBusName: !Ref Orders
            Pattern:
              source: [shop]
              detail:
                status: [paid]
            InputTransformer:
              InputPathsMap:
                id: $.detail.id
              InputTemplate: '{"from": "pattern", "order": <id>}'
Outputs:
  PaidRef:
    Value: !Ref RecorderPaid
  PaidArn:
    Value: !GetAtt RecorderPaid.Arn
  TickRef:
    Value: !Ref RecorderTick
`
}

// TestSAMEventsDeployAndInvoke deploys a SAM application whose function
// has a Schedule, a ScheduleV2 and an EventBridgeRule event through
// CloudFormation: the
// rules, their targets and the Lambda permissions are made, the pattern
// rule on the custom bus invokes the function with the transformed input,
// the schedule invokes it when the node's clock reaches its due time, and
// deleting the stack removes the rules.
func TestSAMEventsDeployAndInvoke(t *testing.T) {
	clock := fakeclock.New(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	n := startNodeHooked(t, t.TempDir(), func(c *config.Config) { c.AsyncDelayScale = 0.01 }, hooks{clock: clock})
	s := newSink(t, n)
	ctx := t.Context()
	c := n.cfn()
	sha := uploadArtifact(t, n, goZip(t, "./internal/daemon/testdata/recorder"))
	cs, err := c.CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName: aws.String("events"), TemplateBody: aws.String(eventsSAMTemplate(sha)),
		Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityIam, cfntypes.CapabilityCapabilityAutoExpand},
	})
	if err != nil {
		t.Fatal(err)
	}
	st := waitStack(t, c, "events")
	if st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("stack = %s (%s)", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	out := outputs(st)
	name, ok := strings.CutPrefix(out["PaidRef"], "orders|")
	if !ok || name == "" || out["PaidArn"] != "arn:aws:events:"+n.d.cfg.Region+":"+n.d.cfg.AccountID+":rule/orders/"+name {
		t.Fatalf("outputs %v: Ref of a rule on a custom bus is bus|name and its Arn names both", out)
	}
	eb := eventbridge.NewFromConfig(n.awsConfig())
	rule, err := eb.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String(out["TickRef"])})
	if err != nil || aws.ToString(rule.ScheduleExpression) != "rate(5 minutes)" || rule.State != ebtypes.RuleStateEnabled {
		t.Fatalf("scheduled rule: %+v %v", rule, err)
	}

	pe, err := eb.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{
		EventBusName: aws.String("orders"), Source: aws.String("shop"), DetailType: aws.String("Order"),
		Detail: aws.String(`{"status": "paid", "id": 42}`)}}})
	if err != nil || pe.FailedEntryCount != 0 {
		t.Fatalf("PutEvents: %+v %v", pe, err)
	}
	if rec := s.next(t); !jsonEqual(rec, `{"from": "pattern", "order": 42}`) {
		t.Errorf("the pattern rule delivered %s", rec)
	}

	clock.WaitFor(t, 1, clock.Now().Add(5*time.Minute))
	clock.Advance(5 * time.Minute)
	if rec := s.next(t); !jsonEqual(rec, `{"from": "schedule"}`) {
		t.Errorf("the schedule delivered %s", rec)
	}
	// The ScheduleV2 event's one-time schedule: 14:07 in Paris is 12:07 UTC.
	clock.Advance(2 * time.Minute)
	if rec := s.next(t); !jsonEqual(rec, `{"from": "scheduler"}`) {
		t.Errorf("the EventBridge Scheduler schedule delivered %s", rec)
	}

	if _, err := c.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String("events")}); err != nil {
		t.Fatal(err)
	}
	if st := waitStack(t, c, aws.ToString(cs.StackId)); st.StackStatus != cfntypes.StackStatusDeleteComplete {
		t.Fatalf("delete: %s (%s)", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	if _, err := eb.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String(out["TickRef"])}); err == nil {
		t.Error("the scheduled rule outlived its stack")
	}
	if _, err := eb.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{Name: aws.String("orders")}); err == nil {
		t.Error("the bus outlived its stack")
	}
}

func jsonEqual(a []byte, b string) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return string(xb) == string(yb)
}

package daemon

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwt "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/nimbus-serverless/nimbus/internal/config"
)

const pyResponder = `import json
def handler(event, context):
    print("ALARM-EVENT " + json.dumps(event))
    return {}
`

// waitAlarm polls DescribeAlarms until the alarm is in state (a hang
// guard of a few hundred polls, not a timing assertion).
func waitAlarm(t *testing.T, cw *cloudwatch.Client, name string, state cwt.StateValue) cwt.MetricAlarm {
	t.Helper()
	var last cwt.MetricAlarm
	for range 600 {
		out, err := cw.DescribeAlarms(context.Background(), &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{name}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.MetricAlarms) == 1 {
			last = out.MetricAlarms[0]
			if last.StateValue == state {
				return last
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("alarm %s never reached %s; last %s: %s", name, state, last.StateValue, aws.ToString(last.StateReason))
	return last
}

// waitLog polls the function's log group for a line containing every
// part.
func waitLog(t *testing.T, n *node, group string, parts ...string) string {
	t.Helper()
	logs := logsClient(n)
	for range 600 {
		out, err := logs.FilterLogEvents(context.Background(), &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(group)})
		if err == nil {
			for _, e := range out.Events {
				msg := aws.ToString(e.Message)
				ok := true
				for _, p := range parts {
					ok = ok && strings.Contains(msg, p)
				}
				if ok {
					return msg
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no line with %q in %s", parts, group)
	return ""
}

// TestAlarmOnFunctionErrors: an alarm on a function's Errors goes to
// ALARM after a burst of failures, invokes its Lambda action with AWS's
// alarm event, returns to OK when the failures stop (invoking its OK
// action), and records its history — with periods scaled by 0.1.
func TestAlarmOnFunctionErrors(t *testing.T) {
	n := startNode(t, t.TempDir(), func(c *config.Config) { c.AlarmPeriodScale = 0.1 })
	createPyMetrics(t, n, "flaky")
	create(t, n, &lambda.CreateFunctionInput{
		FunctionName: aws.String("responder"), Runtime: lambdatypes.RuntimePython312, Handler: aws.String("app.handler"),
		Role: aws.String(testRole), Code: &lambdatypes.FunctionCode{ZipFile: zipFiles(t, map[string]zipEntry{"app.py": {data: []byte(pyResponder)}})},
	})
	responder := "arn:aws:lambda:" + n.d.cfg.Region + ":" + n.d.cfg.AccountID + ":function:responder"
	cw := cloudwatchClient(n)
	ctx := context.Background()
	// An alarm action is CloudWatch invoking the function: its resource
	// policy must allow lambda.alarms.cloudwatch.amazonaws.com for the
	// alarm, as in AWS. "bystander" has no such permission, and a topic
	// whose own policy does not name CloudWatch refuses it; a topic with
	// the default policy takes the account's own alarms.
	alarmArn := "arn:aws:cloudwatch:" + n.d.cfg.Region + ":" + n.d.cfg.AccountID + ":alarm:flaky-errors"
	if _, err := n.client.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("responder"), StatementId: aws.String("alarms"),
		Action: aws.String("lambda:InvokeFunction"), Principal: aws.String("lambda.alarms.cloudwatch.amazonaws.com"),
		SourceArn: aws.String(alarmArn)}); err != nil {
		t.Fatal(err)
	}
	create(t, n, &lambda.CreateFunctionInput{
		FunctionName: aws.String("bystander"), Runtime: lambdatypes.RuntimePython312, Handler: aws.String("app.handler"),
		Role: aws.String(testRole), Code: &lambdatypes.FunctionCode{ZipFile: zipFiles(t, map[string]zipEntry{"app.py": {data: []byte(pyResponder)}})},
	})
	bystander := "arn:aws:lambda:" + n.d.cfg.Region + ":" + n.d.cfg.AccountID + ":function:bystander"
	sc := sns.NewFromConfig(n.awsConfig())
	open, err := sc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("ops")})
	if err != nil {
		t.Fatal(err)
	}
	closed, err := sc.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String("closed"), Attributes: map[string]string{"Policy": `{"Version":"2012-10-17",` +
		`"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + n.d.cfg.AccountID + `:root"},"Action":"sns:Publish","Resource":"*"}]}`}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{
		AlarmName: aws.String("flaky-errors"), AlarmDescription: aws.String("flaky fails"),
		Namespace: aws.String("AWS/Lambda"), MetricName: aws.String("Errors"),
		Dimensions: []cwt.Dimension{{Name: aws.String("FunctionName"), Value: aws.String("flaky")}},
		Statistic:  cwt.StatisticSum, Period: aws.Int32(60), EvaluationPeriods: aws.Int32(1), Threshold: aws.Float64(2),
		ComparisonOperator: cwt.ComparisonOperatorGreaterThanOrEqualToThreshold, TreatMissingData: aws.String("notBreaching"),
		AlarmActions: []string{responder, bystander, aws.ToString(open.TopicArn), aws.ToString(closed.TopicArn)}, OKActions: []string{responder},
	})
	if err != nil {
		t.Fatalf("PutMetricAlarm: %v", err)
	}
	waitAlarm(t, cw, "flaky-errors", cwt.StateValueOk) // no data, notBreaching
	for range 4 {
		invoke(t, n, "flaky", "", map[string]any{"fail": true})
	}
	a := waitAlarm(t, cw, "flaky-errors", cwt.StateValueAlarm)
	if !strings.Contains(aws.ToString(a.StateReason), "Threshold Crossed") {
		t.Errorf("reason %q", aws.ToString(a.StateReason))
	}
	line := waitLog(t, n, "/aws/lambda/responder", `"source": "aws.cloudwatch"`, `"alarmName": "flaky-errors"`, `"value": "ALARM"`)
	for _, want := range []string{`"alarmArn": "arn:aws:cloudwatch:`, `"previousState": {"value": "OK"`, `"namespace": "AWS/Lambda"`,
		`"name": "Errors"`, `"dimensions": {"FunctionName": "flaky"}`} {
		if !strings.Contains(line, want) {
			t.Errorf("the action's event lacks %s: %s", want, line)
		}
	}
	// No more failures: the next periods have no data, which does not
	// breach, so the alarm returns to OK and runs its OK action.
	waitAlarm(t, cw, "flaky-errors", cwt.StateValueOk)
	waitLog(t, n, "/aws/lambda/responder", `"alarmName": "flaky-errors"`, `"state": {"value": "OK"`)

	h, err := cw.DescribeAlarmHistory(ctx, &cloudwatch.DescribeAlarmHistoryInput{AlarmName: aws.String("flaky-errors")})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[cwt.HistoryItemType]int{}
	for _, it := range h.AlarmHistoryItems {
		kinds[it.HistoryItemType]++
	}
	if kinds[cwt.HistoryItemTypeConfigurationUpdate] != 1 || kinds[cwt.HistoryItemTypeStateUpdate] < 3 || kinds[cwt.HistoryItemTypeAction] < 2 {
		t.Errorf("history %v", kinds)
	}
	actions := map[string]bool{}
	for _, it := range h.AlarmHistoryItems {
		if it.HistoryItemType == cwt.HistoryItemTypeAction {
			actions[aws.ToString(it.HistorySummary)] = true
		}
	}
	for _, want := range []string{"Successfully executed action " + responder, "Failed to execute action " + bystander,
		"Successfully executed action " + aws.ToString(open.TopicArn), "Failed to execute action " + aws.ToString(closed.TopicArn)} {
		if !actions[want] {
			t.Errorf("no history item %q in %v", want, actions)
		}
	}

	// SetAlarmState, DisableAlarmActions, DescribeAlarmsForMetric, a
	// composite alarm over it, DeleteAlarms.
	if _, err := cw.DisableAlarmActions(ctx, &cloudwatch.DisableAlarmActionsInput{AlarmNames: []string{"flaky-errors"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := cw.PutCompositeAlarm(ctx, &cloudwatch.PutCompositeAlarmInput{AlarmName: aws.String("any-trouble"),
		AlarmRule: aws.String(`ALARM("flaky-errors") OR FALSE`)}); err != nil {
		t.Fatalf("PutCompositeAlarm: %v", err)
	}
	if _, err := cw.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: aws.String("flaky-errors"),
		StateValue: cwt.StateValueAlarm, StateReason: aws.String("testing")}); err != nil {
		t.Fatal(err)
	}
	for range 600 {
		out, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmTypes: []cwt.AlarmType{cwt.AlarmTypeCompositeAlarm}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.CompositeAlarms) == 1 && out.CompositeAlarms[0].StateValue == cwt.StateValueAlarm {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	fm, err := cw.DescribeAlarmsForMetric(ctx, &cloudwatch.DescribeAlarmsForMetricInput{Namespace: aws.String("AWS/Lambda"),
		MetricName: aws.String("Errors"), Dimensions: []cwt.Dimension{{Name: aws.String("FunctionName"), Value: aws.String("flaky")}}})
	if err != nil || len(fm.MetricAlarms) != 1 || aws.ToBool(fm.MetricAlarms[0].ActionsEnabled) {
		t.Errorf("DescribeAlarmsForMetric: %+v %v", fm, err)
	}
	if _, err := cw.DeleteAlarms(ctx, &cloudwatch.DeleteAlarmsInput{AlarmNames: []string{"flaky-errors", "any-trouble"}}); err != nil {
		t.Fatal(err)
	}
	out, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{})
	if err != nil || len(out.MetricAlarms) != 0 {
		t.Errorf("after DeleteAlarms: %+v %v", out, err)
	}
	// Bad alarms: AWS's errors.
	_, err = cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{AlarmName: aws.String("bad"), Namespace: aws.String("N"),
		MetricName: aws.String("m"), Statistic: cwt.StatisticSum, Period: aws.Int32(45), EvaluationPeriods: aws.Int32(1),
		Threshold: aws.Float64(1), ComparisonOperator: cwt.ComparisonOperatorGreaterThanThreshold})
	if err == nil || !strings.Contains(err.Error(), "InvalidParameterValue") {
		t.Errorf("a 45 s period: %v", err)
	}
}

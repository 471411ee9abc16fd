package resource_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
)

// TestCloudWatchProviders: an alarm (with a metric-math variant), a
// composite alarm over it and a dashboard are made, updated in place,
// replaced on a rename and deleted; a bad alarm is refused with the API's
// error.
func TestCloudWatchProviders(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	cw := cloudwatch.NewFromConfig(e.awsConfig())
	fnArn := "arn:aws:lambda:us-east-1:000000000000:function:pager"
	props := map[string]any{
		"Namespace": "AWS/Lambda", "MetricName": "Errors", "Statistic": "Sum", "Period": "60", "EvaluationPeriods": 2.0,
		"Threshold": 1.0, "ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "notBreaching",
		"Dimensions": []any{map[string]any{"Name": "FunctionName", "Value": "api"}}, "AlarmActions": []any{fnArn},
	}
	alarm := e.create(t, "Errors", "AWS::CloudWatch::Alarm", props)
	if alarm.Attrs["Arn"] != "arn:aws:cloudwatch:us-east-1:000000000000:alarm:"+alarm.PhysicalID {
		t.Fatalf("alarm = %+v", alarm.Result)
	}
	props["Threshold"] = 5.0
	alarm = e.update(t, alarm, props)
	out, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{alarm.PhysicalID}})
	if err != nil || len(out.MetricAlarms) != 1 || aws.ToFloat64(out.MetricAlarms[0].Threshold) != 5 ||
		len(out.MetricAlarms[0].AlarmActions) != 1 || len(out.MetricAlarms[0].Dimensions) != 1 {
		t.Fatalf("after update: %+v %v", out, err)
	}
	mathAlarm := e.create(t, "Rate", "AWS::CloudWatch::Alarm", map[string]any{
		"AlarmName": "error-rate", "EvaluationPeriods": 1.0, "Threshold": 10.0, "ComparisonOperator": "GreaterThanThreshold",
		"Metrics": []any{
			map[string]any{"Id": "e", "ReturnData": false, "MetricStat": map[string]any{"Period": 60.0, "Stat": "Sum",
				"Metric": map[string]any{"Namespace": "AWS/Lambda", "MetricName": "Errors"}}},
			map[string]any{"Id": "i", "ReturnData": false, "MetricStat": map[string]any{"Period": 60.0, "Stat": "Sum",
				"Metric": map[string]any{"Namespace": "AWS/Lambda", "MetricName": "Invocations"}}},
			map[string]any{"Id": "rate", "Expression": "100 * e / i", "ReturnData": true},
		},
	})
	composite := e.create(t, "Any", "AWS::CloudWatch::CompositeAlarm", map[string]any{
		"AlarmRule": `ALARM("` + alarm.PhysicalID + `") OR ALARM("error-rate")`})
	if composite.Attrs["Arn"] == nil {
		t.Errorf("composite = %+v", composite.Result)
	}
	dash := e.create(t, "Ops", "AWS::CloudWatch::Dashboard", map[string]any{
		"DashboardBody": `{"widgets":[{"type":"metric","properties":{"metrics":[["AWS/Lambda","Errors"]]}}]}`})
	g, err := cw.GetDashboard(ctx, &cloudwatch.GetDashboardInput{DashboardName: aws.String(dash.PhysicalID)})
	if err != nil || aws.ToString(g.DashboardName) != dash.PhysicalID {
		t.Fatalf("GetDashboard: %+v %v", g, err)
	}
	dash2 := e.replace(t, dash, map[string]any{"DashboardName": "ops-renamed",
		"DashboardBody": `{"widgets":[{"type":"text","properties":{"markdown":"hello"}}]}`})
	if dash2.PhysicalID != "ops-renamed" {
		t.Errorf("renamed dashboard = %q", dash2.PhysicalID)
	}
	_, err = e.ps["AWS::CloudWatch::Dashboard"].Create(ctx, request("Bad", "AWS::CloudWatch::Dashboard",
		map[string]any{"DashboardBody": `{"widgets":[{"type":"nonsense"}]}`}))
	wantErr(t, err, "DashboardBody", "HandlerErrorCode: InvalidRequest")
	_, err = e.ps["AWS::CloudWatch::Alarm"].Create(ctx, request("Bad", "AWS::CloudWatch::Alarm", map[string]any{
		"Namespace": "N", "MetricName": "m", "Statistic": "Sum", "Period": 45.0, "EvaluationPeriods": 1.0, "Threshold": 1.0,
		"ComparisonOperator": "GreaterThanThreshold"}))
	wantErr(t, err, "Period", "HandlerErrorCode: InvalidRequest")

	e.delete(t, composite)
	e.delete(t, mathAlarm)
	e.delete(t, alarm)
	e.delete(t, dash2)
	all, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{})
	if err != nil || len(all.MetricAlarms) != 0 {
		t.Errorf("alarms left: %+v %v", all, err)
	}
	ds, err := cw.ListDashboards(ctx, &cloudwatch.ListDashboardsInput{})
	if err != nil || len(ds.DashboardEntries) != 0 {
		t.Errorf("dashboards left: %+v %v", ds, err)
	}
}

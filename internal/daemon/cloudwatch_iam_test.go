package daemon

import (
	"context"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwt "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
)

// TestCloudWatchIAM: with --iam enforce, a function whose role may put
// metrics and manage alarms named app-* may do that (over RPC v2 CBOR),
// and is refused AccessDenied on another alarm and on dashboards.
func TestCloudWatchIAM(t *testing.T) {
	n, role := iamNode(t, "enforce", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"cloudwatch:PutMetricData","Resource":"*"},
		{"Effect":"Allow","Action":["cloudwatch:PutMetricAlarm","cloudwatch:DeleteAlarms"],"Resource":"arn:aws:cloudwatch:*:*:alarm:app-*"}]}`)
	cw := cloudwatch.NewFromConfig(functionConfig(t, n, role, "mine"))
	ctx := context.Background()
	if _, err := cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String("App"),
		MetricData: []cwt.MetricDatum{{MetricName: aws.String("m"), Value: aws.Float64(1)}}}); err != nil {
		t.Fatalf("PutMetricData: %v", err)
	}
	alarm := func(name string) error {
		_, err := cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{AlarmName: aws.String(name), Namespace: aws.String("App"),
			MetricName: aws.String("m"), Statistic: cwt.StatisticSum, Period: aws.Int32(60), EvaluationPeriods: aws.Int32(1),
			Threshold: aws.Float64(1), ComparisonOperator: cwt.ComparisonOperatorGreaterThanThreshold})
		return err
	}
	if err := alarm("app-high"); err != nil {
		t.Fatalf("PutMetricAlarm app-high: %v", err)
	}
	wantDenied(t, "PutMetricAlarm other", alarm("other"), "AccessDenied", http.StatusForbidden, "")
	_, err := cw.PutDashboard(ctx, &cloudwatch.PutDashboardInput{DashboardName: aws.String("d"),
		DashboardBody: aws.String(`{"widgets":[]}`)})
	wantDenied(t, "PutDashboard", err, "AccessDenied", http.StatusForbidden, "")
}

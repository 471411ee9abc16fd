package daemon

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwt "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"

	"github.com/nimbus-serverless/nimbus/internal/config"
)

func cloudwatchClient(n *node) *cloudwatch.Client {
	return cloudwatch.NewFromConfig(n.awsConfig())
}

// nearestRank is the nearest-rank percentile of vs (CloudWatch's
// definition for few values).
func nearestRank(vs []float64, p float64) float64 {
	s := append([]float64(nil), vs...)
	sort.Float64s(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(i, 0)]
}

// TestCloudWatchGoSDK: aws-sdk-go-v2 (Smithy RPC v2 CBOR) puts values
// and reads them back as statistics, percentiles and metric math, each
// checked against values computed here.
func TestCloudWatchGoSDK(t *testing.T) {
	n := startNode(t, t.TempDir())
	cw := cloudwatchClient(n)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Minute).Add(-10 * time.Minute)
	dims := []cwt.Dimension{{Name: aws.String("Service"), Value: aws.String("checkout")}}
	var a []float64
	for i := 1; i <= 100; i++ {
		a = append(a, float64(i))
	}
	_, err := cw.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String("Shop"), MetricData: []cwt.MetricDatum{
		{MetricName: aws.String("Latency"), Dimensions: dims, Timestamp: aws.Time(now), Values: a[:50], Unit: cwt.StandardUnitMilliseconds},
		{MetricName: aws.String("Latency"), Dimensions: dims, Timestamp: aws.Time(now.Add(30 * time.Second)), Values: a[50:], Unit: cwt.StandardUnitMilliseconds},
		{MetricName: aws.String("Orders"), Dimensions: dims, Timestamp: aws.Time(now), Value: aws.Float64(10)},
		{MetricName: aws.String("Orders"), Dimensions: dims, Timestamp: aws.Time(now.Add(time.Minute)), Value: aws.Float64(30)},
		{MetricName: aws.String("Errors"), Dimensions: dims, Timestamp: aws.Time(now), StatisticValues: &cwt.StatisticSet{
			SampleCount: aws.Float64(4), Sum: aws.Float64(2), Minimum: aws.Float64(0), Maximum: aws.Float64(1)}},
		{MetricName: aws.String("Errors"), Dimensions: dims, Timestamp: aws.Time(now.Add(time.Minute)), Value: aws.Float64(5)},
	}})
	if err != nil {
		t.Fatalf("PutMetricData: %v", err)
	}
	st, err := cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{
		Namespace: aws.String("Shop"), MetricName: aws.String("Latency"), Dimensions: dims,
		StartTime: aws.Time(now.Add(-time.Minute)), EndTime: aws.Time(now.Add(5 * time.Minute)), Period: aws.Int32(60),
		ExtendedStatistics: []string{"p50", "p90", "p99"},
	})
	if err != nil {
		t.Fatalf("GetMetricStatistics: %v", err)
	}
	if len(st.Datapoints) != 1 {
		t.Fatalf("datapoints %+v, want one minute", st.Datapoints)
	}
	for _, p := range []float64{50, 90, 99} {
		key := "p" + map[float64]string{50: "50", 90: "90", 99: "99"}[p]
		if got, want := st.Datapoints[0].ExtendedStatistics[key], nearestRank(a, p); got != want {
			t.Errorf("%s = %v, want %v", key, got, want)
		}
	}
	st, err = cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{
		Namespace: aws.String("Shop"), MetricName: aws.String("Latency"), Dimensions: dims,
		StartTime: aws.Time(now.Add(-time.Minute)), EndTime: aws.Time(now.Add(5 * time.Minute)), Period: aws.Int32(60),
		Statistics: []cwt.Statistic{cwt.StatisticSum, cwt.StatisticAverage, cwt.StatisticMinimum, cwt.StatisticMaximum, cwt.StatisticSampleCount},
	})
	if err != nil {
		t.Fatalf("GetMetricStatistics: %v", err)
	}
	dp := st.Datapoints[0]
	if *dp.Sum != 5050 || *dp.Average != 50.5 || *dp.Minimum != 1 || *dp.Maximum != 100 || *dp.SampleCount != 100 ||
		dp.Unit != cwt.StandardUnitMilliseconds || !dp.Timestamp.Equal(now) {
		t.Errorf("statistics %+v", dp)
	}

	stat := func(id, name, s string) cwt.MetricDataQuery {
		return cwt.MetricDataQuery{Id: aws.String(id), ReturnData: aws.Bool(false), MetricStat: &cwt.MetricStat{
			Metric: &cwt.Metric{Namespace: aws.String("Shop"), MetricName: aws.String(name), Dimensions: dims},
			Period: aws.Int32(60), Stat: aws.String(s)}}
	}
	expr := func(id, e string) cwt.MetricDataQuery {
		return cwt.MetricDataQuery{Id: aws.String(id), Expression: aws.String(e)}
	}
	gd, err := cw.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{
		StartTime: aws.Time(now.Add(-time.Minute)), EndTime: aws.Time(now.Add(3 * time.Minute)),
		ScanBy: cwt.ScanByTimestampAscending,
		MetricDataQueries: []cwt.MetricDataQuery{
			stat("orders", "Orders", "Sum"), stat("errs", "Errors", "Sum"),
			expr("rate", "errs / orders * 100"),
			expr("total", "SUM(METRICS())"),
			expr("filled", "FILL(orders, 0)"),
			expr("big", "IF(orders > 20, orders, 0)"),
			expr("growth", "RATE(orders)"),
			expr("mx", "MAX(METRICS()) - MIN(METRICS())"),
		},
	})
	if err != nil {
		t.Fatalf("GetMetricData: %v", err)
	}
	got := map[string][]float64{}
	for _, r := range gd.MetricDataResults {
		got[*r.Id] = r.Values
	}
	want := map[string][]float64{
		"rate":   {2.0 / 10 * 100, 5.0 / 30 * 100},
		"total":  {12, 35},
		"filled": {0, 10, 30, 0},
		"big":    {0, 30},
		"growth": {(30.0 - 10) / 60},
		"mx":     {8, 25},
	}
	for id, w := range want {
		g := got[id]
		if len(g) != len(w) {
			t.Errorf("%s = %v, want %v", id, g, w)
			continue
		}
		for i := range w {
			if math.Abs(g[i]-w[i]) > 1e-9 {
				t.Errorf("%s = %v, want %v", id, g, w)
				break
			}
		}
	}
	if _, ok := got["orders"]; ok {
		t.Errorf("orders has ReturnData false but was returned")
	}

	lm, err := cw.ListMetrics(ctx, &cloudwatch.ListMetricsInput{Namespace: aws.String("Shop"),
		Dimensions: []cwt.DimensionFilter{{Name: aws.String("Service")}}})
	if err != nil {
		t.Fatalf("ListMetrics: %v", err)
	}
	if len(lm.Metrics) != 3 {
		t.Errorf("ListMetrics: %d metrics, want 3", len(lm.Metrics))
	}

	// Bad input: AWS's errors, nothing stored.
	bad := []struct {
		name string
		in   *cloudwatch.PutMetricDataInput
		code string
	}{
		{"NaN", &cloudwatch.PutMetricDataInput{Namespace: aws.String("Bad"), MetricData: []cwt.MetricDatum{
			{MetricName: aws.String("ok"), Value: aws.Float64(1)}, {MetricName: aws.String("x"), Value: aws.Float64(math.NaN())}}}, "InvalidParameterValue"},
		{"Inf", &cloudwatch.PutMetricDataInput{Namespace: aws.String("Bad"), MetricData: []cwt.MetricDatum{
			{MetricName: aws.String("x"), Values: []float64{1, math.Inf(1)}}}}, "InvalidParameterValue"},
		{"2^361", &cloudwatch.PutMetricDataInput{Namespace: aws.String("Bad"), MetricData: []cwt.MetricDatum{
			{MetricName: aws.String("x"), Value: aws.Float64(math.Ldexp(1, 361))}}}, "InvalidParameterValue"},
		{"both", &cloudwatch.PutMetricDataInput{Namespace: aws.String("Bad"), MetricData: []cwt.MetricDatum{
			{MetricName: aws.String("x"), Value: aws.Float64(1), Values: []float64{1}}}}, "InvalidParameterCombination"},
		{"old", &cloudwatch.PutMetricDataInput{Namespace: aws.String("Bad"), MetricData: []cwt.MetricDatum{
			{MetricName: aws.String("x"), Value: aws.Float64(1), Timestamp: aws.Time(time.Now().Add(-15 * 24 * time.Hour))}}}, "InvalidParameterValue"},
		{"future", &cloudwatch.PutMetricDataInput{Namespace: aws.String("Bad"), MetricData: []cwt.MetricDatum{
			{MetricName: aws.String("x"), Value: aws.Float64(1), Timestamp: aws.Time(time.Now().Add(3 * time.Hour))}}}, "InvalidParameterValue"},
		{"151 values", &cloudwatch.PutMetricDataInput{Namespace: aws.String("Bad"), MetricData: []cwt.MetricDatum{
			{MetricName: aws.String("x"), Values: make([]float64, 151)}}}, "InvalidParameterValue"},
		{"AWS namespace", &cloudwatch.PutMetricDataInput{Namespace: aws.String("AWS/Lambda"), MetricData: []cwt.MetricDatum{
			{MetricName: aws.String("x"), Value: aws.Float64(1)}}}, "InvalidParameterValue"},
		{"resolution", &cloudwatch.PutMetricDataInput{Namespace: aws.String("Bad"), MetricData: []cwt.MetricDatum{
			{MetricName: aws.String("x"), Value: aws.Float64(1), StorageResolution: aws.Int32(5)}}}, "InvalidParameterValue"},
	}
	many := make([]cwt.MetricDatum, 1001)
	for i := range many {
		many[i] = cwt.MetricDatum{MetricName: aws.String("x"), Value: aws.Float64(1)}
	}
	bad = append(bad, struct {
		name string
		in   *cloudwatch.PutMetricDataInput
		code string
	}{"1001 metrics", &cloudwatch.PutMetricDataInput{Namespace: aws.String("Bad"), MetricData: many}, "InvalidParameterValue"})
	dimBomb := make([]cwt.Dimension, 31)
	for i := range dimBomb {
		dimBomb[i] = cwt.Dimension{Name: aws.String(string(rune('a'+i%26)) + string(rune('a'+i/26))), Value: aws.String("v")}
	}
	bad = append(bad, struct {
		name string
		in   *cloudwatch.PutMetricDataInput
		code string
	}{"31 dimensions", &cloudwatch.PutMetricDataInput{Namespace: aws.String("Bad"), MetricData: []cwt.MetricDatum{
		{MetricName: aws.String("x"), Value: aws.Float64(1), Dimensions: dimBomb}}}, "InvalidParameterValue"})
	for _, c := range bad {
		_, err := cw.PutMetricData(ctx, c.in)
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != c.code {
			t.Errorf("%s: %v, want %s", c.name, err, c.code)
		}
	}
	lm, err = cw.ListMetrics(ctx, &cloudwatch.ListMetricsInput{Namespace: aws.String("Bad")})
	if err != nil || len(lm.Metrics) != 0 {
		t.Errorf("refused requests stored metrics: %v %v", lm.Metrics, err)
	}
}

// pyMetricsFunction prints an EMF line with the value it is given, and
// fails when asked to.
const pyMetricsFunction = `import json, time
def handler(event, context):
    print(json.dumps({"_aws": {"Timestamp": int(time.time() * 1000), "CloudWatchMetrics": [{"Namespace": "Orders",
        "Dimensions": [["Shop"]], "Metrics": [{"Name": "Basket", "Unit": "Count"}]}]}, "Shop": "north", "Basket": event.get("basket", 1)}))
    if event.get("fail"):
        raise Exception("asked to fail")
    return {"ok": True}
`

func createPyMetrics(t *testing.T, n *node, name string) {
	t.Helper()
	create(t, n, &lambda.CreateFunctionInput{
		FunctionName: aws.String(name), Runtime: lambdatypes.RuntimePython312, Handler: aws.String("app.handler"),
		Role: aws.String(testRole), Code: &lambdatypes.FunctionCode{ZipFile: zipFiles(t, map[string]zipEntry{"app.py": {data: []byte(pyMetricsFunction)}})},
	})
}

// sumOver reads the Sum of a metric over the last hour in one period
// (polling: Nimbus's own metrics are published once a second; the loop
// is a hang guard, not a timing assertion).
func sumOver(t *testing.T, cw *cloudwatch.Client, ns, name string, dims []cwt.Dimension, want float64) float64 {
	t.Helper()
	var got float64
	for range 100 {
		out, err := cw.GetMetricStatistics(context.Background(), &cloudwatch.GetMetricStatisticsInput{
			Namespace: aws.String(ns), MetricName: aws.String(name), Dimensions: dims,
			StartTime: aws.Time(time.Now().Add(-time.Hour)), EndTime: aws.Time(time.Now().Add(time.Minute)),
			Period: aws.Int32(3600), Statistics: []cwt.Statistic{cwt.StatisticSum},
		})
		if err != nil {
			t.Fatal(err)
		}
		got = 0
		for _, dp := range out.Datapoints {
			got += *dp.Sum
		}
		if got == want {
			return got
		}
		time.Sleep(100 * time.Millisecond)
	}
	return got
}

// TestLambdaMetricsInCloudWatch: invocations of a function appear under
// AWS/Lambda by FunctionName, and its EMF lines under their namespace.
func TestLambdaMetricsInCloudWatch(t *testing.T) {
	n := startNode(t, t.TempDir())
	createPyMetrics(t, n, "metered")
	for i := range 5 {
		invoke(t, n, "metered", "", map[string]any{"fail": i%2 == 0, "basket": i + 1})
	}
	cw := cloudwatchClient(n)
	fn := []cwt.Dimension{{Name: aws.String("FunctionName"), Value: aws.String("metered")}}
	if got := sumOver(t, cw, "AWS/Lambda", "Invocations", fn, 5); got != 5 {
		t.Errorf("Invocations = %v, want 5", got)
	}
	if got := sumOver(t, cw, "AWS/Lambda", "Errors", fn, 3); got != 3 {
		t.Errorf("Errors = %v, want 3", got)
	}
	if got := sumOver(t, cw, "Orders", "Basket", []cwt.Dimension{{Name: aws.String("Shop"), Value: aws.String("north")}}, 15); got != 15 {
		t.Errorf("EMF Basket = %v, want 15", got)
	}
}

// TestSQSMetricsInCloudWatch: a queue's depth is sampled into AWS/SQS
// (every scaled minute).
func TestSQSMetricsInCloudWatch(t *testing.T) {
	n := startNode(t, t.TempDir(), func(c *config.Config) { c.AlarmPeriodScale = 0.02 })
	ctx := context.Background()
	q := awssqs.NewFromConfig(n.awsConfig())
	out, err := q.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String("depth")})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := q.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: out.QueueUrl, MessageBody: aws.String("m")}); err != nil {
			t.Fatal(err)
		}
	}
	if n.d.metrics != nil {
		// The same depth on /metrics, under AWS/SQS's names.
		resp, err := http.Get(n.endpoint() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		for _, want := range []string{`nimbus_sqs_approximate_number_of_messages_visible{account="` + n.d.cfg.AccountID + `",queue="depth"} 3`,
			`nimbus_sqs_number_of_messages_sent_total{account="` + n.d.cfg.AccountID + `",queue="depth"} 3`} {
			if !strings.Contains(string(b), want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	}
	cw := cloudwatchClient(n)
	for range 300 { // a hang guard, not a timing assertion
		st, err := cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{
			Namespace: aws.String("AWS/SQS"), MetricName: aws.String("ApproximateNumberOfMessagesVisible"),
			Dimensions: []cwt.Dimension{{Name: aws.String("QueueName"), Value: aws.String("depth")}},
			StartTime:  aws.Time(time.Now().Add(-time.Hour)), EndTime: aws.Time(time.Now().Add(time.Minute)),
			Period: aws.Int32(3600), Statistics: []cwt.Statistic{cwt.StatisticMaximum},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Datapoints) == 1 && *st.Datapoints[0].Maximum == 3 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("AWS/SQS ApproximateNumberOfMessagesVisible never showed the 3 messages")
}

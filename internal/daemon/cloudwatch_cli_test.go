package daemon

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// cliCloudWatch runs `<cli> cloudwatch args...` against the node and
// decodes its JSON output into out (nil: none).
func cliCloudWatch(t *testing.T, n *node, cli string, out any, args ...string) {
	t.Helper()
	cmd := exec.Command(cli, append([]string{"--endpoint-url", n.endpoint(), "--output", "json", "cloudwatch"}, args...)...)
	cmd.Env = n.toolEnv()
	raw, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s cloudwatch %s: %v\n%s", cli, args[0], err, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s cloudwatch %s: %v\n%s", cli, args[0], err, raw)
		}
	}
}

// TestCloudWatchCLIs: the AWS CLI v1 (JSON 1.0) and Debian's AWS CLI v2.9
// (the query protocol) put metrics and read them back.
func TestCloudWatchCLIs(t *testing.T) {
	needTool(t, "aws", "--version")
	n := startNode(t, t.TempDir())
	clis := []string{"aws"}
	if v, err := exec.Command("/usr/bin/aws", "--version").CombinedOutput(); err == nil && strings.HasPrefix(string(v), "aws-cli/2.") {
		clis = append(clis, "/usr/bin/aws")
	}
	at := time.Now().UTC().Truncate(time.Minute).Add(-5 * time.Minute)
	for i, cli := range clis {
		ns := fmt.Sprintf("CLI%d", i)
		cliCloudWatch(t, n, cli, nil, "put-metric-data", "--namespace", ns, "--metric-data",
			fmt.Sprintf(`[{"MetricName":"Hits","Dimensions":[{"Name":"Page","Value":"home"}],"Timestamp":"%s","Values":[1,2,3,4],"Counts":[1,1,1,2],"Unit":"Count"},
			  {"MetricName":"Hits","Dimensions":[{"Name":"Page","Value":"home"}],"Timestamp":"%s","StatisticValues":{"SampleCount":2,"Sum":10,"Minimum":4,"Maximum":6},"Unit":"Count"}]`,
				at.Format(time.RFC3339), at.Format(time.RFC3339)))
		var st struct {
			Label      string
			Datapoints []struct {
				Sum, SampleCount, Maximum, Minimum float64
				Unit                               string
			}
		}
		cliCloudWatch(t, n, cli, &st, "get-metric-statistics", "--namespace", ns, "--metric-name", "Hits",
			"--dimensions", "Name=Page,Value=home", "--start-time", at.Add(-time.Minute).Format(time.RFC3339),
			"--end-time", at.Add(2*time.Minute).Format(time.RFC3339), "--period", "60", "--statistics", "Sum", "SampleCount", "Maximum", "Minimum")
		if len(st.Datapoints) != 1 || st.Label != "Hits" {
			t.Fatalf("%s: get-metric-statistics %+v", cli, st)
		}
		if d := st.Datapoints[0]; d.Sum != 24 || d.SampleCount != 7 || d.Maximum != 6 || d.Minimum != 1 || d.Unit != "Count" {
			t.Errorf("%s: datapoint %+v, want Sum 24, SampleCount 7, Max 6, Min 1, Count", cli, d)
		}
		var gd struct {
			MetricDataResults []struct {
				ID     string `json:"Id"`
				Values []float64
			}
		}
		cliCloudWatch(t, n, cli, &gd, "get-metric-data", "--start-time", at.Add(-time.Minute).Format(time.RFC3339),
			"--end-time", at.Add(2*time.Minute).Format(time.RFC3339), "--metric-data-queries",
			fmt.Sprintf(`[{"Id":"h","MetricStat":{"Metric":{"Namespace":"%s","MetricName":"Hits","Dimensions":[{"Name":"Page","Value":"home"}]},"Period":60,"Stat":"Sum"},"ReturnData":false},
			  {"Id":"twice","Expression":"h * 2"}]`, ns))
		if len(gd.MetricDataResults) != 1 || gd.MetricDataResults[0].ID != "twice" || len(gd.MetricDataResults[0].Values) != 1 ||
			gd.MetricDataResults[0].Values[0] != 48 {
			t.Errorf("%s: get-metric-data %+v, want twice = [48]", cli, gd)
		}
		var lm struct {
			Metrics []struct {
				Namespace, MetricName string
				Dimensions            []struct{ Name, Value string }
			}
		}
		cliCloudWatch(t, n, cli, &lm, "list-metrics", "--namespace", ns)
		if len(lm.Metrics) != 1 || lm.Metrics[0].MetricName != "Hits" || len(lm.Metrics[0].Dimensions) != 1 {
			t.Errorf("%s: list-metrics %+v", cli, lm)
		}
		alarm := ns + "-hits"
		cliCloudWatch(t, n, cli, nil, "put-metric-alarm", "--alarm-name", alarm, "--namespace", ns, "--metric-name", "Hits",
			"--dimensions", "Name=Page,Value=home", "--statistic", "Sum", "--period", "60", "--evaluation-periods", "2",
			"--datapoints-to-alarm", "1", "--threshold", "100", "--comparison-operator", "GreaterThanThreshold",
			"--treat-missing-data", "notBreaching")
		var da struct {
			MetricAlarms []struct {
				AlarmName, StateValue, ComparisonOperator string
				EvaluationPeriods, DatapointsToAlarm      int
				Threshold                                 float64
				Dimensions                                []struct{ Name, Value string }
			}
		}
		cliCloudWatch(t, n, cli, &da, "describe-alarms", "--alarm-name-prefix", ns)
		if len(da.MetricAlarms) != 1 || da.MetricAlarms[0].AlarmName != alarm || da.MetricAlarms[0].Threshold != 100 ||
			da.MetricAlarms[0].EvaluationPeriods != 2 || da.MetricAlarms[0].DatapointsToAlarm != 1 || len(da.MetricAlarms[0].Dimensions) != 1 {
			t.Errorf("%s: describe-alarms %+v", cli, da)
		}
		var pd struct {
			DashboardValidationMessages []struct{ DataPath, Message string }
		}
		cliCloudWatch(t, n, cli, &pd, "put-dashboard", "--dashboard-name", ns+"-ops", "--dashboard-body",
			`{"widgets":[{"type":"metric","x":0,"y":0,"width":12,"height":6,"properties":{"metrics":[["`+ns+`","Hits","Page","home"]],"period":60,"stat":"Sum"}},
			  {"type":"log","properties":{"query":"fields @message"}}]}`)
		if len(pd.DashboardValidationMessages) != 1 || pd.DashboardValidationMessages[0].DataPath != "/widgets/1/type" {
			t.Errorf("%s: put-dashboard %+v, want one message about the log widget", cli, pd)
		}
		var gdb struct{ DashboardName, DashboardBody, DashboardArn string }
		cliCloudWatch(t, n, cli, &gdb, "get-dashboard", "--dashboard-name", ns+"-ops")
		if !strings.Contains(gdb.DashboardBody, `"Hits"`) || !strings.HasSuffix(gdb.DashboardArn, ":dashboard/"+ns+"-ops") {
			t.Errorf("%s: get-dashboard %+v", cli, gdb)
		}
	}
}

// TestCloudWatchBoto3: boto3 (JSON 1.0) sends a request big enough to be
// gzipped, and reads AWS's error codes.
func TestCloudWatchBoto3(t *testing.T) {
	needTool(t, "python3", "-c", "import boto3")
	n := startNode(t, t.TempDir())
	script := `import boto3, botocore, json, sys
c = boto3.client("cloudwatch", endpoint_url=sys.argv[1], region_name="us-east-1")
data = [{"MetricName": "M%d" % (i % 50), "Dimensions": [{"Name": "Shard", "Value": str(i)}], "Values": [float(v) for v in range(20)]} for i in range(1000)]
c.put_metric_data(Namespace="Boto", MetricData=data)
names = set()
for page in c.get_paginator("list_metrics").paginate(Namespace="Boto"):
    for m in page["Metrics"]:
        names.add((m["MetricName"], m["Dimensions"][0]["Value"]))
out = {"listed": len(names)}
try:
    c.put_metric_data(Namespace="Boto", MetricData=[{"MetricName": "x", "Value": 1, "StatisticValues": {"SampleCount": 1, "Sum": 1, "Minimum": 1, "Maximum": 1}}])
except botocore.exceptions.ClientError as e:
    out["combination"] = e.response["Error"]["Code"]
try:
    c.get_metric_statistics(Namespace="Boto", MetricName="M1", StartTime=0, EndTime=86400*30, Period=60, Statistics=["Sum"])
except botocore.exceptions.ClientError as e:
    out["toomany"] = e.response["Error"]["Code"]
print(json.dumps(out))
`
	cmd := exec.Command("python3", "-c", script, n.endpoint())
	cmd.Env = n.toolEnv()
	raw, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("boto3: %v\n%s", err, raw)
	}
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	if got["listed"] != float64(1000) || got["combination"] != "InvalidParameterCombination" || got["toomany"] != "InvalidParameterCombination" {
		t.Errorf("boto3: %v", got)
	}
}

// TestCloudWatchAttacks: a gzip bomb, a missing parameter in a raw
// request, and a metric math bomb are refused with AWS's errors.
func TestCloudWatchAttacks(t *testing.T) {
	n := startNode(t, t.TempDir())
	hc := n.httpClient("monitoring")
	post := func(target string, body []byte, gz bool) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, n.endpoint()+"/", bytes.NewReader(body))
		req.Header.Set("X-Amz-Target", "GraniteServiceVersion20100801."+target)
		req.Header.Set("Content-Type", "application/x-amz-json-1.0")
		if gz {
			req.Header.Set("Content-Encoding", "gzip")
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// 256 MiB of zeros in about 250 KiB.
	var bomb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&bomb, gzip.BestCompression)
	zeros := make([]byte, 1<<20)
	for range 256 {
		_, _ = zw.Write(zeros)
	}
	_ = zw.Close()
	if st, body := post("PutMetricData", bomb.Bytes(), true); st != http.StatusRequestEntityTooLarge {
		t.Errorf("gzip bomb: %d %s, want 413", st, body)
	}
	if st, body := post("PutMetricData", []byte(`{"Namespace":"N","MetricData":[{"Value":1}]}`), false); st != 400 ||
		!strings.Contains(body, "MissingRequiredParameterException") {
		t.Errorf("missing MetricName: %d %s", st, body)
	}
	// A gzipped valid request is accepted.
	var ok bytes.Buffer
	zw = gzip.NewWriter(&ok)
	_, _ = zw.Write([]byte(`{"Namespace":"N","MetricData":[{"MetricName":"m","Value":1}]}`))
	_ = zw.Close()
	if st, body := post("PutMetricData", ok.Bytes(), true); st != 200 {
		t.Errorf("gzipped request: %d %s", st, body)
	}
	// Expression bombs: deep nesting, a huge expression, and a cheap
	// expression that touches too many points.
	q := func(expr string) []byte {
		qs := []map[string]any{{"Id": "e", "Expression": expr}}
		for i := range 10 {
			qs = append(qs, map[string]any{"Id": fmt.Sprintf("m%d", i), "ReturnData": false, "MetricStat": map[string]any{
				"Metric": map[string]any{"Namespace": "N", "MetricName": "m"}, "Period": 1, "Stat": "Sum"}})
		}
		b, _ := json.Marshal(map[string]any{"StartTime": time.Now().Add(-3 * time.Hour).Unix(), "EndTime": time.Now().Unix(),
			"MetricDataQueries": qs})
		return b
	}
	for name, expr := range map[string]string{
		"nesting": strings.Repeat("(", 5000) + "1" + strings.Repeat(")", 5000),
		"length":  strings.Repeat("1+", 2000) + "1",
		"terms":   strings.Repeat("ABS(", 40) + "1" + strings.Repeat(")", 40),
		"fill":    strings.Repeat("SUM(FILL(METRICS(),0))+", 80) + "1",
	} {
		st, body := post("GetMetricData", q(expr), false)
		if st != 400 || !strings.Contains(body, "InvalidParameterValueException") {
			t.Errorf("expression bomb %s: %d %s", name, st, truncateForLog(body))
		}
	}
	if os.Getenv("CI") == "" {
		t.Log("attacks refused")
	}
}

func truncateForLog(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}

package daemon

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"

	"github.com/nimbus-serverless/nimbus/internal/config"
)

// TestUnsignedCodePathReachesOnlyCodeDownloads is the regression test of
// issue 13's first finding: unsigned requests to /_nimbus/code/... carrying
// X-Amz-Target: Logs_20140328.* ran the CloudWatch Logs API (reading and
// deleting other functions' logs). On a real node, each such request must
// be refused, and none of them may change anything.
func TestUnsignedCodePathReachesOnlyCodeDownloads(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	ctx := context.Background()
	logs := cloudwatchlogs.NewFromConfig(n.awsConfig())
	if _, err := logs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: strPtr("/aws/lambda/secret")}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ method, path, op, body string }{
		{"POST", "/_nimbus/code/x", "DescribeLogGroups", `{}`},
		{"GET", "/_nimbus/code/x", "DescribeLogGroups", `{}`},
		{"POST", "/_nimbus/code/x", "FilterLogEvents", `{"logGroupName":"/aws/lambda/secret"}`},
		{"POST", "/_nimbus/code/x", "CreateLogGroup", `{"logGroupName":"/pwned"}`},
		{"POST", "/_nimbus/code/x", "PutRetentionPolicy", `{"logGroupName":"/aws/lambda/secret","retentionInDays":1}`},
		{"POST", "/_nimbus/code/x", "DeleteLogGroup", `{"logGroupName":"/aws/lambda/secret"}`},
		{"POST", "/_nimbus/code/", "DeleteLogGroup", `{"logGroupName":"/aws/lambda/secret"}`},
		{"POST", "/_nimbus/code/../", "DeleteLogGroup", `{"logGroupName":"/aws/lambda/secret"}`},
		{"DELETE", "/_nimbus/code/x/y", "DeleteLogGroup", `{"logGroupName":"/aws/lambda/secret"}`},
	} {
		req, err := http.NewRequestWithContext(ctx, c.method, n.endpoint()+c.path, strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Amz-Target", "Logs_20140328."+c.op)
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode < 400 || strings.Contains(string(body), "logGroup") {
			t.Errorf("unsigned %s %s %s: %d %s, want a refusal", c.method, c.path, c.op, resp.StatusCode, body)
		}
	}
	out, err := logs.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.LogGroups) != 1 || *out.LogGroups[0].LogGroupName != "/aws/lambda/secret" || out.LogGroups[0].RetentionInDays != nil {
		t.Errorf("log groups changed by unsigned requests: %+v", out.LogGroups)
	}
}

func strPtr(s string) *string { return &s }

// TestTelemetryNotServedToFunctions: the node's API that functions reach
// from inside their sandboxes never serves /metrics, /healthz or /readyz
// (a tenant would read every function's names and metrics), while the
// host's loopback still gets them.
func TestTelemetryNotServedToFunctions(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	createGoFunction(t, n, "prober", nil)
	get := func(path string) (int, string) {
		t.Helper()
		_, out := invoke(t, n, "prober", "", map[string]any{"action": "get", "value": path})
		status, _ := out["status"].(float64)
		body, _ := out["body"].(string)
		return int(status), body
	}
	// The function does reach the API: an unsigned Lambda call is refused.
	if status, body := get("/2015-03-31/functions"); status != http.StatusForbidden {
		t.Fatalf("unsigned ListFunctions from the sandbox: %d %s, want 403", status, body)
	}
	for _, p := range []string{"/metrics", "/healthz", "/readyz"} {
		status, body := get(p)
		if status == http.StatusOK || strings.Contains(body, "nimbus_") || strings.Contains(body, "prober") {
			t.Errorf("GET %s from inside the sandbox: %d %.200s", p, status, body)
		}
		resp, err := http.Get(n.endpoint() + p) //nolint:noctx // test
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s on the host's loopback: %d", p, resp.StatusCode)
		}
	}
}

// TestMetricsListenAndToken: with --metrics-listen, /metrics moves to its
// own address (the API's listener no longer serves it), and with
// --metrics-token it needs the bearer token.
func TestMetricsListenAndToken(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir(), func(c *config.Config) {
		c.MetricsListen = "127.0.0.1:0"
		c.MetricsToken = "s3cret-token"
	})
	get := func(url, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	m := "http://" + n.d.MetricsAddr()
	if status, body := get(n.endpoint()+"/metrics", "s3cret-token"); status == http.StatusOK || strings.Contains(body, "nimbus_") {
		t.Errorf("/metrics on the API listener with --metrics-listen: %d %.200s", status, body)
	}
	if status, _ := get(m+"/metrics", ""); status != http.StatusUnauthorized {
		t.Errorf("/metrics without the token: %d, want 401", status)
	}
	if status, _ := get(m+"/metrics", "wrong"); status != http.StatusUnauthorized {
		t.Errorf("/metrics with a wrong token: %d, want 401", status)
	}
	if status, body := get(m+"/metrics", "s3cret-token"); status != http.StatusOK || !strings.Contains(body, "nimbus_") {
		t.Errorf("/metrics with the token: %d %.200s", status, body)
	}
	if status, _ := get(m+"/healthz", ""); status != http.StatusOK {
		t.Errorf("/healthz on the metrics listener: %d", status)
	}
}

// TestMetricsGuard: without a token, /metrics on the API's listener answers
// loopback connections only; with one, only requests that carry it.
func TestMetricsGuard(t *testing.T) {
	t.Parallel()
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	at := func(ip string, header string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		if header != "" {
			r.Header.Set("Authorization", header)
		}
		return r.WithContext(context.WithValue(r.Context(), http.LocalAddrContextKey, &net.TCPAddr{IP: net.ParseIP(ip), Port: 4566}))
	}
	for _, c := range []struct {
		token, ip, header string
		want              int
	}{
		{"", "127.0.0.1", "", 200},
		{"", "::1", "", 200},
		{"", "10.1.2.3", "", 403},
		{"", "0.0.0.0", "", 403},
		{"tok", "10.1.2.3", "Bearer tok", 200},
		{"tok", "127.0.0.1", "", 401},
		{"tok", "127.0.0.1", "Bearer to", 401},
		{"tok", "127.0.0.1", "Basic tok", 401},
	} {
		d := &Daemon{cfg: config.Config{MetricsToken: c.token}}
		w := httptest.NewRecorder()
		d.metricsGuard(ok, true).ServeHTTP(w, at(c.ip, c.header))
		if w.Code != c.want {
			t.Errorf("token %q from %s with %q: %d, want %d", c.token, c.ip, c.header, w.Code, c.want)
		}
	}
}

// TestUnservedServicesAnswerInTheirProtocol: boto3 calls of services Nimbus
// does not serve get, in each service's own protocol, an error that names
// the service (not a signature error about Lambda), and are not retried.
func TestUnservedServicesAnswerInTheirProtocol(t *testing.T) {
	if err := exec.Command("python3", "-c", "import boto3").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the host's python3 must have boto3 in CI: %v", err)
		}
		t.Skip("the host's python3 has no boto3")
	}
	n := startNode(t, t.TempDir())
	script := `import boto3, botocore, json, sys
calls = [("athena", "list_work_groups", {}),
         ("xray", "get_sampling_rules", {})]
out = {}
for svc, op, args in calls:
    c = boto3.client(svc, endpoint_url=sys.argv[1], region_name="us-east-1",
                     config=botocore.config.Config(retries={"total_max_attempts": 3, "mode": "standard"}))
    try:
        getattr(c, op)(**args)
        out[svc] = {"ok": True}
    except botocore.exceptions.ClientError as e:
        md = e.response.get("ResponseMetadata", {})
        out[svc] = {"code": e.response["Error"].get("Code"), "message": e.response["Error"].get("Message"),
                    "status": md.get("HTTPStatusCode"), "retries": md.get("RetryAttempts")}
print(json.dumps(out))
`
	cmd := exec.Command("python3", "-c", script, n.endpoint())
	c := n.creds()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "AWS_ACCESS_KEY_ID="+c.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+c.SecretAccessKey,
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
	raw, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("boto3: %v\n%s", err, raw)
	}
	var got map[string]struct {
		OK      bool   `json:"ok"`
		Code    string `json:"code"`
		Message string `json:"message"`
		Status  int    `json:"status"`
		Retries int    `json:"retries"`
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	names := map[string]string{
		"athena": "Amazon Athena",
		"xray":   "AWS X-Ray"}
	for svc, name := range names {
		r, ok := got[svc]
		wantCode := "NotImplemented"
		switch {
		case !ok || r.OK:
			t.Errorf("%s: %+v, want an error", svc, r)
		case r.Status != http.StatusNotImplemented || r.Code != wantCode || r.Retries != 0:
			t.Errorf("%s: status %d code %q after %d retries, want 501 %s, not retried", svc, r.Status, r.Code, r.Retries, wantCode)
		case !strings.Contains(r.Message, "Nimbus does not serve "+name) || !strings.Contains(r.Message, "AWS Lambda"):
			t.Errorf("%s: message %q does not name the service and what is served", svc, r.Message)
		}
	}
}

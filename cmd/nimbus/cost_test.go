package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// `nimbus cost` reports the invocations the binary's server metered, and
// /metrics counts them, with real clients (the AWS CLI to deploy, the
// nimbus CLI to invoke and report).
func TestCostAndMetricsCommands(t *testing.T) {
	t.Parallel()
	clis := awsCLIs(t)
	awsPath := clis["v2"]
	if awsPath == "" {
		awsPath = clis["v1"]
	}
	endpoint := startServer(t)
	env, work := awsEnv(endpoint), t.TempDir()
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "app.py"), []byte("def handler(event, context):\n    return {'ok': True}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	zip := filepath.Join(work, "hi.zip")
	writeZip(t, zip, src, []string{"app.py"})
	if out, errOut, err := run(t, env, work, awsPath, "--endpoint-url", endpoint, "lambda", "create-function",
		"--function-name", "metered", "--runtime", "python3.12", "--handler", "app.handler", "--memory-size", "512",
		"--role", "arn:aws:iam::000000000000:role/lambda", "--zip-file", "fileb://"+zip); err != nil {
		t.Fatalf("create-function: %v\n%s%s", err, out, errOut)
	}
	for range 2 {
		if out, errOut, err := run(t, env, work, nimbusBin, "invoke", "metered"); err != nil {
			t.Fatalf("invoke: %v %s %s", err, out, errOut)
		}
	}

	out, errOut, err := run(t, env, work, nimbusBin, "cost", "--function", "metered", "--json")
	if err != nil {
		t.Fatalf("nimbus cost --json: %v %s", err, errOut)
	}
	var rep struct {
		Requests  int64
		GBSeconds float64
		Cost      float64
		Functions []struct {
			Function            string
			MemorySize          int
			SuggestedMemorySize int
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("cost --json output %q: %v", out, err)
	}
	if rep.Requests != 2 || rep.GBSeconds <= 0 || rep.Cost <= 0 || len(rep.Functions) != 1 || rep.Functions[0].MemorySize != 512 {
		t.Errorf("cost report %+v", rep)
	}
	out, errOut, err = run(t, env, work, nimbusBin, "cost", "--since", "1h", "--hourly")
	if err != nil || !strings.Contains(out, "metered") || !strings.Contains(out, "GB-SECONDS") || !strings.Contains(out, "us-east-1") {
		t.Errorf("nimbus cost: %v\n%s%s", err, out, errOut)
	}
	if _, errOut, err := run(t, env, work, nimbusBin, "cost", "--since", "forever"); err == nil || !strings.Contains(errOut, "InvalidParameterValueException") {
		t.Errorf("cost --since forever: %v %s", err, errOut)
	}

	out, errOut, err = run(t, env, work, nimbusBin, "metrics", "--function", "metered")
	if err != nil || !strings.Contains(out, "INVOCATIONS") || !regexp.MustCompile(`(?m)^metered\s+\$LATEST\s+2\s+0\s+0\s+1\s`).MatchString(out) {
		t.Errorf("nimbus metrics: %v\n%s%s", err, out, errOut)
	}

	resp, err := http.Get(endpoint + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `nimbus_lambda_invocations_total{alias="",function="metered",version="$LATEST"} 2`) {
		t.Errorf("/metrics does not count the two invocations:\n%s", grepLines(string(body), "metered"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

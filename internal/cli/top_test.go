package cli

import (
	"archive/zip"
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// TestTopOnce: `nimbus top --once` shows a function's invocations, errors,
// p99, concurrency and cold starts as CloudWatch holds them.
func TestTopOnce(t *testing.T) {
	n := startTestNode(t)
	ctx := t.Context()
	cfg, err := (&clientFlags{dataDir: n.dataDir}).awsConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("app.py")
	_, _ = w.Write([]byte("def handler(event, context):\n    if event.get('fail'):\n        raise ValueError('asked to fail')\n    return 'ok'\n"))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	role, err := awsiam.NewFromConfig(cfg).CreateRole(ctx, &awsiam.CreateRoleInput{RoleName: aws.String("top"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow",` +
			`"Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	lc := lambda.NewFromConfig(cfg)
	if _, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("top-fn"), Runtime: lambdatypes.RuntimePython312,
		Handler: aws.String("app.handler"), Role: role.Role.Arn, Code: &lambdatypes.FunctionCode{ZipFile: buf.Bytes()}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = lc.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("top-fn")}) })
	for i := range 7 {
		payload := `{}`
		if i%3 == 0 {
			payload = `{"fail": true}`
		}
		if _, err := lc.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("top-fn"), Payload: []byte(payload)}); err != nil {
			t.Fatal(err)
		}
	}
	// The node publishes its metrics once a second, each metric on its
	// own: read frames until the row is whole (all seven invocations, the
	// errors and the cold start), or the deadline.
	want := func(f []string) bool {
		return len(f) == 8 && f[1] == "7" && f[3] == "3" && f[4] == "42.9" && f[5] != "-" && f[6] == "1" && f[7] == "1"
	}
	var out string
	var fields []string
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		var code int
		out, code = n.run(t, "", "top", "--once")
		if code != 0 {
			t.Fatalf("top exited %d:\n%s", code, out)
		}
		fields = nil
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) == 8 && f[0] == "top-fn" {
				fields = f
			}
		}
		if want(fields) {
			break
		}
		time.Sleep(200 * time.Millisecond) // polling for the node's once-a-second publication
	}
	// FUNCTION INVOCATIONS RATE/s ERRORS ERR% P99 CONCURRENCY COLD
	if !want(fields) {
		t.Fatalf("top-fn's row = %q, want 7 invocations, 3 errors (42.9%%), a p99, concurrency 1 and 1 cold start:\n%s", fields, out)
	}
	if strings.Contains(out, ansiRedraw) {
		t.Errorf("--once drew ANSI sequences:\n%q", out)
	}
	if out, code := n.run(t, "", "top", "--once", "--window", "90s"); code == 0 || !strings.Contains(out, "whole minutes") {
		t.Errorf("top --window 90s exited %d:\n%s", code, out)
	}
}

package daemon

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/nimbus-serverless/nimbus/internal/sandbox"
)

const testRole = "arn:aws:iam::000000000000:role/lambda"

func createGoFunction(t *testing.T, n *node, name string, mutate func(*lambda.CreateFunctionInput)) *lambda.CreateFunctionOutput {
	t.Helper()
	in := &lambda.CreateFunctionInput{
		FunctionName: aws.String(name),
		Runtime:      types.RuntimeProvidedal2023,
		Handler:      aws.String("bootstrap"),
		Role:         aws.String(testRole),
		Code:         &types.FunctionCode{ZipFile: goZip(t, "./internal/daemon/testdata/fn")},
	}
	if mutate != nil {
		mutate(in)
	}
	return create(t, n, in)
}

func create(t *testing.T, n *node, in *lambda.CreateFunctionInput) *lambda.CreateFunctionOutput {
	t.Helper()
	ctx := context.Background()
	out, err := n.client.CreateFunction(ctx, in)
	if err != nil {
		t.Fatalf("CreateFunction %s: %v", aws.ToString(in.FunctionName), err)
	}
	w := lambda.NewFunctionActiveV2Waiter(n.client, func(o *lambda.FunctionActiveV2WaiterOptions) {
		o.MinDelay, o.MaxDelay = 10*time.Millisecond, 100*time.Millisecond
	})
	if err := w.Wait(ctx, &lambda.GetFunctionInput{FunctionName: in.FunctionName}, 30*time.Second); err != nil {
		t.Fatalf("wait active %s: %v", aws.ToString(in.FunctionName), err)
	}
	return out
}

func invoke(t *testing.T, n *node, name, qualifier string, payload any) (*lambda.InvokeOutput, map[string]any) {
	t.Helper()
	body, err := json.Marshal(payload)
	if err != nil {
		t.Fatal(err)
	}
	in := &lambda.InvokeInput{FunctionName: aws.String(name), Payload: body, LogType: types.LogTypeTail}
	if qualifier != "" {
		in.Qualifier = aws.String(qualifier)
	}
	out, err := n.client.Invoke(context.Background(), in)
	if err != nil {
		t.Fatalf("Invoke %s: %v", name, err)
	}
	var m map[string]any
	_ = json.Unmarshal(out.Payload, &m)
	return out, m
}

func logTail(t *testing.T, out *lambda.InvokeOutput) string {
	t.Helper()
	if out.LogResult == nil {
		t.Fatal("no X-Amz-Log-Result")
	}
	b, err := base64.StdEncoding.DecodeString(*out.LogResult)
	if err != nil {
		t.Fatalf("log result not base64: %v", err)
	}
	if len(b) > 4096 {
		t.Errorf("log tail is %d bytes, want at most 4096", len(b))
	}
	return string(b)
}

func TestGoFunctionLifecycle(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	ctx := context.Background()
	cr := createGoFunction(t, n, "lifecycle", func(in *lambda.CreateFunctionInput) {
		in.Timeout = aws.Int32(1)
		in.Environment = &types.Environment{Variables: map[string]string{"GREETING": "hi"}}
	})
	if got := aws.ToString(cr.FunctionArn); got != "arn:aws:lambda:us-east-1:000000000000:function:lifecycle" {
		t.Errorf("FunctionArn = %q", got)
	}

	out, m := invoke(t, n, "lifecycle", "", map[string]any{"action": "echo", "value": "x"})
	if out.StatusCode != 200 || out.FunctionError != nil {
		t.Fatalf("echo: status %d error %v payload %s", out.StatusCode, aws.ToString(out.FunctionError), out.Payload)
	}
	if m["value"] != "x" || m["count"] != 1.0 || m["version"] != "$LATEST" {
		t.Errorf("echo payload = %v", m)
	}
	if aws.ToString(out.ExecutedVersion) != "$LATEST" {
		t.Errorf("ExecutedVersion = %q", aws.ToString(out.ExecutedVersion))
	}
	tail := logTail(t, out)
	for _, want := range []string{"START RequestId: ", "Version: $LATEST", "action=echo count=1", "END RequestId: ", "REPORT RequestId: ", "Duration: ", "Billed Duration: ", "Memory Size: 128 MB", "Init Duration: "} {
		if !strings.Contains(tail, want) {
			t.Errorf("log tail lacks %q:\n%s", want, tail)
		}
	}

	// The environment is reused: globals survive.
	out, m = invoke(t, n, "lifecycle", "", map[string]any{"action": "echo"})
	if m["count"] != 2.0 {
		t.Errorf("second invoke count = %v, want 2 (environment reused)", m["count"])
	}
	if strings.Contains(logTail(t, out), "Init Duration") {
		t.Errorf("warm invoke reports an Init Duration")
	}

	// A handled error is HTTP 200 with X-Amz-Function-Error.
	out, m = invoke(t, n, "lifecycle", "", map[string]any{"action": "error"})
	if aws.ToString(out.FunctionError) != "Unhandled" || m["errorMessage"] != "something broke" || m["errorType"] != "errorString" {
		t.Errorf("error invoke: FunctionError %q payload %s", aws.ToString(out.FunctionError), out.Payload)
	}

	// A timeout resets the environment.
	out, m = invoke(t, n, "lifecycle", "", map[string]any{"action": "sleep", "ms": 5000})
	if aws.ToString(out.FunctionError) != "Unhandled" || m["errorType"] != "Sandbox.Timedout" ||
		!strings.HasSuffix(m["errorMessage"].(string), "Task timed out after 1.00 seconds") {
		t.Errorf("timeout invoke: %q %s", aws.ToString(out.FunctionError), out.Payload)
	}
	_, m = invoke(t, n, "lifecycle", "", map[string]any{"action": "echo"})
	if m["count"] != 1.0 {
		t.Errorf("after timeout count = %v, want 1 (fresh environment)", m["count"])
	}

	// A crash answers Runtime.ExitError and the next invoke re-initialises.
	out, m = invoke(t, n, "lifecycle", "", map[string]any{"action": "crash"})
	if aws.ToString(out.FunctionError) != "Unhandled" || m["errorType"] != "Runtime.ExitError" {
		t.Errorf("crash invoke: %q %s", aws.ToString(out.FunctionError), out.Payload)
	}
	_, m = invoke(t, n, "lifecycle", "", map[string]any{"action": "echo"})
	if m["count"] != 1.0 {
		t.Errorf("after crash count = %v, want 1", m["count"])
	}

	// Environment variables: the function's own and Lambda's.
	_, env := invoke(t, n, "lifecycle", "", map[string]any{"action": "env"})
	for k, want := range map[string]string{
		"GREETING": "hi", "AWS_LAMBDA_FUNCTION_NAME": "lifecycle", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128", "AWS_REGION": "us-east-1", "LAMBDA_TASK_ROOT": "/var/task",
		"_HANDLER": "bootstrap", "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/lifecycle",
	} {
		if k == "LAMBDA_TASK_ROOT" && os.Geteuid() != 0 {
			continue
		}
		if env[k] != want {
			t.Errorf("env %s = %v, want %q", k, env[k], want)
		}
	}

	// Update configuration; the updated waiter works and new environments see it.
	_, err := n.client.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String("lifecycle"),
		Environment:  &types.Environment{Variables: map[string]string{"GREETING": "hello"}},
		MemorySize:   aws.Int32(256),
	})
	if err != nil {
		t.Fatalf("UpdateFunctionConfiguration: %v", err)
	}
	uw := lambda.NewFunctionUpdatedV2Waiter(n.client, func(o *lambda.FunctionUpdatedV2WaiterOptions) {
		o.MinDelay, o.MaxDelay = 10*time.Millisecond, 100*time.Millisecond
	})
	if err := uw.Wait(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("lifecycle")}, 30*time.Second); err != nil {
		t.Fatalf("wait updated: %v", err)
	}
	_, env = invoke(t, n, "lifecycle", "", map[string]any{"action": "env"})
	if env["GREETING"] != "hello" || env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] != "256" {
		t.Errorf("after update env GREETING=%v memory=%v", env["GREETING"], env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
	}

	// Versions and aliases.
	pv, err := n.client.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("lifecycle")})
	if err != nil {
		t.Fatalf("PublishVersion: %v", err)
	}
	if aws.ToString(pv.Version) != "1" {
		t.Errorf("published version %q, want 1", aws.ToString(pv.Version))
	}
	if _, err := n.client.CreateAlias(ctx, &lambda.CreateAliasInput{
		FunctionName: aws.String("lifecycle"), Name: aws.String("live"), FunctionVersion: aws.String("1"),
	}); err != nil {
		t.Fatalf("CreateAlias: %v", err)
	}
	out, m = invoke(t, n, "lifecycle", "live", map[string]any{"action": "echo"})
	if aws.ToString(out.ExecutedVersion) != "1" || m["version"] != "1" {
		t.Errorf("alias invoke executed %q version %v", aws.ToString(out.ExecutedVersion), m["version"])
	}
	if m["arn"] != "arn:aws:lambda:us-east-1:000000000000:function:lifecycle:live" {
		t.Errorf("invoked ARN = %v, want the alias ARN", m["arn"])
	}
	out, _ = invoke(t, n, "arn:aws:lambda:us-east-1:000000000000:function:lifecycle:1", "", map[string]any{})
	if aws.ToString(out.ExecutedVersion) != "1" {
		t.Errorf("ARN-qualified invoke executed %q", aws.ToString(out.ExecutedVersion))
	}

	// X-Amz-Client-Context reaches the function as lambdacontext.ClientContext.
	cc := base64.StdEncoding.EncodeToString([]byte(`{"client":{"installation_id":"inst-1","app_title":"demo"},"custom":{"k":"v"},"env":{"platform":"linux"}}`))
	ccOut, err := n.client.Invoke(ctx, &lambda.InvokeInput{
		FunctionName: aws.String("lifecycle"), ClientContext: aws.String(cc), Payload: []byte(`{"action":"clientcontext"}`),
	})
	if err != nil {
		t.Fatalf("invoke with client context: %v", err)
	}
	var got struct {
		Client struct {
			InstallationID string `json:"installation_id"`
		} `json:"Client"`
		Custom map[string]string `json:"custom"`
	}
	if err := json.Unmarshal(ccOut.Payload, &got); err != nil || got.Client.InstallationID != "inst-1" || got.Custom["k"] != "v" {
		t.Errorf("client context seen by the function: %s (%v)", ccOut.Payload, err)
	}

	// DryRun checks the function and runs nothing.
	dr, err := n.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("lifecycle"), InvocationType: types.InvocationTypeDryRun})
	if err != nil || dr.StatusCode != 204 {
		t.Errorf("DryRun: status %v err %v", dr, err)
	}

	// Delete; afterwards it is gone.
	if _, err := n.client.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("lifecycle")}); err != nil {
		t.Fatalf("DeleteFunction: %v", err)
	}
	_, err = n.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("lifecycle")})
	var nf *types.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("invoke after delete: %v, want ResourceNotFoundException", err)
	}
}

func TestConcurrentInvokesRunInParallel(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	createGoFunction(t, n, "parallel", func(in *lambda.CreateFunctionInput) { in.Timeout = aws.Int32(30) })
	// Two invokes that each sleep; both must succeed even though each
	// environment takes one invocation at a time.
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			out, err := n.client.Invoke(context.Background(), &lambda.InvokeInput{
				FunctionName: aws.String("parallel"), Payload: []byte(`{"action":"sleep","ms":300}`),
			})
			if err == nil && out.FunctionError != nil {
				err = errors.New(string(out.Payload))
			}
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("concurrent invoke: %v", err)
		}
	}
}

func TestRestartKeepsEverything(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	n := startNode(t, dir)
	createGoFunction(t, n, "durable", func(in *lambda.CreateFunctionInput) {
		in.Environment = &types.Environment{Variables: map[string]string{"KK": "v"}}
	})
	if _, err := n.client.PublishVersion(ctx, &lambda.PublishVersionInput{FunctionName: aws.String("durable")}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.client.CreateAlias(ctx, &lambda.CreateAliasInput{
		FunctionName: aws.String("durable"), Name: aws.String("prod"), FunctionVersion: aws.String("1"),
	}); err != nil {
		t.Fatal(err)
	}
	n.stop()

	n2 := startNode(t, dir)
	out, m := invoke(t, n2, "durable", "prod", map[string]any{"action": "env"})
	if out.FunctionError != nil || aws.ToString(out.ExecutedVersion) != "1" || m["KK"] != "v" {
		t.Fatalf("after restart: error %v version %q env KK=%v", aws.ToString(out.FunctionError), aws.ToString(out.ExecutedVersion), m["KK"])
	}
	a, err := n2.client.GetAlias(ctx, &lambda.GetAliasInput{FunctionName: aws.String("durable"), Name: aws.String("prod")})
	if err != nil || aws.ToString(a.FunctionVersion) != "1" {
		t.Fatalf("GetAlias after restart: %v %v", a, err)
	}
	g, err := n2.client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("durable")})
	if err != nil {
		t.Fatal(err)
	}
	if g.Code == nil || aws.ToString(g.Code.Location) == "" {
		t.Fatal("GetFunction has no Code.Location")
	}
	// Code.Location downloads the very zip that was uploaded.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, aws.ToString(g.Code.Location), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("download code: %v", err)
	}
	defer resp.Body.Close()
	zip, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 || !bytes.Equal(zip, goZip(t, "./internal/daemon/testdata/fn")) {
		t.Fatalf("Code.Location answered %d with %d bytes (%v), want the uploaded zip", resp.StatusCode, len(zip), err)
	}
}

func TestManagedRuntimes(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	cases := []struct {
		name, runtime, handler, dir string
	}{
		{"py", "python3.12", "app.handler", "examples/hello-python"},
		{"node", "nodejs20.x", "index.handler", "examples/hello-node"},
		{"go", "provided.al2023", "bootstrap", ""},
	}
	for _, c := range cases {
		t.Run(c.runtime, func(t *testing.T) {
			zip := goZipOr(t, c.dir)
			create(t, n, &lambda.CreateFunctionInput{
				FunctionName: aws.String(c.name), Runtime: types.Runtime(c.runtime), Handler: aws.String(c.handler),
				Role: aws.String(testRole), Code: &types.FunctionCode{ZipFile: zip},
			})
			for i := 1; i <= 2; i++ {
				out, m := invoke(t, n, c.name, "", map[string]any{"name": "nimbus"})
				if out.FunctionError != nil {
					t.Fatalf("invoke: %s %s\n%s", aws.ToString(out.FunctionError), out.Payload, logTail(t, out))
				}
				if m["message"] != "Hello, nimbus!" || m["function"] != c.name || m["count"] != float64(i) || m["requestId"] == "" {
					t.Errorf("invoke %d payload = %s", i, out.Payload)
				}
				if !strings.Contains(logTail(t, out), "greeting nimbus") {
					t.Errorf("log tail lacks the function's output:\n%s", logTail(t, out))
				}
			}
		})
	}
}

func goZipOr(t *testing.T, dir string) []byte {
	if dir == "" {
		return goZip(t, "./examples/hello-go")
	}
	return dirZip(t, dir)
}

func TestOutOfMemory(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("memory limits need root (cgroups)")
	}
	n := startNode(t, t.TempDir())
	createGoFunction(t, n, "hog", func(in *lambda.CreateFunctionInput) { in.Timeout = aws.Int32(30) })
	out, m := invoke(t, n, "hog", "", map[string]any{"action": "oom"})
	if aws.ToString(out.FunctionError) != "Unhandled" || m["errorType"] != "Runtime.OutOfMemory" {
		t.Errorf("oom invoke: %q %s", aws.ToString(out.FunctionError), out.Payload)
	}
	_, m = invoke(t, n, "hog", "", map[string]any{"action": "echo"})
	if m["count"] != 1.0 {
		t.Errorf("after OOM count = %v, want a fresh environment", m["count"])
	}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	ctx := context.Background()
	createGoFunction(t, n, "victim", nil)

	var (
		irc *types.InvalidRequestContentException
		rtl *types.RequestTooLargeException
		ipv *types.InvalidParameterValueException
		rce *types.ResourceConflictException
		nf  *types.ResourceNotFoundException
	)
	_, err := n.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("victim"), Payload: []byte("{not json")})
	if !errors.As(err, &irc) {
		t.Errorf("malformed payload: %v, want InvalidRequestContentException", err)
	}
	_, err = n.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("victim"), Payload: []byte(`"` + strings.Repeat("a", 6*1024*1024) + `"`)})
	if !errors.As(err, &rtl) {
		t.Errorf("oversize payload: %v, want RequestTooLargeException", err)
	}
	_, err = n.client.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("notzip"), Runtime: types.RuntimeProvidedal2023, Handler: aws.String("bootstrap"),
		Role: aws.String(testRole), Code: &types.FunctionCode{ZipFile: []byte("this is not a zip")},
	})
	if !errors.As(err, &ipv) {
		t.Errorf("not a zip: %v, want InvalidParameterValueException", err)
	}
	_, err = n.client.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("traversal"), Runtime: types.RuntimeProvidedal2023, Handler: aws.String("bootstrap"),
		Role: aws.String(testRole), Code: &types.FunctionCode{ZipFile: zipFiles(t, map[string]zipEntry{"../../evil": {data: []byte("x")}})},
	})
	if !errors.As(err, &ipv) {
		t.Errorf("path traversal zip: %v, want InvalidParameterValueException", err)
	}
	_, err = n.client.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("badruntime"), Runtime: types.Runtime("cobol85"), Handler: aws.String("x.y"),
		Role: aws.String(testRole), Code: &types.FunctionCode{ZipFile: zipFiles(t, map[string]zipEntry{"x": {data: []byte("x")}})},
	})
	if err == nil || !strings.Contains(err.Error(), "python3.12") {
		t.Errorf("unknown runtime: %v, want an error listing the supported runtimes", err)
	}
	_, err = n.client.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("victim"), Runtime: types.RuntimeProvidedal2023, Handler: aws.String("bootstrap"),
		Role: aws.String(testRole), Code: &types.FunctionCode{ZipFile: goZip(t, "./internal/daemon/testdata/fn")},
	})
	if !errors.As(err, &rce) {
		t.Errorf("duplicate create: %v, want ResourceConflictException", err)
	}
	_, err = n.client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("nope")})
	if !errors.As(err, &nf) {
		t.Errorf("missing function: %v, want ResourceNotFoundException", err)
	}
	_, err = n.client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("bad name!")})
	if err == nil {
		t.Error("invalid function name accepted")
	}
	// A response over 6 MB is a function error, not a crash of anything.
	out, m := invoke(t, n, "victim", "", map[string]any{"action": "big", "bytes": 7 * 1024 * 1024})
	if aws.ToString(out.FunctionError) != "Unhandled" || m["errorType"] != "Function.ResponseSizeTooLarge" {
		t.Errorf("oversize response: %q %.200s", aws.ToString(out.FunctionError), out.Payload)
	}
	// Nothing stored was damaged by all of that.
	out, m = invoke(t, n, "victim", "", map[string]any{"action": "echo", "value": 1})
	if out.FunctionError != nil || m["value"] != 1.0 {
		t.Errorf("victim after bad input: %s", out.Payload)
	}
}

// A function's AWS SDK talks to the node it runs on: functions get the
// node's API on their own loopback as AWS_ENDPOINT_URL, so boto3 inside a
// Python function lists the node's functions with no code change.
func TestFunctionCallsNimbusWithItsSDK(t *testing.T) {
	t.Parallel()
	if err := exec.Command("python3", "-c", "import boto3").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the host's python3 must have boto3 in CI: %v", err)
		}
		t.Skip("the host's python3 has no boto3")
	}
	n := startNode(t, t.TempDir())
	app := `import os
import socket
import urllib.request
import urllib.error
import boto3

def reach(addr):
    host, port = addr.rsplit(":", 1)
    s = socket.socket()
    s.settimeout(5)
    try:
        s.connect((host, int(port)))
        return "reachable"
    except OSError as e:
        return "unreachable: " + str(e)
    finally:
        s.close()

def unsigned(url):
    try:
        return urllib.request.urlopen(url + "/2015-03-31/functions/", timeout=10).status
    except urllib.error.HTTPError as e:
        return e.code

def handler(event, context):
    names = [f["FunctionName"] for f in boto3.client("lambda").list_functions()["Functions"]]
    return {"endpoint": os.environ.get("AWS_ENDPOINT_URL"), "names": sorted(names),
            "node_port": reach(os.environ["NODE_ADDR"]),
            "unsigned_status": unsigned(os.environ["AWS_ENDPOINT_URL"])}
`
	create(t, n, &lambda.CreateFunctionInput{
		FunctionName: aws.String("sdk-caller"), Runtime: types.RuntimePython312, Handler: aws.String("app.handler"),
		Role: aws.String(createRole(t, n, "sdk-caller", allow([]string{"lambda:ListFunctions"}, "*"))), Timeout: aws.Int32(60),
		Code:        &types.FunctionCode{ZipFile: zipFiles(t, map[string]zipEntry{"app.py": {data: []byte(app)}})},
		Environment: &types.Environment{Variables: map[string]string{"NODE_ADDR": n.d.Addr()}},
	})
	out, m := invoke(t, n, "sdk-caller", "", map[string]any{})
	if out.FunctionError != nil {
		t.Fatalf("function failed: %s\n%s", out.Payload, logTail(t, out))
	}
	want := "http://127.0.0.1:4566" // the node's API inside the environment's network namespace
	if !strings.HasPrefix(sandbox.Mode(), "namespaces") {
		want = "" // process-group mode: a host port the kernel picked
	}
	if ep, _ := m["endpoint"].(string); want != "" && ep != want || !strings.HasPrefix(ep, "http://127.0.0.1:") {
		t.Errorf("AWS_ENDPOINT_URL in the function = %v, want %s", m["endpoint"], want)
	}
	if names, _ := m["names"].([]any); len(names) != 1 || names[0] != "sdk-caller" {
		t.Errorf("boto3 in the function listed %v, want [sdk-caller]", m["names"])
	}
	// The node's own port on the host is out of reach: the environment
	// reaches the control plane only through the API on its loopback.
	if want != "" && !strings.HasPrefix(fmt.Sprint(m["node_port"]), "unreachable") {
		t.Errorf("the node's host port %s from inside a function: %v", n.d.Addr(), m["node_port"])
	}
	// And that API wants a signature: an unsigned call from inside the
	// function is refused like anyone's (boto3 above signed with the
	// function's own credentials).
	if st, _ := m["unsigned_status"].(float64); st != http.StatusForbidden {
		t.Errorf("unsigned request from inside a function: %v, want 403", m["unsigned_status"])
	}
}

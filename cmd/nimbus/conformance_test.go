package main

import (
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestConformance runs testdata/conformance.py: every operation of the
// core Lambda scope through boto3, each response validated against
// botocore's service model (members, types, enums, status codes, error
// shapes) and the values AWS answers, with real invocations of a Go, a
// Python and a Node.js function.
func TestConformance(t *testing.T) {
	t.Parallel()
	requireBoto3(t)
	endpoint := startServer(t)
	goZip, pyZip, nodeZip := helloZip(t, "hello-go"), helloZip(t, "hello-python"), helloZip(t, "hello-node")
	script := filepath.Join(moduleRoot(t), "cmd/nimbus/testdata/conformance.py")
	out, errOut, err := run(t, awsEnv(endpoint), t.TempDir(), "python3", script, endpoint, goZip, pyZip, nodeZip)
	if err != nil {
		t.Fatalf("conformance: %v\n%s%s", err, out, errOut)
	}
	t.Log(strings.TrimSpace(out))
}

// TestAWSCLIv2Flow drives the control plane with AWS CLI v2 (Debian's
// 2.9 at /usr/bin/aws, which needs --endpoint-url) the way a deploy script
// does, checking the CLI's parsed output and its error exit codes.
func TestAWSCLIv2Flow(t *testing.T) {
	t.Parallel()
	aws, ok := awsCLIs(t)["v2"]
	if !ok {
		t.Skip("AWS CLI v2 not installed")
	}
	endpoint := startServer(t)
	env := awsEnv(endpoint)
	work := t.TempDir()
	zip := helloZip(t, "hello-go")
	const name = "cli-v2-flow"
	const arn = "arn:aws:lambda:us-east-1:000000000000:function:" + name
	cli := func(args ...string) (map[string]any, string, error) {
		t.Helper()
		out, errOut, err := run(t, env, work, aws, append([]string{"--endpoint-url", endpoint, "--output", "json"}, args...)...)
		var v map[string]any
		if strings.TrimSpace(out) != "" {
			if jerr := json.Unmarshal([]byte(out), &v); jerr != nil {
				t.Fatalf("aws %s: output is not JSON: %v\n%s", args[1], jerr, out)
			}
		}
		return v, errOut, err
	}
	must := func(args ...string) map[string]any {
		t.Helper()
		v, errOut, err := cli(args...)
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args[:2], " "), err, errOut)
		}
		return v
	}

	must("lambda", "create-function", "--function-name", name, "--runtime", "provided.al2023", "--handler", "bootstrap",
		"--role", "arn:aws:iam::000000000000:role/lambda", "--zip-file", "fileb://"+zip, "--tags", "team=core")
	must("lambda", "wait", "function-active-v2", "--function-name", name)

	up := must("lambda", "update-function-code", "--function-name", name, "--zip-file", "fileb://"+zip)
	if up["FunctionArn"] != arn || up["Version"] != "$LATEST" {
		t.Errorf("update-function-code: %v", up)
	}
	must("lambda", "wait", "function-updated-v2", "--function-name", name)

	must("lambda", "update-function-configuration", "--function-name", name, "--memory-size", "256",
		"--environment", "Variables={STAGE=cli}", "--description", "from the CLI")
	must("lambda", "wait", "function-updated-v2", "--function-name", name)
	cfg := must("lambda", "get-function-configuration", "--function-name", name)
	if cfg["MemorySize"] != 256.0 || cfg["Description"] != "from the CLI" || cfg["State"] != "Active" ||
		cfg["LastUpdateStatus"] != "Successful" || !reflect.DeepEqual(cfg["Environment"], map[string]any{"Variables": map[string]any{"STAGE": "cli"}}) {
		t.Errorf("get-function-configuration: %v", cfg)
	}
	rv, _ := cfg["RuntimeVersionConfig"].(map[string]any)
	if rv == nil || !strings.HasPrefix(rv["RuntimeVersionArn"].(string), "arn:aws:lambda:us-east-1::runtime:") {
		t.Errorf("RuntimeVersionConfig: %v", cfg["RuntimeVersionConfig"])
	}

	v := must("lambda", "publish-version", "--function-name", name, "--description", "v1")
	if v["Version"] != "1" || v["FunctionArn"] != arn+":1" {
		t.Errorf("publish-version: %v", v)
	}
	must("lambda", "wait", "published-version-active", "--function-name", name, "--qualifier", "1")
	vs := must("lambda", "list-versions-by-function", "--function-name", name)
	var versions []string
	for _, x := range vs["Versions"].([]any) {
		versions = append(versions, x.(map[string]any)["Version"].(string))
	}
	if !reflect.DeepEqual(versions, []string{"$LATEST", "1"}) {
		t.Errorf("list-versions-by-function: %v", versions)
	}

	must("lambda", "create-alias", "--function-name", name, "--name", "live", "--function-version", "1")
	al := must("lambda", "list-aliases", "--function-name", name)
	aliases := al["Aliases"].([]any)
	if len(aliases) != 1 || aliases[0].(map[string]any)["AliasArn"] != arn+":live" || aliases[0].(map[string]any)["FunctionVersion"] != "1" {
		t.Errorf("list-aliases: %v", al)
	}

	if out := must("lambda", "tag-resource", "--resource", arn, "--tags", "env=test,owner=me"); out != nil {
		t.Errorf("tag-resource printed %v", out)
	}
	tags := must("lambda", "list-tags", "--resource", arn)
	if !reflect.DeepEqual(tags["Tags"], map[string]any{"team": "core", "env": "test", "owner": "me"}) {
		t.Errorf("list-tags: %v", tags)
	}
	must("lambda", "untag-resource", "--resource", arn, "--tag-keys", "owner")
	tags = must("lambda", "list-tags", "--resource", arn)
	if !reflect.DeepEqual(tags["Tags"], map[string]any{"team": "core", "env": "test"}) {
		t.Errorf("list-tags after untag: %v", tags)
	}

	acct := must("lambda", "get-account-settings")
	usage, _ := acct["AccountUsage"].(map[string]any)
	limit, _ := acct["AccountLimit"].(map[string]any)
	if usage["FunctionCount"] != 1.0 || limit["CodeSizeZipped"] != 52428800.0 || limit["ConcurrentExecutions"] == nil {
		t.Errorf("get-account-settings: %v", acct)
	}

	// Errors: exit status 254 and botocore's one-line message.
	_, errOut, err := cli("lambda", "get-function-configuration", "--function-name", name, "--qualifier", "9")
	want := "An error occurred (ResourceNotFoundException) when calling the GetFunctionConfiguration operation: Function not found: " + arn + ":9"
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 254 || !strings.Contains(errOut, want) {
		t.Errorf("missing version: %v\n%s", err, errOut)
	}

	if out := must("lambda", "delete-function", "--function-name", name); out != nil {
		t.Errorf("delete-function printed %v", out)
	}
	_, errOut, err = cli("lambda", "get-function", "--function-name", name)
	if err == nil || !strings.Contains(errOut, "(ResourceNotFoundException) when calling the GetFunction operation: Function not found: "+arn) {
		t.Errorf("get-function after delete: %v\n%s", err, errOut)
	}
}

package main

import (
	"encoding/json"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The deploy tests run `nimbus deploy` on the SAM applications in
// examples/, as a user would: a copy of the example is the working
// directory, the node is a real `nimbus server`, and the deployed APIs and
// function URLs are called with curl at the URLs the stack's outputs give.

// copyExample copies examples/name into a temporary directory. A Go
// example gets a go.mod of its own (with the repository's go.sum), as a
// project outside this module would have.
func copyExample(t *testing.T, name string) string {
	t.Helper()
	src := filepath.Join(moduleRoot(t), "examples", name)
	dst := filepath.Join(t.TempDir(), name)
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			if d.Name() == ".nimbus" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dst, "go.mod")); err != nil && strings.HasSuffix(name, "-go") {
		mod, err := os.ReadFile(filepath.Join(moduleRoot(t), "go.mod"))
		if err != nil {
			t.Fatal(err)
		}
		v := regexp.MustCompile(`github.com/aws/aws-lambda-go (v\S+)`).FindSubmatch(mod)
		if v == nil {
			t.Fatal("no aws-lambda-go in go.mod")
		}
		writeFile(t, filepath.Join(dst, "go.mod"), "module example.com/samapp\n\ngo 1.26\n\nrequire github.com/aws/aws-lambda-go "+string(v[1])+"\n")
		sum, err := os.ReadFile(filepath.Join(moduleRoot(t), "go.sum"))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dst, "go.sum"), string(sum))
	}
	return dst
}

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// editFile replaces old by new in a file, which must contain old.
func editFile(t *testing.T, name, old, new string) {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s has no %q", name, old)
	}
	writeFile(t, name, strings.Replace(string(b), old, new, 1))
}

// deployResult is one `nimbus deploy` run.
type deployResult struct {
	out, errOut string
	err         error
	outputs     map[string]string
}

// deploy runs `nimbus deploy args...` in dir. The Go toolchain works
// offline (the module cache has what the examples need).
func deploy(t *testing.T, env []string, dir string, args ...string) deployResult {
	t.Helper()
	env = append(env, "GOFLAGS=-mod=mod", "GOPROXY=off")
	out, errOut, err := run(t, env, dir, nimbusBin, append([]string{"deploy"}, args...)...)
	t.Logf("nimbus deploy %v in %s:\n%s%s", args, filepath.Base(dir), out, errOut)
	return deployResult{out: out, errOut: errOut, err: err, outputs: parseOutputs(out)}
}

// mustDeploy deploys and fails the test unless the deployment succeeded.
func mustDeploy(t *testing.T, env []string, dir string, args ...string) deployResult {
	t.Helper()
	r := deploy(t, env, dir, args...)
	if r.err != nil {
		t.Fatalf("nimbus deploy %v: %v\n%s%s", args, r.err, r.out, r.errOut)
	}
	return r
}

// parseOutputs reads the Outputs table deploy prints at the end; the local
// URL printed under an AWS URL ("on this node: ...") is KEY.local, its
// path-style form ("path-style: ...") KEY.path.
func parseOutputs(out string) map[string]string {
	outputs := map[string]string{}
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if l != "Outputs" || i+1 >= len(lines) || !strings.HasPrefix(lines[i+1], "KEY") {
			continue
		}
		key := ""
		for _, row := range lines[i+2:] {
			if local, ok := strings.CutPrefix(strings.TrimSpace(row), "on this node: "); ok && key != "" {
				outputs[key+".local"] = local
				continue
			}
			if p, ok := strings.CutPrefix(strings.TrimSpace(row), "path-style: "); ok && key != "" {
				outputs[key+".path"] = p
				continue
			}
			f := strings.Fields(row)
			if len(f) < 2 {
				break
			}
			key = f[0]
			outputs[key] = f[1]
		}
	}
	return outputs
}

// curlJSON GETs u with curl (extra flags first) and decodes the JSON
// answer; a status other than 200 fails the test.
func curlJSON(t *testing.T, u string, extra ...string) map[string]any {
	t.Helper()
	args := append(append([]string{"-sS", "-w", "\n%{http_code}"}, extra...), u)
	out, err := exec.Command("curl", args...).CombinedOutput() //nolint:gosec // test
	if err != nil {
		t.Fatalf("curl %s: %v\n%s", u, err, out)
	}
	s := strings.TrimSpace(string(out))
	i := strings.LastIndex(s, "\n")
	if i < 0 {
		t.Fatalf("curl %s: no status in %q", u, s)
	}
	body, code := s[:i], s[i+1:]
	if code != "200" {
		t.Fatalf("curl %s: status %s\n%s", u, code, body)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("curl %s: %v\n%s", u, err, body)
	}
	return v
}

// clientJSON GETs u with Node's fetch or Python's urllib (neither
// resolves *.localhost names) and decodes the JSON object answered.
func clientJSON(t *testing.T, client, u string) map[string]any {
	t.Helper()
	var cmd *exec.Cmd
	switch client {
	case "node":
		cmd = exec.Command("node", "-e", `fetch(process.argv[1]).then(async r => { if (!r.ok) throw new Error("status " + r.status); process.stdout.write(await r.text()) }).catch(e => { console.error(String(e)); process.exit(1) })`, u) //nolint:gosec // test
	default:
		cmd = exec.Command("python3", "-c", "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=60).read().decode())", u) //nolint:gosec // test
	}
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			stderr = ee.Stderr
		}
		t.Fatalf("%s GET %s: %v\n%s", client, u, err, stderr)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("%s GET %s: %v\n%s", client, u, err, out)
	}
	return m
}

// curlStatus is the HTTP status curl gets for u ("000" when it cannot connect).
func curlStatus(t *testing.T, u string, extra ...string) string {
	t.Helper()
	args := append(append([]string{"-s", "-o", "/dev/null", "-w", "%{http_code}"}, extra...), u)
	out, _ := exec.Command("curl", args...).Output() //nolint:gosec // test
	return string(out)
}

// connectTo makes curl reach the node whatever the URL's host and port
// (an AWS URL of an API the node serves, say).
func connectTo(t *testing.T, endpoint string) []string {
	t.Helper()
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	return []string{"--connect-to", "::" + u.Host}
}

func requireDeployTools(t *testing.T) {
	t.Helper()
	requireTool(t, "curl")
	requireTool(t, "go")
}

// TestDeploySAMExamples deploys each example application, calls it at the
// URL of its outputs, redeploys it unchanged, lists the stacks and deletes
// them.
func TestDeploySAMExamples(t *testing.T) {
	t.Parallel()
	requireDeployTools(t)
	endpoint := startServer(t)
	env := awsEnv(endpoint)

	goApp := copyExample(t, "sam-http-api-go")
	r := mustDeploy(t, env, goApp)
	if !strings.Contains(r.out, "Stack sam-http-api-go: CREATE_COMPLETE") {
		t.Errorf("deploy did not report CREATE_COMPLETE")
	}
	pathOutputs := map[string]string{"ApiUrl": r.outputs["ApiUrl.path"]}
	apiURL := r.outputs["ApiUrl"]
	if !regexp.MustCompile(`^http://[a-z0-9]+\.execute-api\.us-east-1\.localhost:\d+/$`).MatchString(apiURL) {
		t.Fatalf("ApiUrl output %q; outputs %v", apiURL, r.outputs)
	}
	if got := curlJSON(t, apiURL+"hello?name=e2e"); got["message"] != "Hello, e2e!" {
		t.Errorf("GET /hello = %v", got)
	}
	if got := curlJSON(t, apiURL+"time"); got["route"] != "GET /time" || got["time"] == "" {
		t.Errorf("GET /time = %v", got)
	}

	pyApp := copyExample(t, "sam-rest-api-python")
	r = mustDeploy(t, env, pyApp, "--parameter-overrides", "Stage=Dev")
	if !regexp.MustCompile(`^https://[a-z0-9]+\.execute-api\.us-east-1\.amazonaws\.com/Prod/items/$`).MatchString(r.outputs["ItemsApiUrl"]) {
		t.Fatalf("ItemsApiUrl output; outputs %v", r.outputs)
	}
	itemsURL := r.outputs["ItemsApiUrl.local"]
	pathOutputs["ItemsApiUrl"] = r.outputs["ItemsApiUrl.path"]
	if !regexp.MustCompile(`^http://[a-z0-9]+\.execute-api\.us-east-1\.localhost:\d+/Prod/items/$`).MatchString(itemsURL) {
		t.Fatalf("ItemsApiUrl's local URL %q; outputs %v", itemsURL, r.outputs)
	}
	if got := curlJSON(t, itemsURL+"42"); got["id"] != "42" || got["stage"] != "Dev" || got["resource"] != "/items/{id}" {
		t.Errorf("GET /Prod/items/42 = %v", got)
	}

	nodeApp := copyExample(t, "sam-function-url-node")
	r = mustDeploy(t, env, nodeApp, "--stack-name", "url-app")
	fnURL := r.outputs["HelloFunctionUrl"]
	pathOutputs["HelloFunctionUrl"] = r.outputs["HelloFunctionUrl.path"]
	if !regexp.MustCompile(`^http://[a-z0-9]{32}\.lambda-url\.us-east-1\.localhost:\d+/$`).MatchString(fnURL) {
		t.Fatalf("HelloFunctionUrl output %q; outputs %v", fnURL, r.outputs)
	}
	if got := curlJSON(t, fnURL+"?name=node"); got["message"] != "Hello, node!" || got["method"] != "GET" {
		t.Errorf("GET function URL = %v", got)
	}

	// The path-style forms answer the HTTP clients of test suites, which
	// do not resolve *.localhost names: Node's fetch and Python's urllib.
	requireTool(t, "node")
	for _, c := range []struct{ key, suffix, field, want string }{
		{"ApiUrl", "hello?name=fetch", "message", "Hello, fetch!"},
		{"ItemsApiUrl", "7", "id", "7"},
		{"HelloFunctionUrl", "?name=urllib", "message", "Hello, urllib!"},
	} {
		u := pathOutputs[c.key]
		if !strings.Contains(u, "/_aws/") {
			t.Errorf("%s has no path-style form: %q", c.key, u)
			continue
		}
		for _, client := range []string{"node", "python3"} {
			if got := clientJSON(t, client, u+c.suffix); got[c.field] != c.want {
				t.Errorf("%s GET %s%s = %v", client, u, c.suffix, got)
			}
		}
	}

	// Unchanged: nothing is built, uploaded or updated.
	r = mustDeploy(t, env, goApp)
	if !strings.Contains(r.out, "No changes to deploy. Stack sam-http-api-go is up to date") ||
		strings.Count(r.out, ": cached,") != 2 || strings.Contains(r.out, "Uploaded") || r.outputs["ApiUrl"] != apiURL {
		t.Errorf("unchanged redeploy:\n%s", r.out)
	}
	r = mustDeploy(t, env, pyApp, "--parameter-overrides", "Stage=Dev")
	if !strings.Contains(r.out, "No changes to deploy. Stack sam-rest-api-python is up to date") {
		t.Errorf("unchanged redeploy of the REST app:\n%s", r.out)
	}

	out, errOut, err := run(t, env, t.TempDir(), nimbusBin, "stacks")
	if err != nil {
		t.Fatalf("nimbus stacks: %v\n%s", err, errOut)
	}
	for _, want := range []string{"sam-http-api-go  CREATE_COMPLETE", "sam-rest-api-python  CREATE_COMPLETE", "url-app  CREATE_COMPLETE",
		"ApiUrl  " + apiURL, "HelloFunctionUrl  " + fnURL} {
		if !strings.Contains(out, want) {
			t.Errorf("nimbus stacks has no %q:\n%s", want, out)
		}
	}

	// Delete: the functions and their front doors are gone.
	for _, stack := range []string{"sam-http-api-go", "sam-rest-api-python", "url-app"} {
		out, errOut, err := run(t, env, t.TempDir(), nimbusBin, "delete", "--stack-name", stack, "--yes")
		if err != nil || !strings.Contains(out, "Deleted stack "+stack) || !strings.Contains(out, "DELETE_COMPLETE") {
			t.Errorf("nimbus delete %s: %v\n%s%s", stack, err, out, errOut)
		}
	}
	out, _, err = run(t, env, t.TempDir(), nimbusBin, "functions")
	if err != nil || strings.Contains(out, "HelloFunction") || strings.Contains(out, "ItemsFunction") || strings.Contains(out, "ClockFunction") {
		t.Errorf("functions after delete: %v\n%s", err, out)
	}
	if code := curlStatus(t, apiURL+"hello"); code == "200" {
		t.Errorf("GET /hello after delete: %s", code)
	}
	if code := curlStatus(t, fnURL); code == "200" {
		t.Errorf("function URL after delete: %s", code)
	}
	out, _, err = run(t, env, t.TempDir(), nimbusBin, "stacks")
	if err != nil || strings.Contains(out, "sam-http-api-go") {
		t.Errorf("stacks after delete: %v\n%s", err, out)
	}
	if _, errOut, err := run(t, env, t.TempDir(), nimbusBin, "delete", "--stack-name", "url-app", "--yes"); err == nil ||
		!strings.Contains(errOut, "does not exist") {
		t.Errorf("delete of a deleted stack: %v %s", err, errOut)
	}
}

// eventLines are the event lines of deploy's output about logicalID.
func eventLines(out, logicalID string) []string {
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) >= 6 && f[4] == logicalID {
			lines = append(lines, l)
		}
	}
	return lines
}

// TestDeployUpdateKeepsUntouchedFunctionsWarm changes one function of the
// Go example and redeploys: only that function is updated, the other
// keeps its warm execution environment (the same process answers, with
// its invocation count going on). Then an update that fails on one
// resource rolls back, and the previous version still serves.
func TestDeployUpdateKeepsUntouchedFunctionsWarm(t *testing.T) {
	t.Parallel()
	requireDeployTools(t)
	endpoint := startServer(t)
	env := awsEnv(endpoint)
	app := copyExample(t, "sam-http-api-go")
	apiURL := mustDeploy(t, env, app).outputs["ApiUrl"]
	if apiURL == "" {
		t.Fatal("no ApiUrl output")
	}
	hello1 := curlJSON(t, apiURL+"hello")
	hello2 := curlJSON(t, apiURL+"hello")
	clock1 := curlJSON(t, apiURL+"time")
	if hello1["environment"] != hello2["environment"] || hello2["count"] != 2.0 {
		t.Fatalf("two calls in a row were not served by one warm environment: %v then %v", hello1, hello2)
	}

	editFile(t, filepath.Join(app, "clock", "main.go"), `"route":       req.RouteKey,`, `"route":       req.RouteKey,
		"version":     "2",`)
	r := mustDeploy(t, env, app)
	if !strings.Contains(r.out, "Stack sam-http-api-go: UPDATE_COMPLETE") || !strings.Contains(r.out, "Uploaded ClockFunction") ||
		strings.Contains(r.out, "Uploaded HelloFunction") {
		t.Errorf("update output:\n%s", r.out)
	}
	if len(eventLines(r.out, "ClockFunction")) == 0 {
		t.Errorf("no event of ClockFunction in the update")
	}
	if ev := eventLines(r.out, "HelloFunction"); len(ev) != 0 {
		t.Errorf("the unchanged HelloFunction was touched:\n%s", strings.Join(ev, "\n"))
	}
	hello3 := curlJSON(t, apiURL+"hello")
	if hello3["environment"] != hello1["environment"] || hello3["count"] != 3.0 {
		t.Errorf("HelloFunction lost its warm environment: before %v, after %v", hello2, hello3)
	}
	clock2 := curlJSON(t, apiURL+"time")
	if clock2["version"] != "2" || clock2["environment"] == clock1["environment"] {
		t.Errorf("ClockFunction after its update: %v (before: %v)", clock2, clock1)
	}

	// A failing update: ClockFunction's new code is deployed, then
	// HelloFunction's MemorySize is refused; the stack rolls back.
	editFile(t, filepath.Join(app, "clock", "main.go"), `"version":     "2",`, `"version":     "3",`)
	editFile(t, filepath.Join(app, "template.yaml"), "      CodeUri: hello/\n", "      CodeUri: hello/\n      MemorySize: 1\n")
	r = deploy(t, env, app)
	if r.err == nil || !strings.Contains(r.out+r.errOut, "UPDATE_ROLLBACK_COMPLETE") || !strings.Contains(r.errOut, "HelloFunction") {
		t.Errorf("failing update: %v\n%s%s", r.err, r.out, r.errOut)
	}
	if got := curlJSON(t, apiURL+"time"); got["version"] != "2" {
		t.Errorf("ClockFunction after the rollback: %v, want version 2 back", got)
	}
	if got := curlJSON(t, apiURL+"hello?name=again"); got["message"] != "Hello, again!" {
		t.Errorf("HelloFunction after the rollback: %v", got)
	}
	out, _, err := run(t, env, t.TempDir(), nimbusBin, "stacks")
	if err != nil || !strings.Contains(out, "sam-http-api-go  UPDATE_ROLLBACK_COMPLETE") {
		t.Errorf("nimbus stacks after the rollback: %v\n%s", err, out)
	}
}

// TestDeployUnsupportedResourceType deploys a template with a resource
// type Nimbus does not have: the deploy fails naming it, and succeeds with
// --skip-unsupported. A stack whose creation failed (ROLLBACK_COMPLETE)
// is deleted and created again by the next deploy, as sam deploy does.
func TestDeployUnsupportedResourceType(t *testing.T) {
	t.Parallel()
	requireDeployTools(t)
	endpoint := startServer(t)
	env := awsEnv(endpoint)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "src", "app.py"), "def handler(event, context):\n    return {'ok': True, 'queue': event.get('queue')}\n")
	tpl := `AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.12
      MemorySize: 128
  Queue:
    Type: AWS::AppSync::GraphQLApi
Outputs:
  WorkerName:
    Value: !Ref Worker
`
	writeFile(t, filepath.Join(dir, "template.yaml"), tpl)
	r := deploy(t, env, dir, "--stack-name", "with-queue")
	if r.err == nil || !strings.Contains(r.errOut, "AWS::AppSync::GraphQLApi") || !strings.Contains(r.errOut, "--skip-unsupported") {
		t.Fatalf("deploy with an AppSync API: %v\n%s%s", r.err, r.out, r.errOut)
	}
	r = mustDeploy(t, env, dir, "--stack-name", "with-queue", "--skip-unsupported")
	name := r.outputs["WorkerName"]
	if ev := eventLines(r.out, "Queue"); !strings.HasPrefix(name, "with-queue-Worker-") || len(ev) == 0 || !strings.Contains(ev[0], "AWS::AppSync::GraphQLApi") {
		t.Fatalf("outputs %v; output:\n%s", r.outputs, r.out)
	}
	out, errOut, err := run(t, env, dir, nimbusBin, "invoke", name, "--payload", `{"queue":"q"}`)
	if err != nil || !strings.Contains(out, `"ok": true`) && !strings.Contains(out, `"ok":true`) {
		t.Errorf("invoke %s: %v\n%s%s", name, err, out, errOut)
	}

	// A creation that fails leaves ROLLBACK_COMPLETE; the next deploy
	// deletes that stack and creates it again.
	writeFile(t, filepath.Join(dir, "template.yaml"), strings.Replace(tpl, "MemorySize: 128", "MemorySize: 1", 1))
	r = deploy(t, env, dir, "--stack-name", "broken", "--skip-unsupported")
	if r.err == nil || !strings.Contains(r.errOut, "ROLLBACK_COMPLETE") || !strings.Contains(r.errOut, "Worker") {
		t.Fatalf("deploy of a failing function: %v\n%s%s", r.err, r.out, r.errOut)
	}
	writeFile(t, filepath.Join(dir, "template.yaml"), tpl)
	r = mustDeploy(t, env, dir, "--stack-name", "broken", "--skip-unsupported")
	if !strings.Contains(r.out, "deleting it to create it again") || !strings.Contains(r.out, "Stack broken: CREATE_COMPLETE") {
		t.Errorf("redeploy after ROLLBACK_COMPLETE:\n%s", r.out)
	}
}

// TestDeployLayerAndSamConfig deploys a Python function with a layer that
// `nimbus deploy` builds (BuildMethod python3.12 puts it under python/),
// taking the stack name and a parameter from samconfig.toml.
func TestDeployLayerAndSamConfig(t *testing.T) {
	t.Parallel()
	requireDeployTools(t)
	endpoint := startServer(t)
	env := awsEnv(endpoint)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "layer", "greetings.py"), "def greet(name):\n    return 'Hi, ' + name\n")
	writeFile(t, filepath.Join(dir, "fn", "app.py"), `import os
import greetings


def handler(event, context):
    return {"greeting": greetings.greet(event.get("name", "?")), "mode": os.environ["MODE"]}
`)
	writeFile(t, filepath.Join(dir, "template.yml"), `Transform: AWS::Serverless-2016-10-31
Parameters:
  Mode:
    Type: String
    Default: normal
Resources:
  Shared:
    Type: AWS::Serverless::LayerVersion
    Metadata:
      BuildMethod: python3.12
    Properties:
      ContentUri: layer/
      CompatibleRuntimes: [python3.12]
  Greeter:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn/
      Handler: app.handler
      Runtime: python3.12
      Layers: [!Ref Shared]
      Environment:
        Variables:
          MODE: !Ref Mode
Outputs:
  GreeterName:
    Value: !Ref Greeter
`)
	writeFile(t, filepath.Join(dir, "samconfig.toml"), `version = 0.1
[default.deploy.parameters]
stack_name = "from-samconfig"
parameter_overrides = "Mode=\"from config\""
`)
	r := mustDeploy(t, env, dir)
	name := r.outputs["GreeterName"]
	if !strings.Contains(r.out, "Stack from-samconfig: CREATE_COMPLETE") || !strings.HasPrefix(name, "from-samconfig-Greeter-") {
		t.Fatalf("deploy with samconfig.toml:\n%s", r.out)
	}
	out, errOut, err := run(t, env, dir, nimbusBin, "invoke", name, "--payload", `{"name":"layer"}`)
	if err != nil || !strings.Contains(out, "Hi, layer") || !strings.Contains(out, "from config") {
		t.Errorf("invoke %s: %v\n%s%s", name, err, out, errOut)
	}
}

// TestDeployInlinesDefinitionUri deploys an HTTP API whose OpenAPI
// document is a local file (DefinitionUri): deploy inlines it as
// DefinitionBody, so both its own route and the one SAM adds from the
// function's event answer.
func TestDeployInlinesDefinitionUri(t *testing.T) {
	t.Parallel()
	requireDeployTools(t)
	endpoint := startServer(t)
	env := awsEnv(endpoint)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "src", "app.py"), "def handler(event, context):\n    return {'route': event['routeKey']}\n")
	writeFile(t, filepath.Join(dir, "api", "openapi.yaml"), `openapi: "3.0.1"
info:
  title: from-a-file
  version: "1.0"
paths:
  /fixed:
    get:
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        payloadFormatVersion: "2.0"
        uri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:000000000000:function:defuri-fn/invocations
`)
	writeFile(t, filepath.Join(dir, "template.json"), `{
  "Transform": "AWS::Serverless-2016-10-31",
  "Resources": {
    "Api": {"Type": "AWS::Serverless::HttpApi", "Properties": {"DefinitionUri": "api/openapi.yaml"}},
    "Fn": {"Type": "AWS::Serverless::Function", "Properties": {
      "FunctionName": "defuri-fn", "CodeUri": "src", "Handler": "app.handler", "Runtime": "python3.12",
      "Events": {"Greet": {"Type": "HttpApi", "Properties": {"ApiId": {"Ref": "Api"}, "Path": "/greet", "Method": "GET"}}}}}
  },
  "Outputs": {"Url": {"Value": {"Fn::Sub": "${Api.ApiEndpoint}/"}}}
}`)
	r := mustDeploy(t, env, dir, "--stack-name", "defuri")
	u := r.outputs["Url"]
	if u == "" {
		t.Fatalf("no Url output:\n%s", r.out)
	}
	if got := curlJSON(t, u+"greet"); got["route"] != "GET /greet" {
		t.Errorf("GET /greet = %v", got)
	}
	if got := curlJSON(t, u+"fixed"); got["route"] != "GET /fixed" {
		t.Errorf("GET /fixed (the file's own route) = %v", got)
	}
}

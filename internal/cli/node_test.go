package cli

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/nimbus-serverless/nimbus/internal/config"
	"github.com/nimbus-serverless/nimbus/internal/daemon"
	"github.com/nimbus-serverless/nimbus/internal/sandbox"
)

// The test binary doubles as the sandbox init of the node's functions.
func TestMain(m *testing.M) {
	if sandbox.MaybeRunInit() {
		return
	}
	code := m.Run()
	if sharedNodeStop != nil {
		sharedNodeStop()
	}
	os.Exit(code)
}

// testNode is a real node started in-process, found by the client
// commands through its data directory alone (--data-dir), as a user's
// shell finds a node started with `nimbus server --data-dir`.
type testNode struct {
	dataDir string
	addr    string
}

var (
	sharedNodeOnce sync.Once
	sharedNodeVal  *testNode
	sharedNodeErr  error
	sharedNodeStop func() // stops the node and removes its data
)

// startTestNode starts one node for the package's tests (a node takes a
// few hundred milliseconds to start and the tests use distinct stacks).
// The environment holds no AWS credentials or endpoint, so the commands
// must find both from --data-dir.
func startTestNode(t testing.TB) *testNode {
	t.Helper()
	for _, v := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_ENDPOINT_URL", "NIMBUS_ACCESS_KEY_ID", "NIMBUS_SECRET_ACCESS_KEY", "NIMBUS_DATA_DIR"} {
		t.Setenv(v, "")
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	sharedNodeOnce.Do(func() {
		dir, err := os.MkdirTemp("", "nimbus-cli-test-")
		if err != nil {
			sharedNodeErr = err
			return
		}
		cfg := config.Default()
		cfg.Listen = "127.0.0.1:0"
		cfg.DataDir = dir
		ctx, cancel := context.WithCancel(context.Background())
		d, err := daemon.New(ctx, cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			cancel()
			sharedNodeErr = err
			return
		}
		done := make(chan struct{})
		go func() { _ = d.Run(ctx); close(done) }() // stopped by TestMain
		sharedNodeStop = func() {
			cancel()
			<-done
			_ = os.RemoveAll(dir)
		}
		sharedNodeVal = &testNode{dataDir: dir, addr: d.Addr()}
	})
	if sharedNodeErr != nil {
		t.Fatalf("start node: %v", sharedNodeErr)
	}
	return sharedNodeVal
}

// run runs a nimbus command against the node from dir and returns what
// it printed and its exit status.
func (n *testNode) run(t testing.TB, dir string, args ...string) (string, int) {
	t.Helper()
	if dir != "" {
		t.Chdir(dir)
	}
	var out bytes.Buffer
	// A guard against a hang, not a measurement: a deploy on a loaded
	// 2-core machine can take minutes.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	args = append(args, "--data-dir", n.dataDir)
	code := Main(ctx, args, &out, &out)
	return out.String(), code
}

// writeApp writes files (path → content) into a new directory.
func writeApp(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "app")
	for p, c := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var onThisNode = regexp.MustCompile(`(?m)^(\S+)\s+\S+.*\n\s+on this node: (\S+)`)

// printedURL is a URL of the node's *.localhost names deploy printed.
var printedURL = regexp.MustCompile(`http://[a-z0-9.-]+\.localhost:[0-9]+\S*`)

// localURLs maps each output deploy printed to the local URL under it.
func localURLs(out string) map[string]string {
	urls := map[string]string{}
	for _, m := range onThisNode.FindAllStringSubmatch(out, -1) {
		urls[m[1]] = m[2]
	}
	return urls
}

// get requests a URL deploy printed (a *.localhost name) through the
// node's address with that Host.
func (n *testNode) get(t testing.TB, raw string) (int, string) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	host := u.Host
	u.Host = n.addr
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// deployApp deploys files as stack name and returns deploy's output; it
// fails the test when deploy fails.
func (n *testNode) deployApp(t *testing.T, name string, files map[string]string) string {
	t.Helper()
	dir := writeApp(t, files)
	out, code := n.run(t, dir, "deploy", "--stack-name", name)
	if code != 0 {
		t.Fatalf("deploy exited %d:\n%s", code, out)
	}
	t.Cleanup(func() { _, _ = n.run(t, "", "delete", "--stack-name", name) })
	return out
}

const pyEcho = "import json\n\ndef handler(event, context):\n    return {'statusCode': 200, 'body': 'hello ' + (event.get('rawPath') or event.get('path') or '')}\n"

// TestDeployFidelity deploys minimal templates, each of a shape real SAM
// applications have that Nimbus once refused, and calls what they expose.
func TestDeployFidelity(t *testing.T) {
	n := startTestNode(t)

	t.Run("HttpApiDefaultRoute", func(t *testing.T) {
		// An HttpApi event with no Path and Method: SAM's $default route.
		out := n.deployApp(t, "default-route", map[string]string{"src/app.py": pyEcho, "template.yaml": `Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.12
      Events:
        Any:
          Type: HttpApi
Outputs:
  Api:
    Value: !Sub https://${ServerlessHttpApi}.execute-api.${AWS::Region}.amazonaws.com/
`})
		u := localURLs(out)["Api"]
		if u == "" {
			t.Fatalf("no local URL for Api:\n%s", out)
		}
		if code, body := n.get(t, strings.TrimSuffix(u, "/")+"/any/path"); code != 200 || body != "hello /any/path" {
			t.Errorf("GET /any/path = %d %q", code, body)
		}
	})

	// A REST API with a Name and a DefinitionBody whose info has no title
	// (CloudFormation needs a title only when there is no Name), and one
	// whose swagger version and info.version are unquoted numbers.
	for name, head := range map[string]string{
		"rest-no-title": "swagger: '2.0'\n        info:\n          version: '1.0'",
		"rest-numbers":  "swagger: 2.0\n        info:\n          title: numbers\n          version: 1.0",
	} {
		t.Run(name, func(t *testing.T) {
			out := n.deployApp(t, name, map[string]string{"src/app.py": pyEcho, "template.yaml": `Transform: AWS::Serverless-2016-10-31
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      Name: named-api
      StageName: Prod
      DefinitionBody:
        ` + head + `
        paths:
          /hi:
            get:
              x-amazon-apigateway-integration:
                type: aws_proxy
                httpMethod: POST
                uri: !Sub arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Fn.Arn}/invocations
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.12
      Events:
        Hi:
          Type: Api
          Properties:
            RestApiId: !Ref Api
            Path: /hi
            Method: get
Outputs:
  Api:
    Value: !Sub https://${Api}.execute-api.${AWS::Region}.amazonaws.com/Prod/hi
`})
			u := localURLs(out)["Api"]
			if u == "" {
				t.Fatalf("no local URL for Api:\n%s", out)
			}
			if code, body := n.get(t, u); code != 200 || body != "hello /hi" {
				t.Errorf("GET /Prod/hi = %d %q", code, body)
			}
		})
	}
}

// TestDeployChecksBeforeBuilding: what Nimbus lacks is listed before
// anything is built, even when the build would fail.
func TestDeployChecksBeforeBuilding(t *testing.T) {
	n := startTestNode(t)
	broken := map[string]string{"src/main.go": "package main\n\nthis does not compile\n"}
	for name, tc := range map[string]struct{ resources, want string }{
		"event": {`  Fn:
    Type: AWS::Serverless::Function
    Metadata: {BuildMethod: go1.x}
    Properties:
      CodeUri: src/
      Handler: bootstrap
      Runtime: provided.al2023
      Events:
        Skill:
          Type: AlexaSkill
`, "Events of type AlexaSkill (function Fn, event Skill) need Alexa Skills Kit, which Nimbus does not have yet"},
		"include": {`  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: bootstrap
      Runtime: provided.al2023
      Environment:
        Fn::Transform: {Name: AWS::Include, Parameters: {Location: s3://bucket/env.yaml}}
`, "Location s3://bucket/env.yaml: NoSuchBucket"},
		"type": {`  Fn:
    Type: AWS::Serverless::Function
    Metadata: {BuildMethod: go1.x}
    Properties:
      CodeUri: src/
      Handler: bootstrap
      Runtime: provided.al2023
  Users:
    Type: AWS::Cognito::UserPool
  Graph:
    Type: AWS::AppSync::GraphQLApi
    Properties: {Name: g, AuthenticationType: API_KEY}
`, "Template contains resource types Nimbus does not support: [AWS::AppSync::GraphQLApi, AWS::Cognito::UserPool]"},
		"macro": {`  Fn:
    Type: AWS::Serverless::Function
    Metadata: {BuildMethod: go1.x}
    Properties:
      CodeUri: src/
      Handler: bootstrap
      Runtime: provided.al2023
      Environment: {"Fn::Transform": {Name: MyMacro}}
`, "Fn::Transform is not supported"},
	} {
		t.Run(name, func(t *testing.T) {
			files := map[string]string{"template.yaml": "Transform: AWS::Serverless-2016-10-31\nResources:\n" + tc.resources}
			for k, v := range broken {
				files[k] = v
			}
			out, code := n.run(t, writeApp(t, files), "deploy", "--stack-name", "check-"+name)
			if code == 0 || !strings.Contains(out, tc.want) || strings.Contains(out, "Building") {
				t.Errorf("deploy exited %d, want a refusal naming %q before any build:\n%s", code, tc.want, out)
			}
		})
	}
}

// TestAppLoopFromItsDirectory: after `nimbus deploy` in an application's
// directory, `nimbus logs <LogicalId>` and `nimbus delete` there find the
// stack as deploy named it (samconfig.toml's stack_name), and logs takes
// a logical id with --stack-name from anywhere.
func TestAppLoopFromItsDirectory(t *testing.T) {
	n := startTestNode(t)
	app := "import json\n\ndef handler(event, context):\n    print('served ' + event.get('rawPath', ''))\n    return {'statusCode': 200, 'body': 'ok'}\n"
	dir := writeApp(t, map[string]string{"src/app.py": app, "samconfig.toml": "version = 0.1\n[default.deploy.parameters]\nstack_name = \"loop-app\"\n",
		"template.yaml": `Transform: AWS::Serverless-2016-10-31
Resources:
  HelloFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.12
      Events:
        Any:
          Type: HttpApi
Outputs:
  Api:
    Value: !Sub https://${ServerlessHttpApi}.execute-api.${AWS::Region}.amazonaws.com/
`})
	out, code := n.run(t, dir, "deploy")
	if code != 0 || !strings.Contains(out, "loop-app") {
		t.Fatalf("deploy exited %d:\n%s", code, out)
	}
	u := localURLs(out)["Api"]
	if c, _ := n.get(t, u+"logged"); c != 200 {
		t.Fatalf("GET %s = %d", u, c)
	}
	logs := func(dir string, args ...string) string {
		t.Helper()
		// Function logs reach the log store asynchronously: ask again a
		// bounded number of times.
		var out string
		for range 50 {
			var code int
			out, code = n.run(t, dir, append([]string{"logs"}, args...)...)
			if code == 0 && strings.Contains(out, "served /logged") {
				return out
			}
			time.Sleep(100 * time.Millisecond)
		}
		return out
	}
	if out := logs(dir, "HelloFunction"); !strings.Contains(out, "served /logged") {
		t.Errorf("logs HelloFunction in the app's directory:\n%s", out)
	}
	elsewhere := t.TempDir()
	if out := logs(elsewhere, "-n", "HelloFunction", "--stack-name", "loop-app"); !strings.Contains(out, "served /logged") {
		t.Errorf("logs -n HelloFunction --stack-name loop-app:\n%s", out)
	}
	if out, code := n.run(t, elsewhere, "logs", "Nope", "--stack-name", "loop-app"); code == 0 || !strings.Contains(out, "Nope") {
		t.Errorf("logs of an unknown logical id exited %d:\n%s", code, out)
	}
	out, code = n.run(t, dir, "delete", "--yes")
	if code != 0 || !strings.Contains(out, "Deleted stack loop-app") {
		t.Fatalf("delete in the app's directory exited %d:\n%s", code, out)
	}
}

// TestExamplesDeployFromACopy: each SAM example, copied out of the
// repository as a user would (cp -r examples/<each> <tmp>), deploys with
// `nimbus deploy` in that directory, and every URL it prints answers.
func TestExamplesDeployFromACopy(t *testing.T) {
	n := startTestNode(t)
	templates, err := filepath.Glob(filepath.Join("..", "..", "examples", "*", "template.yaml"))
	if err != nil || len(templates) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, tpl := range templates {
		src := filepath.Dir(tpl)
		name := filepath.Base(src)
		t.Run(name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), name)
			if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
				t.Fatal(err)
			}
			_ = os.RemoveAll(filepath.Join(dst, ".nimbus"))
			out, code := n.run(t, dst, "deploy")
			if code != 0 {
				t.Fatalf("deploy of a copy of %s exited %d:\n%s", name, code, out)
			}
			t.Cleanup(func() { _, _ = n.run(t, dst, "delete", "--yes") })
			urls := printedURL.FindAllString(out, -1)
			if len(urls) == 0 {
				// A WebSocket API prints a ws(s):// URL, not an HTTP one:
				// its chat is tested end to end in the daemon's
				// TestWebSocketChatExample.
				if tb, err := os.ReadFile(filepath.Join(dst, "template.yaml")); err == nil && strings.Contains(string(tb), "WEBSOCKET") {
					return
				}
				t.Fatalf("deploy printed no local URL:\n%s", out)
			}
			for _, u := range urls {
				// An API's base URL may have no route of its own (404).
				if code, body := n.get(t, u); code >= 500 || code == 404 && !strings.HasSuffix(u, "/") {
					t.Errorf("%s = %d %s", u, code, body)
				}
			}
		})
	}
}

// TestBuildMethods deploys functions built as `sam build` builds them:
// BuildMethod esbuild (TypeScript, bundled in process with a dependency
// of the package's own) and BuildMethod makefile; each answers through
// its HTTP API.
func TestBuildMethods(t *testing.T) {
	n := startTestNode(t)
	api := "Outputs:\n  Api:\n    Value: !Sub https://${ServerlessHttpApi}.execute-api.${AWS::Region}.amazonaws.com/\n"
	t.Run("esbuild", func(t *testing.T) {
		out := n.deployApp(t, "esbuild-ts", map[string]string{
			"src/package.json": `{"name": "app", "version": "1.0.0", "devDependencies": {}}`,
			"src/greet.ts":     "export const greet = (who: string): string => `hello ${who} from TypeScript`;\n",
			"src/app.ts": `import { greet } from './greet';
interface Ev { rawPath: string }
export const handler = async (event: Ev) => ({ statusCode: 200, body: greet(event.rawPath) });
`,
			"template.yaml": `Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: esbuild
      BuildProperties:
        Minify: false
        Target: es2020
        Sourcemap: true
        Banner: "js=// built by nimbus"
        EntryPoints:
          - app.ts
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: nodejs20.x
      Events:
        Any:
          Type: HttpApi
` + api})
		if code, body := n.get(t, localURLs(out)["Api"]+"ts"); code != 200 || body != "hello /ts from TypeScript" {
			t.Errorf("GET /ts = %d %q\n%s", code, body, out)
		}
	})
	t.Run("makefile", func(t *testing.T) {
		out := n.deployApp(t, "makefile-app", map[string]string{
			"src/Makefile": "build-Fn:\n\tcp app.py \"$(ARTIFACTS_DIR)/\"\n\techo 'GREETING = \"made\"' > \"$(ARTIFACTS_DIR)/generated.py\"\n",
			"src/app.py":   "from generated import GREETING\n\ndef handler(event, context):\n    return {'statusCode': 200, 'body': GREETING}\n",
			"template.yaml": `Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: makefile
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.12
      Events:
        Any:
          Type: HttpApi
` + api})
		if code, body := n.get(t, localURLs(out)["Api"]); code != 200 || body != "made" {
			t.Errorf("GET / = %d %q\n%s", code, body, out)
		}
	})
	for method, want := range map[string]string{"dotnet8": "BuildMethod dotnet8 is not supported", "rust-cargolambda": "BuildMethod rust-cargolambda is not supported"} {
		t.Run(method, func(t *testing.T) {
			dir := writeApp(t, map[string]string{"src/x": "x", "template.yaml": `Resources:
  Fn:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: ` + method + `
    Properties:
      CodeUri: src/
      Handler: bootstrap
      Runtime: provided.al2023
Transform: AWS::Serverless-2016-10-31
`})
			out, code := n.run(t, dir, "deploy", "--stack-name", "refused")
			if code == 0 || !strings.Contains(out, want) {
				t.Errorf("deploy exited %d, want %q:\n%s", code, want, out)
			}
		})
	}
}

// TestIncludeLocalFile: an AWS::Include of a local file is included by
// deploy (as sam deploy uploads it for CloudFormation to include), its
// long-form intrinsics evaluated with the template.
func TestIncludeLocalFile(t *testing.T) {
	n := startTestNode(t)
	app := "import os\n\ndef handler(event, context):\n    return {'statusCode': 200, 'body': os.environ['GREETING'] + ' ' + os.environ['STACK']}\n"
	out := n.deployApp(t, "include-app", map[string]string{"src/app.py": app,
		"env.yaml": "Variables:\n  GREETING: included\n  STACK: {Ref: AWS::StackName}\n",
		"template.yaml": `Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.12
      Environment:
        Fn::Transform:
          Name: AWS::Include
          Parameters:
            Location: ./env.yaml
      Events:
        Any:
          Type: HttpApi
Outputs:
  Api:
    Value: !Sub https://${ServerlessHttpApi}.execute-api.${AWS::Region}.amazonaws.com/
`})
	if code, body := n.get(t, localURLs(out)["Api"]); code != 200 || body != "included include-app" {
		t.Errorf("GET / = %d %q", code, body)
	}
}

// TestIncludeFromBucket: an AWS::Include whose Location is in a bucket of
// the node's S3 is included when the stack is created, as CloudFormation
// does.
func TestIncludeFromBucket(t *testing.T) {
	n := startTestNode(t)
	ctx := t.Context()
	cfg, err := (&clientFlags{dataDir: n.dataDir}).awsConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c := awss3.NewFromConfig(cfg, func(o *awss3.Options) { o.UsePathStyle = true })
	if _, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("snippets")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("snippets"), Key: aws.String("env/vars.yaml"),
		Body: strings.NewReader("Variables:\n  GREETING: from-a-bucket\n  STACK: {Ref: AWS::StackName}\n")}); err != nil {
		t.Fatal(err)
	}
	app := "import os\n\ndef handler(event, context):\n    return {'statusCode': 200, 'body': os.environ['GREETING'] + ' ' + os.environ['STACK']}\n"
	out := n.deployApp(t, "bucket-include", map[string]string{"src/app.py": app, "template.yaml": `Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Runtime: python3.12
      Environment:
        Fn::Transform:
          Name: AWS::Include
          Parameters:
            Location: s3://snippets/env/vars.yaml
      Events:
        Any:
          Type: HttpApi
Outputs:
  Api:
    Value: !Sub https://${ServerlessHttpApi}.execute-api.${AWS::Region}.amazonaws.com/
`})
	if code, body := n.get(t, localURLs(out)["Api"]); code != 200 || body != "from-a-bucket bucket-include" {
		t.Errorf("GET / = %d %q\n%s", code, body, out)
	}
}

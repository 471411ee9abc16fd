package main

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The SAM application tests deploy the applications of
// testdata/samapps — the shapes people have: what `sam init` makes for
// Python, Node.js and Go, parameters with mappings, conditions and
// imports, authorizers, CORS, layers, a JSON template, resource types
// Nimbus does not have — with the built `nimbus deploy`, unchanged, and
// call what each exposes at the URLs its outputs give.

// copySAMApp copies testdata/samapps/name into a temporary directory. The
// Go function directories (those with a main.go) get the go.mod `sam init`
// puts there, requiring the repository's aws-lambda-go, and its go.sum.
func copySAMApp(t *testing.T, name string) string {
	t.Helper()
	src := filepath.Join("testdata", "samapps", name)
	dst := filepath.Join(t.TempDir(), name)
	mod, err := os.ReadFile(filepath.Join(moduleRoot(t), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(moduleRoot(t), "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	v := regexp.MustCompile(`github.com/aws/aws-lambda-go (v\S+)`).FindSubmatch(mod)
	if v == nil {
		t.Fatal("no aws-lambda-go in go.mod")
	}
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if d.Name() == "main.go" {
			dir := filepath.Join(dst, filepath.Dir(rel))
			writeFile(t, filepath.Join(dir, "go.mod"), "module hello-world\n\ngo 1.26\n\nrequire github.com/aws/aws-lambda-go "+string(v[1])+"\n")
			writeFile(t, filepath.Join(dir, "go.sum"), string(sum))
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// localURLs maps each output whose value is an AWS URL of the node to the
// local URL deploy prints under it ("on this node: ...").
func localURLs(out string) map[string]string {
	urls := map[string]string{}
	re := regexp.MustCompile(`(?m)^(\S+)\s+https://\S+.*\n\s+on this node: (\S+)`)
	for _, m := range re.FindAllStringSubmatch(out, -1) {
		urls[m[1]] = m[2]
	}
	return urls
}

// curlRaw runs curl with args and returns what it printed.
func curlRaw(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("curl", append([]string{"-sS"}, args...)...).CombinedOutput() //nolint:gosec // test
	if err != nil {
		t.Fatalf("curl %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// checkReadableError fails the test when a failed deploy's error output
// has the SDK's wrapping instead of the AWS error code and message alone.
func checkReadableError(t *testing.T, r deployResult) {
	t.Helper()
	for _, noise := range []string{"operation error", "RequestID", "https response error", "StatusCode"} {
		if strings.Contains(r.errOut, noise) {
			t.Errorf("deploy error output has %q:\n%s", noise, r.errOut)
		}
	}
}

// TestDeploySAMApps deploys each application of testdata/samapps on one
// server, calls it, and deletes it.
func TestDeploySAMApps(t *testing.T) {
	t.Parallel()
	requireDeployTools(t)
	requireTool(t, "aws")
	endpoint := startServer(t)
	env := awsEnv(endpoint)
	fnARN := func(stack, logicalID string) *regexp.Regexp {
		return regexp.MustCompile(`^arn:aws:lambda:us-east-1:000000000000:function:` + stack + `-` + logicalID + `-[A-Z0-9]{13}$`)
	}
	roleARN := func(stack, logicalID string) *regexp.Regexp {
		return regexp.MustCompile(`^arn:aws:iam::000000000000:role/` + stack + `-` + logicalID + `-[A-Z0-9]{13}$`)
	}
	restURL := regexp.MustCompile(`^https://([a-z0-9]{10})\.execute-api\.us-east-1\.amazonaws\.com/Prod/hello/$`)
	var stacks []string

	// sam init's hello world, in each language: an implicit REST API and
	// the three standard outputs.
	for _, app := range []struct{ name, apiOutput, query string }{
		{"hello-python", "HelloWorldApi", ""},
		{"hello-node", "HelloWorldApi", ""},
		{"hello-go", "HelloWorldAPI", "?name=go"},
	} {
		t.Run(app.name, func(t *testing.T) {
			dir := copySAMApp(t, app.name)
			r := mustDeploy(t, env, dir)
			stacks = append(stacks, app.name)
			checkReadableError(t, r)
			api := r.outputs[app.apiOutput]
			if !restURL.MatchString(api) || !fnARN(app.name, "HelloWorldFunction").MatchString(r.outputs["HelloWorldFunction"]) ||
				!roleARN(app.name, "HelloWorldFunctionRole").MatchString(r.outputs["HelloWorldFunctionIamRole"]) {
				t.Fatalf("outputs %v", r.outputs)
			}
			local := localURLs(r.out)[app.apiOutput]
			if !strings.HasPrefix(local, "http://"+restURL.FindStringSubmatch(api)[1]+".execute-api.us-east-1.localhost:") ||
				!strings.HasSuffix(local, "/Prod/hello/") {
				t.Fatalf("local URL of %s: %q\n%s", app.apiOutput, local, r.out)
			}
			got := curlJSON(t, local+app.query)
			if got["path"] != "/hello" || got["stage"] != "Prod" {
				t.Errorf("GET %s = %v", local, got)
			}
			// The AWS URL itself, reaching the node with --connect-to.
			aws := strings.Replace(api, "https://", "http://", 1)
			if again := curlJSON(t, aws+app.query, connectTo(t, endpoint)...); again["path"] != "/hello" {
				t.Errorf("GET %s = %v", aws, again)
			}
			switch app.name {
			case "hello-go":
				if got["message"] != "Hello, go" || got["param1"] != "VALUE" {
					t.Errorf("Go function answered %v", got)
				}
			case "hello-python":
				if got["message"] != "hello world" || got["runtime"] != "AWS_Lambda_python3.12" {
					t.Errorf("Python function answered %v", got)
				}
			case "hello-node":
				if got["message"] != "hello world" || got["runtime"] != "AWS_Lambda_nodejs20.x" {
					t.Errorf("Node.js function answered %v", got)
				}
			}
		})
	}

	// Parameters, mappings, conditions and a value another stack exports.
	t.Run("config-app", func(t *testing.T) {
		shared := mustDeploy(t, env, copySAMApp(t, "shared-exports"))
		stacks = append(stacks, "shared-exports")
		dir := copySAMApp(t, "config-app")
		r := deploy(t, env, dir, "ApiKey=short")
		if r.err == nil || !strings.Contains(r.errOut, "ValidationError: Parameter 'ApiKey' must contain at least 8 characters") {
			t.Errorf("deploy with a short ApiKey: %v\n%s", r.err, r.errOut)
		}
		checkReadableError(t, r)
		r = deploy(t, env, dir, "ApiKey=supersecret1", "Environment=qa")
		if r.err == nil || !strings.Contains(r.errOut, "ValidationError") || !strings.Contains(r.errOut, "Environment") {
			t.Errorf("deploy with an Environment not allowed: %v\n%s", r.err, r.errOut)
		}
		checkReadableError(t, r)

		r = mustDeploy(t, env, dir, "ApiKey=supersecret1")
		stacks = append(stacks, "config-app")
		if r.outputs["Tier"] != "basic" || r.outputs["NotProd"] != "yes" || r.outputs["AuditFunction"] != "" {
			t.Errorf("dev outputs %v", r.outputs)
		}
		u := localURLs(r.out)["ConfigApi"]
		got := curlJSON(t, u)
		want := map[string]any{"environment": "dev", "log_level": "DEBUG", "tier": "basic", "team": "platform",
			"shared_function": shared.outputs["SharedFunctionArn"], "api_key_length": 12.0, "memory": "128"}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("GET /config: %s = %v, want %v (%v)", k, got[k], v, got)
			}
		}
		// NoEcho: the secret is masked wherever the stack is described.
		out, errOut, err := run(t, env, dir, "aws", "cloudformation", "describe-stacks", "--stack-name", "config-app")
		if err != nil || strings.Contains(out, "supersecret1") || !strings.Contains(out, "****") {
			t.Errorf("describe-stacks: %v\n%s%s", err, out, errOut)
		}

		// Production: the conditional function and outputs appear; ApiKey
		// keeps its previous value.
		r = mustDeploy(t, env, dir, "Environment=prod")
		if r.outputs["Tier"] != "premium" || r.outputs["NotProd"] != "" || !strings.HasPrefix(r.outputs["AuditFunction"], "config-app-AuditFunction-") {
			t.Errorf("prod outputs %v", r.outputs)
		}
		got = curlJSON(t, u)
		if got["environment"] != "prod" || got["log_level"] != "WARN" || got["tier"] != "premium" || got["memory"] != "512" || got["api_key_length"] != 12.0 {
			t.Errorf("GET /config in prod = %v", got)
		}

		// An export in use keeps its stack.
		out, errOut, err = run(t, env, dir, nimbusBin, "delete", "--stack-name", "shared-exports", "--yes")
		if err == nil || !strings.Contains(out+errOut, "Export shared-exports-TeamName cannot be deleted as it is in use by config-app") {
			t.Errorf("delete of an imported stack: %v\n%s%s", err, out, errOut)
		}
	})

	// AutoPublishAlias with a DeploymentPreference needs CodeDeploy.
	t.Run("canary", func(t *testing.T) {
		r := deploy(t, env, copySAMApp(t, "canary"))
		if r.err == nil || !strings.Contains(r.errOut, "DeploymentPreference (function CanaryFunction) needs AWS CodeDeploy") {
			t.Errorf("deploy with a DeploymentPreference: %v\n%s%s", r.err, r.out, r.errOut)
		}
		checkReadableError(t, r)
	})

	// An HTTP API whose default authorizer is a Lambda function, with a
	// route behind a JWT authorizer.
	t.Run("http-auth", func(t *testing.T) {
		r := mustDeploy(t, env, copySAMApp(t, "http-auth"))
		stacks = append(stacks, "http-auth")
		u := localURLs(r.out)["ApiUrl"]
		if !strings.HasSuffix(u, "/v1") {
			t.Fatalf("ApiUrl local URL %q\n%s", u, r.out)
		}
		if got := curlJSON(t, u+"/public"); got["route"] != "GET /public" {
			t.Errorf("GET /public = %v", got)
		}
		if code := curlStatus(t, u+"/protected"); code != "401" {
			t.Errorf("GET /protected without a token: %s, want 401", code)
		}
		if code := curlStatus(t, u+"/protected", "-H", "Authorization: wrong"); code != "403" {
			t.Errorf("GET /protected with a wrong token: %s, want 403", code)
		}
		if got := curlJSON(t, u+"/protected", "-H", "Authorization: allow-me"); got["route"] != "GET /protected" || got["user"] != "tester" {
			t.Errorf("GET /protected with the token = %v", got)
		}
		// The JWT authorizer's route: no token, or one that is not a
		// valid JWT of its issuer, is refused.
		for _, h := range []string{"X-None: 1", "Authorization: Bearer not.a.jwt", "Authorization: allow-me"} {
			if code := curlStatus(t, u+"/jwt", "-H", h); code != "401" {
				t.Errorf("GET /jwt with %q: %s, want 401", h, code)
			}
		}
	})

	// A REST API from an inline OpenAPI document, with CORS.
	t.Run("rest-cors", func(t *testing.T) {
		r := mustDeploy(t, env, copySAMApp(t, "rest-cors"))
		stacks = append(stacks, "rest-cors")
		u := localURLs(r.out)["PetsApiUrl"]
		if got := curlJSON(t, u); len(got["pets"].([]any)) != 2 {
			t.Errorf("GET /pets = %v", got)
		}
		if got := curlJSON(t, u+"/7"); got["pet"] != "7" {
			t.Errorf("GET /pets/7 = %v", got)
		}
		pre := curlRaw(t, "-i", "-X", "OPTIONS", "-H", "Origin: https://example.com", "-H", "Access-Control-Request-Method: POST", u)
		for _, want := range []string{"HTTP/1.1 200", "Access-Control-Allow-Origin: https://example.com", "Access-Control-Allow-Methods: GET,POST,OPTIONS",
			"Access-Control-Allow-Headers: Content-Type,Authorization", "Access-Control-Max-Age: 600"} {
			if !strings.Contains(pre, want) {
				t.Errorf("preflight answer has no %q:\n%s", want, pre)
			}
		}
	})

	// APIs configured in Globals: CORS on both kinds, and an API key with
	// a usage plan on the REST API (whose preflight needs the key too, as
	// SAM's AddApiKeyRequiredToCorsPreflight defaults to true).
	t.Run("api-keys", func(t *testing.T) {
		r := mustDeploy(t, env, copySAMApp(t, "api-keys"))
		stacks = append(stacks, "api-keys")
		rest, httpURL := localURLs(r.out)["Rest"], localURLs(r.out)["Http"]
		if code := curlStatus(t, rest+"bob"); code != "403" {
			t.Errorf("REST call without a key: %s, want 403", code)
		}
		key, errOut, err := run(t, env, t.TempDir(), "aws", "apigateway", "get-api-key", "--api-key", r.outputs["Key"],
			"--include-value", "--query", "value", "--output", "text")
		if err != nil {
			t.Fatalf("get-api-key: %v\n%s", err, errOut)
		}
		if got := curlJSON(t, rest+"bob", "-H", "x-api-key: "+strings.TrimSpace(key)); got["message"] != "Hi, bob" {
			t.Errorf("REST call with the key = %v", got)
		}
		if got := curlJSON(t, httpURL+"ann"); got["message"] != "Hi, ann" {
			t.Errorf("HTTP API call = %v", got)
		}
		pre := curlRaw(t, "-i", "-X", "OPTIONS", "-H", "Origin: https://x.example", "-H", "Access-Control-Request-Method: GET", httpURL+"ann")
		if !strings.Contains(pre, "HTTP/1.1 204") || !strings.Contains(pre, "Access-Control-Allow-Origin: https://x.example") {
			t.Errorf("HTTP API preflight:\n%s", pre)
		}
		pre = curlRaw(t, "-i", "-X", "OPTIONS", "-H", "Origin: https://a.example", "-H", "Access-Control-Request-Method: GET",
			"-H", "x-api-key: "+strings.TrimSpace(key), rest+"bob")
		if !strings.Contains(pre, "HTTP/1.1 200") || !strings.Contains(pre, "Access-Control-Allow-Origin: *") {
			t.Errorf("REST preflight with the key:\n%s", pre)
		}
	})

	t.Run("json-template", func(t *testing.T) {
		r := mustDeploy(t, env, copySAMApp(t, "json-template"))
		stacks = append(stacks, "json-template")
		if !strings.HasPrefix(r.outputs["GreetFunctionName"], "json-template-GreetFunction-") ||
			!roleARN("json-template", "GreetFunctionRole").MatchString(r.outputs["GreetFunctionRole"]) {
			t.Errorf("outputs %v", r.outputs)
		}
		if got := curlJSON(t, localURLs(r.out)["GreetApi"]+"bob"); got["message"] != "Hello, bob" {
			t.Errorf("GET /greet/bob = %v", got)
		}
	})

	// What `sam init` makes today: Application Insights monitoring.
	t.Run("insights", func(t *testing.T) {
		dir := copySAMApp(t, "insights")
		r := deploy(t, env, dir)
		if r.err == nil || !strings.Contains(r.errOut, "[AWS::ApplicationInsights::Application, AWS::ResourceGroups::Group]") ||
			!strings.Contains(r.errOut, "--skip-unsupported") {
			t.Errorf("deploy with Application Insights: %v\n%s", r.err, r.errOut)
		}
		checkReadableError(t, r)
		r = mustDeploy(t, env, dir, "--skip-unsupported")
		stacks = append(stacks, "insights")
		if got := curlJSON(t, localURLs(r.out)["HelloWorldApi"]); got["message"] != "hello world" {
			t.Errorf("GET /hello = %v", got)
		}
	})

	t.Run("layers", func(t *testing.T) {
		r := mustDeploy(t, env, copySAMApp(t, "layers"))
		stacks = append(stacks, "layers")
		if !strings.Contains(r.out, "Building SharedLayer (copied as is)") {
			t.Errorf("deploy did not say the layer is copied:\n%s", r.out)
		}
		if r.outputs["LayerArn"] != "arn:aws:lambda:us-east-1:000000000000:layer:layers-shared:1" {
			t.Errorf("outputs %v", r.outputs)
		}
		if got := curlJSON(t, r.outputs["GreetUrl"]+"?name=layer"); got["message"] != "Greetings, layer!" {
			t.Errorf("GET function URL = %v", got)
		}
	})

	t.Run("lang-ext", func(t *testing.T) {
		r := deploy(t, env, copySAMApp(t, "lang-ext"))
		if r.err == nil || !strings.Contains(r.errOut, "AWS::LanguageExtensions") || !strings.Contains(r.errOut, "Fn::ForEach") {
			t.Errorf("deploy with AWS::LanguageExtensions: %v\n%s", r.err, r.errOut)
		}
	})

	// Delete, importers first.
	for i := len(stacks) - 1; i >= 0; i-- {
		out, errOut, err := run(t, env, t.TempDir(), nimbusBin, "delete", "--stack-name", stacks[i], "--yes")
		if err != nil || !strings.Contains(out, "Deleted stack "+stacks[i]) {
			t.Errorf("nimbus delete %s: %v\n%s%s", stacks[i], err, out, errOut)
		}
	}
	out, _, err := run(t, env, t.TempDir(), nimbusBin, "stacks")
	if err != nil || strings.Contains(out, "COMPLETE") {
		t.Errorf("stacks after delete: %v\n%s", err, out)
	}
	out, _, err = run(t, env, t.TempDir(), nimbusBin, "functions")
	if err != nil || strings.Contains(out, "Function-") {
		t.Errorf("functions after delete: %v\n%s", err, out)
	}
}

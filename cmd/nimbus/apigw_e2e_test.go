package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestAPIGatewayWithCurl creates an HTTP API and a REST API with the AWS
// CLI against the binary, finds their URLs with `nimbus apis` and calls
// them with plain curl on their *.localhost names, as the README says.
func TestAPIGatewayWithCurl(t *testing.T) {
	t.Parallel()
	requireTool(t, "aws")
	requireTool(t, "curl")
	endpoint := startServer(t)
	env := awsEnv(endpoint)
	work := t.TempDir()
	aws := func(args ...string) string {
		t.Helper()
		out, errOut, err := run(t, env, work, "aws", append([]string{"--endpoint-url", endpoint, "--output", "json"}, args...)...)
		if err != nil {
			t.Fatalf("aws %v: %v\n%s%s", args, err, out, errOut)
		}
		return out
	}
	// The API Gateway tests' net/http app behind aws-lambda-go-api-proxy.
	bin := t.TempDir()
	build := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", filepath.Join(bin, "bootstrap"), "./internal/daemon/testdata/web")
	build.Dir, build.Env = moduleRoot(t), append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the web function: %v\n%s", err, out)
	}
	zip := filepath.Join(bin, "fn.zip")
	writeZip(t, zip, bin, []string{"bootstrap"})
	var fn struct{ FunctionArn string }
	if err := json.Unmarshal([]byte(aws("lambda", "create-function", "--function-name", "hello", "--runtime", "provided.al2023",
		"--handler", "bootstrap", "--role", "arn:aws:iam::000000000000:role/lambda", "--zip-file", "fileb://"+zip)), &fn); err != nil {
		t.Fatal(err)
	}
	aws("lambda", "wait", "function-active-v2", "--function-name", "hello")
	aws("apigatewayv2", "create-api", "--name", "web", "--protocol-type", "HTTP", "--target", fn.FunctionArn)

	var rest struct {
		ID             string `json:"id"`
		RootResourceID string `json:"rootResourceId"`
	}
	if err := json.Unmarshal([]byte(aws("apigateway", "create-rest-api", "--name", "rest")), &rest); err != nil {
		t.Fatal(err)
	}
	var proxy struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(aws("apigateway", "create-resource", "--rest-api-id", rest.ID, "--parent-id", rest.RootResourceID,
		"--path-part", "{proxy+}")), &proxy); err != nil {
		t.Fatal(err)
	}
	aws("apigateway", "put-method", "--rest-api-id", rest.ID, "--resource-id", proxy.ID, "--http-method", "ANY", "--authorization-type", "NONE")
	aws("apigateway", "put-integration", "--rest-api-id", rest.ID, "--resource-id", proxy.ID, "--http-method", "ANY",
		"--type", "AWS_PROXY", "--integration-http-method", "POST",
		"--uri", "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"+fn.FunctionArn+"/invocations")
	aws("apigateway", "create-deployment", "--rest-api-id", rest.ID, "--stage-name", "prod")

	out, errOut, err := run(t, env, work, nimbusBin, "apis", "--endpoint-url", endpoint)
	if err != nil {
		t.Fatalf("nimbus apis: %v\n%s%s", err, out, errOut)
	}
	urls := regexp.MustCompile(`http://[a-z0-9]{10}\.execute-api\.us-east-1\.localhost:\d+/\S*`).FindAllString(out, -1)
	if len(urls) != 2 {
		t.Fatalf("nimbus apis listed %d URLs:\n%s", len(urls), out)
	}
	for _, u := range urls {
		body, err := exec.Command("curl", "-sS", "-i", u+"hello?name=curl").CombinedOutput() //nolint:gosec // test
		if err != nil || !strings.Contains(string(body), "200 OK") || !strings.Contains(string(body), "hello curl") {
			t.Errorf("curl %shello: %v\n%s", u, err, body)
		}
	}
}

package main

import (
	"encoding/json"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestFunctionURLWithAWSCLI manages a function URL with each AWS CLI on
// the machine and calls it with plain curl on its *.localhost name, as the
// README tells users to.
func TestFunctionURLWithAWSCLI(t *testing.T) {
	t.Parallel()
	clis := awsCLIs(t)
	requireTool(t, "curl")
	endpoint := startServer(t)
	env := awsEnv(endpoint)
	zip := helloZip(t, "hello-go")
	for version, awsPath := range clis {
		t.Run(version, func(t *testing.T) {
			work := t.TempDir()
			aws := func(args ...string) (string, string, error) {
				return run(t, env, work, awsPath, append([]string{"--endpoint-url", endpoint}, args...)...)
			}
			name := "url-" + version
			if out, errOut, err := aws("lambda", "create-function", "--function-name", name,
				"--runtime", "provided.al2023", "--handler", "bootstrap",
				"--role", "arn:aws:iam::000000000000:role/lambda", "--zip-file", "fileb://"+zip); err != nil {
				t.Fatalf("create-function: %v\n%s%s", err, out, errOut)
			}
			out, errOut, err := aws("lambda", "create-function-url-config", "--function-name", name, "--auth-type", "NONE",
				"--cors", `{"AllowOrigins":["https://app.example"],"AllowMethods":["GET"]}`)
			if err != nil {
				t.Fatalf("create-function-url-config: %v\n%s%s", err, out, errOut)
			}
			var created struct {
				FunctionURL                       string `json:"FunctionUrl"`
				FunctionArn, AuthType, InvokeMode string
			}
			if err := json.Unmarshal([]byte(out), &created); err != nil ||
				!regexp.MustCompile(`^http://[a-z0-9]{32}\.lambda-url\.us-east-1\.localhost:\d+/$`).MatchString(created.FunctionURL) ||
				created.AuthType != "NONE" || created.InvokeMode != "BUFFERED" && created.InvokeMode != "" { // Debian's v2.9 predates InvokeMode
				t.Fatalf("create output: %v\n%s", err, out)
			}
			_, errOut, err = aws("lambda", "create-function-url-config", "--function-name", name, "--auth-type", "NONE")
			if err == nil || !strings.Contains(errOut, "ResourceConflictException") {
				t.Errorf("second create: %v %s", err, errOut)
			}

			// Plain curl, no DNS set-up: curl resolves *.localhost itself.
			body, err := exec.Command("curl", "-sS", "-H", "Origin: https://app.example", "-D", "-", //nolint:gosec // test
				created.FunctionURL+"?name=ignored").CombinedOutput()
			if err != nil || !strings.Contains(string(body), `"message":"Hello, world!"`) ||
				!strings.Contains(string(body), "Access-Control-Allow-Origin: https://app.example") {
				t.Errorf("curl %s: %v\n%s", created.FunctionURL, err, body)
			}

			out, errOut, err = aws("lambda", "update-function-url-config", "--function-name", name, "--auth-type", "AWS_IAM")
			if err != nil || !strings.Contains(out, `"AuthType": "AWS_IAM"`) || !strings.Contains(out, created.FunctionURL) {
				t.Errorf("update-function-url-config: %v\n%s%s", err, out, errOut)
			}
			body, _ = exec.Command("curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", created.FunctionURL).CombinedOutput() //nolint:gosec // test
			if string(body) != "403" {
				t.Errorf("unsigned call to an AWS_IAM URL: %s, want 403", body)
			}
			out, _, err = aws("lambda", "get-function-url-config", "--function-name", name)
			if err != nil || !strings.Contains(out, `"LastModifiedTime"`) {
				t.Errorf("get-function-url-config: %v\n%s", err, out)
			}
			out, _, err = aws("lambda", "list-function-url-configs", "--function-name", name)
			if err != nil || !strings.Contains(out, created.FunctionArn) {
				t.Errorf("list-function-url-configs: %v\n%s", err, out)
			}
			if _, errOut, err := aws("lambda", "delete-function-url-config", "--function-name", name); err != nil {
				t.Errorf("delete-function-url-config: %v %s", err, errOut)
			}
			_, errOut, err = aws("lambda", "get-function-url-config", "--function-name", name)
			if err == nil || !strings.Contains(errOut, "ResourceNotFoundException") {
				t.Errorf("get after delete: %v %s", err, errOut)
			}
		})
	}
}

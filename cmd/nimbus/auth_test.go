package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRootCredentialsAndNimbusEnv: the first start generates root
// credentials (owner-only) and says once how to use them; `nimbus env`
// exports what the AWS CLI needs; a restart keeps them and says nothing.
func TestRootCredentialsAndNimbusEnv(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	srv := startServerAt(t, dataDir)
	banner := strings.Join(srv.preamble, "\n")
	if !strings.Contains(banner, "generated root credentials") || !strings.Contains(banner, `eval "$(nimbus env --data-dir `+dataDir+`)"`) {
		t.Errorf("first start did not tell how to use the generated credentials:\n%s", banner)
	}
	fi, err := os.Stat(filepath.Join(dataDir, "auth", "root-credentials.json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("root credentials file: %v %v", err, fi)
	}
	// eval "$(nimbus env)" in a real shell, then nimbus's own client.
	sh := `eval "$(` + nimbusBin + ` env --data-dir ` + dataDir + `)" && ` + nimbusBin + ` functions`
	cmd := exec.Command("sh", "-c", sh)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "NAME") {
		t.Errorf("eval nimbus env; nimbus functions: %v\n%s", err, out)
	}
	// The client commands on the server's machine find the root
	// credentials and endpoint through the data directory alone.
	cmd = exec.Command(nimbusBin, "functions")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "NIMBUS_DATA_DIR=" + dataDir, "AWS_EC2_METADATA_DISABLED=true"}
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "NAME") {
		t.Errorf("nimbus functions with NIMBUS_DATA_DIR only: %v\n%s", err, out)
	}
	srv.kill9(t)
	srv2 := startServerAt(t, dataDir)
	if strings.Contains(strings.Join(srv2.preamble, "\n"), "generated root credentials") {
		t.Error("second start generated credentials again")
	}
	if envValue(srv2.env, "AWS_SECRET_ACCESS_KEY") != envValue(srv.env, "AWS_SECRET_ACCESS_KEY") {
		t.Error("root credentials changed across a restart")
	}
}

// TestAWSCLIRefusesBadCredentials: the AWS CLI with a wrong secret or an
// unknown key gets AWS's errors and changes nothing; unsigned requests
// (no credentials at all) too.
func TestAWSCLIRefusesBadCredentials(t *testing.T) {
	t.Parallel()
	clis := awsCLIs(t)
	awsPath := clis["v2"]
	if awsPath == "" {
		awsPath = clis["v1"]
	}
	endpoint := startServer(t)
	env, work := awsEnv(endpoint), t.TempDir()
	zip := helloZip(t, "hello-go")
	aws := func(env []string, args ...string) (string, string, error) {
		return run(t, env, work, awsPath, append([]string{"--endpoint-url", endpoint}, args...)...)
	}
	if out, errOut, err := aws(env, "lambda", "create-function", "--function-name", "guarded", "--runtime", "provided.al2023",
		"--handler", "bootstrap", "--role", "arn:aws:iam::000000000000:role/lambda", "--zip-file", "fileb://"+zip); err != nil {
		t.Fatalf("create-function: %v\n%s%s", err, out, errOut)
	}
	with := func(kv ...string) []string { return append(append([]string{}, env...), kv...) }
	for _, c := range []struct {
		env  []string
		want string
	}{
		{with("AWS_SECRET_ACCESS_KEY=wrong"), "InvalidSignatureException"},
		{with("AWS_ACCESS_KEY_ID=AKIAUNKNOWNUNKNOWN00"), "UnrecognizedClientException"},
		{env, ""}, // --no-sign-request below
	} {
		args := []string{"lambda", "delete-function", "--function-name", "guarded"}
		want := c.want
		if want == "" {
			args = append([]string{"--no-sign-request"}, args...)
			want = "MissingAuthenticationTokenException"
		}
		_, errOut, err := aws(c.env, args...)
		if err == nil || !strings.Contains(errOut, want) {
			t.Errorf("delete-function expecting %s: err %v, stderr %s", want, err, errOut)
		}
	}
	if out, errOut, err := aws(env, "lambda", "get-function", "--function-name", "guarded"); err != nil {
		t.Errorf("guarded is gone after refused deletes: %v %s%s", err, out, errOut)
	}
}

package runtimes

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// An unreachable registry fails the install with ErrRegistry and leaves
// nothing behind: no link, no half-installed version.
func TestInstallNodeSDKRegistryUnreachable(t *testing.T) {
	if _, err := exec.LookPath("npm"); err != nil {
		t.Skip("npm not installed")
	}
	t.Setenv("npm_config_registry", "http://127.0.0.1:9/")
	t.Setenv("npm_config_cache", t.TempDir())
	t.Setenv("npm_config_fetch_retries", "0")
	dir := t.TempDir()
	err := InstallNodeSDK(context.Background(), dir, io.Discard)
	if !errors.Is(err, ErrRegistry) || !strings.Contains(err.Error(), "npm ci of the AWS SDK for JavaScript "+NodeSDKVersion()) {
		t.Fatalf("InstallNodeSDK with no registry: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, NodeSDKLink)); !os.IsNotExist(err) {
		t.Errorf("node_modules exists after a failed install: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, sdkDir))
	if len(entries) != 0 {
		t.Errorf("sdk dir holds %v after a failed install", entries)
	}
	if v := SDKs(dir)[0].Version; v != "" {
		t.Errorf("SDKs reports version %q after a failed install", v)
	}
}

// The pinned SDK covers every service Nimbus serves.
func TestNodeSDKPackages(t *testing.T) {
	got := strings.Join(NodeSDKPackages(), " ")
	for _, want := range []string{"client-lambda", "client-s3", "client-dynamodb", "lib-dynamodb", "client-sqs", "client-sns",
		"client-eventbridge", "client-scheduler", "client-sfn", "client-kinesis", "client-kms", "client-secrets-manager",
		"client-ssm", "client-iam", "client-sts", "client-cloudwatch", "client-cloudwatch-logs", "client-cloudformation",
		"client-api-gateway", "credential-providers"} {
		if !strings.Contains(got, "@aws-sdk/"+want+" ") && !strings.HasSuffix(got, "@aws-sdk/"+want) {
			t.Errorf("pinned SDK lacks @aws-sdk/%s: %s", want, got)
		}
	}
	if NodeSDKVersion() == "" {
		t.Error("no pinned @aws-sdk/client-lambda version")
	}
}

// The Python SDK is copied from a host interpreter with boto3, compiled,
// and linked where the Python client puts it on sys.path.
func TestInstallPythonSDK(t *testing.T) {
	if _, err := findPythonSDK(context.Background()); err != nil {
		t.Skipf("no host boto3: %v", err)
	}
	dir := t.TempDir()
	if err := InstallPythonSDK(context.Background(), dir, io.Discard); err != nil {
		t.Fatal(err)
	}
	v := SDKs(dir)[1].Version
	if v == "" {
		t.Fatal("boto3 not reported installed")
	}
	for _, p := range []string{"boto3/__init__.py", "botocore/__init__.py", "s3transfer/__init__.py", "jmespath/__init__.py", "dateutil/__init__.py"} {
		if _, err := os.Stat(filepath.Join(dir, PythonSDKLink, p)); err != nil {
			t.Errorf("%s missing: %v", p, err)
		}
	}
	// Imports from the copy alone (-S: no site-packages).
	py := interpreterFor(FamilyPython).Path
	out, err := exec.Command(py, "-S", "-c", "import sys; sys.path.insert(0, sys.argv[1]); import boto3; print(boto3.__version__, boto3.__file__)",
		filepath.Join(dir, PythonSDKLink)).CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), v+" "+filepath.Join(dir, PythonSDKLink)) {
		t.Errorf("import from the copy: %v %s", err, out)
	}
	// A second install of the same version keeps it.
	if err := InstallPythonSDK(context.Background(), dir, io.Discard); err != nil || SDKs(dir)[1].Version != v {
		t.Errorf("reinstall: %v", err)
	}
}

package pool

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/invoke"
	"github.com/nimbus-serverless/nimbus/internal/sandbox"
	"github.com/nimbus-serverless/nimbus/internal/secretsext"
)

// probeExtension is an external extension as a layer ships it
// (extensions/<name>, a Python script): it registers for INVOKE and
// SHUTDOWN, subscribes to the Telemetry API with an HTTP listener on
// sandbox.localdomain, checks that a destination outside the environment
// is refused, prints each event, and takes 1 s to shut down.
const probeExtension = `#!/usr/bin/python3
import http.server, json, os, sys, threading, time, urllib.error, urllib.request
api = os.environ["AWS_LAMBDA_RUNTIME_API"]
name = os.path.basename(sys.argv[0])
base = "http://%s/2020-01-01/extension" % api

def call(method, url, body=None, headers=None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    return urllib.request.urlopen(req)

r = call("POST", base + "/register", json.dumps({"events": ["INVOKE", "SHUTDOWN"]}).encode(), {"Lambda-Extension-Name": name})
ext_id = r.headers["Lambda-Extension-Identifier"]
info = json.load(r)
print("[probe] registered %s handler=%s hidden=%s" % (info["functionName"], info["handler"], "_HANDLER" not in os.environ), flush=True)
try:
    call("POST", base + "/register", b'{"events":["INVOKE"]}', {"Lambda-Extension-Name": name})
    print("[probe] duplicate accepted", flush=True)
except urllib.error.HTTPError as e:
    print("[probe] duplicate refused %d %s" % (e.code, json.load(e)["errorType"]), flush=True)

seen = set()
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        for rec in json.loads(self.rfile.read(n)):
            if rec["type"] not in seen:
                seen.add(rec["type"])
                print("[probe] telemetry %s" % rec["type"], flush=True)
        self.send_response(200)
        self.end_headers()
    def log_message(self, *a):
        pass

srv = http.server.HTTPServer(("sandbox.localdomain", 4243), H)
threading.Thread(target=srv.serve_forever, daemon=True).start()
tel = "http://%s/2022-07-01/telemetry" % api
sub = {"schemaVersion": "2022-12-13", "types": ["platform", "function"], "buffering": {"timeoutMs": 25},
       "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:4243/telemetry"}}
try:
    bad = dict(sub, destination={"protocol": "HTTP", "URI": "http://169.254.169.254:80/"})
    call("PUT", tel, json.dumps(bad).encode(), {"Lambda-Extension-Identifier": ext_id})
    print("[probe] outside destination accepted", flush=True)
except urllib.error.HTTPError as e:
    print("[probe] outside destination refused %d" % e.code, flush=True)
call("PUT", tel, json.dumps(sub).encode(), {"Lambda-Extension-Identifier": ext_id})

while True:
    ev = json.load(call("GET", base + "/event/next", headers={"Lambda-Extension-Identifier": ext_id}))
    if ev["eventType"] == "INVOKE":
        print("[probe] INVOKE %s" % ev["requestId"], flush=True)
    else:
        print("[probe] SHUTDOWN %s" % ev["shutdownReason"], flush=True)
        time.sleep(1.0)
        print("[probe] shutdown done", flush=True)
        sys.exit(0)
`

// TestExtensionLayer runs a function with an extension layer in the
// sandbox: the extension registers during init, gets an INVOKE event per
// invocation, receives platform.start, function and platform.report
// records over the Telemetry API, and gets SHUTDOWN when the node stops,
// finishing its 1 s of cleanup within the 2 s budget (telemetry still undelivered is flushed before SHUTDOWN).
func TestExtensionLayer(t *testing.T) {
	t.Parallel()
	t.Logf("sandbox mode: %s", sandbox.Mode())
	h := newHarness(t)
	layer, err := makeZip(map[string][]byte{"extensions/probe": []byte(probeExtension)}, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	fn := h.fn("extfn", nil)
	fn.Layers = []function.Layer{{Arn: "arn:aws:lambda:us-east-1:000000000000:layer:probe:1", CodeSha256: h.code.put(layer)}}

	var ids []string
	for i := range 3 {
		res, _ := h.call(t, fn, map[string]any{"action": "echo", "value": i})
		wantOK(t, res)
		ids = append(ids, lastRequestID(t, res))
	}
	for _, line := range []string{
		"[extfn] [probe] registered extfn handler=bootstrap hidden=True",
		"[extfn] [probe] duplicate refused 403 Extension.", // RegistrationClosed: init is over for an internal one
		"[extfn] [probe] outside destination refused 400",
		"[extfn] [probe] INVOKE " + ids[0],
		"[extfn] [probe] INVOKE " + ids[2],
	} {
		select {
		case <-h.fnLog.waitFor(line):
		case <-time.After(30 * time.Second):
			t.Fatalf("no line %q in the log:\n%s", line, h.fnLog.String())
		}
	}
	t0 := time.Now()
	if err := h.m.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("node stop with the extension's 1 s shutdown: %v", time.Since(t0)) // a figure, not an assertion
	log := h.fnLog.String()
	// Telemetry goes out when its buffer's timeout passes while the
	// environment runs (a frozen one gets it at its next thaw, as on
	// Lambda), and what is left before SHUTDOWN.
	for _, line := range []string{"[extfn] [probe] SHUTDOWN spindown", "[extfn] [probe] shutdown done",
		"[extfn] [probe] telemetry platform.start", "[extfn] [probe] telemetry function", "[extfn] [probe] telemetry platform.report"} {
		if !strings.Contains(log, line) {
			t.Errorf("no line %q after Close:\n%s", line, log)
		}
	}
}

func lastRequestID(t *testing.T, res *invoke.Result) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(res.Payload, &m); err != nil {
		t.Fatal(err)
	}
	id, _ := m["request_id"].(string)
	return id
}

func (l *lineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// TestExtensionLayerRootless runs TestExtensionLayer as an ordinary user
// (nobody): the sandbox is then a user namespace, and the extension, the
// dialer sockets and the shutdown work the same.
func TestExtensionLayerRootless(t *testing.T) {
	if os.Geteuid() != 0 || runtime.GOOS != "linux" {
		t.Skip("runs the test binary as nobody: needs root to switch users")
	}
	t.Parallel()
	dir, err := os.MkdirTemp("", "nimbus-ext-rootless-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir) //nolint:errcheck // test
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	self, _ := os.Executable()
	bin := filepath.Join(dir, "pool.test")
	if out, err := exec.Command("cp", self, bin).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	if err := os.Chmod(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), bin, "-test.run=^TestExtensionLayer$", "-test.v", "-test.count=1")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "TMPDIR=/tmp", "GORACE=atexit_sleep_ms=0"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	b, err := cmd.CombinedOutput()
	out := string(b)
	if strings.Contains(out, "sandbox mode: process-group") {
		t.Skipf("no unprivileged user namespaces on this machine:\n%s", out)
	}
	if err != nil || !strings.Contains(out, "sandbox mode: rootless") || !strings.Contains(out, "--- PASS: TestExtensionLayer") {
		t.Fatalf("as nobody: %v\n%s", err, out)
	}
}

// TestParamsSecretsExtension: a function with a layer named
// AWS-Parameters-and-Secrets-Lambda-Extension reaches the extension's
// protocol on 127.0.0.1:2773, which fetches through the node's API with
// the function's credentials; without the session token it is refused.
func TestParamsSecretsExtension(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" ||
			!strings.Contains(r.Header.Get("Authorization"), "Credential=ASIATEST/") ||
			r.Header.Get("X-Amz-Security-Token") == "" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_, _ = w.Write([]byte(`{"Name":"db","SecretString":"hunter2","VersionStages":["AWSCURRENT"]}`))
	})
	h := newHarness(t, func(o *Options) {
		o.APIHandler = api
		o.ParamsSecrets = func(fn *function.Config, creds Credentials, client *http.Client, endpoint string) (http.Handler, error) {
			return secretsext.New(secretsext.Options{Token: creds.SessionToken, Fetch: &secretsext.HTTPFetcher{
				Endpoint: endpoint, Region: "us-east-1", Client: client,
				Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
					return aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey, SessionToken: creds.SessionToken}, nil
				}),
			}})
		}
	})
	layer, err := makeZip(map[string][]byte{"README": []byte("the extension is served by Nimbus")}, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	fn := h.fn("secfn", nil)
	fn.Layers = []function.Layer{{Arn: "arn:aws:lambda:us-east-1:000000000000:layer:AWS-Parameters-and-Secrets-Lambda-Extension:11", CodeSha256: h.code.put(layer)}}
	url := "http://127.0.0.1:2773/secretsmanager/get?secretId=db"
	res, out := h.call(t, fn, map[string]any{"action": "get", "url": url, "value": "token"})
	wantOK(t, res)
	if out["status"] != float64(200) || !strings.Contains(out["body"].(string), `"SecretString":"hunter2"`) {
		t.Fatalf("with the token: %v", out)
	}
	res, out = h.call(t, fn, map[string]any{"action": "get", "url": url})
	wantOK(t, res)
	if out["status"] != float64(401) {
		t.Fatalf("without the token: %v", out)
	}
	if calls.Load() != 1 {
		t.Fatalf("the node's API was called %d times, want 1 (the second answer is cached or refused)", calls.Load())
	}
	// AWS's own layer ARN, which the Lambda API accepts with no content:
	// nothing to mount, and the extension is served all the same.
	fnAWS := h.fn("secfn-aws", nil)
	fnAWS.Layers = []function.Layer{{Arn: "arn:aws:lambda:us-east-1:177933569100:layer:AWS-Parameters-and-Secrets-Lambda-Extension:12"}}
	res, out = h.call(t, fnAWS, map[string]any{"action": "get", "url": url, "value": "token"})
	wantOK(t, res)
	if out["status"] != float64(200) || !strings.Contains(out["body"].(string), `"SecretString":"hunter2"`) {
		t.Fatalf("AWS's layer ARN: %v", out)
	}
}

// stuckExtension registers, calls /event/next once (init ends) and never
// again after its first INVOKE event.
const stuckExtension = `#!/bin/sh
api="http://$AWS_LAMBDA_RUNTIME_API/2020-01-01/extension"
id=$(python3 -c '
import json, sys, urllib.request
r = urllib.request.urlopen(urllib.request.Request(sys.argv[1] + "/register", data=b"{\"events\":[\"INVOKE\",\"SHUTDOWN\"]}", headers={"Lambda-Extension-Name": "stuck"}, method="POST"))
print(r.headers["Lambda-Extension-Identifier"])' "$api")
python3 -c '
import sys, urllib.request
urllib.request.urlopen(urllib.request.Request(sys.argv[1] + "/event/next", headers={"Lambda-Extension-Identifier": sys.argv[2]})).read()
print("[stuck] got an event, never calling next again", flush=True)' "$api" "$id"
exec sleep 3600
`

// TestExtensionNeverCallsNext: the caller gets its answer at once; the
// environment, whose extension never finishes the invocation, is not
// reused but shut down once the invocation's deadline passes, and the
// SIGKILL after the shutdown budget ends it (the node is not blocked).
func TestExtensionNeverCallsNext(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	destroyed := make(chan struct{}, 4)
	h.m.mu.Lock()
	h.m.hookDestroyed = func() { destroyed <- struct{}{} }
	h.m.mu.Unlock()
	layer, err := makeZip(map[string][]byte{"extensions/stuck": []byte(stuckExtension)}, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	fn := h.fn("stuckfn", nil)
	fn.Timeout = 1
	fn.Layers = []function.Layer{{Arn: "arn:aws:lambda:us-east-1:000000000000:layer:stuck:1", CodeSha256: h.code.put(layer)}}
	res, out := h.call(t, fn, map[string]any{"action": "echo", "value": 1})
	wantOK(t, res)
	if out["count"] != float64(1) {
		t.Fatalf("echo %v", out)
	}
	select {
	case <-destroyed:
	case <-time.After(60 * time.Second):
		t.Fatalf("the environment was never shut down:\n%s", h.fnLog.String())
	}
	if !strings.Contains(h.fnLog.String(), "[stuck] got an event") {
		t.Fatalf("the extension got no INVOKE event:\n%s", h.fnLog.String())
	}
	// The next invoke initialises a new environment.
	res, out = h.call(t, fn, map[string]any{"action": "echo", "value": 2})
	wantOK(t, res)
	if out["count"] != float64(1) || res.InitDuration == 0 {
		t.Fatalf("second invoke ran on a reused environment: %v init %v", out, res.InitDuration)
	}
}

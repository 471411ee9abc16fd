package main

import (
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// hostListener serves greeting to every connection on a loopback port of
// the host until the test ends.
func hostListener(t *testing.T, greeting string) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte(greeting))
			_ = c.Close()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestFunctionAllowHost: a port the server allows with
// --function-allow-host is reachable from inside the sandbox at the same
// address; the host's other ports, the metadata address and private
// ranges stay refused, and the refusal leaves a line in the function's
// log naming the setting.
func TestFunctionAllowHost(t *testing.T) {
	t.Parallel()
	clis := awsCLIs(t)
	aws := clis["v2"]
	if aws == "" {
		aws = clis["v1"]
	}
	allowed := hostListener(t, "allowed")
	other := hostListener(t, "other")
	srv := startServerWith(t, t.TempDir(), nil, "--function-allow-host", "127.0.0.1:"+strconv.Itoa(allowed))
	mode := sandboxMode(t)
	if strings.HasPrefix(mode, "process-group") {
		t.Skip("process-group mode: functions share the host's network")
	}
	// The default network is egress as root (filtered), none rootless: a
	// name resolves inside only with egress, and only if the host resolves
	// it.
	egress := !strings.HasPrefix(mode, "rootless")
	_, hostDNS := net.LookupHost("example.com")
	env := awsEnv(srv.endpoint)
	work := t.TempDir()
	app := `
import socket
def probe(host, port):
    try:
        with socket.create_connection((host, port), timeout=3) as s:
            return "ok:" + s.recv(100).decode()
    except OSError as e:
        print(host, port, e)
        return "refused:" + type(e).__name__
def handler(event, context):
    out = {k: probe(h, p) for k, (h, p) in event.items()}
    try:
        socket.getaddrinfo("example.com", 443)
        out["dns"] = "ok"
    except OSError as e:
        print("example.com", e)
        out["dns"] = "failed:" + type(e).__name__
    return out
`
	if err := os.WriteFile(filepath.Join(work, "app.py"), []byte(app), 0o644); err != nil {
		t.Fatal(err)
	}
	zip := filepath.Join(work, "fn.zip")
	writeZip(t, zip, work, []string{"app.py"})
	cli := func(args ...string) string {
		t.Helper()
		out, errOut, err := run(t, env, work, aws, append([]string{"--endpoint-url", srv.endpoint, "--output", "json"}, args...)...)
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args[:2], " "), err, errOut)
		}
		return out
	}
	cli("lambda", "create-function", "--function-name", "net", "--runtime", "python3.12", "--handler", "app.handler",
		"--role", "arn:aws:iam::000000000000:role/net", "--timeout", "30", "--zip-file", "fileb://"+zip)
	event, _ := json.Marshal(map[string][2]any{
		"allowed":  {"127.0.0.1", allowed},
		"other":    {"127.0.0.1", other},
		"metadata": {"169.254.169.254", 80},
		"private":  {"10.0.0.1", 80},
		"lan":      {"192.168.1.1", 80},
	})
	out := filepath.Join(work, "out.json")
	cli("lambda", "invoke", "--function-name", "net", "--cli-binary-format", "raw-in-base64-out", "--payload", string(event), out)
	body, _ := os.ReadFile(out)
	var got map[string]string
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("invoke: %s", body)
	}
	if got["allowed"] != "ok:allowed" {
		t.Errorf("allowed host port: %s", got["allowed"])
	}
	for _, k := range []string{"other", "metadata", "private", "lan"} {
		if !strings.HasPrefix(got[k], "refused:") {
			t.Errorf("%s reachable from the function: %s", k, got[k])
		}
	}
	if wantOK := egress && hostDNS == nil; wantOK != (got["dns"] == "ok") {
		t.Errorf("dns: %s (egress %v, host resolves: %v)", got["dns"], egress, hostDNS == nil)
	}
	logs := cli("logs", "filter-log-events", "--log-group-name", "/aws/lambda/net")
	if !strings.Contains(logs, "--function-network") {
		t.Errorf("no line naming --function-network in the function's log:\n%s", logs)
	}
}

// sandboxMode is what `nimbus doctor` reports on this machine.
func sandboxMode(t *testing.T) string {
	t.Helper()
	out, _, _ := run(t, os.Environ(), "", nimbusBin, "doctor", "--no-verify")
	first, _, _ := strings.Cut(out, "\n")
	return strings.TrimPrefix(first, "sandbox: ")
}

package main

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// lineWatcher reads a process's stdout line by line so a test can wait,
// with a deadline, for a line containing some text.
type lineWatcher struct {
	lines chan string
	seen  []string
}

func watchLines(r io.Reader) *lineWatcher {
	w := &lineWatcher{lines: make(chan string, 1024)}
	go func() { // ends when the process's stdout closes
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			w.lines <- sc.Text()
		}
		close(w.lines)
	}()
	return w
}

// waitFor returns the first line containing s, or fails after d.
func (w *lineWatcher) waitFor(t *testing.T, s string, d time.Duration) string {
	t.Helper()
	for _, l := range w.seen {
		if strings.Contains(l, s) {
			return l
		}
	}
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		select {
		case l, ok := <-w.lines:
			if !ok {
				t.Fatalf("output ended without %q; saw:\n%s", s, strings.Join(w.seen, "\n"))
			}
			w.seen = append(w.seen, l)
			if strings.Contains(l, s) {
				return l
			}
		case <-deadline.C:
			t.Fatalf("no line with %q within %s; saw:\n%s", s, d, strings.Join(w.seen, "\n"))
		}
	}
}

// startFollower starts a long-running command (tail --follow) and stops it
// at cleanup.
func startFollower(t *testing.T, env []string, name string, args ...string) *lineWatcher {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(env, "PYTHONUNBUFFERED=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return watchLines(stdout)
}

// A Python function's log lines come back through the AWS CLI
// (filter-log-events, logs tail --follow) and `nimbus logs` with their
// request ids, in the Text and the JSON log formats.
func TestFunctionLogsWithAWSCLI(t *testing.T) {
	t.Parallel()
	clis := awsCLIs(t)
	requireTool(t, "python3")
	endpoint := startServer(t)
	env := awsEnv(endpoint)
	work := t.TempDir()
	zip := helloZip(t, "hello-python")
	awsPath := clis["v2"]
	if awsPath == "" {
		awsPath = clis["v1"]
	}
	awsWith := func(path string, args ...string) string {
		t.Helper()
		out, errOut, err := run(t, env, work, path, append([]string{"--endpoint-url", endpoint}, args...)...)
		if err != nil {
			t.Fatalf("aws %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
		}
		return out
	}
	aws := func(args ...string) string {
		t.Helper()
		return awsWith(awsPath, args...)
	}
	aws("lambda", "create-function", "--function-name", "talker", "--runtime", "python3.12", "--handler", "app.handler",
		"--role", "arn:aws:iam::000000000000:role/lambda", "--zip-file", "fileb://"+zip)
	aws("lambda", "wait", "function-active-v2", "--function-name", "talker")
	invoke := func(name string) string {
		t.Helper()
		args := []string{"lambda", "invoke", "--function-name", "talker", "--payload", `{"name":"` + name + `"}`, "out.json"}
		if awsPath == clis["v2"] { // v1 sends --payload as is and has no such flag
			args = append(args, "--cli-binary-format", "raw-in-base64-out")
		}
		aws(args...)
		b, err := os.ReadFile(work + "/out.json")
		if err != nil {
			t.Fatal(err)
		}
		var res struct{ RequestID string }
		if err := json.Unmarshal(b, &res); err != nil || res.RequestID == "" {
			t.Fatalf("invoke output %s: %v", b, err)
		}
		return res.RequestID
	}
	rid := invoke("first")

	type filtered struct {
		Events []struct {
			LogStreamName, Message, EventID string
			Timestamp                       int64
		}
	}
	var f filtered
	for name, path := range clis {
		out, errOut, err := run(t, env, work, path, "--endpoint-url", endpoint, "logs", "filter-log-events",
			"--log-group-name", "/aws/lambda/talker", "--filter-pattern", `"`+rid+`"`)
		if err != nil {
			t.Fatalf("%s filter-log-events: %v\n%s", name, err, errOut)
		}
		f = filtered{}
		if err := json.Unmarshal([]byte(out), &f); err != nil {
			t.Fatalf("%s filter-log-events output: %v\n%s", name, err, out)
		}
		var msgs []string
		for _, e := range f.Events {
			msgs = append(msgs, strings.TrimRight(e.Message, "\n"))
		}
		all := strings.Join(msgs, "\n")
		if len(msgs) != 4 || !strings.HasPrefix(msgs[0], "START RequestId: "+rid) || !strings.Contains(msgs[1], "greeting first") ||
			!strings.Contains(msgs[1], rid) || msgs[2] != "END RequestId: "+rid || !strings.HasPrefix(msgs[3], "REPORT RequestId: "+rid) {
			t.Errorf("%s: events of %s:\n%s", name, rid, all)
		}
	}

	// nimbus logs, once and following.
	out, errOut, err := run(t, env, work, nimbusBin, "logs", "talker", "--filter", rid)
	if err != nil || !strings.Contains(out, "greeting first") || !strings.Contains(out, "REPORT RequestId: "+rid) ||
		strings.Count(out, "\n") != 4 {
		t.Errorf("nimbus logs --filter: %v\n%s%s", err, out, errOut)
	}
	nimbusFollow := startFollower(t, env, nimbusBin, "logs", "talker", "--follow", "--poll-interval", "100ms")
	nimbusFollow.waitFor(t, "greeting first", 30*time.Second)

	// aws logs tail --follow (CLI v2; v1 has no tail) shows a line
	// written after it started.
	var awsFollow *lineWatcher
	if v2 := clis["v2"]; v2 != "" {
		awsFollow = startFollower(t, env, v2, "--endpoint-url", endpoint, "logs", "tail", "/aws/lambda/talker",
			"--follow", "--since", "1h", "--format", "short")
		awsFollow.waitFor(t, "greeting first", 60*time.Second)
	}
	rid2 := invoke("second")
	if l := nimbusFollow.waitFor(t, "greeting second", 30*time.Second); !strings.Contains(l, rid2) {
		t.Errorf("nimbus logs --follow line %q lacks request id %s", l, rid2)
	}
	nimbusFollow.waitFor(t, "REPORT RequestId: "+rid2, 30*time.Second)
	if awsFollow != nil {
		if l := awsFollow.waitFor(t, "greeting second", 60*time.Second); !strings.Contains(l, rid2) {
			t.Errorf("aws logs tail line %q lacks request id %s", l, rid2)
		}
	}

	// boto3: the API's shapes, paging and errors as botocore parses them.
	if err := exec.Command("python3", "-c", "import boto3").Run(); err == nil || os.Getenv("CI") != "" {
		out, errOut, err := run(t, env, work, "python3", moduleRoot(t)+"/cmd/nimbus/testdata/boto3_logs.py", endpoint, "talker")
		if err != nil {
			t.Errorf("boto3 logs checks: %v\n%s%s", err, out, errOut)
		}
	}

	// The JSON log format: JSON application lines and platform records,
	// selected with JSON filter patterns.
	// (Debian's CLI v2.9 predates --logging-config; the pip v1 has it.)
	v1 := clis["v1"]
	if v1 == "" {
		t.Log("no AWS CLI v1 with --logging-config: JSON format part skipped")
		return
	}
	awsWith(v1, "lambda", "update-function-configuration", "--function-name", "talker", "--logging-config", "LogFormat=JSON")
	aws("lambda", "wait", "function-updated-v2", "--function-name", "talker")
	rid3 := invoke("json")
	out = aws("logs", "filter-log-events", "--log-group-name", "/aws/lambda/talker",
		"--filter-pattern", `{ $.requestId = "`+rid3+`" || $.record.requestId = "`+rid3+`" }`)
	f = filtered{}
	if err := json.Unmarshal([]byte(out), &f); err != nil {
		t.Fatal(err)
	}
	types := map[string]bool{}
	for _, e := range f.Events {
		var line struct {
			Type, Message, Level string
		}
		if err := json.Unmarshal([]byte(e.Message), &line); err != nil {
			t.Errorf("JSON-format line %q is not JSON: %v", e.Message, err)
		}
		switch {
		case line.Type != "":
			types[line.Type] = true
		case line.Message == "greeting json" && line.Level == "INFO":
			types["app"] = true
		}
	}
	for _, want := range []string{"platform.start", "platform.runtimeDone", "platform.report", "app"} {
		if !types[want] {
			t.Errorf("JSON-format events of %s lack %s:\n%s", rid3, want, out)
		}
	}
}

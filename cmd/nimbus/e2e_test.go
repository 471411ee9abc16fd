package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The end-to-end tests build the nimbus binary once, run `nimbus server` as a
// real process and drive it with the AWS CLI, boto3 and nimbus's own client
// commands, the way a user would.

var nimbusBin string

// TestMain builds the binary, points TMPDIR at one directory of this run
// (t.TempDir's directories and the servers' data live under it) and
// removes it at the end. A timeout panic runs no cleanup, so shortly
// before the package timeout a watchdog kills the servers and removes the
// directory itself; the servers die with this process in any case
// (startTied).
func TestMain(m *testing.M) {
	flag.Parse()
	// The tests mostly wait (on the AWS CLI's waiters, on retry delays, on
	// servers starting), so more of them run at once than there are CPUs,
	// unless -parallel says otherwise.
	parallelSet := false
	flag.Visit(func(f *flag.Flag) { parallelSet = parallelSet || f.Name == "test.parallel" })
	if !parallelSet {
		_ = flag.Set("test.parallel", strconv.Itoa(max(4, runtime.GOMAXPROCS(0))))
	}
	root, err := os.MkdirTemp("", "nimbus-e2e-")
	if err != nil {
		panic(err)
	}
	if err := os.Setenv("TMPDIR", root); err != nil {
		panic(err)
	}
	nimbusBin = filepath.Join(root, "nimbus")
	out, err := exec.Command("go", "build", "-o", nimbusBin, ".").CombinedOutput()
	if err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	if d := testTimeout(); d > 0 {
		margin := min(max(d/20, 5*time.Second), 30*time.Second)
		time.AfterFunc(d-margin, func() {
			fmt.Fprintf(os.Stderr, "e2e: the package timeout (%v) is near: killing the servers and removing %s\n", d, root)
			running.Range(func(k, _ any) bool {
				_ = k.(*exec.Cmd).Process.Kill()
				return true
			})
			_ = os.RemoveAll(root)
		})
	}
	code := m.Run()
	_ = os.RemoveAll(root)
	os.Exit(code)
}

// testTimeout is the -test.timeout of this run (0: none).
func testTimeout() time.Duration {
	f := flag.Lookup("test.timeout")
	if f == nil {
		return 0
	}
	d, _ := f.Value.(flag.Getter).Get().(time.Duration)
	return d
}

// running holds the server processes not yet waited for (keys *exec.Cmd).
var running sync.Map

// server is a `nimbus server` process started by a test.
type server struct {
	endpoint string
	// env are the exports `nimbus env --data-dir` prints for it: the root
	// credentials the server generated, its endpoint and region.
	env []string
	// preamble is what the server printed up to its "listening" line.
	preamble []string
	// stderr is every line it printed there so far (guarded by mu).
	mu      sync.Mutex
	stderr  []string
	cmd     *exec.Cmd
	exited  chan error // receives cmd.Wait's result once
	stopped bool
}

// waitLine waits (up to a minute) for a line of the server's stderr that
// contains every one of parts, and returns it ("" if none came).
func (s *server) waitLine(parts ...string) string {
	for range 600 {
		s.mu.Lock()
		lines := slices.Clone(s.stderr)
		s.mu.Unlock()
		for _, l := range lines {
			if containsAll(l, parts) {
				return l
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return ""
}

func containsAll(l string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(l, p) {
			return false
		}
	}
	return true
}

// startServer runs `nimbus server` on a free loopback port with a fresh data
// directory and returns its endpoint URL; it is stopped with SIGINT at
// cleanup.
func startServer(t *testing.T) string {
	t.Helper()
	return startServerAt(t, t.TempDir()).endpoint
}

// startServerAt runs `nimbus server` with its state under dataDir.
func startServerAt(t *testing.T, dataDir string) *server {
	t.Helper()
	return startServerWith(t, dataDir, nil)
}

// startServerWith runs `nimbus server` with its state under dataDir and
// extra flags; stdout, when set, gets each line the server prints there
// (function output with --function-logs).
func startServerWith(t *testing.T, dataDir string, stdout func(line string), extra ...string) *server {
	t.Helper()
	return startServerAs(t, nil, dataDir, stdout, extra...)
}

// startServerAs is startServerWith run as cred (nil: as this process).
func startServerAs(t *testing.T, cred *syscall.Credential, dataDir string, stdout func(line string), extra ...string) *server {
	t.Helper()
	// The runtime SDKs are installed by the tests that need them (npm ci of
	// 70 MB per server would dominate the package); a later flag wins.
	args := append([]string{"server", "--listen", "127.0.0.1:0", "--data-dir", dataDir, "--runtime-sdks", "off"}, extra...)
	cmd := exec.Command(nimbusBin, args...)
	// No NIMBUS_* from the test's environment: the server generates its
	// root credentials into dataDir, as on a first start.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "NIMBUS_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if cred != nil {
		// Another user: its home and temporary files in its data directory.
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		tmp := filepath.Join(dataDir, "tmp")
		if err := os.MkdirAll(tmp, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(tmp, int(cred.Uid), int(cred.Gid)); err != nil {
			t.Fatal(err)
		}
		cmd.Env = append(cmd.Env, "HOME="+dataDir, "TMPDIR="+tmp)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdoutDone := make(chan struct{})
	if stdout != nil {
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			defer close(stdoutDone)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				stdout(sc.Text())
			}
		}()
	} else {
		close(stdoutDone)
	}
	gone := make(chan struct{}) // closed once cmd.Wait has returned
	if err := startTied(cmd, gone); err != nil {
		t.Fatal(err)
	}
	running.Store(cmd, nil)
	srv := &server{cmd: cmd, exited: make(chan error, 1)}
	t.Cleanup(func() {
		if srv.stopped {
			return
		}
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case err := <-srv.exited:
			if err != nil {
				t.Errorf("server exit: %v", err)
			}
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			t.Error("server did not stop on SIGINT")
		}
	})
	addrRE := regexp.MustCompile(`addr=(127\.0\.0\.1:\d+)`)
	sc := bufio.NewScanner(stderr)
	addr := make(chan string, 1)
	go func() {
		found := false
		for sc.Scan() {
			line := sc.Text()
			t.Log("server: " + line)
			srv.mu.Lock()
			srv.stderr = append(srv.stderr, line)
			srv.mu.Unlock()
			if !found {
				srv.preamble = append(srv.preamble, line)
			}
			if m := addrRE.FindStringSubmatch(line); m != nil && !found {
				found = true
				addr <- m[1]
			}
		}
		if !found {
			close(addr)
		}
		<-stdoutDone // Wait closes the pipes: read them to the end first
		err := cmd.Wait()
		running.Delete(cmd)
		close(gone)
		srv.exited <- err
	}()
	select {
	case a, ok := <-addr:
		if !ok {
			t.Fatal("server exited before listening")
		}
		srv.endpoint = "http://" + a
		srv.env = nimbusEnv(t, dataDir)
		if got := envValue(srv.env, "AWS_ENDPOINT_URL"); got != srv.endpoint {
			t.Fatalf("nimbus env: AWS_ENDPOINT_URL=%s, want %s", got, srv.endpoint)
		}
		serverEnvs.Store(srv.endpoint, srv.env)
		createTestRoles(t, srv.env, srv.endpoint) // roles_e2e_test.go
		return srv
	case <-time.After(5 * time.Minute): // a guard against a hang: a restart that recovers state on a loaded machine takes minutes
		t.Fatal("server did not report its address")
	}
	return nil
}

// kill9 kills the server with SIGKILL, as a crash or an OOM killer would,
// and waits for it to be gone.
func (s *server) kill9(t *testing.T) {
	t.Helper()
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-s.exited
	s.stopped = true
}

// serverEnvs maps the endpoint of each started server to its exports.
var serverEnvs sync.Map

// awsEnv is the environment of a client of the server at endpoint (started
// by startServer/startServerAt): this process's environment with the
// server's `nimbus env` exports — its root credentials, endpoint and
// region — and no AWS configuration files, so the AWS CLI, boto3 and
// nimbus's client commands authenticate as the server's root.
func awsEnv(endpoint string) []string {
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "NIMBUS_") {
			env = append(env, kv)
		}
	}
	env = append(env, "AWS_PAGER=", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_EC2_METADATA_DISABLED=true")
	if e, ok := serverEnvs.Load(endpoint); ok {
		return append(env, e.([]string)...)
	}
	return append(env, "AWS_ENDPOINT_URL="+endpoint, "AWS_REGION=us-east-1", "AWS_DEFAULT_REGION=us-east-1")
}

// nimbusEnv runs `nimbus env --data-dir dataDir` and returns its exports
// as KEY=VALUE pairs.
func nimbusEnv(t *testing.T, dataDir string) []string {
	t.Helper()
	cmd := exec.Command(nimbusBin, "env", "--data-dir", dataDir)
	cmd.Env = append(os.Environ(), "NIMBUS_ACCESS_KEY_ID=", "NIMBUS_SECRET_ACCESS_KEY=")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("nimbus env: %v", err)
	}
	var env []string
	for _, line := range strings.Split(string(out), "\n") {
		rest, ok := strings.CutPrefix(line, "export ")
		if !ok {
			continue
		}
		for _, kv := range strings.Fields(rest) {
			k, v, _ := strings.Cut(kv, "=")
			env = append(env, k+"="+strings.Trim(v, "'"))
		}
	}
	if envValue(env, "AWS_ACCESS_KEY_ID") == "" || envValue(env, "AWS_SECRET_ACCESS_KEY") == "" {
		t.Fatalf("nimbus env printed no credentials:\n%s", out)
	}
	return env
}

func envValue(env []string, key string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, key+"="); ok {
			return v
		}
	}
	return ""
}

// run runs a command to its end (tied to this process: startTied).
func run(t *testing.T, env []string, dir string, name string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env, cmd.Dir = env, dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	done := make(chan struct{})
	defer close(done)
	if err := startTied(cmd, done); err != nil {
		return "", "", err
	}
	err := cmd.Wait()
	return out.String(), errb.String(), err
}

// soakEnv turns on the long soak and kill tests (.ci/run sets it); the
// README's test command leaves them out to keep each package inside its
// budget.
const soakEnv = "NIMBUS_TEST_SOAK"

// requireSoak skips a soak or kill test unless soakEnv is set.
func requireSoak(t *testing.T) {
	t.Helper()
	if os.Getenv(soakEnv) == "" {
		t.Skipf("a soak/kill test: set %s=1 to run it (CI does)", soakEnv)
	}
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// helloZip builds examples/hello-go as a bootstrap zip, or zips a
// script example directory.
func helloZip(t *testing.T, example string) string {
	t.Helper()
	dir := t.TempDir()
	root := moduleRoot(t)
	zipPath := filepath.Join(dir, "fn.zip")
	if example == "hello-go" {
		cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", filepath.Join(dir, "bootstrap"), "./examples/hello-go")
		cmd.Dir, cmd.Env = root, append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build example: %v\n%s", err, out)
		}
		writeZip(t, zipPath, dir, []string{"bootstrap"})
		return zipPath
	}
	src := filepath.Join(root, "examples", example)
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	writeZip(t, zipPath, src, names)
	return zipPath
}

func requireTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required in CI (.ci/run installs it): %v", name, err)
		}
		t.Skipf("%s not installed", name)
	}
}

// awsCLIs finds the AWS CLIs on this machine by major version: the one on
// PATH (here often v1 from pip) and Debian's v2 at /usr/bin/aws.
func awsCLIs(t *testing.T) map[string]string {
	t.Helper()
	found := map[string]string{}
	for _, cand := range []string{"aws", "/usr/bin/aws"} {
		p, err := exec.LookPath(cand)
		if err != nil {
			continue
		}
		out, err := exec.Command(p, "--version").CombinedOutput()
		if err != nil {
			continue
		}
		if m := regexp.MustCompile(`aws-cli/(\d+)\.`).FindSubmatch(out); m != nil {
			if _, dup := found["v"+string(m[1])]; !dup {
				found["v"+string(m[1])] = p
			}
		}
	}
	if _, ok := found["v2"]; !ok && os.Getenv("CI") != "" {
		t.Fatalf("AWS CLI v2 is required in CI (.ci/run installs Debian's awscli); found %v", found)
	}
	if len(found) == 0 {
		t.Skip("no AWS CLI installed")
	}
	return found
}

// requireBoto3 skips a test on a machine without boto3, and fails it in CI,
// whose .ci/run installs it.
func requireBoto3(t *testing.T) {
	t.Helper()
	requireTool(t, "python3")
	if err := exec.Command("python3", "-c", "import boto3").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("boto3 is required in CI: %v", err)
		}
		t.Skip("boto3 not installed")
	}
}

func TestAWSCLI(t *testing.T) {
	t.Parallel()
	clis := awsCLIs(t)
	endpoint := startServer(t)
	env := awsEnv(endpoint)
	zip := helloZip(t, "hello-go")
	for version, aws := range clis {
		t.Run(version, func(t *testing.T) {
			testAWSCLI(t, aws, version, endpoint, env, zip)
		})
	}
}

func testAWSCLI(t *testing.T, awsPath, version, endpoint string, env []string, zip string) {
	work := t.TempDir()
	// AWS_ENDPOINT_URL is in env for CLIs that read it (v1 ≥ 1.29, v2 ≥ 2.13);
	// Debian's v2 is older, so the flag is passed as well.
	aws := func(args ...string) (string, string, error) {
		return run(t, env, work, awsPath, append([]string{"--endpoint-url", endpoint}, args...)...)
	}
	name := "hello-" + version
	out, errOut, err := aws("lambda", "create-function", "--function-name", name,
		"--runtime", "provided.al2023", "--handler", "bootstrap",
		"--role", "arn:aws:iam::000000000000:role/lambda", "--zip-file", "fileb://"+zip)
	if err != nil {
		t.Fatalf("create-function: %v\n%s%s", err, out, errOut)
	}
	var created map[string]any
	if err := json.Unmarshal([]byte(out), &created); err != nil || created["FunctionName"] != name {
		t.Fatalf("create-function output: %v %s", err, out)
	}
	if _, errOut, err := aws("lambda", "wait", "function-active-v2", "--function-name", name); err != nil {
		t.Fatalf("wait function-active-v2: %v\n%s", err, errOut)
	}
	args := []string{"lambda", "invoke", "--function-name", name, "--payload", `{"name":"x"}`, "--log-type", "Tail", "out.json"}
	if version != "v1" { // v1 sends --payload as is and has no such flag
		args = append(args, "--cli-binary-format", "raw-in-base64-out")
	}
	out, errOut, err = aws(args...)
	if err != nil {
		t.Fatalf("invoke: %v\n%s%s", err, out, errOut)
	}
	var meta struct {
		StatusCode      int
		LogResult       string
		ExecutedVersion string
		FunctionError   string
	}
	if err := json.Unmarshal([]byte(out), &meta); err != nil {
		t.Fatalf("invoke output: %v\n%s", err, out)
	}
	if meta.StatusCode != 200 || meta.ExecutedVersion != "$LATEST" || meta.FunctionError != "" {
		t.Errorf("invoke metadata = %+v", meta)
	}
	logs, _ := base64.StdEncoding.DecodeString(meta.LogResult)
	if !strings.Contains(string(logs), "START RequestId:") || !strings.Contains(string(logs), "greeting x") {
		t.Errorf("log tail:\n%s", logs)
	}
	body, err := os.ReadFile(filepath.Join(work, "out.json"))
	if err != nil || !strings.Contains(string(body), `"message":"Hello, x!"`) {
		t.Errorf("out.json = %s (%v)", body, err)
	}

	out, _, err = aws("lambda", "list-functions")
	if err != nil || !strings.Contains(out, `"FunctionName": "`+name+`"`) {
		t.Errorf("list-functions: %v\n%s", err, out)
	}
	_, errOut, err = aws("lambda", "get-function", "--function-name", "missing")
	if err == nil || !strings.Contains(errOut, "ResourceNotFoundException") {
		t.Errorf("get-function missing: err %v stderr %s", err, errOut)
	}

	// nimbus's own client commands against the same node.
	out, errOut, err = run(t, env, work, nimbusBin, "invoke", name, "--payload", `{"name":"cli"}`, "--tail")
	if err != nil || !strings.Contains(out, "Hello, cli!") || !strings.Contains(errOut, "REPORT RequestId:") {
		t.Errorf("nimbus invoke: %v\nstdout %s\nstderr %s", err, out, errOut)
	}
	out, _, err = run(t, env, work, nimbusBin, "functions")
	if err != nil || !strings.Contains(out, name) || !strings.Contains(out, "provided.al2023") {
		t.Errorf("nimbus functions: %v\n%s", err, out)
	}
	out, _, err = run(t, env, work, nimbusBin, "version")
	if err != nil || !strings.HasPrefix(out, "nimbus ") {
		t.Errorf("nimbus version: %v %s", err, out)
	}
}

// TestKill9KeepsAcknowledgedState kills the server with SIGKILL right after
// the AWS CLI got its answers, starts a new server on the same data
// directory and expects every function, version and alias to be there.
func TestKill9KeepsAcknowledgedState(t *testing.T) {
	requireSoak(t)
	t.Parallel()
	clis := awsCLIs(t)
	awsPath := clis["v2"]
	if awsPath == "" {
		awsPath = clis["v1"]
	}
	dataDir := t.TempDir()
	zip := helloZip(t, "hello-go")
	srv := startServerAt(t, dataDir)
	work := t.TempDir()
	aws := func(s *server, args ...string) string {
		t.Helper()
		out, errOut, err := run(t, awsEnv(s.endpoint), work, awsPath, append([]string{"--endpoint-url", s.endpoint}, args...)...)
		if err != nil {
			t.Fatalf("aws %v: %v\n%s%s", args, err, out, errOut)
		}
		return out
	}
	aws(srv, "lambda", "create-function", "--function-name", "survivor", "--runtime", "provided.al2023",
		"--handler", "bootstrap", "--role", "arn:aws:iam::000000000000:role/lambda", "--zip-file", "fileb://"+zip)
	aws(srv, "lambda", "publish-version", "--function-name", "survivor")
	aws(srv, "lambda", "create-alias", "--function-name", "survivor", "--name", "live", "--function-version", "1")
	aws(srv, "lambda", "update-function-configuration", "--function-name", "survivor", "--memory-size", "256")
	srv.kill9(t)

	srv2 := startServerAt(t, dataDir)
	out := aws(srv2, "lambda", "invoke", "--function-name", "survivor", "--qualifier", "live", "out.json")
	if !strings.Contains(out, `"ExecutedVersion": "1"`) {
		t.Errorf("invoke of the alias after kill -9: %s", out)
	}
	if body, err := os.ReadFile(filepath.Join(work, "out.json")); err != nil || !strings.Contains(string(body), "Hello, world!") {
		t.Errorf("response after kill -9: %s (%v)", body, err)
	}
	out = aws(srv2, "lambda", "get-function-configuration", "--function-name", "survivor")
	if !strings.Contains(out, `"MemorySize": 256`) {
		t.Errorf("configuration after kill -9 lost the acknowledged update: %s", out)
	}
}

func TestBoto3(t *testing.T) {
	t.Parallel()
	requireBoto3(t)
	endpoint := startServer(t)
	zip := helloZip(t, "hello-python")
	out, errOut, err := run(t, awsEnv(endpoint), t.TempDir(), "python3", filepath.Join(moduleRoot(t), "cmd/nimbus/testdata/boto3_e2e.py"), endpoint, zip)
	if err != nil {
		t.Fatalf("boto3 e2e: %v\n%s%s", err, out, errOut)
	}
}

// `nimbus invoke` exits 1 on an API error and 2 on a function error, whose
// error JSON it still prints.
func TestInvokeExitCodeOnFunctionError(t *testing.T) {
	t.Parallel()
	clis := awsCLIs(t)
	awsPath := clis["v2"]
	if awsPath == "" {
		awsPath = clis["v1"]
	}
	endpoint := startServer(t)
	env, work := awsEnv(endpoint), t.TempDir()
	_, errOut, err := run(t, env, work, nimbusBin, "invoke", "nothing-here")
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(errOut, "ResourceNotFoundException") {
		t.Errorf("invoke of a missing function: %v %s", err, errOut)
	}

	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "app.py"), []byte("def handler(event, context):\n    raise ValueError('bad input')\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	zip := filepath.Join(work, "fail.zip")
	writeZip(t, zip, src, []string{"app.py"})
	if out, errOut, err := run(t, env, work, awsPath, "--endpoint-url", endpoint, "lambda", "create-function",
		"--function-name", "fails", "--runtime", "python3.12", "--handler", "app.handler",
		"--role", "arn:aws:iam::000000000000:role/lambda", "--zip-file", "fileb://"+zip); err != nil {
		t.Fatalf("create-function: %v\n%s%s", err, out, errOut)
	}
	out, _, err := run(t, env, work, nimbusBin, "invoke", "fails")
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(out, `"errorType": "ValueError"`) {
		t.Errorf("invoke of a failing function: %v, stdout %s; want exit 2 and the error JSON", err, out)
	}
}

package runtimeapi

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// The test binary re-executes itself as a Lambda runtime: with
// envRuntimeMode set, TestMain runs a real aws-lambda-go function (or a raw
// custom runtime) against AWS_LAMBDA_RUNTIME_API instead of the tests.
const envRuntimeMode = "NIMBUS_RUNTIMEAPI_TEST_RUNTIME"

func TestMain(m *testing.M) {
	if mode := os.Getenv(envRuntimeMode); mode != "" {
		runTestRuntime(mode)
		os.Exit(99) // lambda.Start never returns
	}
	os.Exit(m.Run())
}

// echoOut is what the "echo" function returns: its input and everything
// aws-lambda-go parsed from the /next headers.
type echoOut struct {
	Payload         map[string]any                `json:"payload"`
	RequestID       string                        `json:"requestId"`
	FunctionArn     string                        `json:"functionArn"`
	TenantID        string                        `json:"tenantId"`
	DeadlineMs      int64                         `json:"deadlineMs"`
	TraceEnv        string                        `json:"traceEnv"`
	ClientContext   lambdacontext.ClientContext   `json:"clientContext"`
	CognitoIdentity lambdacontext.CognitoIdentity `json:"cognitoIdentity"`
}

// failingReader yields data, then fails: aws-lambda-go streams it and
// reports the failure in the error trailers. Unexported fields make it
// marshal to {} so aws-lambda-go uses it as a raw reader.
type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if errors.Is(err, io.EOF) {
		return n, f.err
	}
	return n, err
}

func runTestRuntime(mode string) {
	switch mode {
	case "echo":
		lambda.Start(func(ctx context.Context, in map[string]any) (echoOut, error) {
			lc, _ := lambdacontext.FromContext(ctx)
			dl, _ := ctx.Deadline()
			return echoOut{
				Payload: in, RequestID: lc.AwsRequestID, FunctionArn: lc.InvokedFunctionArn,
				TenantID: lc.TenantID, DeadlineMs: dl.UnixMilli(), TraceEnv: os.Getenv("_X_AMZN_TRACE_ID"),
				ClientContext: lc.ClientContext, CognitoIdentity: lc.Identity,
			}, nil
		})
	case "error":
		lambda.Start(func() error { return errors.New("boom") })
	case "panic":
		lambda.Start(func() { panic("kaboom") })
	case "big":
		lambda.Start(func() (string, error) { return strings.Repeat("x", 7<<20), nil })
	case "stream-error":
		lambda.Start(func() (io.Reader, error) {
			return &failingReader{r: strings.NewReader("partial"), err: errors.New("stream broke")}, nil
		})
	case "stream-long-error":
		lambda.Start(func() (io.Reader, error) {
			return &failingReader{r: strings.NewReader("partial"), err: errors.New(strings.Repeat("e", 8<<10))}, nil
		})
	case "block":
		// Announce each invocation on stdout, then wait for a line on stdin.
		in := bufio.NewScanner(os.Stdin)
		lambda.Start(func(ctx context.Context) (string, error) {
			lc, _ := lambdacontext.FromContext(ctx)
			fmt.Printf("invoked %s\n", lc.AwsRequestID)
			if !in.Scan() {
				return "", errors.New("stdin closed")
			}
			return "released", nil
		})
	case "initerror":
		// A custom runtime whose handler cannot be loaded.
		url := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/init/error"
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, url, //nolint:gosec // G704: the test's own server
			strings.NewReader(`{"errorMessage":"Cannot find handler main.nope","errorType":"Runtime.NoSuchHandler"}`))
		req.Header.Set(hdrErrorType, "Runtime.NoSuchHandler")
		resp, err := http.DefaultClient.Do(req) //nolint:gosec // G704: the test's own server
		if err != nil {
			os.Exit(3)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			os.Exit(4)
		}
		os.Exit(1)
	case "exit":
		os.Exit(3)
	}
	fmt.Fprintf(os.Stderr, "unknown test runtime mode %q\n", mode)
	os.Exit(98)
}

// runtimeProc is a re-executed test binary acting as a Lambda runtime.
type runtimeProc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  *bufio.Scanner
	stderr *bytes.Buffer
	exited chan struct{}
	err    error // from Wait; read after exited
}

func startRuntime(t testing.TB, s *Server, mode string) *runtimeProc {
	t.Helper()
	// The process is killed at cleanup; its lifetime is not a context's.
	cmd := exec.Command(os.Args[0], "-test.run=^$") //nolint:gosec,noctx // G204: re-exec of this test binary
	cmd.Env = append(os.Environ(), envRuntimeMode+"="+mode, "AWS_LAMBDA_RUNTIME_API="+s.Addr(),
		"AWS_LAMBDA_FUNCTION_NAME=test", "AWS_LAMBDA_FUNCTION_VERSION=$LATEST", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128")
	p := &runtimeProc{cmd: cmd, stderr: &bytes.Buffer{}, exited: make(chan struct{})}
	cmd.Stderr = p.stderr
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	// An os.Pipe rather than StdoutPipe: Wait must not close it under a
	// reader, and nothing has to drain it.
	out, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = w
	p.lines = bufio.NewScanner(out)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start runtime: %v", err)
	}
	_ = w.Close()
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.exited
		_ = out.Close()
		if t.Failed() {
			t.Logf("runtime %s stderr:\n%s", mode, p.stderr.String())
		}
	})
	return p
}

// readLine returns the next line the runtime printed.
func (p *runtimeProc) readLine(t testing.TB) string {
	t.Helper()
	if !p.lines.Scan() {
		t.Fatalf("runtime stdout ended: %v", p.lines.Err())
	}
	return p.lines.Text()
}

// waitExit waits for the process to exit by itself and returns its code.
func (p *runtimeProc) waitExit(t testing.TB) int {
	t.Helper()
	<-p.exited
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		t.Fatalf("wait runtime: %v", p.err)
	}
	return 0
}

func (p *runtimeProc) kill(t testing.TB) {
	t.Helper()
	_ = p.cmd.Process.Kill()
	<-p.exited
}

func testLogger() *slog.Logger {
	if os.Getenv("NIMBUS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// newTestServer starts a Server on 127.0.0.1:0, closed at cleanup.
func newTestServer(t testing.TB, opts Options) *Server {
	t.Helper()
	s := New(testLogger(), opts)
	l, err := new(net.ListenConfig).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Start(l)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

// testCtx is a context that ends with the test; the test's own timeout is
// what catches a hang.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx
}

var reqSeq struct {
	sync.Mutex
	n int
}

func newInvocation(payload string) *Invocation {
	reqSeq.Lock()
	reqSeq.n++
	n := reqSeq.n
	reqSeq.Unlock()
	return &Invocation{
		RequestID:          fmt.Sprintf("0b1c2d3e-0000-4000-8000-%012d", n),
		InvokedFunctionArn: "arn:aws:lambda:us-east-1:123456789012:function:test",
		TraceID:            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
		Deadline:           time.Now().Add(time.Hour),
		Payload:            []byte(payload),
	}
}

package daemon

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/nimbus-serverless/nimbus/internal/config"
)

// nodeProcessEnv makes the test binary a Nimbus node (runNodeProcess),
// for tests that measure the server as a process of its own.
const nodeProcessEnv = "NIMBUS_TEST_NODE_PROCESS"

// runNodeProcess is the subprocess side of TestWrongSignatureMemoryBounded:
// a node configured from NIMBUS_* variables that prints its address and
// serves until stdin closes.
func runNodeProcess() {
	cfg := config.FromEnv()
	cfg.Listen = "127.0.0.1:0"
	if n, err := strconv.Atoi(os.Getenv("NIMBUS_TEST_SPOOL_SLOTS")); err == nil {
		cfg.BodySpoolSlots = n
	}
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	d, err := New(ctx, cfg, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(d.Addr())
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	if err := d.Run(ctx); err != nil {
		os.Exit(1)
	}
	os.Exit(0)
}

// procStatus reads a "kB" field of /proc/<pid>/status, in bytes.
func procStatus(t *testing.T, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("%s: %q", field, line)
			}
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// zeros is an endless body that costs the client no memory.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// wronglySigned is a POST to the Lambda API with a well-formed signature by
// a valid key, for the right date, region and service, whose signature is
// wrong. With no X-Amz-Content-Sha256 (as the SDKs send Lambda calls) the
// server must hash the body before it can tell.
func wronglySigned(ctx context.Context, t *testing.T, endpoint, akid string, body io.Reader, size int64) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+"/2015-03-31/functions", body)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	req.ContentLength = size
	req.Header.Set("X-Amz-Date", now.Format("20060102T150405Z"))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+akid+"/"+now.Format("20060102")+
		"/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature="+strings.Repeat("0", 64))
	return req
}

// TestWrongSignatureMemoryBounded is issue 13's attack on a real server
// process: concurrent large bodies with a valid key id and a wrong
// signature. Each is answered 403 InvalidSignatureException, and the
// server's peak resident memory grows by far less than the bodies' sum
// (they are spooled to disk, a bounded number at once), where it grew by
// all of it when bodies were buffered.
func TestWrongSignatureMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 192 MiB over loopback")
	}
	const (
		clients = 6
		size    = 32 << 20
		ceiling = 96 << 20 // growth of peak RSS allowed; buffering needs > clients*size
	)
	dir := t.TempDir()
	akid, secret := "AKIDMEMORYTEST000001", "memorytestsecretmemorytestsecret00000001"
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), nodeProcessEnv+"=1", "NIMBUS_DATA_DIR="+dir,
		"NIMBUS_ACCESS_KEY_ID="+akid, "NIMBUS_SECRET_ACCESS_KEY="+secret, "NIMBUS_TEST_SPOOL_SLOTS=4")
	cmd.Stderr = testWriter{t}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stdin.Close(); _ = cmd.Wait() })
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("node process: %v", err)
	}
	endpoint := "http://" + strings.TrimSpace(addr)
	pid := cmd.Process.Pid

	// Warm up with signed calls, so lazy initialisation is in the baseline.
	cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.StaticCredentialsProvider{Value: aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret}}}
	client := lambda.NewFromConfig(cfg)
	ctx := context.Background()
	if _, err := client.ListFunctions(ctx, &lambda.ListFunctionsInput{}); err != nil {
		t.Fatal(err)
	}
	if _, err := awsiam.NewFromConfig(cfg).CreateRole(ctx, &awsiam.CreateRoleInput{RoleName: aws.String("lambda"),
		AssumeRolePolicyDocument: aws.String(trustLambda)}); err != nil { // testRole, for the CreateFunction below
		t.Fatal(err)
	}
	base := procStatus(t, pid, "VmRSS")

	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for range clients {
		wg.Go(func() {
			req := wronglySigned(ctx, t, endpoint, akid, io.LimitReader(zeros{}, size), size)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- err
				return
			}
			b, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Amzn-ErrorType") != "InvalidSignatureException" {
				errs <- fmt.Errorf("status %d %s: %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), b)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	peak := procStatus(t, pid, "VmHWM")
	t.Logf("%d concurrent wrongly signed %d MiB bodies: RSS %d MiB before, peak %d MiB (+%d MiB)",
		clients, size>>20, base>>20, peak>>20, (peak-base)>>20)
	if peak-base > ceiling {
		t.Fatalf("peak RSS grew by %d MiB, more than %d MiB, for %d MiB of refused bodies", (peak-base)>>20, ceiling>>20, clients*size>>20)
	}
	// Nothing of them is left in the spool directory.
	if es, err := os.ReadDir(dir + "/spool"); err != nil || len(es) != 0 {
		t.Fatalf("spool directory: %d entries, %v", len(es), err)
	}

	// A correctly signed CreateFunction with a zip at Lambda's 50 MB limit
	// still works, and its cost is logged for comparison.
	zipped := largeZip(t, 50<<20)
	before := procStatus(t, pid, "VmHWM")
	out, err := client.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("large"), Runtime: types.RuntimeProvidedal2023, Handler: aws.String("bootstrap"),
		Role: aws.String(testRole), Code: &types.FunctionCode{ZipFile: zipped},
	})
	if err != nil {
		t.Fatalf("CreateFunction with a %d-byte zip: %v", len(zipped), err)
	}
	if out.CodeSize != int64(len(zipped)) {
		t.Fatalf("CodeSize %d, want %d", out.CodeSize, len(zipped))
	}
	t.Logf("CreateFunction of a %d MiB zip: peak RSS %d MiB (was %d MiB)", len(zipped)>>20, procStatus(t, pid, "VmHWM")>>20, before>>20)
}

// largeZip is a zip of exactly limit bytes or just under, holding a
// bootstrap script and incompressible data (stored, so building it is
// cheap).
func largeZip(t *testing.T, limit int) []byte {
	t.Helper()
	data := make([]byte, limit-4096)
	r := rand.New(rand.NewPCG(7, 7))
	for i := 0; i+8 <= len(data); i += 8 {
		v := r.Uint64()
		for j := range 8 {
			data[i+j] = byte(v >> (8 * j))
		}
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{{"bootstrap", []byte("#!/bin/sh\nexit 0\n"), 0o755}, {"data.bin", data, 0o644}} {
		h := &zip.FileHeader{Name: f.name, Method: zip.Store}
		h.SetMode(f.mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write(f.data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if buf.Len() > limit {
		t.Fatalf("zip of %d bytes over %d", buf.Len(), limit)
	}
	return buf.Bytes()
}

// TestDeclaredHashWrongSignatureRefusedUnread: with the payload hash
// declared in X-Amz-Content-Sha256, a wrong signature is answered before
// a byte of the body is sent.
func TestDeclaredHashWrongSignatureRefusedUnread(t *testing.T) {
	n := startNode(t, t.TempDir())
	c := rawConn(t, n.d.Addr())
	now := time.Now().UTC()
	fmt.Fprintf(c, "POST /2015-03-31/functions HTTP/1.1\r\nHost: %s\r\nContent-Length: 100000000\r\nX-Amz-Date: %s\r\n"+
		"X-Amz-Content-Sha256: %s\r\nAuthorization: AWS4-HMAC-SHA256 Credential=%s/%s/us-east-1/lambda/aws4_request, "+
		"SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=%s\r\n\r\n",
		n.d.Addr(), now.Format("20060102T150405Z"), strings.Repeat("a", 64), n.creds().AccessKeyID, now.Format("20060102"), strings.Repeat("0", 64))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer before the body: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Amzn-ErrorType") != "InvalidSignatureException" {
		t.Fatalf("status %d %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}
}

func rawConn(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	// A guard against a hang, not a measurement.
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Minute))
	return c
}

// connClosed reports whether the server closed c: a read ends with EOF or
// a reset rather than the guard deadline.
func connClosed(c net.Conn) bool {
	_, err := io.Copy(io.Discard, c)
	if err == nil {
		return true // EOF
	}
	var ne net.Error
	return !errors.As(err, &ne) || !ne.Timeout()
}

// TestTricklingClientDisconnected: a client that sends a wrongly signed
// body one byte at a time is answered 408 RequestTimeoutException and
// disconnected (short grace and rate for the test).
func TestTricklingClientDisconnected(t *testing.T) {
	n := startNode(t, t.TempDir(), func(c *config.Config) {
		c.BodyGrace = 300 * time.Millisecond
		c.BodyMinRate = 1024
	})
	c := rawConn(t, n.d.Addr())
	req := wronglySigned(context.Background(), t, n.endpoint(), n.creds().AccessKeyID, nil, 1<<20)
	var hdr bytes.Buffer
	fmt.Fprintf(&hdr, "POST /2015-03-31/functions HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", n.d.Addr(), 1<<20)
	for _, k := range []string{"X-Amz-Date", "Authorization", "Content-Type"} {
		fmt.Fprintf(&hdr, "%s: %s\r\n", k, req.Header.Get(k))
	}
	hdr.WriteString("\r\n")
	if _, err := c.Write(hdr.Bytes()); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := c.Write([]byte("{")); err != nil {
					return
				}
			}
		}
	}()
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout || resp.Header.Get("X-Amzn-ErrorType") != "RequestTimeoutException" {
		t.Fatalf("status %d %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}
	if rest, err := io.ReadAll(br); err != nil || len(rest) > 0 {
		t.Fatalf("after the response: %q, %v; want the connection closed", rest, err)
	}
}

// TestIdleKeepAliveClosed: a keep-alive connection that sends nothing
// after its request is closed after ConnIdleTimeout; the count of open
// connections goes back down.
func TestIdleKeepAliveClosed(t *testing.T) {
	n := startNode(t, t.TempDir(), func(c *config.Config) { c.ConnIdleTimeout = 300 * time.Millisecond })
	c := rawConn(t, n.d.Addr())
	fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", n.d.Addr())
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("status %d close %v", resp.StatusCode, resp.Close)
	}
	if n.d.conns.Open() < 1 {
		t.Fatalf("open connections %d while one is open", n.d.conns.Open())
	}
	if !connClosed(c) {
		t.Fatal("idle keep-alive connection never closed")
	}
}

// countingBody counts the bytes read from it.
type countingBody struct {
	r io.Reader
	n int
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func (c *countingBody) Close() error { return nil }

// TestRoutingUnsignedFormReadsLittle: telling an unsigned form POST to "/"
// apart (CloudFormation or not) reads only the start of its body, which the
// handler still gets whole.
func TestRoutingUnsignedFormReadsLittle(t *testing.T) {
	for _, c := range []struct {
		body string
		cfn  bool
	}{
		{"Action=CreateStack&Version=2010-05-15&TemplateBody=" + strings.Repeat("x", 1<<20), true},
		{"Action=SendMessage&Version=2012-11-05&MessageBody=" + strings.Repeat("x", 1<<20), false},
		{"Version=2010-05-15&" + strings.Repeat("Tags.member.1.Key=k&", 1<<16) + "Action=CreateStack", false}, // Action past the peek
		{"Action=DescribeStacks", true},
	} {
		body := &countingBody{r: strings.NewReader(c.body)}
		r, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:4566/", body)
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if got := isCloudFormation(r); got != c.cfn {
			t.Errorf("%.40s…: CloudFormation %v, want %v", c.body, got, c.cfn)
		}
		if body.n > actionPeek {
			t.Errorf("%.40s…: read %d bytes to route it, more than %d", c.body, body.n, actionPeek)
		}
		if all, _ := io.ReadAll(r.Body); string(all) != c.body {
			t.Errorf("%.40s…: handler gets %d bytes, want %d", c.body, len(all), len(c.body))
		}
	}
}

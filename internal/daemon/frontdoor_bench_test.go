package daemon

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/nimbus-serverless/nimbus/internal/sigv4/sigv4test"
)

// The front-door benchmarks isolate what every AWS API request pays
// before its service's handler runs: SigV4 verification, routing and the
// IAM check (docs/design/front-door.md). A DynamoDB JSON 1.0 request,
// signed once and replayed (so the client's signing is not in the
// figure), goes through the node's route table to a handler that reads
// the body and answers {} (FrontDoorInProcess; with a function role's
// credentials, FrontDoorInProcessFunctionRole) beside that handler called
// directly (FrontDoorInProcessBaseline): no network, the difference is the
// front door's own CPU and allocations. Over loopback HTTP, FrontDoor
// sends it to the node's server (DynamoDB's DescribeLimits) beside
// FrontDoorEchoBaseline, a plain net/http echo server, with one client.
// Each reports cpu-ns/op, the process's CPU time per request, beside its
// wall time: on a machine shared with other work the CPU is the steadier
// figure.
//
//	go test -run '^$' -bench 'FrontDoor' -benchtime 5000x -benchmem ./internal/daemon/
func BenchmarkFrontDoorInProcess(b *testing.B) {
	n := startNodeWith(b, b.TempDir(), nil)
	routes := n.d.routeTable(routeHandlers{dynamodb: cheapHandler, lambda: cheapHandler})
	frontDoorInProcess(b, n, routes)
}

// BenchmarkFrontDoorInProcessFunctionRole is FrontDoorInProcess signed
// with a function's credentials (a session of its role, whose inline
// policy allows the call): the IAM evaluation that root skips is in it.
func BenchmarkFrontDoorInProcessFunctionRole(b *testing.B) {
	n := startNodeWith(b, b.TempDir(), nil)
	ctx := context.Background()
	ic := awsiam.NewFromConfig(n.awsConfig())
	role, err := ic.CreateRole(ctx, &awsiam.CreateRoleInput{RoleName: aws.String("app-role"), AssumeRolePolicyDocument: aws.String(trustLambda)})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := ic.PutRolePolicy(ctx, &awsiam.PutRolePolicyInput{RoleName: aws.String("app-role"), PolicyName: aws.String("app"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["dynamodb:GetItem","dynamodb:PutItem"],` +
			`"Resource":"arn:aws:dynamodb:us-east-1:` + n.d.cfg.AccountID + `:table/bench"}]}`)}); err != nil {
		b.Fatal(err)
	}
	c, err := n.d.issuer.Issue(aws.ToString(role.Role.Arn), "arn:aws:lambda:us-east-1:"+n.d.cfg.AccountID+":function:app")
	if err != nil {
		b.Fatal(err)
	}
	creds := aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken}
	routes := n.d.routeTable(routeHandlers{dynamodb: cheapHandler, lambda: cheapHandler})
	frontDoorInProcessAs(b, creds, routes)
}

func BenchmarkFrontDoorInProcessBaseline(b *testing.B) {
	n := startNodeWith(b, b.TempDir(), nil)
	frontDoorInProcess(b, n, cheapHandler)
}

func BenchmarkFrontDoor(b *testing.B) {
	n := startNodeWith(b, b.TempDir(), nil)
	frontDoorOverHTTP(b, n, n.d.Addr(), "DescribeLimits")
}

func BenchmarkFrontDoorEchoBaseline(b *testing.B) {
	n := startNodeWith(b, b.TempDir(), nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: echoHandler, ReadHeaderTimeout: time.Minute}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	frontDoorOverHTTP(b, n, ln.Addr().String(), "DescribeLimits")
}

// cheapHandler reads the body and answers {} as a JSON 1.0 service does.
var cheapHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	_, _ = w.Write([]byte("{}"))
})

// signedDynamoDB is a DynamoDB request signed with the node's root
// credentials, with the headers the Go SDK sends.
func signedDynamoDB(b *testing.B, creds aws.Credentials, host, op, body string) *http.Request {
	b.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+host+"/", strings.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", "DynamoDB_20120810."+op)
	req.Header.Set("Amz-Sdk-Invocation-Id", "2d7c0ab4-8a3c-4b8e-9d3e-5f2b0f6c1a11")
	req.Header.Set("Amz-Sdk-Request", "attempt=1; max=3")
	req.Header.Set("User-Agent", "aws-sdk-go-v2/1.36.3 ua/2.1 os/linux lang/go#1.26 md/GOOS#linux md/GOARCH#amd64 api/dynamodb#1.43.1")
	if err := sigv4test.Sign(req, creds, "us-east-1", "dynamodb", time.Now()); err != nil {
		b.Fatal(err)
	}
	return req
}

func frontDoorInProcess(b *testing.B, n *node, h http.Handler) { frontDoorInProcessAs(b, n.creds(), h) }

func frontDoorInProcessAs(b *testing.B, creds aws.Credentials, h http.Handler) {
	body := `{"TableName":"bench","Key":{"pk":{"S":"k"}}}`
	signed := signedDynamoDB(b, creds, "127.0.0.1:4566", "GetItem", body)
	tmpl := *signed
	tmpl.RequestURI, tmpl.RemoteAddr, tmpl.URL.Host, tmpl.URL.Scheme = "/", "127.0.0.1:40000", "", ""
	rd := strings.NewReader(body)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	cpu0, ops := processCPU(), 0
	for b.Loop() {
		ops++
		rd.Reset(body)
		ctx, cancel := context.WithCancel(context.Background())
		r := tmpl.WithContext(ctx)
		r.Body = io.NopCloser(rd)
		clear(w.h)
		w.status = 0
		h.ServeHTTP(w, r)
		cancel()
		if w.status != 0 && w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
	}
	reportCPU(b, cpu0, ops)
}

// discardWriter is a ResponseWriter that keeps only the status.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(code int)        { w.status = code }

func frontDoorOverHTTP(b *testing.B, n *node, addr, op string) {
	body := []byte("{}")
	signed := signedDynamoDB(b, n.creds(), n.d.Addr(), op, string(body))
	c := benchClient()
	url := "http://" + addr + "/"
	measure(b, func() error {
		req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Host = n.d.Addr() // as signed
		req.Header = signed.Header
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return &httpStatusError{resp.StatusCode, string(out)}
		}
		return nil
	})
}

type httpStatusError struct {
	status int
	body   string
}

func (e *httpStatusError) Error() string { return http.StatusText(e.status) + ": " + e.body }

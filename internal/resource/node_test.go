package resource_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/nimbus-serverless/nimbus/internal/config"
	"github.com/nimbus-serverless/nimbus/internal/daemon"
	"github.com/nimbus-serverless/nimbus/internal/resource"
	"github.com/nimbus-serverless/nimbus/internal/sandbox"
	"github.com/nimbus-serverless/nimbus/internal/stack"
	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// The test binary doubles as the sandbox init of the node's functions.
func TestMain(m *testing.M) {
	if sandbox.MaybeRunInit() {
		return
	}
	os.Exit(m.Run())
}

const (
	stackName = "teststack"
	testRole  = "arn:aws:iam::000000000000:role/test"
)

// env is a real node started in-process, the providers pointed at it,
// and SDK clients to check what they made.
type env struct {
	ps        map[string]stack.Provider
	artifacts *stack.Artifacts
	addr      string
	lambda    *lambda.Client
	apigw     *apigateway.Client
	apigw2    *apigatewayv2.Client
	logs      *cloudwatchlogs.Client
	cfg       aws.Config
}

// awsConfig is an SDK configuration for the node (any service's client).
func (e *env) awsConfig() aws.Config { return e.cfg }

func newEnv(t *testing.T) *env {
	t.Helper()
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithCancel(context.Background())
	d, err := daemon.New(ctx, cfg, log)
	if err != nil {
		cancel()
		t.Fatalf("start node: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	t.Cleanup(func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("node run: %v", err)
			}
		})
	})
	root := d.RootCredentials()
	creds := credentials.StaticCredentialsProvider{Value: aws.Credentials{AccessKeyID: root.AccessKeyID, SecretAccessKey: root.SecretAccessKey}}
	endpoint := "http://" + d.Addr()
	arts := &stack.Artifacts{Code: storetest.Open(t)}
	awsCfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), Credentials: creds}
	// testRole exists and trusts Lambda: CreateFunction refuses a role
	// Lambda cannot assume.
	if _, err := awsiam.NewFromConfig(awsCfg).CreateRole(ctx, &awsiam.CreateRoleInput{RoleName: aws.String("test"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow",` +
			`"Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)}); err != nil {
		t.Fatalf("create the test role: %v", err)
	}
	return &env{
		ps: resource.Providers(resource.Options{
			Endpoint: endpoint, Credentials: creds, Region: "us-east-1", AccountID: "000000000000",
			Artifacts: arts, Logger: log,
		}),
		artifacts: arts,
		addr:      d.Addr(),
		lambda:    lambda.NewFromConfig(awsCfg),
		apigw:     apigateway.NewFromConfig(awsCfg),
		apigw2:    apigatewayv2.NewFromConfig(awsCfg),
		logs:      cloudwatchlogs.NewFromConfig(awsCfg),
		cfg:       awsCfg,
	}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// request is what the engine would ask of a provider.
func request(logicalID, typ string, props map[string]any) *stack.Request {
	return &stack.Request{
		StackName: stackName, StackID: "arn:aws:cloudformation:us-east-1:000000000000:stack/" + stackName + "/1",
		LogicalID: logicalID, Type: typ, Properties: props, Region: "us-east-1", AccountID: "000000000000",
	}
}

// create makes a resource as the engine does and records it.
func (e *env) create(t *testing.T, logicalID, typ string, props map[string]any) *stack.Resource {
	t.Helper()
	res, err := e.ps[typ].Create(t.Context(), request(logicalID, typ, props))
	if err != nil {
		t.Fatalf("create %s (%s): %v", logicalID, typ, err)
	}
	if res.PhysicalID == "" {
		t.Fatalf("create %s: no physical id", logicalID)
	}
	return &stack.Resource{LogicalID: logicalID, Type: typ, Properties: props, Result: *res}
}

// update changes a resource in place; it fails the test if the provider
// asks for replacement.
func (e *env) update(t *testing.T, cur *stack.Resource, props map[string]any) *stack.Resource {
	t.Helper()
	res, err := e.ps[cur.Type].Update(t.Context(), request(cur.LogicalID, cur.Type, props), cur)
	if err != nil {
		t.Fatalf("update %s (%s): %v", cur.LogicalID, cur.Type, err)
	}
	return &stack.Resource{LogicalID: cur.LogicalID, Type: cur.Type, Properties: props, Result: *res}
}

// replace changes a resource as the engine does when Update answers
// ErrReplace: it creates the new one, then deletes the old one.
func (e *env) replace(t *testing.T, cur *stack.Resource, props map[string]any) *stack.Resource {
	t.Helper()
	_, err := e.ps[cur.Type].Update(t.Context(), request(cur.LogicalID, cur.Type, props), cur)
	if !errors.Is(err, stack.ErrReplace) {
		t.Fatalf("update %s (%s) = %v, want ErrReplace", cur.LogicalID, cur.Type, err)
	}
	next := e.create(t, cur.LogicalID, cur.Type, props)
	e.delete(t, cur)
	return next
}

// delete removes a resource twice: the second time it is already gone,
// which must not be an error either.
func (e *env) delete(t *testing.T, cur *stack.Resource) {
	t.Helper()
	for range 2 {
		if err := e.ps[cur.Type].Delete(t.Context(), request(cur.LogicalID, cur.Type, cur.Properties), cur); err != nil {
			t.Fatalf("delete %s (%s): %v", cur.LogicalID, cur.Type, err)
		}
	}
}

// upload stores a zip as `nimbus deploy` would and returns its Code
// property.
func (e *env) upload(t *testing.T, zipData []byte) map[string]any {
	t.Helper()
	sum := sha256.Sum256(zipData)
	sha := hex.EncodeToString(sum[:])
	if err := e.artifacts.Put(t.Context(), sha, zipData); err != nil {
		t.Fatal(err)
	}
	return map[string]any{"S3Bucket": stack.ArtifactBucket, "S3Key": sha}
}

// zipOf zips files (name -> content).
func zipOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, data := range files {
		h := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: time.Now()}
		h.SetMode(0o644)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// wantErr fails unless err's message contains every part.
func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("error %q does not contain %q", err, p)
		}
	}
}

// invoke calls a function and returns its payload.
func (e *env) invoke(t *testing.T, fn string) string {
	t.Helper()
	out, err := e.lambda.Invoke(t.Context(), &lambda.InvokeInput{FunctionName: &fn, Payload: []byte(`{}`)})
	if err != nil {
		t.Fatalf("invoke %s: %v", fn, err)
	}
	if out.FunctionError != nil {
		t.Fatalf("invoke %s: %s: %s", fn, *out.FunctionError, out.Payload)
	}
	return string(out.Payload)
}

// hostRequest sends a request with Host host through the node's listener
// and returns the status and body of the answer.
func (e *env) hostRequest(t *testing.T, host, method, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, "http://"+e.addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

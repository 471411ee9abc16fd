package daemon

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/smithy-go"

	"github.com/nimbus-serverless/nimbus/internal/config"
	"github.com/nimbus-serverless/nimbus/internal/sandbox"
	"github.com/nimbus-serverless/nimbus/internal/sigv4/sigv4test"
)

func TestMain(m *testing.M) {
	if sandbox.MaybeRunInit() {
		return
	}
	if os.Getenv(echoServerEnv) == "1" {
		runEchoServer() // never returns
	}
	if os.Getenv(nodeProcessEnv) == "1" {
		runNodeProcess() // never returns
	}
	// Tests run in parallel (each with its own node), as many at once as
	// there are CPUs: more in-process nodes at once starve each other's
	// backbone calls into timeouts on a loaded machine.
	os.Exit(m.Run())
}

// node is an in-process Nimbus node for a test. Its API requires SigV4:
// use client (Lambda), awsConfig (any aws-sdk-go-v2 service client),
// httpClient (plain net/http, signed) or creds.
type node struct {
	d      *Daemon
	client *lambda.Client
	stop   func()
	// tlsHTTP: the node serves HTTPS (--tls-self-signed) and this client
	// trusts its development CA.
	tlsHTTP *http.Client
}

// startNode starts a node on 127.0.0.1:0 with its state under dataDir and
// returns an aws-sdk-go-v2 Lambda client pointed at it, signing with the
// node's root credentials (generated into dataDir on first start).
func startNode(t testing.TB, dataDir string, mutate ...func(*config.Config)) *node {
	t.Helper()
	return startNodeWith(t, dataDir, func(c *config.Config) {
		for _, f := range mutate {
			f(c)
		}
	})
}

// startNodeWith is startNode with the configuration changed by mutate.
func startNodeWith(t testing.TB, dataDir string, mutate func(*config.Config)) *node {
	t.Helper()
	return startNodeHooked(t, dataDir, mutate, hooks{})
}

// startNodeHooked is startNodeWith with parts of the node replaced (a
// clock the test moves).
func startNodeHooked(t testing.TB, dataDir string, mutate func(*config.Config), h hooks) *node {
	t.Helper()
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = dataDir
	if mutate != nil {
		mutate(&cfg)
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithCancel(context.Background())
	d, err := newDaemon(ctx, cfg, log, h)
	if err != nil {
		cancel()
		t.Fatalf("start node: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("node run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	n := &node{d: d, stop: stop}
	if cfg.TLSSelfSigned {
		n.tlsHTTP = trustingClient(t, filepath.Join(dataDir, TLSDir, "ca.pem"), "")
	}
	n.client = lambda.NewFromConfig(n.awsConfig())
	if cfg.IAMMode() == config.IAMEnforce {
		// testRole exists, as a user's role does: under enforce Lambda
		// refuses a role it cannot assume.
		ic := awsiam.NewFromConfig(n.awsConfig())
		_, err := ic.CreateRole(context.Background(), &awsiam.CreateRoleInput{RoleName: aws.String("lambda"),
			AssumeRolePolicyDocument: aws.String(trustLambda)})
		var ae smithy.APIError
		if err != nil && (!errors.As(err, &ae) || ae.ErrorCode() != "EntityAlreadyExists") {
			t.Fatalf("create the test role: %v", err)
		}
	}
	return n
}

// endpoint is the node's URL, http://127.0.0.1:<port>.
func (n *node) endpoint() string {
	if n.tlsHTTP != nil {
		return "https://" + n.d.Addr()
	}
	return "http://" + n.d.Addr()
}

// creds are the node's root credentials.
func (n *node) creds() aws.Credentials {
	r := n.d.RootCredentials()
	return aws.Credentials{AccessKeyID: r.AccessKeyID, SecretAccessKey: r.SecretAccessKey, Source: "nimbus root"}
}

// awsConfig is an aws-sdk-go-v2 configuration for the node (endpoint,
// region, root credentials): pass it to any service's NewFromConfig.
func (n *node) awsConfig() aws.Config {
	c := aws.Config{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(n.endpoint()),
		Credentials:  credentials.StaticCredentialsProvider{Value: n.creds()},
	}
	if n.tlsHTTP != nil {
		c.HTTPClient = n.tlsHTTP
	}
	return c
}

// httpClient is a net/http client that signs every request with the root
// credentials for service ("lambda", "logs", "apigateway", ...).
func (n *node) httpClient(service string) *http.Client {
	return sigv4test.Client(credentials.StaticCredentialsProvider{Value: n.creds()}, "us-east-1", service)
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

var (
	buildOnce sync.Map // pkg -> *builtZip
)

type builtZip struct {
	once sync.Once
	data []byte
	err  error
}

// goZip builds the Go package pkg (relative to the module root) as a Lambda
// bootstrap, statically, and returns the zip AWS would be given.
func goZip(t testing.TB, pkg string) []byte {
	t.Helper()
	v, _ := buildOnce.LoadOrStore(pkg, &builtZip{})
	b := v.(*builtZip)
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", "nimbus-build-")
		if err != nil {
			b.err = err
			return
		}
		defer os.RemoveAll(dir)
		out := filepath.Join(dir, "bootstrap")
		cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-o", out, pkg)
		cmd.Dir = moduleRoot(t)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
		if msg, err := cmd.CombinedOutput(); err != nil {
			b.err = &buildError{string(msg), err}
			return
		}
		bin, err := os.ReadFile(out)
		if err != nil {
			b.err = err
			return
		}
		b.data = zipFiles(t, map[string]zipEntry{"bootstrap": {data: bin, mode: 0o755}})
	})
	if b.err != nil {
		t.Fatalf("build %s: %v", pkg, b.err)
	}
	return b.data
}

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

type zipEntry struct {
	data []byte
	mode os.FileMode
}

func zipFiles(t testing.TB, files map[string]zipEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, f := range files {
		h := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: time.Now()}
		mode := f.mode
		if mode == 0 {
			mode = 0o644
		}
		h.SetMode(mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(w, bytes.NewReader(f.data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// dirZip zips every file of a directory (relative to the module root).
func dirZip(t testing.TB, dir string) []byte {
	t.Helper()
	root := filepath.Join(moduleRoot(t), dir)
	files := map[string]zipEntry{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		files[filepath.ToSlash(rel)] = zipEntry{data: b}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return zipFiles(t, files)
}

func moduleRoot(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	return filepath.Dir(string(bytes.TrimSpace(out)))
}

// createRole creates role name through the IAM API, assumable by Lambda,
// with the given inline policy (none if ""), and returns its ARN: what a
// user does so a function's own calls are allowed under --iam enforce.
func createRole(t testing.TB, n *node, name, inline string) string {
	t.Helper()
	ctx := context.Background()
	ic := awsiam.NewFromConfig(n.awsConfig())
	role, err := ic.CreateRole(ctx, &awsiam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trustLambda)})
	if err != nil {
		t.Fatalf("CreateRole %s: %v", name, err)
	}
	if inline != "" {
		if _, err := ic.PutRolePolicy(ctx, &awsiam.PutRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String(name),
			PolicyDocument: aws.String(inline)}); err != nil {
			t.Fatalf("PutRolePolicy %s: %v", name, err)
		}
	}
	return aws.ToString(role.Role.Arn)
}

// allow is a policy document allowing actions on resources.
func allow(actions []string, resources ...string) string {
	a, _ := json.Marshal(actions)
	r, _ := json.Marshal(resources)
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":` + string(a) + `,"Resource":` + string(r) + `}]}`
}

// permit adds to function fn's resource policy a statement letting the
// service principal invoke it for sourceArn (aws lambda add-permission),
// as a user does before S3, SNS or EventBridge may invoke a function.
func permit(t testing.TB, n *node, fn, principal, sourceArn string) {
	t.Helper()
	if _, err := n.client.AddPermission(context.Background(), &lambda.AddPermissionInput{FunctionName: aws.String(fn),
		StatementId: aws.String(strings.ReplaceAll(principal, ".", "-") + "-" + strconv.Itoa(int(time.Now().UnixNano()%1e9))),
		Action:      aws.String("lambda:InvokeFunction"), Principal: aws.String(principal), SourceArn: aws.String(sourceArn)}); err != nil {
		t.Fatalf("AddPermission %s for %s: %v", fn, principal, err)
	}
}

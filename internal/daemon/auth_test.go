package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/smithy-go"

	"github.com/nimbus-serverless/nimbus/internal/auth"
	"github.com/nimbus-serverless/nimbus/internal/config"
	"github.com/nimbus-serverless/nimbus/internal/sigv4/sigv4test"
)

const (
	msgMismatch = "The request signature we calculated does not match the signature you provided. " +
		"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	msgInvalidToken = "The security token included in the request is invalid."
)

// refused is a 403 answer: its X-Amzn-ErrorType and message.
type refused struct {
	status  int
	errType string
	message string
}

func do(t *testing.T, req *http.Request) refused {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	msg, _ := m["message"].(string)
	if msg == "" {
		msg = string(body)
	}
	return refused{resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), msg}
}

// deleteRequest is a DeleteFunction of name: the state change each refused
// request attempts.
func deleteRequest(t *testing.T, n *node, name string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodDelete, n.endpoint()+"/2015-03-31/functions/"+name, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func createRequest(t *testing.T, n *node, name string) *http.Request {
	t.Helper()
	zip := goZip(t, "./internal/daemon/testdata/fn")
	body, _ := json.Marshal(map[string]any{"FunctionName": name, "Runtime": "provided.al2023", "Handler": "bootstrap",
		"Role": testRole, "Code": map[string]any{"ZipFile": zip}})
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, n.endpoint()+"/2015-03-31/functions", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return req
}

// TestSignatureFailures sends a state-changing request for each way a
// signature can be wrong, expects AWS's 403 answer, and checks that
// nothing changed.
func TestSignatureFailures(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	createGoFunction(t, n, "keep", nil)
	root := n.creds()
	now := time.Now()
	sign := func(req *http.Request, c aws.Credentials, region, service string, at time.Time) *http.Request {
		t.Helper()
		if err := sigv4test.Sign(req, c, region, service, at); err != nil {
			t.Fatal(err)
		}
		return req
	}
	wrongSecret := root
	wrongSecret.SecretAccessKey = "not-the-secret"
	unknown := aws.Credentials{AccessKeyID: "AKIAUNKNOWNUNKNOWN00", SecretAccessKey: root.SecretAccessKey}

	// Function credentials: one forged, one expired (issued 13 h ago with
	// the node's own session key).
	key, err := auth.LoadOrCreateSessionKey(n.d.cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	oldIssuer, _ := auth.NewIssuer(key, 0, func() time.Time { return now.Add(-13 * time.Hour) })
	expired, _ := oldIssuer.Issue(testRole, "arn:aws:lambda:us-east-1:000000000000:function:keep")
	otherIssuer, _ := auth.NewIssuer(make([]byte, 32), 0, nil)
	forged, _ := otherIssuer.Issue(testRole, "arn:aws:lambda:us-east-1:000000000000:function:keep")
	asAWS := func(c auth.Credentials) aws.Credentials {
		return aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken}
	}

	cases := []struct {
		name    string
		req     func() *http.Request
		errType string
		message string // prefix
	}{
		{"missing", func() *http.Request { return deleteRequest(t, n, "keep") },
			"MissingAuthenticationTokenException", "Missing Authentication Token"},
		{"malformed", func() *http.Request {
			r := deleteRequest(t, n, "keep")
			r.Header.Set("X-Amz-Date", now.UTC().Format("20060102T150405Z"))
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+root.AccessKeyID+"/20261127/us-east-1/lambda/aws4_request")
			return r
		}, "IncompleteSignatureException", "Authorization header requires 'Signature' parameter."},
		{"unknown key", func() *http.Request { return sign(deleteRequest(t, n, "keep"), unknown, "us-east-1", "lambda", now) },
			"UnrecognizedClientException", msgInvalidToken},
		{"wrong secret", func() *http.Request {
			return sign(deleteRequest(t, n, "keep"), wrongSecret, "us-east-1", "lambda", now)
		},
			"InvalidSignatureException", msgMismatch},
		{"expired date", func() *http.Request {
			return sign(deleteRequest(t, n, "keep"), root, "us-east-1", "lambda", now.Add(-20*time.Minute))
		}, "InvalidSignatureException", "Signature expired: "},
		{"future date", func() *http.Request {
			return sign(deleteRequest(t, n, "keep"), root, "us-east-1", "lambda", now.Add(20*time.Minute))
		}, "InvalidSignatureException", "Signature not yet current: "},
		{"presigned expired", func() *http.Request {
			r := deleteRequest(t, n, "keep")
			r.URL.RawQuery = "X-Amz-Expires=60"
			u, hdr, err := v4.NewSigner().PresignHTTP(context.Background(), root, r, emptySHA256, "lambda", "us-east-1", now.Add(-2*time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			p, _ := http.NewRequestWithContext(context.Background(), http.MethodDelete, u, nil)
			for k, v := range hdr {
				if k != "Host" {
					p.Header[k] = v
				}
			}
			return p
		}, "InvalidSignatureException", "Request has expired"},
		{"body tampered after signing", func() *http.Request {
			r := sign(createRequest(t, n, "intruder"), root, "us-east-1", "lambda", now)
			b, _ := io.ReadAll(r.Body)
			b = []byte(strings.Replace(string(b), `"Handler":"bootstrap"`, `"Handler":"bootstrbp"`, 1))
			r.Body = io.NopCloser(strings.NewReader(string(b)))
			return r
		}, "InvalidSignatureException", msgMismatch},
		{"body tampered, hash header", func() *http.Request {
			r := createRequest(t, n, "intruder")
			r.Header.Set("X-Amz-Content-Sha256", emptySHA256)
			if err := v4.NewSigner().SignHTTP(context.Background(), root, r, emptySHA256, "lambda", "us-east-1", now); err != nil {
				t.Fatal(err)
			}
			return r
		}, "InvalidSignatureException", "The provided 'x-amz-content-sha256' header does not match what was computed."},
		{"other region", func() *http.Request { return sign(deleteRequest(t, n, "keep"), root, "eu-west-1", "lambda", now) },
			"InvalidSignatureException", "Credential should be scoped to a valid region, not 'eu-west-1'. "},
		{"other service", func() *http.Request { return sign(deleteRequest(t, n, "keep"), root, "us-east-1", "execute-api", now) },
			"InvalidSignatureException", "Credential should be scoped to correct service: 'lambda'. "},
		{"forged session token", func() *http.Request {
			return sign(deleteRequest(t, n, "keep"), asAWS(forged), "us-east-1", "lambda", now)
		}, "UnrecognizedClientException", msgInvalidToken},
		{"root key with a session token", func() *http.Request {
			c := root
			c.SessionToken = expired.SessionToken
			return sign(deleteRequest(t, n, "keep"), c, "us-east-1", "lambda", now)
		}, "UnrecognizedClientException", msgInvalidToken},
		{"expired session token", func() *http.Request {
			return sign(deleteRequest(t, n, "keep"), asAWS(expired), "us-east-1", "lambda", now)
		}, "ExpiredTokenException", "The security token included in the request is expired"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := do(t, c.req())
			if got.status != http.StatusForbidden || got.errType != c.errType || !strings.HasPrefix(got.message, c.message) {
				t.Errorf("got %d %s %q, want 403 %s %q", got.status, got.errType, got.message, c.errType, c.message)
			}
		})
	}
	// The same raw request, signed by the test helper's client, is served.
	resp, err := n.httpClient("lambda").Get(n.endpoint() + "/2015-03-31/functions/keep") //nolint:noctx // test
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("signed GetFunction: %d", resp.StatusCode)
	}
	// Nothing changed: keep is there, intruder is not.
	ctx := context.Background()
	if _, err := n.client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("keep")}); err != nil {
		t.Errorf("keep after refused deletes: %v", err)
	}
	var nf interface{ ErrorCode() string }
	if _, err := n.client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("intruder")}); !errors.As(err, &nf) || nf.ErrorCode() != "ResourceNotFoundException" {
		t.Errorf("intruder after refused creates: %v", err)
	}
}

var emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// TestSDKClientsWithBadCredentials drives aws-sdk-go-v2 with a wrong secret
// and an unknown key: the SDK sees AWS's error codes.
func TestSDKClientsWithBadCredentials(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	ctx := context.Background()
	for _, c := range []struct {
		id, secret, code string
	}{
		{n.creds().AccessKeyID, "wrong", "InvalidSignatureException"},
		{"AKIAUNKNOWNUNKNOWN00", n.creds().SecretAccessKey, "UnrecognizedClientException"},
	} {
		cfg := n.awsConfig()
		cfg.Credentials = credentials.NewStaticCredentialsProvider(c.id, c.secret, "")
		cfg.RetryMaxAttempts = 1
		_, err := lambda.NewFromConfig(cfg).ListFunctions(ctx, &lambda.ListFunctionsInput{})
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != c.code {
			t.Errorf("ListFunctions with %s: %v, want %s", c.id, err, c.code)
		}
	}
	if _, err := n.client.ListFunctions(ctx, &lambda.ListFunctionsInput{}); err != nil {
		t.Errorf("root client: %v", err)
	}
}

// TestOtherProtocolsRefuseInTheirShape: an X-Amz-Target (JSON) call and a
// query-protocol call without valid signatures get their protocol's error
// shapes.
func TestOtherProtocolsRefuseInTheirShape(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, n.endpoint()+"/", strings.NewReader("{}"))
	req.Header.Set("X-Amz-Target", "Logs_20140328.DescribeLogGroups")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	_ = json.NewDecoder(resp.Body).Decode(&m)
	resp.Body.Close()
	if resp.StatusCode != 403 || m["__type"] != "MissingAuthenticationTokenException" {
		t.Errorf("JSON protocol: %d %v", resp.StatusCode, m)
	}

	form := url.Values{"Action": {"ListQueues"}, "Version": {"2012-11-05"}}
	req, _ = http.NewRequestWithContext(context.Background(), http.MethodPost, n.endpoint()+"/", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	bad := n.creds()
	bad.SecretAccessKey = "wrong"
	if err := sigv4test.Sign(req, bad, "us-east-1", "lambda", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(body), "<Code>SignatureDoesNotMatch</Code>") {
		t.Errorf("query protocol: %d %s", resp.StatusCode, body)
	}
}

// TestFunctionCredentials: an environment's AWS_* credentials are
// accepted by the node's API and are not the root's.
func TestFunctionCredentials(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	role := createRole(t, n, "creds-role", allow([]string{"lambda:GetFunction"}, "arn:aws:lambda:*:*:function:creds"))
	createGoFunction(t, n, "creds", func(in *lambda.CreateFunctionInput) { in.Role = aws.String(role) })
	_, env := invoke(t, n, "creds", "", map[string]any{"action": "env"})
	id, _ := env["AWS_ACCESS_KEY_ID"].(string)
	secret, _ := env["AWS_SECRET_ACCESS_KEY"].(string)
	token, _ := env["AWS_SESSION_TOKEN"].(string)
	if !strings.HasPrefix(id, "ASIA") || secret == "" || token == "" || id == n.creds().AccessKeyID {
		t.Fatalf("function credentials %q %q %q", id, secret, token)
	}
	cfg := n.awsConfig()
	cfg.Credentials = credentials.NewStaticCredentialsProvider(id, secret, token)
	c := lambda.NewFromConfig(cfg)
	out, err := c.GetFunction(context.Background(), &lambda.GetFunctionInput{FunctionName: aws.String("creds")})
	if err != nil || aws.ToString(out.Configuration.Role) != role {
		t.Fatalf("GetFunction with the function's credentials: %v", err)
	}
	// Without the token the key is unknown.
	cfg.Credentials = credentials.NewStaticCredentialsProvider(id, secret, "")
	cfg.RetryMaxAttempts = 1
	_, err = lambda.NewFromConfig(cfg).GetFunction(context.Background(), &lambda.GetFunctionInput{FunctionName: aws.String("creds")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "UnrecognizedClientException" {
		t.Errorf("function key without its token: %v", err)
	}
}

// TestRootCredentialsPersist: generated once into the data directory,
// owner-only, and the same after a restart; given credentials win and are
// not written.
func TestRootCredentialsPersist(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	n := startNode(t, dir)
	first := n.creds()
	if !n.d.RootCredentialsCreated() {
		t.Error("first start did not report generated credentials")
	}
	for p, want := range map[string]os.FileMode{filepath.Join(dir, auth.Dir): 0o700, auth.RootPath(dir): 0o600} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v mode %v, want %v", p, err, fi.Mode().Perm(), want)
		}
	}
	n.stop()
	n = startNode(t, dir)
	if n.creds() != first || n.d.RootCredentialsCreated() {
		t.Errorf("after restart: %+v (created %v), want %+v", n.creds(), n.d.RootCredentialsCreated(), first)
	}
	n.stop()
	n = startNode(t, t.TempDir(), func(c *config.Config) { c.AccessKeyID, c.SecretAccessKey = "AKIAGIVEN", "given-secret" })
	if n.creds().AccessKeyID != "AKIAGIVEN" || n.d.RootCredentialsCreated() {
		t.Errorf("given credentials: %+v", n.creds())
	}
	if _, err := os.Stat(auth.RootPath(n.d.cfg.DataDir)); err == nil {
		t.Error("given credentials were written to disk")
	}
	if _, err := n.client.ListFunctions(context.Background(), &lambda.ListFunctionsInput{}); err != nil {
		t.Errorf("with given credentials: %v", err)
	}
}

// TestInsecureNoAuth: with verification off, unsigned requests are served.
func TestInsecureNoAuth(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir(), func(c *config.Config) { c.InsecureNoAuth = true })
	resp, err := http.Get(n.endpoint() + "/2015-03-31/functions") //nolint:noctx // test
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("unsigned ListFunctions with --insecure-no-auth: %d", resp.StatusCode)
	}
	if _, err := os.Stat(auth.RootPath(n.d.cfg.DataDir)); err == nil {
		t.Error("insecure node generated root credentials")
	}
}

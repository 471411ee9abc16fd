package secretsext

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/nimbus-serverless/nimbus/internal/kms"
	"github.com/nimbus-serverless/nimbus/internal/secretsmanager"
	"github.com/nimbus-serverless/nimbus/internal/ssm"
	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// services serves the real Secrets Manager and Parameter Store over a
// real backbone, and counts the calls that reach them.
func services(t *testing.T) (url string, calls *int, mu *sync.Mutex) {
	t.Helper()
	st := storetest.Open(t)
	keys, err := kms.New(t.Context(), kms.Options{Store: st, MasterKey: bytes.Repeat([]byte{5}, kms.MasterKeySize),
		Region: "us-east-1", AccountID: "123456789012"})
	if err != nil {
		t.Fatal(err)
	}
	sec, err := secretsmanager.New(secretsmanager.Options{Store: st, Keys: keys, Region: "us-east-1", AccountID: "123456789012"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sec.Close)
	params, err := ssm.New(ssm.Options{Store: st, Keys: keys, Secrets: sec, Region: "us-east-1", AccountID: "123456789012"})
	if err != nil {
		t.Fatal(err)
	}
	n, m := 0, &sync.Mutex{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=ASIATEST/") {
			http.Error(w, "unsigned", http.StatusForbidden)
			return
		}
		m.Lock()
		n++
		m.Unlock()
		if strings.HasPrefix(r.Header.Get("X-Amz-Target"), "secretsmanager.") {
			sec.ServeHTTP(w, r)
			return
		}
		params.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &n, m
}

func call(t *testing.T, h http.Handler, token, target string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	if token != "" {
		req.Header.Set(TokenHeader, token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	b, _ := io.ReadAll(rec.Body)
	return rec.Code, string(b)
}

// TestExtensionProtocol: the extension's two paths answer the services'
// JSON for the session's token only, cache for the TTL, pass the
// services' refusals through, and refuse malformed requests.
func TestExtensionProtocol(t *testing.T) {
	url, calls, mu := services(t)
	creds := credentials.NewStaticCredentialsProvider("ASIATEST", "secret", "session-token")
	f := &HTTPFetcher{Endpoint: url, Region: "us-east-1", Credentials: creds}
	put := func(target, body string) {
		t.Helper()
		if _, err := f.call(t.Context(), "x", target, json.RawMessage(body)); err != nil {
			t.Fatalf("%s: %v", target, err)
		}
	}
	put("secretsmanager.CreateSecret", `{"Name":"app/db","SecretString":"v1"}`)
	put("AmazonSSM.PutParameter", `{"Name":"/app/token","Value":"tok","Type":"SecureString"}`)
	clk := &clock{t: time.Now()}
	h, err := New(Options{Token: "session-token", Fetch: f, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	// The token is the environment's session token, nothing else.
	for _, tok := range []string{"", "session-token2", "session-toke", "SESSION-TOKEN"} {
		if code, _ := call(t, h, tok, "/secretsmanager/get?secretId=app/db"); code != http.StatusUnauthorized {
			t.Errorf("token %q: %d, want 401", tok, code)
		}
	}
	code, body := call(t, h, "session-token", "/secretsmanager/get?secretId=app/db")
	var sv struct{ Name, SecretString, VersionId string }
	if code != http.StatusOK || json.Unmarshal([]byte(body), &sv) != nil || sv.Name != "app/db" || sv.SecretString != "v1" {
		t.Fatalf("get secret: %d %s", code, body)
	}
	put("secretsmanager.PutSecretValue", `{"SecretId":"app/db","SecretString":"v2"}`)
	mu.Lock()
	before := *calls
	mu.Unlock()
	if _, body := call(t, h, "session-token", "/secretsmanager/get?secretId=app/db"); !strings.Contains(body, `"v1"`) {
		t.Fatalf("within the TTL: %s (want the cached v1)", body)
	}
	mu.Lock()
	if *calls != before {
		t.Errorf("a cached answer called the service")
	}
	mu.Unlock()
	clk.add(301 * time.Second)
	if _, body := call(t, h, "session-token", "/secretsmanager/get?secretId=app/db"); !strings.Contains(body, `"v2"`) {
		t.Fatalf("after the TTL: %s (want v2)", body)
	}
	if _, body := call(t, h, "session-token", "/secretsmanager/get?secretId=app/db&versionStage=AWSPREVIOUS"); !strings.Contains(body, `"v1"`) {
		t.Fatalf("AWSPREVIOUS: %s", body)
	}
	code, body = call(t, h, "session-token", "/systemsmanager/parameters/get?name=/app/token&withDecryption=true")
	var pv struct {
		Parameter struct{ Name, Value, Type string }
	}
	if code != http.StatusOK || json.Unmarshal([]byte(body), &pv) != nil || pv.Parameter.Value != "tok" || pv.Parameter.Type != "SecureString" {
		t.Fatalf("get parameter: %d %s", code, body)
	}
	if _, body := call(t, h, "session-token", "/systemsmanager/parameters/get?name=/app/token&version=1"); strings.Contains(body, `"tok"`) {
		t.Fatalf("without decryption the SecureString came back in plain text: %s", body)
	}
	// The services' refusals pass through with their status.
	if code, body := call(t, h, "session-token", "/secretsmanager/get?secretId=nope"); code != http.StatusBadRequest ||
		!strings.Contains(body, "ResourceNotFoundException") {
		t.Errorf("missing secret: %d %s", code, body)
	}
	for target, want := range map[string]int{
		"/secretsmanager/get":                                         http.StatusBadRequest,
		"/secretsmanager/get?secretId=a&secretId=b":                   http.StatusBadRequest,
		"/systemsmanager/parameters/get?name=/x&version=0":            http.StatusBadRequest,
		"/systemsmanager/parameters/get?name=/x&version=1&label=l":    http.StatusBadRequest,
		"/systemsmanager/parameters/get?name=/x&withDecryption=maybe": http.StatusBadRequest,
		"/secretsmanager/get?secretId=" + strings.Repeat("a", 3000):   http.StatusBadRequest,
		"/other": http.StatusNotFound,
	} {
		if code, _ := call(t, h, "session-token", target); code != want {
			t.Errorf("%.80s: %d, want %d", target, code, want)
		}
	}
}

// FuzzParse: any path and query an environment's process sends is parsed
// without panicking, and what is accepted is bounded.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"/secretsmanager/get?secretId=a", "/systemsmanager/parameters/get?name=/a&version=3&withDecryption=true",
		"/systemsmanager/parameters/get?name=%zz", "/secretsmanager/get?secretId=a&versionStage=AWSCURRENT&versionId=x", "/?"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, target string) {
		req, err := http.NewRequest(http.MethodGet, "http://127.0.0.1:2773"+target, nil) //nolint:noctx // a parse test
		if err != nil {
			return
		}
		r, err := parse(req)
		if err == nil && (r.id == "" || len(r.id) > 2*maxID+1 || len(r.versionID) > maxID || len(r.stage) > maxID) {
			t.Fatalf("%q parsed to %+v", target, r)
		}
	})
}

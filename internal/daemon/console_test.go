package daemon

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
)

// consoleClient is a browser-like client of a node's console: it keeps
// the session cookie and sends the CSRF token the console gave it.
type consoleClient struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string
}

func newConsoleClient(t *testing.T, n *node) *consoleClient {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &consoleClient{t: t, base: n.endpoint() + "/_nimbus/console/", c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// answer is a console answer, its body read.
type answer struct {
	StatusCode int
	Header     http.Header
	cookies    []*http.Cookie
}

func (a answer) Cookies() []*http.Cookie { return a.cookies }

// do sends a request to the console; hdr adds headers.
func (cc *consoleClient) do(method, path, body string, hdr map[string]string) (answer, string) {
	cc.t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, cc.base+path, strings.NewReader(body))
	if err != nil {
		cc.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := cc.c.Do(req)
	if err != nil {
		cc.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, resp.Cookies()}, string(b)
}

func (cc *consoleClient) signIn(akid, secret string) (answer, string) {
	b, _ := json.Marshal(map[string]string{"accessKeyId": akid, "secretAccessKey": secret})
	resp, body := cc.do("POST", "api/signin", string(b), map[string]string{"Content-Type": "application/json"})
	var s struct{ CSRF string }
	if json.Unmarshal([]byte(body), &s) == nil {
		cc.csrf = s.CSRF
	}
	return resp, body
}

// aws makes one AWS call through the console's proxy.
func (cc *consoleClient) aws(k map[string]any, hdr map[string]string) (answer, string) {
	b, _ := json.Marshal(k)
	h := map[string]string{"Content-Type": "application/json", "X-Nimbus-Csrf": cc.csrf}
	for k, v := range hdr {
		h[k] = v
	}
	return cc.do("POST", "api/aws", string(b), h)
}

var listFunctions = map[string]any{"service": "lambda", "method": "GET", "path": "/2015-03-31/functions"}

// TestConsoleSignInAndCalls: the console requires signing in; a wrong key
// is refused; the session cookie is HttpOnly and SameSite=Strict; a call
// without the CSRF token, or from another site, is refused; a one-time
// link works once; and a limited user's session reads only what the user
// may (IAM evaluates the console's calls like any other).
func TestConsoleSignInAndCalls(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	cc := newConsoleClient(t, n)
	root := n.creds()

	resp, body := cc.do("GET", "", "", nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "<title>Nimbus console</title>") {
		t.Fatalf("page: %d %.200s", resp.StatusCode, body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'self'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	if resp, body := cc.do("GET", "api/session", "", nil); resp.StatusCode != 200 || !strings.Contains(body, `"principal":""`) {
		t.Errorf("session before sign-in: %d %s", resp.StatusCode, body)
	}
	if resp, _ := cc.aws(listFunctions, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("call before sign-in: %d", resp.StatusCode)
	}
	if resp, _ := cc.signIn(root.AccessKeyID, "not-the-secret-at-all"); resp.StatusCode != http.StatusForbidden || len(resp.Cookies()) != 0 {
		t.Errorf("wrong secret: %d, cookies %v", resp.StatusCode, resp.Cookies())
	}
	b, _ := json.Marshal(map[string]string{"accessKeyId": root.AccessKeyID, "secretAccessKey": root.SecretAccessKey})
	if resp, _ := cc.do("POST", "api/signin", string(b), map[string]string{"Content-Type": "application/json", "Origin": "http://evil.example"}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign-in posted by another site: %d", resp.StatusCode)
	}
	if resp, _ := cc.do("POST", "api/signin", string(b), map[string]string{"Content-Type": "text/plain"}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign-in posted as a form could: %d", resp.StatusCode)
	}

	resp, body = cc.signIn(root.AccessKeyID, root.SecretAccessKey)
	if resp.StatusCode != 200 || cc.csrf == "" {
		t.Fatalf("sign-in: %d %s", resp.StatusCode, body)
	}
	checkSessionCookie(t, resp)
	if resp, body := cc.aws(listFunctions, nil); resp.StatusCode != 200 || !strings.Contains(body, `"Functions"`) {
		t.Errorf("ListFunctions through the console: %d %s", resp.StatusCode, body)
	}
	csrf := cc.csrf
	cc.csrf = ""
	if resp, _ := cc.aws(listFunctions, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("call without the CSRF token: %d", resp.StatusCode)
	}
	cc.csrf = csrf
	if resp, _ := cc.aws(listFunctions, map[string]string{"Sec-Fetch-Site": "cross-site"}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("call from another site with the token: %d", resp.StatusCode)
	}
	if resp, _ := cc.aws(map[string]any{"service": "lambda", "method": "GET", "path": "/_nimbus/console/api/session"}, nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("the proxy called the console itself: %d", resp.StatusCode)
	}
	if resp, _ := cc.aws(map[string]any{"service": "lambda", "method": "GET", "path": "/2015-03-31/functions", "headers": map[string]string{"Authorization": "x"}}, nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("the proxy passed an Authorization header: %d", resp.StatusCode)
	}

	t.Run("one-time link", func(t *testing.T) {
		req, err := http.NewRequestWithContext(context.Background(), "POST", n.endpoint()+"/_nimbus/console/api/link", http.NoBody)
		if err != nil {
			t.Fatal(err)
		}
		if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("unsigned link request: %v %v", resp, err)
		} else {
			resp.Body.Close()
		}
		resp, err := n.httpClient("lambda").Post(n.endpoint()+"/_nimbus/console/api/link", "", http.NoBody)
		if err != nil {
			t.Fatal(err)
		}
		var l struct{ Path string }
		_ = json.NewDecoder(resp.Body).Decode(&l)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(l.Path, "link?t=") {
			t.Fatalf("link: %d %+v", resp.StatusCode, l)
		}
		lc := newConsoleClient(t, n)
		r1, _ := lc.do("GET", l.Path, "", nil)
		if r1.StatusCode != http.StatusSeeOther {
			t.Fatalf("first use: %d", r1.StatusCode)
		}
		checkSessionCookie(t, r1)
		if r, body := lc.do("GET", "api/session", "", nil); r.StatusCode != 200 || !strings.Contains(body, ":root") {
			t.Errorf("session after the link: %d %s", r.StatusCode, body)
		}
		other := newConsoleClient(t, n)
		if r2, _ := other.do("GET", l.Path, "", nil); r2.StatusCode != http.StatusForbidden || len(r2.Cookies()) != 0 {
			t.Errorf("second use: %d %v", r2.StatusCode, r2.Cookies())
		}
	})

	t.Run("limited user", func(t *testing.T) {
		ctx := context.Background()
		ic := awsiam.NewFromConfig(n.awsConfig())
		if _, err := ic.CreateUser(ctx, &awsiam.CreateUserInput{UserName: aws.String("viewer")}); err != nil {
			t.Fatal(err)
		}
		if _, err := ic.PutUserPolicy(ctx, &awsiam.PutUserPolicyInput{UserName: aws.String("viewer"), PolicyName: aws.String("list"),
			PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:ListFunctions","Resource":"*"}]}`)}); err != nil {
			t.Fatal(err)
		}
		k, err := ic.CreateAccessKey(ctx, &awsiam.CreateAccessKeyInput{UserName: aws.String("viewer")})
		if err != nil {
			t.Fatal(err)
		}
		uc := newConsoleClient(t, n)
		if resp, body := uc.signIn(aws.ToString(k.AccessKey.AccessKeyId), aws.ToString(k.AccessKey.SecretAccessKey)); resp.StatusCode != 200 ||
			!strings.Contains(body, ":user/viewer") {
			t.Fatalf("user sign-in: %d %s", resp.StatusCode, body)
		}
		if resp, body := uc.aws(listFunctions, nil); resp.StatusCode != 200 {
			t.Errorf("user's ListFunctions: %d %s", resp.StatusCode, body)
		}
		resp, body := uc.aws(map[string]any{"service": "logs", "method": "POST", "path": "/", "target": "Logs_20140328.DescribeLogGroups",
			"contentType": "application/x-amz-json-1.1", "body": "{}"}, nil)
		if !strings.Contains(body, "AccessDenied") || !strings.Contains(body, "user/viewer is not authorized to perform: logs:DescribeLogGroups") {
			t.Errorf("user's DescribeLogGroups: %d %s", resp.StatusCode, body) // JSON protocols answer 400 AccessDeniedException
		}
	})
}

func checkSessionCookie(t *testing.T, resp answer) {
	t.Helper()
	for _, sc := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(sc, "nimbus_console=") {
			if !strings.Contains(sc, "HttpOnly") || !strings.Contains(sc, "SameSite=Strict") || !strings.Contains(sc, "Path=/_nimbus/console/") {
				t.Errorf("session cookie %q", sc)
			}
			return
		}
	}
	t.Errorf("no session cookie in %v", resp.Header.Values("Set-Cookie"))
}

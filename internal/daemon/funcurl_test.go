package daemon

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/nimbus-serverless/nimbus/internal/sigv4/sigv4test"
)

var urlIDRE = regexp.MustCompile(`^https?://([a-z0-9]{32})\.lambda-url\.us-east-1\.localhost:(\d+)/$`)

// urlFunction deploys testdata/urlfn as name with a function URL and
// returns the URL's id.
func urlFunction(t testing.TB, n *node, name string, in *lambda.CreateFunctionUrlConfigInput) string {
	t.Helper()
	ctx := context.Background()
	if _, err := n.client.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String(name), Runtime: types.RuntimeProvidedal2023, Handler: aws.String("bootstrap"),
		Role:    aws.String(createRole(t, n, name+"-role", allow([]string{"lambda:ListTags"}, "arn:aws:lambda:*:*:function:"+name))),
		Code:    &types.FunctionCode{ZipFile: goZip(t, "./internal/daemon/testdata/urlfn")},
		Timeout: aws.Int32(30),
	}); err != nil {
		t.Fatal(err)
	}
	in.FunctionName = aws.String(name)
	out, err := n.client.CreateFunctionUrlConfig(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	m := urlIDRE.FindStringSubmatch(aws.ToString(out.FunctionUrl))
	if m == nil {
		t.Fatalf("FunctionUrl %q", aws.ToString(out.FunctionUrl))
	}
	if _, port, _ := net.SplitHostPort(n.d.Addr()); port != m[2] {
		t.Errorf("FunctionUrl names port %s, the node listens on %s", m[2], port)
	}
	return m[1]
}

// urlAnswer is a function URL's response, read.
type urlAnswer struct {
	StatusCode int
	Header     http.Header
}

// urlRequest sends a request to a function URL the way a client without
// *.localhost resolution does: to the node's address with the URL's Host.
func urlRequest(t testing.TB, n *node, id, method, path string, hdr map[string]string, body []byte) (urlAnswer, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, "http://"+n.d.Addr()+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(n.d.Addr())
	req.Host = id + ".lambda-url.us-east-1.localhost:" + port
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return urlAnswer{StatusCode: resp.StatusCode, Header: resp.Header}, b
}

// TestFunctionURLEndToEnd serves a net/http application wrapped with
// aws-lambda-go-api-proxy behind a function URL and reaches it with curl
// (which resolves *.localhost itself) and with net/http: the request
// arrives as the application expects it, the answer comes back as it
// wrote it, binary bodies survive, the platform answers CORS, and failures
// are answered as AWS answers them.
func TestFunctionURLEndToEnd(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	id := urlFunction(t, n, "web", &lambda.CreateFunctionUrlConfigInput{
		AuthType: types.FunctionUrlAuthTypeNone,
		Cors: &types.Cors{AllowOrigins: []string{"https://app.example"}, AllowMethods: []string{"GET", "POST"},
			AllowHeaders: []string{"x-client"}, ExposeHeaders: []string{"x-app"}, MaxAge: aws.Int32(300)},
	})
	_, port, _ := net.SplitHostPort(n.d.Addr())

	t.Run("curl", func(t *testing.T) {
		if _, err := exec.LookPath("curl"); err != nil {
			t.Skip("no curl")
		}
		url := "http://" + id + ".lambda-url.us-east-1.localhost:" + port + "/hello?name=ada"
		out, err := exec.Command("curl", "-sS", "-i", "-H", "X-Client: curl", url).CombinedOutput() //nolint:gosec,noctx // test
		if err != nil {
			t.Fatalf("curl: %v\n%s", err, out)
		}
		s := string(out)
		for _, want := range []string{"HTTP/1.1 200", "X-App: urlfn", "Set-Cookie: seen=1", "X-Amzn-Requestid: ", "\r\n\r\nhello ada via curl"} {
			if !strings.Contains(s, want) {
				t.Errorf("curl output lacks %q:\n%s", want, s)
			}
		}
	})

	t.Run("binary echo", func(t *testing.T) {
		body := []byte{0, 1, 2, 0xff, 0xfe, 'x'}
		resp, got := urlRequest(t, n, id, "POST", "/echo", map[string]string{"Content-Type": "application/octet-stream"}, body)
		if resp.StatusCode != http.StatusCreated || !bytes.Equal(got, body) || resp.Header.Get("Content-Type") != "application/octet-stream" {
			t.Errorf("echo: %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), got)
		}
	})

	t.Run("event", func(t *testing.T) {
		resp, b := urlRequest(t, n, id, "GET", "/event?a=1&a=2&b=%20x", map[string]string{"Cookie": "c1=v1; c2=v2", "User-Agent": "tester/1"}, nil)
		var ev events.LambdaFunctionURLRequest
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatalf("%d %s: %v", resp.StatusCode, b, err)
		}
		rc := ev.RequestContext
		if ev.Version != "2.0" || ev.RawPath != "/event" || ev.RawQueryString != "a=1&a=2&b=%20x" ||
			ev.QueryStringParameters["a"] != "1,2" || ev.QueryStringParameters["b"] != " x" ||
			len(ev.Cookies) != 2 || ev.Cookies[1] != "c2=v2" || ev.Headers["user-agent"] != "tester/1" ||
			rc.APIID != id || rc.DomainPrefix != id || rc.DomainName != id+".lambda-url.us-east-1.localhost" ||
			rc.AccountID != "anonymous" || rc.HTTP.Method != "GET" || rc.HTTP.Path != "/event" ||
			rc.HTTP.UserAgent != "tester/1" || rc.HTTP.SourceIP != "127.0.0.1" || rc.RequestID != resp.Header.Get("X-Amzn-Requestid") ||
			rc.TimeEpoch == 0 || ev.IsBase64Encoded {
			t.Errorf("event: %s", b)
		}
		var raw struct {
			RouteKey       string `json:"routeKey"`
			RequestContext struct {
				RouteKey string `json:"routeKey"`
				Stage    string `json:"stage"`
			} `json:"requestContext"`
		}
		_ = json.Unmarshal(b, &raw)
		if raw.RouteKey != "$default" || raw.RequestContext.RouteKey != "$default" || raw.RequestContext.Stage != "$default" {
			t.Errorf("route key and stage: %+v", raw)
		}
	})

	t.Run("plain json", func(t *testing.T) {
		resp, b := urlRequest(t, n, id, "GET", "/plain", nil, nil)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || string(b) != `{"just":"json"}` {
			t.Errorf("plain: %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
		}
	})

	t.Run("function error", func(t *testing.T) {
		resp, b := urlRequest(t, n, id, "GET", "/fail", nil, nil)
		if resp.StatusCode != http.StatusBadGateway || string(b) != "Internal Server Error" {
			t.Errorf("fail: %d %s", resp.StatusCode, b)
		}
	})

	t.Run("cors", func(t *testing.T) {
		// The preflight is answered by the platform: /fail would be a 502.
		resp, _ := urlRequest(t, n, id, "OPTIONS", "/fail", map[string]string{
			"Origin": "https://app.example", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x-client"}, nil)
		h := resp.Header
		if resp.StatusCode != 200 || h.Get("Access-Control-Allow-Origin") != "https://app.example" ||
			h.Get("Access-Control-Allow-Methods") != "GET,POST" || h.Get("Access-Control-Allow-Headers") != "x-client" ||
			h.Get("Access-Control-Max-Age") != "300" {
			t.Errorf("preflight: %d %v", resp.StatusCode, h)
		}
		resp, _ = urlRequest(t, n, id, "OPTIONS", "/fail", map[string]string{
			"Origin": "https://other.example", "Access-Control-Request-Method": "POST"}, nil)
		if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("preflight from a foreign origin: %d %v", resp.StatusCode, resp.Header)
		}
		// The function's own CORS header is replaced by the configuration.
		resp, b := urlRequest(t, n, id, "GET", "/cors", map[string]string{"Origin": "https://app.example"}, nil)
		if string(b) != "cors" || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example" ||
			resp.Header.Get("Access-Control-Expose-Headers") != "x-app" {
			t.Errorf("cors response: %s %v", b, resp.Header)
		}
		resp, _ = urlRequest(t, n, id, "GET", "/cors", map[string]string{"Origin": "https://other.example"}, nil)
		if v := resp.Header.Get("Access-Control-Allow-Origin"); v != "" {
			t.Errorf("foreign origin got Access-Control-Allow-Origin %q", v)
		}
	})

	t.Run("unknown url", func(t *testing.T) {
		resp, b := urlRequest(t, n, strings.Repeat("a", 32), "GET", "/", nil, nil)
		if resp.StatusCode != http.StatusForbidden || string(b) != `{"Message":null}` || resp.Header.Get("X-Amzn-ErrorType") != "AccessDeniedException" {
			t.Errorf("unknown url: %d %s %v", resp.StatusCode, b, resp.Header)
		}
	})
}

// TestFunctionURLStreaming: a RESPONSE_STREAM URL passes the body on as
// the function writes it. The function writes its first chunk, then waits
// on a gate only this test opens once it has read that chunk (a tag on
// the function, which it polls through the node's API), so a buffered
// implementation cannot pass.
func TestFunctionURLStreaming(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	id := urlFunction(t, n, "streamer", &lambda.CreateFunctionUrlConfigInput{
		AuthType: types.FunctionUrlAuthTypeNone, InvokeMode: types.InvokeModeResponseStream,
	})
	_, port, _ := net.SplitHostPort(n.d.Addr())
	req, _ := http.NewRequestWithContext(context.Background(), "GET", "http://"+n.d.Addr()+"/stream?gate=1", nil)
	req.Host = id + ".lambda-url.us-east-1.localhost:" + port
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || resp.Header.Get("X-Streamed") != "yes" || resp.Header.Get("Set-Cookie") != "s=1" ||
		resp.Header.Get("Content-Type") != "text/plain" {
		t.Errorf("head: %d %v", resp.StatusCode, resp.Header)
	}
	br := bufio.NewReader(resp.Body)
	first, err := br.ReadString('\n')
	if err != nil || first != "chunk-1\n" {
		t.Fatalf("first chunk %q: %v", first, err)
	}
	if _, err := n.client.TagResource(context.Background(), &lambda.TagResourceInput{
		Resource: aws.String("arn:aws:lambda:us-east-1:000000000000:function:streamer"), Tags: map[string]string{"gate": "open"},
	}); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(br)
	if err != nil || string(rest) != "chunk-2 open\n" {
		t.Errorf("rest %q: %v (chunk-2 says how the function's wait for the gate ended)", rest, err)
	}
}

// BenchmarkFunctionURL is a warm request through a function URL (NONE,
// BUFFERED) to the same function BenchmarkWarmInvoke calls directly; run
// them together with the echo baselines so the ratios mean something:
//
//	go test -run '^$' -bench 'FunctionURL|WarmInvoke|EchoBaseline' -benchtime 3000x ./internal/daemon/
func BenchmarkFunctionURL(b *testing.B) {
	n := startNode(b, b.TempDir())
	ctx := context.Background()
	if _, err := n.client.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("bench"), Runtime: types.RuntimeProvidedal2023, Handler: aws.String("bootstrap"),
		Role: aws.String(testRole), Code: &types.FunctionCode{ZipFile: goZip(b, "./internal/daemon/testdata/fn")},
	}); err != nil {
		b.Fatal(err)
	}
	out, err := n.client.CreateFunctionUrlConfig(ctx, &lambda.CreateFunctionUrlConfigInput{
		FunctionName: aws.String("bench"), AuthType: types.FunctionUrlAuthTypeNone,
	})
	if err != nil {
		b.Fatal(err)
	}
	host := strings.TrimSuffix(strings.TrimPrefix(aws.ToString(out.FunctionUrl), "http://"), "/")
	c := benchClient()
	body := []byte(`{"action":"echo","value":1}`)
	do := func() error {
		req, err := http.NewRequestWithContext(ctx, "POST", "http://"+n.d.Addr()+"/", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Host = host
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	if err := do(); err != nil { // cold start outside the measurement
		b.Fatal(err)
	}
	measure(b, do)
}

// TestInvokeWithResponseStream streams a real function's response through
// the Lambda API's event stream, read with aws-sdk-go-v2.
func TestInvokeWithResponseStream(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	urlFunction(t, n, "streamer", &lambda.CreateFunctionUrlConfigInput{AuthType: types.FunctionUrlAuthTypeNone})
	out, err := n.client.InvokeWithResponseStream(context.Background(), &lambda.InvokeWithResponseStreamInput{
		FunctionName: aws.String("streamer"), Payload: []byte(`{"rawPath":"/stream"}`),
	})
	if err != nil {
		t.Fatal(err)
	}
	st := out.GetStream()
	defer st.Close()
	var chunks []string
	var complete *types.InvokeWithResponseStreamCompleteEvent
	for ev := range st.Events() {
		switch v := ev.(type) {
		case *types.InvokeWithResponseStreamResponseEventMemberPayloadChunk:
			chunks = append(chunks, string(v.Value.Payload))
		case *types.InvokeWithResponseStreamResponseEventMemberInvokeComplete:
			complete = &v.Value
		}
	}
	if err := st.Err(); err != nil {
		t.Fatal(err)
	}
	all := strings.Join(chunks, "")
	prelude, body, ok := strings.Cut(all, "\x00\x00\x00\x00\x00\x00\x00\x00")
	if !ok || !strings.Contains(prelude, `"statusCode":202`) || body != "chunk-1\nchunk-2 nogate\n" || complete == nil || complete.ErrorCode != nil {
		t.Errorf("chunks %q, complete %+v", chunks, complete)
	}
}

// TestFunctionURLThrottled: a function with no concurrency to spare (its
// reserved concurrency is 0) answers its URL's callers 429, as AWS does.
func TestFunctionURLThrottled(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	id := urlFunction(t, n, "held", &lambda.CreateFunctionUrlConfigInput{AuthType: types.FunctionUrlAuthTypeNone})
	if _, err := n.client.PutFunctionConcurrency(context.Background(), &lambda.PutFunctionConcurrencyInput{
		FunctionName: aws.String("held"), ReservedConcurrentExecutions: aws.Int32(0),
	}); err != nil {
		t.Fatal(err)
	}
	resp, b := urlRequest(t, n, id, "GET", "/hello", nil, nil)
	if resp.StatusCode != http.StatusTooManyRequests || string(b) != `{"Message":"Rate Exceeded."}` ||
		resp.Header.Get("X-Amzn-ErrorType") != "TooManyRequestsException" {
		t.Errorf("throttled: %d %s %v", resp.StatusCode, b, resp.Header)
	}
}

// TestFunctionURLStreamTimeout: a function that times out in the middle
// of its stream leaves the client with what was sent and a cut
// connection, and the node serves the next request from a fresh
// environment.
func TestFunctionURLStreamTimeout(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	id := urlFunction(t, n, "stall", &lambda.CreateFunctionUrlConfigInput{
		AuthType: types.FunctionUrlAuthTypeNone, InvokeMode: types.InvokeModeResponseStream,
	})
	if _, err := n.client.UpdateFunctionConfiguration(context.Background(), &lambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String("stall"), Timeout: aws.Int32(1),
	}); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(n.d.Addr())
	req, _ := http.NewRequestWithContext(context.Background(), "GET", "http://"+n.d.Addr()+"/stall", nil)
	req.Host = id + ".lambda-url.us-east-1.localhost:" + port
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "started\n" || err == nil {
		t.Errorf("got %d %q, read error %v; want the first line and a cut stream", resp.StatusCode, b, err)
	}
	// The next request streams normally from a new environment.
	resp2, b2 := urlRequest(t, n, id, "GET", "/stream", nil, nil)
	if resp2.StatusCode != http.StatusAccepted || string(b2) != "chunk-1\nchunk-2 nogate\n" {
		t.Errorf("after the timeout: %d %q", resp2.StatusCode, b2)
	}
}

// TestFunctionURLAWSIAM: an AWS_IAM URL serves SigV4-signed callers
// (service lambda) and names them in the event; unsigned requests and
// requests signed for another service are refused without invoking.
func TestFunctionURLAWSIAM(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	id := urlFunction(t, n, "private", &lambda.CreateFunctionUrlConfigInput{AuthType: types.FunctionUrlAuthTypeAwsIam})
	_, port, _ := net.SplitHostPort(n.d.Addr())
	host := id + ".lambda-url.us-east-1.localhost:" + port
	call := func(c *http.Client, body string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequestWithContext(context.Background(), "POST", "http://"+n.d.Addr()+"/event?x=1", strings.NewReader(body))
		req.Host = host
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}

	if code, b := call(http.DefaultClient, `{}`); code != http.StatusForbidden || string(b) != `{"Message":"Forbidden"}` {
		t.Errorf("unsigned: %d %s", code, b)
	}
	if code, b := call(n.httpClient("execute-api"), `{}`); code != http.StatusForbidden {
		t.Errorf("signed for execute-api: %d %s", code, b)
	}
	code, b := call(n.httpClient("lambda"), `{"signed":true}`)
	if code != http.StatusOK {
		t.Fatalf("signed: %d %s", code, b)
	}
	var ev events.LambdaFunctionURLRequest
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	iam := ev.RequestContext.Authorizer
	if ev.Body != `{"signed":true}` || ev.RequestContext.AccountID != "000000000000" || iam == nil || iam.IAM == nil ||
		iam.IAM.AccessKey != n.creds().AccessKeyID || iam.IAM.UserARN != "arn:aws:iam::000000000000:root" {
		t.Errorf("event of a signed call: %s", b)
	}
}

// TestFunctionURLPathStyle: a function URL answers at
// /_aws/lambda-url/<url-id>/<path> on the node's own address (for clients
// that cannot resolve *.localhost), with the event a host-style call
// gets; an AWS_IAM URL there takes signatures over the path-style
// address and refuses unsigned calls.
func TestFunctionURLPathStyle(t *testing.T) {
	n := startNode(t, t.TempDir())
	public := urlFunction(t, n, "public", &lambda.CreateFunctionUrlConfigInput{AuthType: types.FunctionUrlAuthTypeNone})
	private := urlFunction(t, n, "private", &lambda.CreateFunctionUrlConfigInput{AuthType: types.FunctionUrlAuthTypeAwsIam})
	call := func(c *http.Client, id, path, body string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequestWithContext(context.Background(), "POST", n.endpoint()+"/_aws/lambda-url/"+id+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	code, b := call(http.DefaultClient, public, "/event?x=1", `{"n":1}`)
	var ev events.LambdaFunctionURLRequest
	if code != http.StatusOK || json.Unmarshal(b, &ev) != nil {
		t.Fatalf("public path-style: %d %s", code, b)
	}
	if ev.RawPath != "/event" || ev.RawQueryString != "x=1" || ev.Body != `{"n":1}` ||
		!strings.HasPrefix(ev.RequestContext.DomainName, public+".lambda-url.") {
		t.Errorf("event of a path-style call: rawPath %q query %q body %q domain %q", ev.RawPath, ev.RawQueryString, ev.Body,
			ev.RequestContext.DomainName)
	}
	if code, b := call(http.DefaultClient, private, "/event", `{}`); code != http.StatusForbidden {
		t.Errorf("unsigned AWS_IAM path-style: %d %s", code, b)
	}
	if code, b := call(n.httpClient("lambda"), private, "/event", `{"signed":true}`); code != http.StatusOK {
		t.Errorf("signed AWS_IAM path-style: %d %s", code, b)
	}
	if code, _ := call(http.DefaultClient, "doesnotexist0000000000000000000000", "/", `{}`); code == http.StatusOK {
		t.Errorf("unknown url id answered %d", code)
	}
}

// TestFunctionURLAWSIAMJudgesThePermission: a valid signature is not
// enough for an AWS_IAM URL, as on AWS: the caller needs
// lambda:InvokeFunctionUrl on the URL's function, from its own policy or
// the function's (granted under lambda:FunctionUrlAuthType). A user
// allowed one URL is refused the other without invoking it.
func TestFunctionURLAWSIAMJudgesThePermission(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	ctx := context.Background()
	mine := urlFunction(t, n, "mine", &lambda.CreateFunctionUrlConfigInput{AuthType: types.FunctionUrlAuthTypeAwsIam})
	theirs := urlFunction(t, n, "theirs", &lambda.CreateFunctionUrlConfigInput{AuthType: types.FunctionUrlAuthTypeAwsIam})
	acct := n.d.cfg.AccountID
	root := awsiam.NewFromConfig(n.awsConfig())
	if _, err := root.CreateUser(ctx, &awsiam.CreateUserInput{UserName: aws.String("caller")}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.PutUserPolicy(ctx, &awsiam.PutUserPolicyInput{UserName: aws.String("caller"), PolicyName: aws.String("url"),
		PolicyDocument: aws.String(allow([]string{"lambda:InvokeFunctionUrl"}, "arn:aws:lambda:us-east-1:"+acct+":function:mine"))}); err != nil {
		t.Fatal(err)
	}
	k, err := root.CreateAccessKey(ctx, &awsiam.CreateAccessKeyInput{UserName: aws.String("caller")})
	if err != nil {
		t.Fatal(err)
	}
	user := sigv4test.Client(credentials.NewStaticCredentialsProvider(aws.ToString(k.AccessKey.AccessKeyId),
		aws.ToString(k.AccessKey.SecretAccessKey), ""), "us-east-1", "lambda")
	call := func(id string) int {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, "POST", n.endpoint()+"/_aws/lambda-url/"+id+"/event", strings.NewReader(`{}`))
		req.Header.Set("Content-Type", "application/json")
		resp, err := user.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	if code := call(mine); code != http.StatusOK {
		t.Errorf("the user's own URL: %d", code)
	}
	if code := call(theirs); code != http.StatusForbidden {
		t.Errorf("a URL the user has no permission for, signed correctly: %d, want 403", code)
	}
	// The function's policy can grant it instead, under the URL's auth type.
	if _, err := n.client.AddPermission(ctx, &lambda.AddPermissionInput{FunctionName: aws.String("theirs"),
		StatementId: aws.String("caller"), Action: aws.String("lambda:InvokeFunctionUrl"),
		Principal: aws.String("arn:aws:iam::" + acct + ":user/caller"), FunctionUrlAuthType: types.FunctionUrlAuthTypeAwsIam}); err != nil {
		t.Fatal(err)
	}
	if code := call(theirs); code != http.StatusOK {
		t.Errorf("granted by the function's policy: %d", code)
	}
}

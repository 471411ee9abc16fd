package daemon

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/coder/websocket"
)

// TestWebSocketChatExample deploys examples/sam-websocket-chat-python
// (ApiGatewayV2 WebSocket resources, a Lambda authorizer on $connect,
// DynamoDB, Python functions calling PostToConnection with boto3) and
// passes messages between two real WebSocket clients; then an attacker's
// handshakes and calls of @connections.
func TestWebSocketChatExample(t *testing.T) {
	t.Parallel()
	needTool(t, "python3", "-c", "import boto3")
	n := startNode(t, t.TempDir())
	ctx := t.Context()
	dir := filepath.Join(moduleRoot(t), "examples", "sam-websocket-chat-python")
	files := map[string]zipEntry{}
	for _, f := range []string{"authorizer.py", "connect.py", "disconnect.py", "sendmessage.py", "whoami.py"} {
		b, err := os.ReadFile(filepath.Join(dir, "src", f))
		if err != nil {
			t.Fatal(err)
		}
		files[f] = zipEntry{data: b}
	}
	sha := uploadArtifact(t, n, zipFiles(t, files))
	tmpl, err := os.ReadFile(filepath.Join(dir, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	body := strings.ReplaceAll(string(tmpl), "CodeUri: src/", "CodeUri: s3://nimbus-artifacts/"+sha)
	c := n.cfn()
	if _, err := c.CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName: aws.String("chat"), TemplateBody: aws.String(body),
		Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityIam, cfntypes.CapabilityCapabilityAutoExpand},
	}); err != nil {
		t.Fatal(err)
	}
	if s := waitStack(t, c, "chat"); s.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("stack = %s (%s)", s.StackStatus, aws.ToString(s.StackStatusReason))
	}
	r, err := c.DescribeStackResource(ctx, &cloudformation.DescribeStackResourceInput{StackName: aws.String("chat"), LogicalResourceId: aws.String("ChatApi")})
	if err != nil {
		t.Fatal(err)
	}
	apiID := aws.ToString(r.StackResourceDetail.PhysicalResourceId)
	host := apiID + ".execute-api.us-east-1.localhost"

	handshake := func(query string) (*websocket.Conn, int, error) {
		t.Helper()
		dctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		conn, resp, err := websocket.Dial(dctx, "ws://"+n.d.Addr()+"/prod"+query, &websocket.DialOptions{Host: host})
		status := 0
		if resp != nil {
			status = resp.StatusCode
			if resp.Body != nil {
				_ = resp.Body.Close()
			}
		}
		return conn, status, err
	}
	// $connect's authorizer: no token is 401 before it runs, a token it
	// denies 403.
	for query, want := range map[string]int{"": 401, "?token=forged": 403} {
		if _, status, err := handshake(query); err == nil || status != want {
			t.Fatalf("handshake %q = %d (%v), want %d", query, status, err, want)
		}
	}
	dial := func(name string) *websocket.Conn {
		t.Helper()
		conn, _, err := handshake("?token=demo-" + name)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		t.Cleanup(func() { _ = conn.CloseNow() })
		return conn
	}
	send := func(conn *websocket.Conn, msg string) {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := conn.Write(wctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	recv := func(conn *websocket.Conn) string {
		t.Helper()
		rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		_, b, err := conn.Read(rctx)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		return string(b)
	}
	alice, bob := dial("alice"), dial("bob")
	send(alice, `{"action":"sendmessage","data":"hello from alice"}`)
	if got := recv(bob); got != "hello from alice" {
		t.Fatalf("bob received %q", got)
	}
	if got := recv(alice); got != "hello from alice" {
		t.Fatalf("alice received %q", got)
	}
	// A two-way route answers the sender, named by $connect's authorizer.
	send(bob, `{"action":"whoami"}`)
	who := recv(bob)
	rest, ok := strings.CutPrefix(who, "you are ")
	bobID, name, _ := strings.Cut(rest, " ")
	if !ok || len(bobID) != 16 || name != "(bob)" {
		t.Fatalf("whoami answered %q", who)
	}

	// The attacker: @connections without a signature, with a wrong one,
	// and signed by a user IAM gives no execute-api:ManageConnections.
	post := func(creds aws.Credentials, sign bool) int {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, "POST", "http://"+n.d.Addr()+"/prod/@connections/"+strings.ReplaceAll(bobID, "=", "%3D"),
			bytes.NewReader([]byte("forged")))
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		if sign {
			sum := sha256.Sum256([]byte("forged"))
			if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "execute-api", "us-east-1", time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(aws.Credentials{}, false); code != 403 {
		t.Errorf("unsigned PostToConnection = %d, want 403", code)
	}
	wrong := n.creds()
	wrong.SecretAccessKey = "not-the-secret"
	if code := post(wrong, true); code != 403 {
		t.Errorf("wrongly signed PostToConnection = %d, want 403", code)
	}
	ic := awsiam.NewFromConfig(n.awsConfig())
	if _, err := ic.CreateUser(ctx, &awsiam.CreateUserInput{UserName: aws.String("mallory")}); err != nil {
		t.Fatal(err)
	}
	k, err := ic.CreateAccessKey(ctx, &awsiam.CreateAccessKeyInput{UserName: aws.String("mallory")})
	if err != nil {
		t.Fatal(err)
	}
	mallory := aws.Credentials{AccessKeyID: aws.ToString(k.AccessKey.AccessKeyId), SecretAccessKey: aws.ToString(k.AccessKey.SecretAccessKey)}
	if code := post(mallory, true); code != 403 {
		t.Errorf("PostToConnection by a user without execute-api:ManageConnections = %d, want 403", code)
	}
	if code := post(n.creds(), true); code != 200 {
		t.Errorf("PostToConnection signed by root = %d, want 200", code)
	}
	if got := recv(bob); got != "forged" {
		t.Fatalf("bob received %q, want root's post", got)
	}

	// An oversized message closes only that connection; the node serves on.
	big := `{"action":"sendmessage","data":"` + strings.Repeat("x", 130<<10) + `"}`
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_ = alice.Write(wctx, websocket.MessageText, []byte(big))
	for {
		_, _, err := alice.Read(wctx)
		if err != nil {
			if websocket.CloseStatus(err) != websocket.StatusMessageTooBig {
				t.Fatalf("oversized message: %v, want close 1009", err)
			}
			break
		}
	}
	carol := dial("carol")
	send(carol, `{"action":"sendmessage","data":"still here"}`)
	if got := recv(bob); got != "still here" {
		t.Fatalf("after the oversized message bob received %q", got)
	}
}

package clustertest

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/coder/websocket"

	"github.com/nimbus-serverless/nimbus/internal/sigv4/sigv4test"
)

const whoamiPy = `def handler(event, context):
    return {"statusCode": 200, "body": event["requestContext"]["connectionId"]}
`

// webSockets: a client connected to node0 learns its connection id from a
// two-way route; PostToConnection signed by root on node1 reaches it (the
// call is relayed to the holder), GetConnection on node2 answers, and a
// connection id of no live holder is GoneException.
func webSockets(t *testing.T, c *Cluster) {
	creds := c.Credentials(t)
	provider := aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil }))
	ctx := t.Context()
	n0 := c.Nodes[0]
	ic := awsiam.New(awsiam.Options{Region: "us-east-1", BaseEndpoint: aws.String(n0.Endpoint), Credentials: provider})
	if _, err := ic.CreateRole(ctx, &awsiam.CreateRoleInput{RoleName: aws.String("ws-whoami"), AssumeRolePolicyDocument: aws.String(
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)}); err != nil {
		t.Fatal(err)
	}
	lc := lambda.New(lambda.Options{Region: "us-east-1", BaseEndpoint: aws.String(n0.Endpoint), Credentials: provider})
	fn, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("ws-whoami"), Runtime: types.RuntimePython312, Handler: aws.String("app.handler"),
		Role: aws.String("arn:aws:iam::000000000000:role/ws-whoami"), Code: &types.FunctionCode{ZipFile: pyZip(t, whoamiPy)},
	})
	if err != nil {
		t.Fatal(err)
	}
	gw := apigatewayv2.New(apigatewayv2.Options{Region: "us-east-1", BaseEndpoint: aws.String(n0.Endpoint), Credentials: provider})
	api, err := gw.CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: aws.String("ws"), ProtocolType: "WEBSOCKET",
		RouteSelectionExpression: aws.String("$request.body.action")})
	if err != nil {
		t.Fatal(err)
	}
	integ, err := gw.CreateIntegration(ctx, &apigatewayv2.CreateIntegrationInput{ApiId: api.ApiId, IntegrationType: "AWS_PROXY",
		IntegrationUri: fn.FunctionArn})
	if err != nil {
		t.Fatal(err)
	}
	route, err := gw.CreateRoute(ctx, &apigatewayv2.CreateRouteInput{ApiId: api.ApiId, RouteKey: aws.String("$default"),
		Target: aws.String("integrations/" + aws.ToString(integ.IntegrationId)), RouteResponseSelectionExpression: aws.String("$default")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gw.CreateRouteResponse(ctx, &apigatewayv2.CreateRouteResponseInput{ApiId: api.ApiId, RouteId: route.RouteId,
		RouteResponseKey: aws.String("$default")}); err != nil {
		t.Fatal(err)
	}
	if _, err := gw.CreateStage(ctx, &apigatewayv2.CreateStageInput{ApiId: api.ApiId, StageName: aws.String("prod"), AutoDeploy: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	host := aws.ToString(api.ApiId) + ".execute-api.us-east-1.localhost"

	var conn *websocket.Conn
	Eventually(t, time.Minute, "node0 accepts the WebSocket", func() bool {
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		cn, resp, err := websocket.Dial(dctx, "ws"+strings.TrimPrefix(n0.Endpoint, "http")+"/prod", &websocket.DialOptions{Host: host})
		if resp != nil && resp.Body != nil {
			_ = resp.Body.Close()
		}
		conn = cn
		return err == nil
	})
	defer func() { _ = conn.CloseNow() }()
	rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := conn.Write(rctx, websocket.MessageText, []byte(`{"action":"whoami"}`)); err != nil {
		t.Fatal(err)
	}
	_, b, err := conn.Read(rctx)
	if err != nil {
		t.Fatalf("read the connection id: %v", err)
	}
	id := string(b)

	call := func(n *Node, method, connID string, body []byte) int {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, n.Endpoint+"/prod/@connections/"+strings.ReplaceAll(connID, "=", "%3D"), bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		if err := sigv4test.Sign(req, creds, "us-east-1", "execute-api", time.Now()); err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	if code := call(c.Nodes[1], "POST", id, []byte("from node1")); code != 200 {
		t.Fatalf("PostToConnection on node1 = %d, want 200", code)
	}
	if _, b, err := conn.Read(rctx); err != nil || string(b) != "from node1" {
		t.Fatalf("the client on node0 read %q (%v), want node1's post", b, err)
	}
	if code := call(c.Nodes[2], "GET", id, nil); code != 200 {
		t.Errorf("GetConnection on node2 = %d, want 200", code)
	}
	if code := call(c.Nodes[1], "POST", "ZZZZZZabcdefghi=", []byte("x")); code != 410 {
		t.Errorf("PostToConnection to a holder that does not exist = %d, want 410", code)
	}
}

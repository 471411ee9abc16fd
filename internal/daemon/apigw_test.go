package daemon

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	agtypes "github.com/aws/aws-sdk-go-v2/service/apigateway/types"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	agv2types "github.com/aws/aws-sdk-go-v2/service/apigatewayv2/types"
	cwt "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

const webPkg = "./internal/daemon/testdata/web"

func createWebFunction(t *testing.T, n *node, name string) string {
	t.Helper()
	out := create(t, n, &lambda.CreateFunctionInput{
		FunctionName: aws.String(name), Runtime: types.RuntimeProvidedal2023, Handler: aws.String("bootstrap"),
		Role: aws.String(testRole), Code: &types.FunctionCode{ZipFile: goZip(t, webPkg)},
	})
	return aws.ToString(out.FunctionArn)
}

// The API Gateway clients sign with the node's test client's credentials.
func (n *node) apigwV2() *apigatewayv2.Client {
	return apigatewayv2.New(apigatewayv2.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + n.d.Addr()),
		Credentials: n.client.Options().Credentials})
}

func (n *node) apigwV1() *apigateway.Client {
	return apigateway.New(apigateway.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + n.d.Addr()),
		Credentials: n.client.Options().Credentials})
}

// apiResponse is one answer of an API.
type apiResponse struct {
	status int
	header http.Header
	body   string
}

// callAPI sends a request to an API by its execute-api host name on the
// node's listener, as curl does with *.localhost.
func callAPI(t *testing.T, n *node, apiID, method, path string, header http.Header, body []byte) apiResponse {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, "http://"+n.d.Addr()+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Host = apiID + ".execute-api.us-east-1.localhost"
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return apiResponse{resp.StatusCode, resp.Header, string(b)}
}

func integrationURI(fnArn string) string {
	return "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/" + fnArn + "/invocations"
}

// TestHTTPAPIServesANetHTTPApp puts a net/http application wrapped with
// aws-lambda-go-api-proxy behind an HTTP API built with the SDK, and
// calls it over plain HTTP: routing, path parameters, repeated query
// parameters, cookies, binary bodies, function errors, a payload 1.0
// route, a Lambda authorizer and throttling.
func TestHTTPAPIServesANetHTTPApp(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	fnArn := createWebFunction(t, n, "web")
	authArn := createWebFunction(t, n, "auth")
	ctx := context.Background()
	c := n.apigwV2()

	api, err := c.CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: aws.String("web"), ProtocolType: "HTTP", Target: aws.String(fnArn)})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(api.ApiId)
	if want := "http://" + id + ".execute-api.us-east-1.localhost:" + listenPortOf(n); aws.ToString(api.ApiEndpoint) != want {
		t.Errorf("ApiEndpoint = %s, want %s", aws.ToString(api.ApiEndpoint), want)
	}

	r := callAPI(t, n, id, "GET", "/hello?name=nimbus", nil, nil)
	if r.status != 200 || r.body != "hello nimbus" || !strings.Contains(r.header.Get("Set-Cookie"), "seen=1") {
		t.Fatalf("GET /hello = %d %q %v", r.status, r.body, r.header)
	}
	if r.header.Get("Apigw-Requestid") == "" {
		t.Error("no Apigw-Requestid header")
	}
	r = callAPI(t, n, id, "GET", "/items/42?tag=a&tag=b", nil, nil)
	var item struct {
		ID   string   `json:"id"`
		Tags []string `json:"tags"`
	}
	if err := json.Unmarshal([]byte(r.body), &item); err != nil || item.ID != "42" || strings.Join(item.Tags, ",") != "a,b" {
		t.Fatalf("GET /items/42 = %d %q", r.status, r.body)
	}
	bin := []byte{0x89, 'P', 'N', 'G', 0, 0xff, 1}
	r = callAPI(t, n, id, "POST", "/echo", http.Header{"Content-Type": {"application/octet-stream"}}, bin)
	if r.status != 201 || r.body != string(bin) {
		t.Fatalf("POST /echo binary = %d %q", r.status, r.body)
	}
	if r = callAPI(t, n, id, "GET", "/boom", nil, nil); r.status != 502 || r.body != `{"message":"Internal Server Error"}` {
		t.Fatalf("function error = %d %q, want 502", r.status, r.body)
	}

	// A payload 1.0 route with a Lambda authorizer (simple responses).
	integ, err := c.CreateIntegration(ctx, &apigatewayv2.CreateIntegrationInput{ApiId: &id, IntegrationType: "AWS_PROXY",
		IntegrationUri: aws.String(fnArn), PayloadFormatVersion: aws.String("1.0")})
	if err != nil {
		t.Fatal(err)
	}
	authz, err := c.CreateAuthorizer(ctx, &apigatewayv2.CreateAuthorizerInput{ApiId: &id, Name: aws.String("tok"), AuthorizerType: "REQUEST",
		AuthorizerUri: aws.String(integrationURI(authArn)), AuthorizerPayloadFormatVersion: aws.String("2.0"), EnableSimpleResponses: aws.Bool(true),
		IdentitySource: []string{"$request.header.Authorization"}, AuthorizerResultTtlInSeconds: aws.Int32(300)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateRoute(ctx, &apigatewayv2.CreateRouteInput{ApiId: &id, RouteKey: aws.String("GET /whoami"),
		Target: aws.String("integrations/" + aws.ToString(integ.IntegrationId)), AuthorizationType: "CUSTOM", AuthorizerId: authz.AuthorizerId}); err != nil {
		t.Fatal(err)
	}
	if r = callAPI(t, n, id, "GET", "/whoami", nil, nil); r.status != 401 {
		t.Errorf("no token: %d %q, want 401", r.status, r.body)
	}
	if r = callAPI(t, n, id, "GET", "/whoami", http.Header{"Authorization": {"deny"}}, nil); r.status != 403 || r.body != `{"message":"Forbidden"}` {
		t.Errorf("denied: %d %q, want 403", r.status, r.body)
	}
	if r = callAPI(t, n, id, "GET", "/whoami", http.Header{"Authorization": {"allow"}}, nil); r.status != 200 || !strings.Contains(r.body, "u-allow") {
		t.Errorf("allowed: %d %q, want 200 with the authorizer's context", r.status, r.body)
	}

	// Throttling: a route with burst 1 and a rate far too low to refill.
	if _, err := c.CreateRoute(ctx, &apigatewayv2.CreateRouteInput{ApiId: &id, RouteKey: aws.String("GET /hello"),
		Target: aws.String("integrations/" + aws.ToString(integ.IntegrationId))}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateStage(ctx, &apigatewayv2.UpdateStageInput{ApiId: &id, StageName: aws.String("$default"),
		RouteSettings: map[string]agv2types.RouteSettings{"GET /hello": {ThrottlingBurstLimit: aws.Int32(1), ThrottlingRateLimit: aws.Float64(0.001)}}}); err != nil {
		t.Fatal(err)
	}
	if r = callAPI(t, n, id, "GET", "/hello", nil, nil); r.status != 200 {
		t.Fatalf("first throttled-route call = %d %q", r.status, r.body)
	}
	if r = callAPI(t, n, id, "GET", "/hello", nil, nil); r.status != 429 || r.body != `{"message":"Too Many Requests"}` {
		t.Fatalf("second call = %d %q, want 429", r.status, r.body)
	}
	if r = callAPI(t, n, id, "GET", "/items/1", nil, nil); r.status != 200 {
		t.Fatalf("another route = %d, want 200 (throttling is per route)", r.status)
	}

	// Each answer is counted under AWS/ApiGateway by ApiId (401, 403 and
	// 429 are 4xx; the function error's 502 is a 5xx).
	cw := cloudwatchClient(n)
	for metric, want := range map[string]float64{"Count": 10, "4xx": 3, "5xx": 1} {
		if got := sumOver(t, cw, "AWS/ApiGateway", metric, []cwt.Dimension{{Name: aws.String("ApiId"), Value: aws.String(id)}}, want); got != want {
			t.Errorf("AWS/ApiGateway %s = %v, want %v", metric, got, want)
		}
	}

	// Management reads back what was made.
	routes, err := c.GetRoutes(ctx, &apigatewayv2.GetRoutesInput{ApiId: &id})
	if err != nil || len(routes.Items) != 3 {
		t.Fatalf("GetRoutes = %v, %v", routes, err)
	}
	if _, err := c.DeleteApi(ctx, &apigatewayv2.DeleteApiInput{ApiId: &id}); err != nil {
		t.Fatal(err)
	}
	if r = callAPI(t, n, id, "GET", "/hello", nil, nil); r.status != 404 {
		t.Errorf("deleted API answers %d", r.status)
	}
	if _, err := c.GetApi(ctx, &apigatewayv2.GetApiInput{ApiId: &id}); err == nil || !strings.Contains(err.Error(), "NotFoundException") {
		t.Errorf("GetApi of a deleted API: %v", err)
	}
}

func listenPortOf(n *node) string {
	_, p, _ := strings.Cut(n.d.Addr(), ":")
	return p
}

// TestRESTAPIServesANetHTTPApp builds the REST API a SAM
// AWS::Serverless::Api makes (a {proxy+} resource with ANY, a deployment,
// a stage), and checks payload 1.0, request validation, the stage cache,
// a TOKEN authorizer and throttling.
func TestRESTAPIServesANetHTTPApp(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	fnArn := createWebFunction(t, n, "web")
	authArn := createWebFunction(t, n, "auth")
	ctx := context.Background()
	c := n.apigwV1()

	api, err := c.CreateRestApi(ctx, &apigateway.CreateRestApiInput{Name: aws.String("web"), BinaryMediaTypes: []string{"application/octet-stream"}})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(api.Id)
	proxy, err := c.CreateResource(ctx, &apigateway.CreateResourceInput{RestApiId: &id, ParentId: api.RootResourceId, PathPart: aws.String("{proxy+}")})
	if err != nil {
		t.Fatal(err)
	}
	putProxy := func(res *string, method string, mutate func(*apigateway.PutMethodInput)) {
		in := &apigateway.PutMethodInput{RestApiId: &id, ResourceId: res, HttpMethod: aws.String(method), AuthorizationType: aws.String("NONE")}
		if mutate != nil {
			mutate(in)
		}
		if _, err := c.PutMethod(ctx, in); err != nil {
			t.Fatal(err)
		}
		if _, err := c.PutIntegration(ctx, &apigateway.PutIntegrationInput{RestApiId: &id, ResourceId: res, HttpMethod: aws.String(method),
			Type: agtypes.IntegrationTypeAwsProxy, IntegrationHttpMethod: aws.String("POST"), Uri: aws.String(integrationURI(fnArn))}); err != nil {
			t.Fatal(err)
		}
	}
	putProxy(proxy.Id, "ANY", nil)

	// POST /echo validates its JSON body against a model.
	echo, err := c.CreateResource(ctx, &apigateway.CreateResourceInput{RestApiId: &id, ParentId: api.RootResourceId, PathPart: aws.String("echo")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateModel(ctx, &apigateway.CreateModelInput{RestApiId: &id, Name: aws.String("Item"), ContentType: aws.String("application/json"),
		Schema: aws.String(`{"$schema":"http://json-schema.org/draft-04/schema#","type":"object","required":["name"],"properties":{"name":{"type":"string","minLength":1}}}`)}); err != nil {
		t.Fatal(err)
	}
	val, err := c.CreateRequestValidator(ctx, &apigateway.CreateRequestValidatorInput{RestApiId: &id, Name: aws.String("body"), ValidateRequestBody: true})
	if err != nil {
		t.Fatal(err)
	}
	putProxy(echo.Id, "POST", func(in *apigateway.PutMethodInput) {
		in.RequestValidatorId = val.Id
		in.RequestModels = map[string]string{"application/json": "Item"}
	})

	// GET /whoami needs a TOKEN authorizer.
	auth, err := c.CreateAuthorizer(ctx, &apigateway.CreateAuthorizerInput{RestApiId: &id, Name: aws.String("tok"), Type: agtypes.AuthorizerTypeToken,
		AuthorizerUri: aws.String(integrationURI(authArn)), IdentitySource: aws.String("method.request.header.Authorization")})
	if err != nil {
		t.Fatal(err)
	}
	who, err := c.CreateResource(ctx, &apigateway.CreateResourceInput{RestApiId: &id, ParentId: api.RootResourceId, PathPart: aws.String("whoami")})
	if err != nil {
		t.Fatal(err)
	}
	putProxy(who.Id, "GET", func(in *apigateway.PutMethodInput) {
		in.AuthorizationType, in.AuthorizerId = aws.String("CUSTOM"), auth.Id
	})

	if _, err := c.CreateDeployment(ctx, &apigateway.CreateDeploymentInput{RestApiId: &id, StageName: aws.String("prod"),
		Variables: map[string]string{"env": "prod"}}); err != nil {
		t.Fatal(err)
	}

	r := callAPI(t, n, id, "GET", "/prod/hello?name=rest", nil, nil)
	if r.status != 200 || r.body != "hello rest" {
		t.Fatalf("GET /prod/hello = %d %q", r.status, r.body)
	}
	if r = callAPI(t, n, id, "GET", "/hello", nil, nil); r.status != 403 || r.body != `{"message":"Missing Authentication Token"}` {
		t.Errorf("no stage: %d %q, want 403 Missing Authentication Token", r.status, r.body)
	}
	r = callAPI(t, n, id, "GET", "/prod/items/7?tag=x&tag=y", nil, nil)
	if r.status != 200 || !strings.Contains(r.body, `"id":"7"`) || !strings.Contains(r.body, `["x","y"]`) {
		t.Errorf("GET /prod/items/7 = %d %q", r.status, r.body)
	}

	// Validation happens before the function runs.
	before := callAPI(t, n, id, "GET", "/prod/count", nil, nil).body
	js := http.Header{"Content-Type": {"application/json"}}
	if r = callAPI(t, n, id, "POST", "/prod/echo", js, []byte(`{"name":""}`)); r.status != 400 || r.body != `{"message":"Invalid request body"}` {
		t.Errorf("invalid body: %d %q, want 400", r.status, r.body)
	}
	if r = callAPI(t, n, id, "POST", "/prod/echo", js, []byte(`not json`)); r.status != 400 {
		t.Errorf("non-JSON body: %d %q, want 400", r.status, r.body)
	}
	if r = callAPI(t, n, id, "POST", "/prod/echo", js, []byte(`{"name":"ok"}`)); r.status != 201 || r.body != `{"name":"ok"}` {
		t.Errorf("valid body: %d %q, want 201 echo", r.status, r.body)
	}
	// Binary both ways: the request body goes base64 (a binary media
	// type), the function's base64 answer is decoded for an Accept of
	// that type, and left as base64 text for another.
	bin := []byte{0x89, 'P', 'N', 'G', 0, 0xff, 1}
	octet := http.Header{"Content-Type": {"application/octet-stream"}, "Accept": {"application/octet-stream"}}
	if r = callAPI(t, n, id, "POST", "/prod/echo", octet, bin); r.status != 201 || r.body != string(bin) {
		t.Errorf("binary echo: %d %q", r.status, r.body)
	}
	octet.Set("Accept", "text/plain")
	if r = callAPI(t, n, id, "POST", "/prod/echo", octet, bin); r.status != 201 || r.body != base64.StdEncoding.EncodeToString(bin) {
		t.Errorf("binary echo with Accept text/plain: %d %q, want the base64 text", r.status, r.body)
	}
	after := callAPI(t, n, id, "GET", "/prod/count", nil, nil).body
	if atoi(after)-atoi(before) != 4 { // the valid POST, two binary echoes and this GET
		t.Errorf("function ran %d times across two refused and three valid requests (want 4 incl. the count)", atoi(after)-atoi(before))
	}

	// TOKEN authorizer.
	if r = callAPI(t, n, id, "GET", "/prod/whoami", nil, nil); r.status != 401 || r.body != `{"message":"Unauthorized"}` {
		t.Errorf("no token: %d %q", r.status, r.body)
	}
	if r = callAPI(t, n, id, "GET", "/prod/whoami", http.Header{"Authorization": {"deny"}}, nil); r.status != 403 ||
		r.body != `{"Message":"User is not authorized to access this resource with an explicit deny"}` {
		t.Errorf("deny: %d %q", r.status, r.body)
	}
	if r = callAPI(t, n, id, "GET", "/prod/whoami", http.Header{"Authorization": {"unauthorized"}}, nil); r.status != 401 {
		t.Errorf("authorizer raising Unauthorized: %d %q", r.status, r.body)
	}
	if r = callAPI(t, n, id, "GET", "/prod/whoami", http.Header{"Authorization": {"allow"}}, nil); r.status != 200 || !strings.Contains(r.body, "user-allow") {
		t.Errorf("allow: %d %q", r.status, r.body)
	}

	// The stage cache: with it on, a second GET /count is answered from
	// the cache (same count) and a different cache key is not.
	if _, err := c.UpdateStage(ctx, &apigateway.UpdateStageInput{RestApiId: &id, StageName: aws.String("prod"), PatchOperations: []agtypes.PatchOperation{
		{Op: agtypes.OpReplace, Path: aws.String("/cacheClusterEnabled"), Value: aws.String("true")},
		{Op: agtypes.OpReplace, Path: aws.String("/*/*/caching/ttlInSeconds"), Value: aws.String("3600")},
		{Op: agtypes.OpReplace, Path: aws.String("/*/*/caching/enabled"), Value: aws.String("true")},
	}}); err != nil {
		t.Fatal(err)
	}
	first := callAPI(t, n, id, "GET", "/prod/count", nil, nil).body
	second := callAPI(t, n, id, "GET", "/prod/count", nil, nil).body
	if first != second {
		t.Errorf("cached GET /count changed from %s to %s: the function ran again", first, second)
	}
	if other := callAPI(t, n, id, "GET", "/prod/items/8", nil, nil); other.status != 200 {
		t.Errorf("GET /prod/items/8 = %d", other.status)
	}

	// Throttling for the whole stage.
	if _, err := c.UpdateStage(ctx, &apigateway.UpdateStageInput{RestApiId: &id, StageName: aws.String("prod"), PatchOperations: []agtypes.PatchOperation{
		{Op: agtypes.OpReplace, Path: aws.String("/*/*/throttling/burstLimit"), Value: aws.String("1")},
		{Op: agtypes.OpReplace, Path: aws.String("/*/*/throttling/rateLimit"), Value: aws.String("0.001")},
	}}); err != nil {
		t.Fatal(err)
	}
	callAPI(t, n, id, "GET", "/prod/items/9", nil, nil)
	if r = callAPI(t, n, id, "GET", "/prod/items/9", nil, nil); r.status != 429 || r.body != `{"message":"Too Many Requests"}` {
		t.Errorf("over the stage limit: %d %q, want 429", r.status, r.body)
	}

	st, err := c.GetStage(ctx, &apigateway.GetStageInput{RestApiId: &id, StageName: aws.String("prod")})
	if err != nil || !st.CacheClusterEnabled || st.Variables["env"] != "prod" || st.MethodSettings["*/*"].ThrottlingBurstLimit != 1 {
		t.Errorf("GetStage = %+v, %v", st, err)
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// TestAPIGatewayWithTheAWSCLI drives the management API with the AWS CLI
// (botocore's parsers): quick create, get-apis, REST API create and list.
func TestAPIGatewayWithTheAWSCLI(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("aws"); err != nil {
		t.Skip("no aws CLI")
	}
	n := startNode(t, t.TempDir())
	fnArn := createWebFunction(t, n, "web")
	creds, err := n.client.Options().Credentials.Retrieve(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	cli := func(args ...string) map[string]any {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), "aws", append(args, "--endpoint-url", "http://"+n.d.Addr(), "--output", "json")...)
		cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+creds.SecretAccessKey,
			"AWS_SESSION_TOKEN="+creds.SessionToken, "AWS_DEFAULT_REGION=us-east-1", "AWS_REGION=us-east-1")
		out, err := cmd.Output()
		if err != nil {
			var stderr string
			if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
				stderr = string(ee.Stderr)
			}
			t.Fatalf("aws %v: %v\n%s", args, err, stderr)
		}
		m := map[string]any{}
		if len(bytes.TrimSpace(out)) > 0 {
			if err := json.Unmarshal(out, &m); err != nil {
				t.Fatalf("aws %v: %v\n%s", args, err, out)
			}
		}
		return m
	}
	api := cli("apigatewayv2", "create-api", "--name", "quick", "--protocol-type", "HTTP", "--target", fnArn)
	id, _ := api["ApiId"].(string)
	if id == "" || api["ApiEndpoint"] == nil {
		t.Fatalf("create-api = %v", api)
	}
	if r := callAPI(t, n, id, "GET", "/hello?name=cli", nil, nil); r.status != 200 || r.body != "hello cli" {
		t.Fatalf("GET /hello = %d %q", r.status, r.body)
	}
	apis := cli("apigatewayv2", "get-apis")
	if items, _ := apis["Items"].([]any); len(items) != 1 { // before the import below
		t.Errorf("get-apis = %v", apis)
	}
	stages := cli("apigatewayv2", "get-stages", "--api-id", id)
	if items, _ := stages["Items"].([]any); len(items) != 1 || items[0].(map[string]any)["StageName"] != "$default" {
		t.Errorf("get-stages = %v", stages)
	}
	// SAM's way: an OpenAPI body imported, then deployed.
	dir := t.TempDir()
	uri := integrationURI(fnArn)
	swagger := `{"swagger":"2.0","info":{"title":"imported","version":"1"},"paths":{"/{proxy+}":{"x-amazon-apigateway-any-method":` +
		`{"x-amazon-apigateway-integration":{"type":"aws_proxy","httpMethod":"POST","uri":"` + uri + `"}}}}}`
	if err := os.WriteFile(dir+"/swagger.json", []byte(swagger), 0o600); err != nil {
		t.Fatal(err)
	}
	imported := cli("apigateway", "import-rest-api", "--body", "fileb://"+dir+"/swagger.json")
	rid, _ := imported["id"].(string)
	cli("apigateway", "create-deployment", "--rest-api-id", rid, "--stage-name", "Prod")
	if r := callAPI(t, n, rid, "GET", "/Prod/hello?name=import", nil, nil); r.status != 200 || r.body != "hello import" {
		t.Fatalf("imported REST API: GET /Prod/hello = %d %q", r.status, r.body)
	}
	openapi := `{"openapi":"3.0.1","info":{"title":"imported-http","version":"1"},"paths":{"/items/{id}":{"get":` +
		`{"x-amazon-apigateway-integration":{"type":"aws_proxy","payloadFormatVersion":"2.0","uri":"` + uri + `"}}}}}`
	if err := os.WriteFile(dir+"/openapi.json", []byte(openapi), 0o600); err != nil {
		t.Fatal(err)
	}
	himported := cli("apigatewayv2", "import-api", "--body", "file://"+dir+"/openapi.json")
	hid, _ := himported["ApiId"].(string)
	cli("apigatewayv2", "create-stage", "--api-id", hid, "--stage-name", "$default", "--auto-deploy")
	if r := callAPI(t, n, hid, "GET", "/items/5", nil, nil); r.status != 200 || !strings.Contains(r.body, `"id":"5"`) {
		t.Fatalf("imported HTTP API: GET /items/5 = %d %q", r.status, r.body)
	}

	rest := cli("apigateway", "create-rest-api", "--name", "r")
	if rest["id"] == nil || rest["rootResourceId"] == nil {
		t.Fatalf("create-rest-api = %v", rest)
	}
	res := cli("apigateway", "get-resources", "--rest-api-id", rest["id"].(string))
	if items, _ := res["items"].([]any); len(items) != 1 || items[0].(map[string]any)["path"] != "/" {
		t.Errorf("get-resources = %v", res)
	}
}

// TestHTTPAPIAWSIAMRoute: an AWS_IAM route refuses unsigned and wrongly
// scoped requests and lets a request SigV4-signed for execute-api through
// the node's authenticator, with the caller in the event.
func TestHTTPAPIAWSIAMRoute(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	fnArn := createWebFunction(t, n, "web")
	ctx := context.Background()
	c := n.apigwV2()
	api, err := c.CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: aws.String("iam"), ProtocolType: "HTTP", Target: aws.String(fnArn)})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(api.ApiId)
	routes, err := c.GetRoutes(ctx, &apigatewayv2.GetRoutesInput{ApiId: &id})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateRoute(ctx, &apigatewayv2.UpdateRouteInput{ApiId: &id, RouteId: routes.Items[0].RouteId, AuthorizationType: "AWS_IAM"}); err != nil {
		t.Fatal(err)
	}
	creds, err := n.client.Options().Credentials.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	call := func(service string) int {
		req, err := http.NewRequestWithContext(ctx, "GET", "http://"+n.d.Addr()+"/hello?name=iam", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = id + ".execute-api.us-east-1.localhost"
		if service != "" {
			empty := sha256.Sum256(nil)
			if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(empty[:]), service, "us-east-1", time.Now()); err != nil {
				t.Fatal(err)
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	if code := call(""); code != 403 {
		t.Errorf("unsigned: %d, want 403", code)
	}
	if code := call("lambda"); code != 403 {
		t.Errorf("signed for lambda: %d, want 403", code)
	}
	if code := call("execute-api"); code != 200 {
		t.Errorf("signed for execute-api: %d, want 200", code)
	}
}

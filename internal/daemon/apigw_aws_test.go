package daemon

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	agtypes "github.com/aws/aws-sdk-go-v2/service/apigateway/types"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	v2types "github.com/aws/aws-sdk-go-v2/service/apigatewayv2/types"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/nimbus-serverless/nimbus/internal/config"
)

const trustAPIGateway = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"apigateway.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

// TestRESTAWSIntegrationActsAsItsRole puts a request on a queue through
// a REST API's AWS integration (no function in between), with --iam
// enforce: the integration's credentials role decides. A role without
// sqs:SendMessage gets SQS's AccessDenied, which the integration response
// selection maps (as on AWS); a role that does not trust API Gateway is a
// 500 Internal server error for the client.
func TestRESTAWSIntegrationActsAsItsRole(t *testing.T) {
	n := startNode(t, t.TempDir(), func(c *config.Config) { c.IAM = config.IAMEnforce })
	ctx := context.Background()
	sq := awssqs.NewFromConfig(n.awsConfig())
	q, err := sq.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String("orders")})
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := sq.GetQueueAttributes(ctx, &awssqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{"QueueArn"}})
	if err != nil {
		t.Fatal(err)
	}
	queueArn := attrs.Attributes["QueueArn"]
	ic := awsiam.NewFromConfig(n.awsConfig())
	role := func(name, trust, inline string) string {
		out, err := ic.CreateRole(ctx, &awsiam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trust)})
		if err != nil {
			t.Fatal(err)
		}
		if inline != "" {
			if _, err := ic.PutRolePolicy(ctx, &awsiam.PutRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String("p"), PolicyDocument: aws.String(inline)}); err != nil {
				t.Fatal(err)
			}
		}
		return aws.ToString(out.Role.Arn)
	}
	sender := role("apigw-sqs", trustAPIGateway, allow([]string{"sqs:SendMessage"}, queueArn))
	mute := role("apigw-mute", trustAPIGateway, allow([]string{"sqs:GetQueueUrl"}, queueArn))
	lambdaOnly := role("lambda-only", trustLambda, allow([]string{"sqs:SendMessage"}, queueArn))

	ag := n.apigwV1()
	api, err := ag.CreateRestApi(ctx, &apigateway.CreateRestApiInput{Name: aws.String("direct")})
	if err != nil {
		t.Fatal(err)
	}
	res, err := ag.CreateResource(ctx, &apigateway.CreateResourceInput{RestApiId: api.Id, ParentId: api.RootResourceId, PathPart: aws.String("orders")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ag.PutMethod(ctx, &apigateway.PutMethodInput{RestApiId: api.Id, ResourceId: res.Id, HttpMethod: aws.String("POST"), AuthorizationType: aws.String("NONE")}); err != nil {
		t.Fatal(err)
	}
	account := strings.Split(queueArn, ":")[4]
	if _, err := ag.PutIntegration(ctx, &apigateway.PutIntegrationInput{RestApiId: api.Id, ResourceId: res.Id, HttpMethod: aws.String("POST"),
		Type: agtypes.IntegrationTypeAws, IntegrationHttpMethod: aws.String("POST"), Credentials: aws.String(sender),
		Uri:                 aws.String("arn:aws:apigateway:us-east-1:sqs:path/" + account + "/orders"),
		RequestParameters:   map[string]string{"integration.request.header.Content-Type": "'application/x-www-form-urlencoded'"},
		RequestTemplates:    map[string]string{"application/json": "Action=SendMessage&MessageBody=$util.urlEncode($input.body)"},
		PassthroughBehavior: aws.String("NEVER")}); err != nil {
		t.Fatal(err)
	}
	for _, code := range []string{"200", "400"} {
		if _, err := ag.PutMethodResponse(ctx, &apigateway.PutMethodResponseInput{RestApiId: api.Id, ResourceId: res.Id, HttpMethod: aws.String("POST"), StatusCode: aws.String(code)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ag.PutIntegrationResponse(ctx, &apigateway.PutIntegrationResponseInput{RestApiId: api.Id, ResourceId: res.Id, HttpMethod: aws.String("POST"),
		StatusCode: aws.String("200"), ResponseTemplates: map[string]string{"application/json": `{"queued": true}`}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ag.PutIntegrationResponse(ctx, &apigateway.PutIntegrationResponseInput{RestApiId: api.Id, ResourceId: res.Id, HttpMethod: aws.String("POST"),
		StatusCode: aws.String("400"), SelectionPattern: aws.String(`4\d{2}`), ResponseTemplates: map[string]string{"application/json": `{"refused": "$util.escapeJavaScript($input.body)"}`}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ag.CreateDeployment(ctx, &apigateway.CreateDeploymentInput{RestApiId: api.Id, StageName: aws.String("prod")}); err != nil {
		t.Fatal(err)
	}
	jsonHdr := http.Header{"Content-Type": {"application/json"}}
	if r := callAPI(t, n, *api.Id, "POST", "/prod/orders", jsonHdr, []byte(`{"order": 7}`)); r.status != 200 || r.body != `{"queued": true}` {
		t.Fatalf("POST /prod/orders = %d %s", r.status, r.body)
	}
	msgs, err := sq.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, WaitTimeSeconds: 1})
	if err != nil || len(msgs.Messages) != 1 || aws.ToString(msgs.Messages[0].Body) != `{"order": 7}` {
		t.Fatalf("queue after the API call: %+v %v", msgs, err)
	}

	// test-invoke-method shows the mapped request and the answer.
	ti, err := ag.TestInvokeMethod(ctx, &apigateway.TestInvokeMethodInput{RestApiId: api.Id, ResourceId: res.Id, HttpMethod: aws.String("POST"),
		Body: aws.String(`{"order": 8}`), Headers: map[string]string{"Content-Type": "application/json"}})
	if err != nil {
		t.Fatal(err)
	}
	if ti.Status != 200 || !strings.Contains(aws.ToString(ti.Log), "Endpoint request body after transformations: Action=SendMessage&MessageBody=%7B%22order%22%3A+8%7D") {
		t.Errorf("TestInvokeMethod = %d %s\n%s", ti.Status, aws.ToString(ti.Body), aws.ToString(ti.Log))
	}

	setRole := func(arn string) {
		t.Helper()
		if _, err := ag.UpdateIntegration(ctx, &apigateway.UpdateIntegrationInput{RestApiId: api.Id, ResourceId: res.Id, HttpMethod: aws.String("POST"),
			PatchOperations: []agtypes.PatchOperation{{Op: agtypes.OpReplace, Path: aws.String("/credentials"), Value: aws.String(arn)}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := ag.CreateDeployment(ctx, &apigateway.CreateDeploymentInput{RestApiId: api.Id, StageName: aws.String("prod")}); err != nil {
			t.Fatal(err)
		}
	}
	// A role without sqs:SendMessage: SQS refuses, the 4xx response is chosen.
	setRole(mute)
	if r := callAPI(t, n, *api.Id, "POST", "/prod/orders", jsonHdr, []byte(`{}`)); r.status != 400 || !strings.Contains(r.body, "AccessDenied") {
		t.Errorf("a role without SendMessage: %d %s", r.status, r.body)
	}
	// A role API Gateway may not assume: 500, as AWS answers.
	setRole(lambdaOnly)
	if r := callAPI(t, n, *api.Id, "POST", "/prod/orders", jsonHdr, []byte(`{}`)); r.status != 500 || !strings.Contains(r.body, "Internal server error") {
		t.Errorf("a role that does not trust API Gateway: %d %s", r.status, r.body)
	}
	ti, err = ag.TestInvokeMethod(ctx, &apigateway.TestInvokeMethodInput{RestApiId: api.Id, ResourceId: res.Id, HttpMethod: aws.String("POST"), Body: aws.String(`{}`)})
	if err != nil || ti.Status != 500 || !strings.Contains(aws.ToString(ti.Log), "API Gateway does not have permission to assume the provided role") {
		t.Errorf("TestInvokeMethod with an unassumable role = %v %+v", err, ti)
	}

	// The same through an HTTP API's first-class SQS-SendMessage
	// integration (integrationSubtype, no mapping template).
	hv := n.apigwV2()
	happ, err := hv.CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: aws.String("direct-http"), ProtocolType: v2types.ProtocolTypeHttp})
	if err != nil {
		t.Fatal(err)
	}
	hi, err := hv.CreateIntegration(ctx, &apigatewayv2.CreateIntegrationInput{ApiId: happ.ApiId, IntegrationType: v2types.IntegrationTypeAwsProxy,
		IntegrationSubtype: aws.String("SQS-SendMessage"), CredentialsArn: aws.String(sender), PayloadFormatVersion: aws.String("1.0"),
		RequestParameters: map[string]string{"QueueUrl": aws.ToString(q.QueueUrl), "MessageBody": "$request.body.order"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hv.CreateRoute(ctx, &apigatewayv2.CreateRouteInput{ApiId: happ.ApiId, RouteKey: aws.String("POST /orders"), Target: aws.String("integrations/" + aws.ToString(hi.IntegrationId))}); err != nil {
		t.Fatal(err)
	}
	if _, err := hv.CreateStage(ctx, &apigatewayv2.CreateStageInput{ApiId: happ.ApiId, StageName: aws.String("$default"), AutoDeploy: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	r := callAPI(t, n, *happ.ApiId, "POST", "/orders", jsonHdr, []byte(`{"order": {"n": 9}}`))
	if r.status != 200 || !strings.Contains(r.body, `"SendMessageResponse"`) || !strings.Contains(r.body, `"MessageId"`) {
		t.Fatalf("HTTP API SQS-SendMessage = %d %s", r.status, r.body)
	}
	msgs, err = sq.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: q.QueueUrl, WaitTimeSeconds: 1, MaxNumberOfMessages: 10})
	if err != nil || !slices.ContainsFunc(msgs.Messages, func(m sqstypes.Message) bool { return aws.ToString(m.Body) == `{"n":9}` }) {
		t.Fatalf("queue after the HTTP API call: %+v %v", msgs, err)
	}
	setCreds := func(arn string) {
		t.Helper()
		if _, err := hv.UpdateIntegration(ctx, &apigatewayv2.UpdateIntegrationInput{ApiId: happ.ApiId, IntegrationId: hi.IntegrationId, CredentialsArn: aws.String(arn)}); err != nil {
			t.Fatal(err)
		}
	}
	// A role without sqs:SendMessage: SQS's own AccessDenied reaches the client.
	setCreds(mute)
	if r := callAPI(t, n, *happ.ApiId, "POST", "/orders", jsonHdr, []byte(`{"order": 1}`)); r.status != 403 || !strings.Contains(r.body, "AccessDenied") {
		t.Errorf("HTTP API with a role without SendMessage: %d %s", r.status, r.body)
	}
	// A role API Gateway may not assume: 500.
	setCreds(lambdaOnly)
	if r := callAPI(t, n, *happ.ApiId, "POST", "/orders", jsonHdr, []byte(`{"order": 1}`)); r.status != 500 || r.body != `{"message":"Internal Server Error"}` {
		t.Errorf("HTTP API with a role that does not trust API Gateway: %d %s", r.status, r.body)
	}
}

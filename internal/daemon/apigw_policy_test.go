package daemon

import (
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	agtypes "github.com/aws/aws-sdk-go-v2/service/apigateway/types"
)

// TestRESTResourcePolicyEnforced: a REST API's resource policy is
// evaluated on every call, as API Gateway does, with its shorthand
// resources ("execute-api:/stage/METHOD/path") read as the API's ARNs:
// an explicit Deny refuses a method whose authorization is NONE with
// AWS's message, the Allow lets the others through; an API whose policy
// allows nothing refuses everyone.
func TestRESTResourcePolicyEnforced(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	ctx := t.Context()
	ag := n.apigwV1()
	mockAPI := func(name, policy string) string {
		t.Helper()
		api, err := ag.CreateRestApi(ctx, &apigateway.CreateRestApiInput{Name: aws.String(name), Policy: aws.String(policy)})
		if err != nil {
			t.Fatal(err)
		}
		res, err := ag.GetResources(ctx, &apigateway.GetResourcesInput{RestApiId: api.Id})
		if err != nil {
			t.Fatal(err)
		}
		root := res.Items[0].Id
		for _, part := range []string{"open", "secret"} {
			r, err := ag.CreateResource(ctx, &apigateway.CreateResourceInput{RestApiId: api.Id, ParentId: root, PathPart: aws.String(part)})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ag.PutMethod(ctx, &apigateway.PutMethodInput{RestApiId: api.Id, ResourceId: r.Id, HttpMethod: aws.String("GET"),
				AuthorizationType: aws.String("NONE")}); err != nil {
				t.Fatal(err)
			}
			if _, err := ag.PutIntegration(ctx, &apigateway.PutIntegrationInput{RestApiId: api.Id, ResourceId: r.Id, HttpMethod: aws.String("GET"),
				Type: agtypes.IntegrationTypeMock, RequestTemplates: map[string]string{"application/json": `{"statusCode": 200}`}}); err != nil {
				t.Fatal(err)
			}
			if _, err := ag.PutMethodResponse(ctx, &apigateway.PutMethodResponseInput{RestApiId: api.Id, ResourceId: r.Id, HttpMethod: aws.String("GET"),
				StatusCode: aws.String("200")}); err != nil {
				t.Fatal(err)
			}
			if _, err := ag.PutIntegrationResponse(ctx, &apigateway.PutIntegrationResponseInput{RestApiId: api.Id, ResourceId: r.Id,
				HttpMethod: aws.String("GET"), StatusCode: aws.String("200"),
				ResponseTemplates: map[string]string{"application/json": `{"part": "` + part + `"}`}}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := ag.CreateDeployment(ctx, &apigateway.CreateDeploymentInput{RestApiId: api.Id, StageName: aws.String("prod")}); err != nil {
			t.Fatal(err)
		}
		return aws.ToString(api.Id)
	}
	id := mockAPI("guarded", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":"*","Action":"execute-api:Invoke","Resource":"execute-api:/*"},
		{"Effect":"Deny","Principal":"*","Action":"execute-api:Invoke","Resource":"execute-api:/*/GET/secret"}]}`)
	if r := callAPI(t, n, id, "GET", "/prod/open", nil, nil); r.status != http.StatusOK || !strings.Contains(r.body, `"open"`) {
		t.Errorf("allowed by the policy: %d %s", r.status, r.body)
	}
	arn := "arn:aws:execute-api:us-east-1:" + n.d.cfg.AccountID + ":" + id + "/prod/GET/secret"
	r := callAPI(t, n, id, "GET", "/prod/secret", nil, nil)
	if want := "User: anonymous is not authorized to perform: execute-api:Invoke on resource: " + arn + " with an explicit deny"; r.status != http.StatusForbidden || !strings.Contains(r.body, want) {
		t.Errorf("denied by the policy: %d %s, want 403 %q", r.status, r.body, want)
	}
	closed := mockAPI("closed", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+n.d.cfg.AccountID+`:user/nobody"},"Action":"execute-api:Invoke","Resource":"execute-api:/*"}]}`)
	if r := callAPI(t, n, closed, "GET", "/prod/open", nil, nil); r.status != http.StatusForbidden {
		t.Errorf("a policy allowing only a user, called anonymously: %d %s", r.status, r.body)
	}
}

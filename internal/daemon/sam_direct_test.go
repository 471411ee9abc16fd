package daemon

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/nimbus-serverless/nimbus/internal/config"
)

// directTemplate is a SAM application with no function at all: an API
// whose POST /orders puts the body on a queue and whose POST /greet runs
// an Express state machine synchronously and answers with its output,
// both through AWS integrations acting as the API's role.
const directTemplate = `AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Orders:
    Type: AWS::SQS::Queue
  Greeter:
    Type: AWS::Serverless::StateMachine
    Properties:
      Type: EXPRESS
      Definition:
        StartAt: Greet
        States:
          Greet:
            Type: Pass
            Parameters:
              name.$: $.name
              greeted: true
            End: true
  ApiRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: apigateway.amazonaws.com}
            Action: sts:AssumeRole
      Policies:
        - PolicyName: direct
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Effect: Allow
                Action: sqs:SendMessage
                Resource: !GetAtt Orders.Arn
              - Effect: Allow
                Action: states:StartSyncExecution
                Resource: !Ref Greeter
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: prod
      Domain:
        DomainName: orders.example.test
        CertificateArn: !Sub arn:aws:acm:${AWS::Region}:${AWS::AccountId}:certificate/nimbus
        BasePath: [shop]
      DefinitionBody:
        swagger: "2.0"
        info: {title: direct, version: "1.0"}
        paths:
          /orders:
            post:
              responses:
                "200": {description: queued}
              x-amazon-apigateway-integration:
                type: aws
                httpMethod: POST
                credentials: !GetAtt ApiRole.Arn
                uri: !Sub "arn:aws:apigateway:${AWS::Region}:sqs:path/${AWS::AccountId}/${Orders.QueueName}"
                requestParameters:
                  integration.request.header.Content-Type: "'application/x-www-form-urlencoded'"
                requestTemplates:
                  application/json: "Action=SendMessage&MessageBody=$util.urlEncode($input.body)"
                passthroughBehavior: never
                responses:
                  default:
                    statusCode: "200"
                    responseTemplates:
                      application/json: '{"queued": true}'
          /greet:
            post:
              responses:
                "200": {description: greeted}
                "400": {description: refused}
              x-amazon-apigateway-integration:
                type: aws
                httpMethod: POST
                credentials: !GetAtt ApiRole.Arn
                uri: !Sub "arn:aws:apigateway:${AWS::Region}:states:action/StartSyncExecution"
                requestTemplates:
                  application/json: !Sub
                    - '{"input": "$util.escapeJavaScript($input.json(''$''))", "stateMachineArn": "${Arn}"}'
                    - Arn: !Ref Greeter
                responses:
                  default:
                    statusCode: "200"
                    responseTemplates:
                      application/json: |-
                        #set($out = $util.parseJson($input.path('$.output')))
                        {"hello": "$out.name", "status": "$input.path('$.status')"}
                  4\d{2}:
                    statusCode: "400"
Outputs:
  ApiId:
    Value: !Ref Api
  QueueUrl:
    Value: !Ref Orders
`

// TestSAMDirectIntegrations deploys directTemplate with --iam enforce and
// calls the API over HTTP: a message lands on the queue, and the state
// machine's output comes back through the response template, also
// through the custom domain name SAM's Domain property declares.
func TestSAMDirectIntegrations(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir(), func(c *config.Config) { c.IAM = config.IAMEnforce })
	ctx := t.Context()
	c := n.cfn()
	if _, err := c.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String("direct"), TemplateBody: aws.String(directTemplate),
		Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityIam, cfntypes.CapabilityCapabilityAutoExpand}}); err != nil {
		t.Fatal(err)
	}
	s := waitStack(t, c, "direct")
	if s.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("stack = %s (%s)", s.StackStatus, aws.ToString(s.StackStatusReason))
	}
	out := outputs(s)
	jsonHdr := http.Header{"Content-Type": {"application/json"}}
	if r := callAPI(t, n, out["ApiId"], "POST", "/prod/orders", jsonHdr, []byte(`{"order":42}`)); r.status != 200 || r.body != `{"queued": true}` {
		t.Fatalf("POST /prod/orders = %d %s", r.status, r.body)
	}
	msgs, err := awssqs.NewFromConfig(n.awsConfig()).ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: aws.String(out["QueueUrl"]), WaitTimeSeconds: 2})
	if err != nil || len(msgs.Messages) != 1 || aws.ToString(msgs.Messages[0].Body) != `{"order":42}` {
		t.Fatalf("queue after POST /orders: %+v %v", msgs, err)
	}
	r := callAPI(t, n, out["ApiId"], "POST", "/prod/greet", jsonHdr, []byte(`{"name":"Ada"}`))
	if r.status != 200 || strings.TrimSpace(r.body) != `{"hello": "Ada", "status": "SUCCEEDED"}` {
		t.Fatalf("POST /prod/greet = %d %s", r.status, r.body)
	}
	// The same API through the custom domain SAM's Domain made.
	req, err := http.NewRequestWithContext(ctx, "POST", "http://"+n.d.Addr()+"/shop/greet", strings.NewReader(`{"name":"Lin"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "orders.example.test"
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != 200 || strings.TrimSpace(string(b)) != `{"hello": "Lin", "status": "SUCCEEDED"}` {
		t.Fatalf("POST http://orders.example.test/shop/greet = %d %s", resp.StatusCode, b)
	}
	// A content type without a template: passthroughBehavior never is 415.
	if r := callAPI(t, n, out["ApiId"], "POST", "/prod/orders", http.Header{"Content-Type": {"text/plain"}}, []byte("x")); r.status != 415 {
		t.Errorf("POST /prod/orders as text/plain = %d %s", r.status, r.body)
	}
}

package daemon

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// pipesTemplate is an application with a pipe: a queue, filtered to its
// orders, enriched by an inline Python function, into a Go worker through
// an input template.
func pipesTemplate(sha string) string {
	return `AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Orders:
    Type: AWS::SQS::Queue
  Enrich:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      InlineCode: |
        def handler(event, context):
            return [dict(e, tier="gold") for e in event]
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: s3://nimbus-artifacts/` + sha + `
      Handler: bootstrap
      Runtime: provided.al2023
      Timeout: 30
      Policies:
        - Statement:
            - Effect: Allow
              Action: lambda:UpdateFunctionConfiguration
              Resource: !Sub "arn:aws:lambda:${AWS::Region}:${AWS::AccountId}:function:sinkp"
      Environment:
        Variables:
          NIMBUS_TEST_SINK: sinkp
  PipeRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: pipes.amazonaws.com}
            Action: sts:AssumeRole
      Policies:
        - PolicyName: pipe
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Effect: Allow
                Action: [sqs:ReceiveMessage, sqs:DeleteMessage, sqs:GetQueueAttributes]
                Resource: !GetAtt Orders.Arn
              - Effect: Allow
                Action: lambda:InvokeFunction
                Resource: [!GetAtt Enrich.Arn, !GetAtt Worker.Arn]
  Pipe:
    Type: AWS::Pipes::Pipe
    Properties:
      RoleArn: !GetAtt PipeRole.Arn
      Source: !GetAtt Orders.Arn
      SourceParameters:
        FilterCriteria:
          Filters:
            - Pattern: '{"body":{"kind":["order"]}}'
        SqsQueueParameters:
          BatchSize: "1"
      Enrichment: !GetAtt Enrich.Arn
      Target: !GetAtt Worker.Arn
      TargetParameters:
        InputTemplate: '{"id": <$.body.id>, "tier": "<$.tier>", "pipe": "<aws.pipes.pipe-name>"}'
Outputs:
  QueueUrl:
    Value: !Ref Orders
  PipeName:
    Value: !Ref Pipe
  PipeArn:
    Value: !GetAtt Pipe.Arn
  PipeState:
    Value: !GetAtt Pipe.CurrentState
`
}

// TestSAMPipe deploys pipesTemplate: a message the filter rejects never
// reaches the worker; an order reaches it enriched and templated, in
// Pipes' batch shape (a JSON array). Deleting the stack deletes the pipe.
func TestSAMPipe(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	ctx := t.Context()
	sink := namedSink(t, n, "sinkp")
	sha := uploadArtifact(t, n, goZip(t, "./internal/daemon/testdata/recorder"))
	c := n.cfn()
	if _, err := c.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String("piped"), TemplateBody: aws.String(pipesTemplate(sha)),
		Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityIam, cfntypes.CapabilityCapabilityAutoExpand}}); err != nil {
		t.Fatal(err)
	}
	s := waitStack(t, c, "piped")
	if s.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("stack = %s (%s)", s.StackStatus, aws.ToString(s.StackStatusReason))
	}
	out := outputs(s)
	name := out["PipeName"]
	if out["PipeArn"] != "arn:aws:pipes:"+n.d.cfg.Region+":"+n.d.cfg.AccountID+":pipe/"+name || out["PipeState"] != "RUNNING" {
		t.Fatalf("outputs %v", out)
	}
	q := awssqs.NewFromConfig(n.awsConfig())
	queueURL := aws.String(out["QueueUrl"])
	if _, err := q.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: queueURL, MessageBody: aws.String(`{"kind":"refund","id":1}`)}); err != nil {
		t.Fatal(err)
	}
	// The filter deletes the refund without invoking anything: the queue
	// empties (a hang guard bounds the wait).
	for i := 0; ; i++ {
		a, err := q.GetQueueAttributes(ctx, &awssqs.GetQueueAttributesInput{QueueUrl: queueURL,
			AttributeNames: []sqstypes.QueueAttributeName{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"}})
		if err != nil {
			t.Fatal(err)
		}
		if a.Attributes["ApproximateNumberOfMessages"] == "0" && a.Attributes["ApproximateNumberOfMessagesNotVisible"] == "0" {
			break
		}
		if i > 3000 {
			t.Fatalf("the refund stayed in the queue: %v", a.Attributes)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := q.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: queueURL, MessageBody: aws.String(`{"kind":"order","id":2}`)}); err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	raw := sink.next(t)
	if err := json.Unmarshal(raw, &got); err != nil || len(got) != 1 || got[0]["id"] != 2.0 || got[0]["tier"] != "gold" || got[0]["pipe"] != name {
		t.Fatalf("the worker got %s (%v), want the order enriched and templated", raw, err)
	}
	if _, err := c.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String("piped")}); err != nil {
		t.Fatal(err)
	}
	if s := waitStack(t, c, aws.ToString(s.StackId)); s.StackStatus != cfntypes.StackStatusDeleteComplete {
		t.Fatalf("delete = %s (%s)", s.StackStatus, aws.ToString(s.StackStatusReason))
	}
	w := httptest.NewRecorder()
	n.d.pipes.ServeHTTP(w, httptest.NewRequestWithContext(ctx, http.MethodGet, "/v1/pipes/"+name, nil))
	if w.Code != http.StatusNotFound {
		t.Errorf("the pipe outlived its stack: %d %s", w.Code, w.Body)
	}
}

package daemon

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// namedSink is a sink function of its own name (so recorders of several
// functions never update one sink at once).
func namedSink(t *testing.T, n *node, name string) *sink {
	t.Helper()
	createGoFunction(t, n, name, nil)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ch, err := n.d.st.Watch(ctx, "fn."+name)
	if err != nil {
		t.Fatal(err)
	}
	return &sink{name: name, updates: ch}
}

// topicsTemplate is a SAM application: a topic fanning out to a
// queue-triggered function (a plain queue, subscription and queue policy,
// and the SAM SQS event), to a topic-triggered function (the SAM SNS
// event) and to a function behind SAM's SqsSubscription.
func topicsTemplate(sha string) string {
	fn := func(sink, events string) string {
		return `    Type: AWS::Serverless::Function
    Properties:
      CodeUri: s3://nimbus-artifacts/` + sha + `
      Handler: bootstrap
      Runtime: provided.al2023
      Timeout: 30
      Policies:
        - Statement:
            - Effect: Allow
              Action: lambda:UpdateFunctionConfiguration
              Resource: !Sub "arn:aws:lambda:${AWS::Region}:${AWS::AccountId}:function:` + sink + `"
      Environment:
        Variables:
          NIMBUS_TEST_SINK: ` + sink + `
      Events:
` + events
	}
	return `AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      DisplayName: Orders
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 60
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt DeadLetters.Arn
        maxReceiveCount: 3
  DeadLetters:
    Type: AWS::SQS::Queue
  QueuePolicy:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues: [!Ref Queue]
      PolicyDocument:
        Statement:
          - Effect: Allow
            Principal: {Service: sns.amazonaws.com}
            Action: sqs:SendMessage
            Resource: !GetAtt Queue.Arn
  QueueSubscription:
    Type: AWS::SNS::Subscription
    Properties:
      TopicArn: !Ref Topic
      Protocol: sqs
      Endpoint: !GetAtt Queue.Arn
      RawMessageDelivery: true
      FilterPolicy:
        kind: [order]
  QueueWorker:
` + fn("sinkq", `        FromQueue:
          Type: SQS
          Properties:
            Queue: !GetAtt Queue.Arn
            BatchSize: 1
`) + `  TopicWorker:
` + fn("sinkt", `        FromTopic:
          Type: SNS
          Properties:
            Topic: !Ref Topic
`) + `  BufferedWorker:
` + fn("sinkb", `        Buffered:
          Type: SNS
          Properties:
            Topic: !Ref Topic
            SqsSubscription: true
`) + `Outputs:
  TopicArn:
    Value: !Ref Topic
  TopicName:
    Value: !GetAtt Topic.TopicName
  QueueUrl:
    Value: !Ref Queue
  QueueName:
    Value: !GetAtt Queue.QueueName
  SubscriptionArn:
    Value: !Ref QueueSubscription
`
}

// TestSAMTopicFanOut deploys topicsTemplate and publishes one message:
// each function sees it in its own event shape.
func TestSAMTopicFanOut(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	ctx := t.Context()
	sinks := map[string]*sink{"q": namedSink(t, n, "sinkq"), "t": namedSink(t, n, "sinkt"), "b": namedSink(t, n, "sinkb")}
	sha := uploadArtifact(t, n, goZip(t, "./internal/daemon/testdata/recorder"))
	c := n.cfn()
	if _, err := c.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String("orders"), TemplateBody: aws.String(topicsTemplate(sha)),
		Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityIam, cfntypes.CapabilityCapabilityAutoExpand}}); err != nil {
		t.Fatal(err)
	}
	s := waitStack(t, c, "orders")
	if s.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("stack = %s (%s)", s.StackStatus, aws.ToString(s.StackStatusReason))
	}
	out := outputs(s)
	topic, queueURL := out["TopicArn"], out["QueueUrl"]
	if topic != "arn:aws:sns:"+n.d.cfg.Region+":"+n.d.cfg.AccountID+":"+out["TopicName"] ||
		queueURL != n.endpoint()+"/"+n.d.cfg.AccountID+"/"+out["QueueName"] || out["SubscriptionArn"] == "" {
		t.Fatalf("outputs %v", out)
	}
	qa, err := awssqs.NewFromConfig(n.awsConfig()).GetQueueAttributes(ctx, &awssqs.GetQueueAttributesInput{QueueUrl: aws.String(queueURL),
		AttributeNames: []sqstypes.QueueAttributeName{"RedrivePolicy", "Policy"}})
	if err != nil || qa.Attributes["RedrivePolicy"] == "" || qa.Attributes["Policy"] == "" {
		t.Fatalf("queue attributes %v %v", qa, err)
	}
	if _, err := awssns.NewFromConfig(n.awsConfig()).Publish(ctx, &awssns.PublishInput{TopicArn: aws.String(topic), Message: aws.String(`{"id":7}`),
		MessageAttributes: map[string]snstypes.MessageAttributeValue{"kind": {DataType: aws.String("String"), StringValue: aws.String("order")}}}); err != nil {
		t.Fatal(err)
	}
	var sqsEv struct {
		Records []struct{ EventSource, Body string }
	}
	if err := json.Unmarshal(sinks["q"].next(t), &sqsEv); err != nil || len(sqsEv.Records) != 1 ||
		sqsEv.Records[0].EventSource != "aws:sqs" || sqsEv.Records[0].Body != `{"id":7}` {
		t.Fatalf("queue worker event %+v %v (want the raw message)", sqsEv, err)
	}
	var snsEv struct {
		Records []struct {
			EventSource string
			Sns         struct{ Message, TopicArn string }
		}
	}
	if err := json.Unmarshal(sinks["t"].next(t), &snsEv); err != nil || len(snsEv.Records) != 1 ||
		snsEv.Records[0].EventSource != "aws:sns" || snsEv.Records[0].Sns.Message != `{"id":7}` || snsEv.Records[0].Sns.TopicArn != topic {
		t.Fatalf("topic worker event %+v %v", snsEv, err)
	}
	if err := json.Unmarshal(sinks["b"].next(t), &sqsEv); err != nil || len(sqsEv.Records) != 1 {
		t.Fatalf("buffered worker event %+v %v", sqsEv, err)
	}
	var env struct{ Type, Message string }
	if err := json.Unmarshal([]byte(sqsEv.Records[0].Body), &env); err != nil || env.Type != "Notification" || env.Message != `{"id":7}` {
		t.Fatalf("buffered worker body %q: want SNS's envelope", sqsEv.Records[0].Body)
	}
	// Deleting the stack removes the topic, its subscriptions and the queues.
	if _, err := c.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String("orders")}); err != nil {
		t.Fatal(err)
	}
	if s := waitStack(t, c, aws.ToString(s.StackId)); s.StackStatus != cfntypes.StackStatusDeleteComplete {
		t.Fatalf("delete = %s (%s)", s.StackStatus, aws.ToString(s.StackStatusReason))
	}
	if _, err := awssns.NewFromConfig(n.awsConfig()).GetTopicAttributes(ctx, &awssns.GetTopicAttributesInput{TopicArn: aws.String(topic)}); err == nil {
		t.Error("the topic outlived its stack")
	}
}

package daemon

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/nimbus-serverless/nimbus/internal/config"
)

const childTemplate = `Parameters:
  Suffix:
    Type: String
Resources:
  Q:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "child-${Suffix}"
Outputs:
  QueueName:
    Value: !GetAtt Q.QueueName
`

const badChildTemplate = `Resources:
  Q:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: "not a valid queue name!"
`

// TestNestedStacks: an AWS::CloudFormation::Stack whose TemplateURL is a
// bucket of the node is a stack of its own, given the parent's parameters;
// the parent reads its outputs with Fn::GetAtt Child.Outputs.X, updates it
// in place, and deletes it with itself. A nested stack that fails rolls
// the parent back and leaves nothing. SAM's AWS::Serverless::Application
// with a bucket URL is the same nested stack. DescribeStacks names a
// nested stack's ParentId and RootId. A caller who may create
// stacks but not read the TemplateURL's object makes nothing.
func TestNestedStacks(t *testing.T) {
	t.Parallel()
	n, roleArn := iamNode(t, config.IAMEnforce, `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Action":["cloudformation:*","sqs:*"],"Resource":"*"}]}`)
	ctx := context.Background()
	sc := n.s3Client()
	if _, err := sc.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("tmpl")}); err != nil {
		t.Fatal(err)
	}
	for k, body := range map[string]string{"child.yaml": childTemplate, "bad.yaml": badChildTemplate} {
		if _, err := sc.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("tmpl"), Key: aws.String(k), Body: strings.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	c := n.cfn()
	parent := func(suffix, key string) string {
		return `Resources:
  Child:
    Type: AWS::CloudFormation::Stack
    Properties:
      TemplateURL: http://tmpl.s3.localhost:4566/` + key + `
      Parameters:
        Suffix: ` + suffix + `
Outputs:
  Name:
    Value: !GetAtt Child.Outputs.QueueName
  Id:
    Value: !Ref Child
`
	}
	if _, err := c.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String("outer"), TemplateBody: aws.String(parent("one", "child.yaml"))}); err != nil {
		t.Fatal(err)
	}
	st := waitStack(t, c, "outer")
	out := outputs(st)
	if st.StackStatus != cfntypes.StackStatusCreateComplete || out["Name"] != "child-one" || !strings.Contains(out["Id"], ":stack/outer-Child-") {
		t.Fatalf("outer: %s (%s), outputs %v", st.StackStatus, aws.ToString(st.StackStatusReason), out)
	}
	nested := out["Id"]
	if ns := waitStack(t, c, nested); ns.StackStatus != cfntypes.StackStatusCreateComplete ||
		aws.ToString(ns.ParentId) != aws.ToString(st.StackId) || aws.ToString(ns.RootId) != aws.ToString(st.StackId) {
		t.Errorf("nested stack: %s, ParentId %q, RootId %q, want %q", ns.StackStatus, aws.ToString(ns.ParentId), aws.ToString(ns.RootId), aws.ToString(st.StackId))
	}
	if st.ParentId != nil || st.RootId != nil {
		t.Errorf("the top-level stack has ParentId %q, RootId %q", aws.ToString(st.ParentId), aws.ToString(st.RootId))
	}
	if ls, err := c.ListStacks(ctx, &cloudformation.ListStacksInput{}); err != nil {
		t.Fatal(err)
	} else {
		for _, s := range ls.StackSummaries {
			if aws.ToString(s.StackId) == nested && aws.ToString(s.ParentId) != aws.ToString(st.StackId) {
				t.Errorf("ListStacks: the nested stack's ParentId is %q", aws.ToString(s.ParentId))
			}
		}
	}
	qc := sqs.NewFromConfig(n.awsConfig())
	if _, err := qc.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("child-one")}); err != nil {
		t.Errorf("the nested stack's queue: %v", err)
	}

	if _, err := c.UpdateStack(ctx, &cloudformation.UpdateStackInput{StackName: aws.String("outer"), TemplateBody: aws.String(parent("two", "child.yaml"))}); err != nil {
		t.Fatal(err)
	}
	st = waitStack(t, c, "outer")
	if out := outputs(st); st.StackStatus != cfntypes.StackStatusUpdateComplete || out["Name"] != "child-two" || out["Id"] != nested {
		t.Fatalf("outer after update: %s (%s), outputs %v", st.StackStatus, aws.ToString(st.StackStatusReason), out)
	}

	if _, err := c.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String("outer")}); err != nil {
		t.Fatal(err)
	}
	waitStack(t, c, aws.ToString(st.StackId))
	if ns := waitStack(t, c, nested); ns.StackStatus != cfntypes.StackStatusDeleteComplete {
		t.Errorf("nested stack after the parent's deletion: %s", ns.StackStatus)
	}
	if _, err := qc.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("child-two")}); err == nil {
		t.Error("the nested stack's queue outlived it")
	}

	// A failing nested stack: the parent rolls back, nothing is left.
	if _, err := c.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String("broken"), TemplateBody: aws.String(parent("x", "bad.yaml"))}); err != nil {
		t.Fatal(err)
	}
	st = waitStack(t, c, "broken")
	if st.StackStatus != cfntypes.StackStatusRollbackComplete || !strings.Contains(aws.ToString(st.StackStatusReason), "Child") {
		t.Errorf("broken: %s (%s)", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	live, err := c.ListStacks(ctx, &cloudformation.ListStacksInput{StackStatusFilter: []cfntypes.StackStatus{
		cfntypes.StackStatusCreateComplete, cfntypes.StackStatusRollbackComplete, cfntypes.StackStatusCreateFailed}})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range live.StackSummaries {
		if strings.HasPrefix(aws.ToString(s.StackName), "broken-Child-") {
			t.Errorf("the failed nested stack is left: %s %s", aws.ToString(s.StackName), s.StackStatus)
		}
	}

	// SAM's application with a bucket URL.
	sam := `Transform: AWS::Serverless-2016-10-31
Resources:
  App:
    Type: AWS::Serverless::Application
    Properties:
      Location: http://tmpl.s3.localhost:4566/child.yaml
      Parameters:
        Suffix: sam
Outputs:
  Name:
    Value: !GetAtt App.Outputs.QueueName
`
	if _, err := c.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String("samapp"), TemplateBody: aws.String(sam),
		Capabilities: []cfntypes.Capability{cfntypes.CapabilityCapabilityAutoExpand}}); err != nil {
		t.Fatal(err)
	}
	st = waitStack(t, c, "samapp")
	if out := outputs(st); st.StackStatus != cfntypes.StackStatusCreateComplete || out["Name"] != "child-sam" {
		t.Errorf("samapp: %s (%s), outputs %v", st.StackStatus, aws.ToString(st.StackStatusReason), out)
	}

	// The attack: a role that may create stacks (and queues) but not read
	// the bucket cannot have the node read the template for it.
	fc := cloudformation.NewFromConfig(functionConfig(t, n, roleArn, "mine"))
	_, err = fc.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String("sneaky"), TemplateBody: aws.String(parent("sneaky", "child.yaml"))})
	if apiCode(err) != "ValidationError" || !strings.Contains(err.Error(), "denied") {
		t.Errorf("CreateStack with an unreadable TemplateURL: %v", err)
	}
	if _, err := qc.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("child-sneaky")}); err == nil {
		t.Error("the refused nested stack made its queue")
	}
}

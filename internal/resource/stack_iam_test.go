package resource_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"
)

// trustOf is a trust policy letting service assume the role.
func trustOf(service string) *string {
	return aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"` + service +
		`"},"Action":"sts:AssumeRole"}]}`)
}

// deployer is an IAM user of the node allowed CloudFormation, CloudWatch
// Logs, reading s3://tmpl and passing two roles to CloudFormation, and
// nothing else; it returns a CloudFormation client signed with its key.
func (e *env) deployer(t *testing.T) *cloudformation.Client {
	t.Helper()
	ctx := t.Context()
	ic := awsiam.NewFromConfig(e.cfg)
	if _, err := ic.CreateUser(ctx, &awsiam.CreateUserInput{UserName: aws.String("deployer")}); err != nil {
		t.Fatal(err)
	}
	if _, err := ic.PutUserPolicy(ctx, &awsiam.PutUserPolicyInput{UserName: aws.String("deployer"), PolicyName: aws.String("deploy"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[
		 {"Effect":"Allow","Action":["cloudformation:*","logs:*"],"Resource":"*"},
		 {"Effect":"Deny","Action":"cloudformation:CreateStack","Resource":"arn:aws:cloudformation:*:*:stack/roleonly-*",
		  "Condition":{"Null":{"cloudformation:RoleArn":"true"}}},
		 {"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::tmpl/*"},
		 {"Effect":"Allow","Action":"iam:PassRole","Resource":["arn:aws:iam::000000000000:role/cfn-exec",
		   "arn:aws:iam::000000000000:role/lambda-only"],
		  "Condition":{"StringEquals":{"iam:PassedToService":"cloudformation.amazonaws.com"}}}]}`)}); err != nil {
		t.Fatal(err)
	}
	key, err := ic.CreateAccessKey(ctx, &awsiam.CreateAccessKeyInput{UserName: aws.String("deployer")})
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.cfg
	cfg.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(key.AccessKey.AccessKeyId), aws.ToString(key.AccessKey.SecretAccessKey), "")
	cfg.RetryMaxAttempts = 1
	return cloudformation.NewFromConfig(cfg)
}

// settled waits until stack name is in no *_IN_PROGRESS state.
func settled(t *testing.T, c *cloudformation.Client, name string) cfntypes.Stack {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		out, err := c.DescribeStacks(t.Context(), &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
		if err != nil {
			t.Fatalf("DescribeStacks %s: %v", name, err)
		}
		if s := out.Stacks[0]; !strings.HasSuffix(string(s.StackStatus), "_IN_PROGRESS") {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("stack %s still in progress after 2 minutes", name)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// failure is the reason of the first CREATE_FAILED event of logicalID.
func failure(t *testing.T, c *cloudformation.Client, name, logicalID string) string {
	t.Helper()
	out, err := c.DescribeStackEvents(t.Context(), &cloudformation.DescribeStackEventsInput{StackName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range out.StackEvents {
		if aws.ToString(ev.LogicalResourceId) == logicalID && ev.ResourceStatus == cfntypes.ResourceStatusCreateFailed {
			return aws.ToString(ev.ResourceStatusReason)
		}
	}
	return ""
}

func roleExists(t *testing.T, ic *awsiam.Client, name string) bool {
	t.Helper()
	_, err := ic.GetRole(t.Context(), &awsiam.GetRoleInput{RoleName: aws.String(name)})
	return err == nil
}

const escalateTemplate = `Resources:
  Logs:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: /escalate/logs
  Admin:
    Type: AWS::IAM::Role
    DependsOn: Logs
    Properties:
      RoleName: sneaky-admin
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {AWS: "arn:aws:iam::000000000000:user/deployer"}
            Action: sts:AssumeRole
      ManagedPolicyArns: [arn:aws:iam::aws:policy/AdministratorAccess]
`

// TestStacksActAsTheirCallerOrRole: a stack acts with its caller's
// permissions, or with its service role's. A user allowed CloudFormation
// and Logs only cannot make, through a stack, an admin role, an API
// Gateway custom domain, a function or (through a nested stack) any of
// them: the resource fails with the API's AccessDenied and the stack
// rolls back, deleting what it made as the user. With a RoleARN that
// trusts CloudFormation and that the user may pass, the same template
// succeeds as the role, nested stacks included, and DeleteStack (by the
// user, without the role) deletes as the role. A role the user may not
// pass, or that does not trust CloudFormation, is refused at CreateStack.
// A secret or parameter a template reads is read as the caller too.
func TestStacksActAsTheirCallerOrRole(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	ic := awsiam.NewFromConfig(e.cfg)
	c := e.deployer(t)
	caps := []cfntypes.Capability{cfntypes.CapabilityCapabilityNamedIam}

	// As the user: the role is refused, the stack rolls back and deletes
	// the log group it made first (as the user, who may).
	if _, err := c.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String("escalate"),
		TemplateBody: aws.String(escalateTemplate), Capabilities: caps}); err != nil {
		t.Fatalf("CreateStack: %v", err)
	}
	if st := settled(t, c, "escalate"); st.StackStatus != cfntypes.StackStatusRollbackComplete {
		t.Errorf("escalate: %s (%s), want ROLLBACK_COMPLETE", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	why := failure(t, c, "escalate", "Admin")
	for _, want := range []string{"AccessDenied", "User: arn:aws:iam::000000000000:user/deployer is not authorized to perform: iam:CreateRole"} {
		if !strings.Contains(why, want) {
			t.Errorf("Admin's failure %q does not contain %q", why, want)
		}
	}
	if roleExists(t, ic, "sneaky-admin") {
		t.Error("a user allowed only CloudFormation and Logs made an admin role through a stack")
	}
	if g := e.logGroup(t, "/escalate/logs"); g != nil {
		t.Error("the rollback left the log group")
	}

	// A custom domain (root's alone) and a function, as the user.
	for name, tmpl := range map[string]string{
		"domain": "Resources:\n  D:\n    Type: AWS::ApiGateway::DomainName\n    Properties:\n      DomainName: api.example.com\n",
		"fn": "Resources:\n  D:\n    Type: AWS::Lambda::Function\n    Properties:\n      Runtime: python3.12\n      Handler: index.handler\n" +
			"      Role: " + testRole + "\n      Code:\n        ZipFile: \"def handler(e, c):\\n  return 1\\n\"\n",
	} {
		if _, err := c.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String(name), TemplateBody: aws.String(tmpl)}); err != nil {
			t.Fatalf("CreateStack %s: %v", name, err)
		}
		if st := settled(t, c, name); st.StackStatus != cfntypes.StackStatusRollbackComplete {
			t.Errorf("%s: %s, want ROLLBACK_COMPLETE", name, st.StackStatus)
		}
		if why := failure(t, c, name, "D"); !strings.Contains(why, "user/deployer is not authorized to perform") {
			t.Errorf("%s's failure = %q, want the user's denial", name, why)
		}
	}

	// Secrets and parameters a template reads are read as the caller.
	if _, err := secretsmanager.NewFromConfig(e.cfg).CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("db-pass"),
		SecretString: aws.String("hunter2")}); err != nil {
		t.Fatal(err)
	}
	if _, err := ssm.NewFromConfig(e.cfg).PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/private/p"), Value: aws.String("v"),
		Type: ssmtypes.ParameterTypeString}); err != nil {
		t.Fatal(err)
	}
	leak := "Resources:\n  L:\n    Type: AWS::Logs::LogGroup\nOutputs:\n  Pass:\n    Value: '{{resolve:secretsmanager:db-pass}}'\n"
	if _, err := c.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String("leak"), TemplateBody: aws.String(leak)}); err != nil {
		t.Fatalf("CreateStack leak: %v", err)
	}
	if st := settled(t, c, "leak"); st.StackStatus != cfntypes.StackStatusRollbackComplete || len(st.Outputs) > 0 ||
		!strings.Contains(aws.ToString(st.StackStatusReason), "not authorized to perform: secretsmanager:GetSecretValue") {
		t.Errorf("leak: %s (%s) %v, want ROLLBACK_COMPLETE for the secret's denial", st.StackStatus, aws.ToString(st.StackStatusReason), st.Outputs)
	}
	_, err := c.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String("param"), TemplateBody: aws.String(
		"Parameters:\n  P:\n    Type: AWS::SSM::Parameter::Value<String>\n    Default: /private/p\nResources:\n  L:\n    Type: AWS::Logs::LogGroup\n")})
	wantAPIError(t, "CreateStack reading a parameter the caller may not", err, "ValidationError", "not authorized to perform: ssm:GetParameters")

	// Nested stacks act as the parent's caller.
	sc := s3.NewFromConfig(e.cfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := sc.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("tmpl")}); err != nil {
		t.Fatal(err)
	}
	if _, err := sc.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("tmpl"), Key: aws.String("child.yaml"),
		Body: strings.NewReader(strings.Replace(escalateTemplate, "/escalate/logs", "/nested/logs", 1))}); err != nil {
		t.Fatal(err)
	}
	parent := "Resources:\n  Child:\n    Type: AWS::CloudFormation::Stack\n    Properties:\n      TemplateURL: http://tmpl.s3.localhost:4566/child.yaml\n"
	if _, err := c.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String("outer"), TemplateBody: aws.String(parent)}); err != nil {
		t.Fatalf("CreateStack outer: %v", err)
	}
	if st := settled(t, c, "outer"); st.StackStatus != cfntypes.StackStatusRollbackComplete {
		t.Errorf("outer: %s (%s), want ROLLBACK_COMPLETE", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	if roleExists(t, ic, "sneaky-admin") {
		t.Error("a nested stack made the admin role its parent's caller may not make")
	}

	// The service role: trusted by CloudFormation, allowed IAM, Logs,
	// CloudFormation (the nested stack) and the nested template.
	for name, svc := range map[string]string{"cfn-exec": "cloudformation.amazonaws.com", "cfn-other": "cloudformation.amazonaws.com",
		"lambda-only": "lambda.amazonaws.com"} {
		if _, err := ic.CreateRole(ctx, &awsiam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: trustOf(svc)}); err != nil {
			t.Fatal(err)
		}
		if _, err := ic.PutRolePolicy(ctx, &awsiam.PutRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String("p"),
			PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[
			 {"Effect":"Allow","Action":["iam:*","logs:*","cloudformation:*","s3:GetObject"],"Resource":"*"}]}`)}); err != nil {
			t.Fatal(err)
		}
	}
	execRole := "arn:aws:iam::000000000000:role/cfn-exec"
	_, err = c.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String("other"), TemplateBody: aws.String(escalateTemplate),
		Capabilities: caps, RoleARN: aws.String("arn:aws:iam::000000000000:role/cfn-other")})
	wantAPIError(t, "CreateStack with a role the caller may not pass", err, "AccessDenied",
		"user/deployer is not authorized to perform: iam:PassRole on resource: arn:aws:iam::000000000000:role/cfn-other")
	_, err = c.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String("untrusted"), TemplateBody: aws.String(escalateTemplate),
		Capabilities: caps, RoleARN: aws.String("arn:aws:iam::000000000000:role/lambda-only")})
	wantAPIError(t, "CreateStack with a role CloudFormation cannot assume", err, "ValidationError",
		"Role arn:aws:iam::000000000000:role/lambda-only is invalid or cannot be assumed")
	for _, name := range []string{"other", "untrusted"} {
		if _, err := c.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)}); err == nil {
			t.Errorf("the refused stack %s exists", name)
		}
	}

	if _, err := c.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String("withrole"), TemplateBody: aws.String(escalateTemplate),
		Capabilities: caps, RoleARN: aws.String(execRole)}); err != nil {
		t.Fatalf("CreateStack with the service role: %v", err)
	}
	st := settled(t, c, "withrole")
	if st.StackStatus != cfntypes.StackStatusCreateComplete || aws.ToString(st.RoleARN) != execRole {
		t.Fatalf("withrole: %s (%s), RoleARN %q", st.StackStatus, aws.ToString(st.StackStatusReason), aws.ToString(st.RoleARN))
	}
	if !roleExists(t, ic, "sneaky-admin") {
		t.Error("the stack's service role did not make the role")
	}
	// The user may not delete roles; the stack's role deletes them.
	if _, err := c.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String("withrole")}); err != nil {
		t.Fatal(err)
	}
	out, err := c.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: st.StackId})
	for err == nil && strings.HasSuffix(string(out.Stacks[0].StackStatus), "_IN_PROGRESS") {
		time.Sleep(100 * time.Millisecond)
		out, err = c.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: st.StackId})
	}
	if err != nil || out.Stacks[0].StackStatus != cfntypes.StackStatusDeleteComplete {
		t.Errorf("DeleteStack withrole: %v %v", out, err)
	}
	if roleExists(t, ic, "sneaky-admin") {
		t.Error("the deleted stack left its role")
	}

	// cloudformation:RoleArn is the RoleARN a call names: a policy can
	// require one.
	_, err = c.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String("roleonly-a"), TemplateBody: aws.String(parent)})
	wantAPIError(t, "CreateStack without the role a policy requires", err, "AccessDenied", "with an explicit deny")
	if _, err := c.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String("roleonly-b"),
		TemplateBody: aws.String("Resources:\n  L:\n    Type: AWS::Logs::LogGroup\n"), RoleARN: aws.String(execRole)}); err != nil {
		t.Errorf("CreateStack with the role a policy requires: %v", err)
	}

	// A nested stack acts as the parent's service role.
	if _, err := c.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String("outer2"), TemplateBody: aws.String(parent),
		RoleARN: aws.String(execRole)}); err != nil {
		t.Fatalf("CreateStack outer2: %v", err)
	}
	if st := settled(t, c, "outer2"); st.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Errorf("outer2: %s (%s), want CREATE_COMPLETE", st.StackStatus, aws.ToString(st.StackStatusReason))
	}
	if !roleExists(t, ic, "sneaky-admin") || e.logGroup(t, "/nested/logs") == nil {
		t.Error("the nested stack of a stack with a service role did not make its resources")
	}
}

// wantAPIError checks err is the API error code whose message contains msg.
func wantAPIError(t *testing.T, what string, err error, code, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code || !strings.Contains(ae.ErrorMessage(), msg) {
		t.Errorf("%s: %v, want %s containing %q", what, err, code, msg)
	}
}

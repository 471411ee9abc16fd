package daemon

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/nimbus-serverless/nimbus/internal/auth"
	"github.com/nimbus-serverless/nimbus/internal/config"
	"github.com/nimbus-serverless/nimbus/internal/sigv4/sigv4test"
)

const trustLambda = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`

// iamNode starts a node with --iam mode and two functions, "mine" and
// "victim", whose role is app-role (created through the IAM API with the
// given inline policy, if any).
func iamNode(t *testing.T, mode, inline string) (*node, string) {
	t.Helper()
	n := startNode(t, t.TempDir(), func(c *config.Config) { c.IAM = mode })
	ctx := context.Background()
	ic := awsiam.NewFromConfig(n.awsConfig())
	role, err := ic.CreateRole(ctx, &awsiam.CreateRoleInput{RoleName: aws.String("app-role"), AssumeRolePolicyDocument: aws.String(trustLambda)})
	if err != nil {
		t.Fatalf("CreateRole: %v", err)
	}
	if inline != "" {
		if _, err := ic.PutRolePolicy(ctx, &awsiam.PutRolePolicyInput{RoleName: aws.String("app-role"), PolicyName: aws.String("app"),
			PolicyDocument: aws.String(inline)}); err != nil {
			t.Fatalf("PutRolePolicy: %v", err)
		}
	}
	code := zipFiles(t, map[string]zipEntry{"bootstrap": {data: []byte("#!/bin/sh\nexit 1\n"), mode: 0o755}})
	for _, fn := range []string{"mine", "victim"} {
		if _, err := n.client.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String(fn), Runtime: types.RuntimeProvidedal2023,
			Handler: aws.String("bootstrap"), Role: role.Role.Arn, Code: &types.FunctionCode{ZipFile: code}}); err != nil {
			t.Fatalf("CreateFunction %s: %v", fn, err)
		}
	}
	return n, aws.ToString(role.Role.Arn)
}

// functionConfig is an SDK configuration signed with the credentials the
// node gives function fn (the same grant a running environment gets).
func functionConfig(t *testing.T, n *node, roleArn, fn string) aws.Config {
	t.Helper()
	c, err := n.d.issuer.Issue(roleArn, "arn:aws:lambda:us-east-1:"+n.d.cfg.AccountID+":function:"+fn)
	if err != nil {
		t.Fatal(err)
	}
	cfg := n.awsConfig()
	cfg.Credentials = credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)
	cfg.RetryMaxAttempts = 1
	return cfg
}

// wantDenied checks err is code with status and AWS's message.
func wantDenied(t *testing.T, what string, err error, code string, status int, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Errorf("%s: %v, want %s", what, err, code)
		return
	}
	var re interface{ HTTPStatusCode() int }
	if ae.ErrorCode() != code || (errors.As(err, &re) && re.HTTPStatusCode() != status) {
		t.Errorf("%s: %v, want %s (%d)", what, err, code, status)
	}
	if msg != "" && ae.ErrorMessage() != msg {
		t.Errorf("%s: message\n %q\nwant\n %q", what, ae.ErrorMessage(), msg)
	}
}

// TestFunctionCredentialsCannotTouchOtherFunctions is the issue's attack:
// a function's own credentials calling DeleteFunction and GetFunction (its
// code location) on another function, and reading its logs.
func TestFunctionCredentialsCannotTouchOtherFunctions(t *testing.T) {
	t.Parallel()
	own := `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Action":["lambda:GetFunction","lambda:GetFunctionConfiguration"],"Resource":"arn:aws:lambda:*:*:function:mine"},
	 {"Effect":"Allow","Action":["logs:CreateLogGroup","logs:CreateLogStream","logs:PutLogEvents","logs:FilterLogEvents"],
	  "Resource":"arn:aws:logs:*:*:log-group:/aws/lambda/mine:*"}]}`
	n, roleArn := iamNode(t, config.IAMEnforce, own)
	ctx := context.Background()
	cfg := functionConfig(t, n, roleArn, "mine")
	c := lambda.NewFromConfig(cfg)
	acct := n.d.cfg.AccountID
	principal := "arn:aws:sts::" + acct + ":assumed-role/app-role/mine"
	victim := "arn:aws:lambda:us-east-1:" + acct + ":function:victim"

	_, err := c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("victim")})
	wantDenied(t, "DeleteFunction(victim)", err, "AccessDeniedException", 403,
		"User: "+principal+" is not authorized to perform: lambda:DeleteFunction on resource: "+victim+
			" because no identity-based policy allows the lambda:DeleteFunction action")
	_, err = c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(victim)})
	wantDenied(t, "GetFunction(victim)", err, "AccessDeniedException", 403, "")
	_, err = c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("victim"), Timeout: aws.Int32(9)})
	wantDenied(t, "UpdateFunctionConfiguration(victim)", err, "AccessDeniedException", 403, "")
	_, err = c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("mine")})
	wantDenied(t, "DeleteFunction(mine), not granted", err, "AccessDeniedException", 403, "")
	if _, err := n.client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("victim")}); err != nil {
		t.Fatalf("victim is gone after the attack: %v", err)
	}
	// What the role grants works.
	if _, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("mine")}); err != nil {
		t.Errorf("GetFunction(mine): %v", err)
	}
	// Logs of another function.
	lc := cloudwatchlogs.NewFromConfig(cfg)
	_, err = lc.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("/aws/lambda/victim")})
	wantDenied(t, "FilterLogEvents(victim)", err, "AccessDeniedException", 400, "User: "+principal+
		" is not authorized to perform: logs:FilterLogEvents on resource: arn:aws:logs:us-east-1:"+acct+
		":log-group:/aws/lambda/victim:* because no identity-based policy allows the logs:FilterLogEvents action")
	_, err = lc.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{})
	wantDenied(t, "DescribeLogGroups", err, "AccessDeniedException", 400, "")
	// The role cannot grant itself more.
	ic := awsiam.NewFromConfig(cfg)
	_, err = ic.PutRolePolicy(ctx, &awsiam.PutRolePolicyInput{RoleName: aws.String("app-role"), PolicyName: aws.String("more"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)})
	wantDenied(t, "PutRolePolicy on its own role", err, "AccessDenied", 403, "User: "+principal+
		" is not authorized to perform: iam:PutRolePolicy on resource: "+roleArn+" because no identity-based policy allows the iam:PutRolePolicy action")
	_, err = ic.AttachRolePolicy(ctx, &awsiam.AttachRolePolicyInput{RoleName: aws.String("app-role"), PolicyArn: aws.String("arn:aws:iam::aws:policy/AdministratorAccess")})
	wantDenied(t, "AttachRolePolicy AdministratorAccess on its own role", err, "AccessDenied", 403, "")
	// SQS, by JSON: no queue rights.
	_, err = sqs.NewFromConfig(cfg).CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("q")})
	wantDenied(t, "CreateQueue", err, "AccessDenied", 403, "")
}

// TestRoleEscalationOnlyWhenAllowed: iam:PutRolePolicy on its own role
// works only when a policy allows exactly that; a NotAction/NotResource
// policy that looks broad does not reach what it excludes.
func TestRoleEscalationOnlyWhenAllowed(t *testing.T) {
	t.Parallel()
	n, roleArn := iamNode(t, config.IAMEnforce, `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","NotAction":["iam:*","sts:*"],"Resource":"*"},
	 {"Effect":"Allow","Action":"lambda:*","NotResource":"arn:aws:lambda:us-east-1:*:function:victim"},
	 {"Effect":"Deny","Action":"LAMBDA:deletefunction","Resource":"arn:aws:lambda:us-east-1:*:function:mine"}]}`)
	ctx := context.Background()
	cfg := functionConfig(t, n, roleArn, "mine")
	ic := awsiam.NewFromConfig(cfg)
	doc := aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)
	_, err := ic.PutRolePolicy(ctx, &awsiam.PutRolePolicyInput{RoleName: aws.String("app-role"), PolicyName: aws.String("x"), PolicyDocument: doc})
	wantDenied(t, "PutRolePolicy past NotAction iam:*", err, "AccessDenied", 403, "")
	c := lambda.NewFromConfig(cfg)
	// NotAction grants lambda:* on everything, victim included: the
	// NotResource statement does not subtract from another statement's
	// grant (AWS's union of allows).
	if _, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("victim")}); err != nil {
		t.Errorf("GetFunction(victim) under NotAction iam:*: %v", err)
	}
	// The explicit deny, written in another case, wins.
	_, err = c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("mine")})
	wantDenied(t, "DeleteFunction(mine) under a lower-case deny", err, "AccessDeniedException", 403,
		"User: arn:aws:sts::"+n.d.cfg.AccountID+":assumed-role/app-role/mine is not authorized to perform: lambda:DeleteFunction on resource: arn:aws:lambda:us-east-1:"+
			n.d.cfg.AccountID+":function:mine with an explicit deny in an identity-based policy")

	// Escalation through a new function: lambda:CreateFunction is granted
	// (NotAction iam:*), but handing it a role needs iam:PassRole.
	code := zipFiles(t, map[string]zipEntry{"bootstrap": {data: []byte("#!/bin/sh\nexit 1\n"), mode: 0o755}})
	_, err = c.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("escalate"), Runtime: types.RuntimeProvidedal2023,
		Handler: aws.String("bootstrap"), Role: aws.String(roleArn), Code: &types.FunctionCode{ZipFile: code}})
	wantDenied(t, "CreateFunction passing a role without iam:PassRole", err, "AccessDeniedException", 403,
		"User: arn:aws:sts::"+n.d.cfg.AccountID+":assumed-role/app-role/mine is not authorized to perform: iam:PassRole on resource: "+roleArn+
			" because no identity-based policy allows the iam:PassRole action")

	// Root grants exactly PutRolePolicy on this role: now it works.
	root := awsiam.NewFromConfig(n.awsConfig())
	if _, err := root.PutRolePolicy(ctx, &awsiam.PutRolePolicyInput{RoleName: aws.String("app-role"), PolicyName: aws.String("self"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:PutRolePolicy","Resource":"` + roleArn + `"}]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := ic.PutRolePolicy(ctx, &awsiam.PutRolePolicyInput{RoleName: aws.String("app-role"), PolicyName: aws.String("x"), PolicyDocument: doc}); err != nil {
		t.Errorf("PutRolePolicy once allowed: %v", err)
	}
}

// TestWildcardAccountAndCase: a Resource wildcard in the account part
// cannot spill into the function name, the action's case does not matter,
// and a principal wildcard in the account position is refused at write.
func TestWildcardAccountAndCase(t *testing.T) {
	t.Parallel()
	n, roleArn := iamNode(t, config.IAMEnforce, `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Action":"LAMBDA:GETFUNCTION","Resource":"arn:aws:lambda:us-east-1:*:function:mine"},
	 {"Effect":"Allow","Action":"lambda:DeleteFunction","Resource":"arn:aws:lambda:*:function:victim"}]}`)
	ctx := context.Background()
	c := lambda.NewFromConfig(functionConfig(t, n, roleArn, "mine"))
	if _, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("mine")}); err != nil {
		t.Errorf("GetFunction(mine) under an upper-case action: %v", err)
	}
	_, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("victim")})
	wantDenied(t, "GetFunction(victim)", err, "AccessDeniedException", 403, "")
	_, err = c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("victim")})
	wantDenied(t, "DeleteFunction(victim) through a spilling wildcard", err, "AccessDeniedException", 403, "")
	root := awsiam.NewFromConfig(n.awsConfig())
	_, err = root.UpdateAssumeRolePolicy(ctx, &awsiam.UpdateAssumeRolePolicyInput{RoleName: aws.String("app-role"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::*:root"},"Action":"sts:AssumeRole"}]}`)})
	wantDenied(t, "trust policy with a wildcard account", err, "MalformedPolicyDocument", 400, "Invalid principal in policy")
}

// TestExpiredSessionRefused: a function's token past its expiry is refused
// with ExpiredTokenException, whatever its policies say.
func TestExpiredSessionRefused(t *testing.T) {
	t.Parallel()
	n, roleArn := iamNode(t, config.IAMEnforce, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)
	key, err := auth.LoadOrCreateSessionKey(n.d.cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	past, err := auth.NewIssuer(key, time.Hour, func() time.Time { return time.Now().Add(-2 * time.Hour) })
	if err != nil {
		t.Fatal(err)
	}
	c, err := past.Issue(roleArn, "arn:aws:lambda:us-east-1:"+n.d.cfg.AccountID+":function:mine")
	if err != nil {
		t.Fatal(err)
	}
	cfg := n.awsConfig()
	cfg.Credentials = credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)
	cfg.RetryMaxAttempts = 1
	_, err = lambda.NewFromConfig(cfg).GetFunction(context.Background(), &lambda.GetFunctionInput{FunctionName: aws.String("mine")})
	wantDenied(t, "expired session", err, "ExpiredTokenException", 403, "")
}

// TestRootAndOffUnaffected: root is never restricted in enforce mode;
// with --iam off (and in audit mode) a function's credentials act as
// before this change.
func TestRootAndOffUnaffected(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	n, _ := iamNode(t, config.IAMEnforce, "")
	if _, err := n.client.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("victim")}); err != nil {
		t.Errorf("root in enforce mode: %v", err)
	}
	for _, mode := range []string{config.IAMOff, config.IAMAudit} {
		n, roleArn := iamNode(t, mode, "")
		c := lambda.NewFromConfig(functionConfig(t, n, roleArn, "mine"))
		if _, err := c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String("victim")}); err != nil {
			t.Errorf("--iam %s: function credentials refused: %v", mode, err)
		}
	}
}

// TestUserAccessKeysAndAssumeRole: a team hands out an IAM user's key
// limited to one action; the user assumes a role its trust policy names
// and acts with the role's policies.
func TestUserAccessKeysAndAssumeRole(t *testing.T) {
	t.Parallel()
	n, _ := iamNode(t, config.IAMEnforce, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:GetFunction","Resource":"*"}]}`)
	ctx := context.Background()
	root := awsiam.NewFromConfig(n.awsConfig())
	acct := n.d.cfg.AccountID
	if _, err := root.CreateUser(ctx, &awsiam.CreateUserInput{UserName: aws.String("ci")}); err != nil {
		t.Fatal(err)
	}
	p, err := root.CreatePolicy(ctx, &awsiam.CreatePolicyInput{PolicyName: aws.String("list-only"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["lambda:ListFunctions","sts:AssumeRole"],"Resource":"*"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := root.AttachUserPolicy(ctx, &awsiam.AttachUserPolicyInput{UserName: aws.String("ci"), PolicyArn: p.Policy.Arn}); err != nil {
		t.Fatal(err)
	}
	k, err := root.CreateAccessKey(ctx, &awsiam.CreateAccessKeyInput{UserName: aws.String("ci")})
	if err != nil {
		t.Fatal(err)
	}
	cfg := n.awsConfig()
	cfg.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(k.AccessKey.AccessKeyId), aws.ToString(k.AccessKey.SecretAccessKey), "")
	cfg.RetryMaxAttempts = 1
	uc := lambda.NewFromConfig(cfg)
	if _, err := uc.ListFunctions(ctx, &lambda.ListFunctionsInput{}); err != nil {
		t.Errorf("ListFunctions with the user's key: %v", err)
	}
	_, err = uc.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("mine")})
	wantDenied(t, "GetFunction with a list-only key", err, "AccessDeniedException", 403,
		"User: arn:aws:iam::"+acct+":user/ci is not authorized to perform: lambda:GetFunction on resource: arn:aws:lambda:us-east-1:"+acct+
			":function:mine because no identity-based policy allows the lambda:GetFunction action")
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(id.Arn) != "arn:aws:iam::"+acct+":user/ci" {
		t.Errorf("GetCallerIdentity: %v %v", id, err)
	}

	// AssumeRole: refused while the trust policy names Lambda only.
	stsc := sts.NewFromConfig(cfg)
	roleArn := "arn:aws:iam::" + acct + ":role/app-role"
	_, err = stsc.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleArn), RoleSessionName: aws.String("deploy")})
	wantDenied(t, "AssumeRole not trusted", err, "AccessDenied", 403, "")
	if _, err := root.UpdateAssumeRolePolicy(ctx, &awsiam.UpdateAssumeRolePolicyInput{RoleName: aws.String("app-role"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:user/ci"},"Action":"sts:AssumeRole"}]}`)}); err != nil {
		t.Fatal(err)
	}
	ar, err := stsc.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleArn), RoleSessionName: aws.String("deploy")})
	if err != nil {
		t.Fatalf("AssumeRole trusted: %v", err)
	}
	rc := n.awsConfig()
	rc.Credentials = credentials.NewStaticCredentialsProvider(aws.ToString(ar.Credentials.AccessKeyId), aws.ToString(ar.Credentials.SecretAccessKey),
		aws.ToString(ar.Credentials.SessionToken))
	rc.RetryMaxAttempts = 1
	if _, err := lambda.NewFromConfig(rc).GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String("mine")}); err != nil {
		t.Errorf("GetFunction as the assumed role: %v", err)
	}
	id, err = sts.NewFromConfig(rc).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(id.Arn) != "arn:aws:sts::"+acct+":assumed-role/app-role/deploy" {
		t.Errorf("GetCallerIdentity of the session: %v %v", aws.ToString(id.Arn), err)
	}
	_, err = lambda.NewFromConfig(rc).ListFunctions(ctx, &lambda.ListFunctionsInput{})
	wantDenied(t, "ListFunctions as the role (the user's policy does not follow)", err, "AccessDeniedException", 403, "")
}

// TestQueuePolicyGrants: an SQS queue policy naming the function's role
// lets it send without any identity policy; another queue stays closed.
func TestQueuePolicyGrants(t *testing.T) {
	t.Parallel()
	n, roleArn := iamNode(t, config.IAMEnforce, "")
	ctx := context.Background()
	root := sqs.NewFromConfig(n.awsConfig())
	acct := n.d.cfg.AccountID
	open, err := root.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("open"), Attributes: map[string]string{
		"Policy": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + roleArn + `"},"Action":"sqs:SendMessage","Resource":"arn:aws:sqs:us-east-1:` + acct + `:open"}]}`}})
	if err != nil {
		t.Fatal(err)
	}
	closed, err := root.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("closed")})
	if err != nil {
		t.Fatal(err)
	}
	fc := sqs.NewFromConfig(functionConfig(t, n, roleArn, "mine"))
	if _, err := fc.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: open.QueueUrl, MessageBody: aws.String("hi")}); err != nil {
		t.Errorf("SendMessage to a queue whose policy names the role: %v", err)
	}
	_, err = fc.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: closed.QueueUrl, MessageBody: aws.String("hi")})
	wantDenied(t, "SendMessage to another queue", err, "AccessDenied", 403, "")
	_, err = fc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: open.QueueUrl})
	wantDenied(t, "ReceiveMessage (the policy grants SendMessage only)", err, "AccessDenied", 403, "")
}

// TestQueryDenialShapes: SQS's query protocol answers AccessDenied (403)
// in XML; IAM's too.
func TestQueryDenialShapes(t *testing.T) {
	t.Parallel()
	n, roleArn := iamNode(t, config.IAMEnforce, "")
	c, err := n.d.issuer.Issue(roleArn, "arn:aws:lambda:us-east-1:"+n.d.cfg.AccountID+":function:mine")
	if err != nil {
		t.Fatal(err)
	}
	for _, svc := range []string{"sqs", "iam"} {
		hc := sigv4test.Client(credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken), "us-east-1", svc)
		body := url.Values{"Action": {"ListQueues"}, "Version": {"2012-11-05"}}
		if svc == "iam" {
			body = url.Values{"Action": {"ListRoles"}, "Version": {"2010-05-08"}}
		}
		resp, err := hc.Post(n.endpoint()+"/", "application/x-www-form-urlencoded", strings.NewReader(body.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		_, _ = io.Copy(&b, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(b.String(), "<Code>AccessDenied</Code>") ||
			!strings.Contains(b.String(), "is not authorized to perform") {
			t.Errorf("%s query denial: %d %s", svc, resp.StatusCode, b.String())
		}
	}
}

// TestS3ObjectPolicy: a role allowed s3:GetObject under one prefix reads
// there, and is refused writes and other buckets with S3's AccessDenied.
func TestS3ObjectPolicy(t *testing.T) {
	t.Parallel()
	n, roleArn := iamNode(t, config.IAMEnforce, `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::data/public/*"}]}`)
	ctx := context.Background()
	pathStyle := func(o *s3.Options) { o.UsePathStyle = true }
	root := s3.NewFromConfig(n.awsConfig(), pathStyle)
	for _, b := range []string{"data", "other"} {
		if _, err := root.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"public/a.txt", "private/b.txt"} {
		if _, err := root.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("data"), Key: aws.String(k), Body: strings.NewReader("x")}); err != nil {
			t.Fatal(err)
		}
	}
	fc := s3.NewFromConfig(functionConfig(t, n, roleArn, "mine"), pathStyle)
	if _, err := fc.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("data"), Key: aws.String("public/a.txt")}); err != nil {
		t.Errorf("GetObject under the allowed prefix: %v", err)
	}
	_, err := fc.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("data"), Key: aws.String("private/b.txt")})
	wantDenied(t, "GetObject outside the prefix", err, "AccessDenied", 403, "")
	_, err = fc.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("data"), Key: aws.String("public/c.txt"), Body: strings.NewReader("y")})
	wantDenied(t, "PutObject", err, "AccessDenied", 403, "")
	_, err = fc.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("other")})
	wantDenied(t, "DeleteBucket(other)", err, "AccessDenied", 403, "")
}

// TestIncludeReadsAsTheCaller: the node reads an AWS::Include snippet with
// root's credentials, so it must judge the caller's s3:GetObject itself —
// a caller who may validate or create stacks must not read, through an
// include, an object IAM keeps from them.
func TestIncludeReadsAsTheCaller(t *testing.T) {
	t.Parallel()
	n, roleArn := iamNode(t, config.IAMEnforce, `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Action":"cloudformation:ValidateTemplate","Resource":"*"},
	 {"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::data/public/*"}]}`)
	ctx := context.Background()
	root := s3.NewFromConfig(n.awsConfig(), func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := root.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("data")}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"public/snip.yaml", "private/snip.yaml"} {
		if _, err := root.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("data"), Key: aws.String(k),
			Body: strings.NewReader("QueueName: q1\n")}); err != nil {
			t.Fatal(err)
		}
	}
	tmpl := func(key string) *string {
		return aws.String("Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      Fn::Transform:\n        Name: AWS::Include\n        Parameters:\n          Location: s3://data/" + key + "\n")
	}
	fc := cloudformation.NewFromConfig(functionConfig(t, n, roleArn, "mine"))
	if _, err := fc.ValidateTemplate(ctx, &cloudformation.ValidateTemplateInput{TemplateBody: tmpl("public/snip.yaml")}); err != nil {
		t.Errorf("ValidateTemplate including a readable object: %v", err)
	}
	_, err := fc.ValidateTemplate(ctx, &cloudformation.ValidateTemplateInput{TemplateBody: tmpl("private/snip.yaml")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ValidationError" || !strings.Contains(ae.ErrorMessage(), "AccessDenied") ||
		!strings.Contains(ae.ErrorMessage(), "s3:GetObject") {
		t.Errorf("ValidateTemplate including an object the caller may not read: %v, want a ValidationError naming the denial", err)
	}
	// Root reads anything.
	if _, err := cloudformation.NewFromConfig(n.awsConfig()).ValidateTemplate(ctx,
		&cloudformation.ValidateTemplateInput{TemplateBody: tmpl("private/snip.yaml")}); err != nil {
		t.Errorf("ValidateTemplate as root: %v", err)
	}
}

// TestUnnamedOperationsFailClosed: a request whose operation the front
// door cannot name is refused to everyone but root, even a caller allowed
// everything ("*"), so a route without a naming table is never an open
// door; root still gets the handler's own answer.
func TestUnnamedOperationsFailClosed(t *testing.T) {
	t.Parallel()
	n, roleArn := iamNode(t, config.IAMEnforce, `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)
	c, err := n.d.issuer.Issue(roleArn, "arn:aws:lambda:us-east-1:"+n.d.cfg.AccountID+":function:mine")
	if err != nil {
		t.Fatal(err)
	}
	call := func(creds aws.CredentialsProvider) (int, string) {
		hc := sigv4test.Client(creds, "us-east-1", "lambda")
		resp, err := hc.Post(n.endpoint()+"/2015-03-31/functions/mine/made-up-operation", "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		_, _ = io.Copy(&b, resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("X-Amzn-Errortype") + " " + b.String()
	}
	if code, body := call(credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)); code != http.StatusForbidden ||
		!strings.Contains(body, "AccessDeniedException") || !strings.Contains(body, "cannot name it") {
		t.Errorf("unnamed operation with a function's credentials: %d %s, want 403 AccessDeniedException", code, body)
	}
	root := n.awsConfig().Credentials
	if code, body := call(root); code == http.StatusForbidden {
		t.Errorf("unnamed operation as root: %d %s, want the handler's own answer", code, body)
	}
}

package policy

import (
	"errors"
	"strings"
	"testing"
)

const acct = "111122223333"

var (
	roleArn    = "arn:aws:iam::" + acct + ":role/app/fn-role"
	sessionArn = "arn:aws:sts::" + acct + ":assumed-role/fn-role/my-fn"
	userArn    = "arn:aws:iam::" + acct + ":user/alice"
	rootArn    = "arn:aws:iam::" + acct + ":root"
	fnArn      = "arn:aws:lambda:us-east-1:" + acct + ":function:my-fn"
	otherFn    = "arn:aws:lambda:us-east-1:" + acct + ":function:victim"
)

func session() Principal {
	return Principal{ARN: sessionArn, Account: acct, RoleARN: roleArn}
}

func user() Principal { return Principal{ARN: userArn, Account: acct} }

func mustParse(t testing.TB, doc string, k Kind) *Policy {
	t.Helper()
	p, err := Parse([]byte(doc), k)
	if err != nil {
		t.Fatalf("parse %s: %v", doc, err)
	}
	return p
}

func stmt(body string) string {
	return `{"Version":"2012-10-17","Statement":[` + body + `]}`
}

// evalCase is one row of the conformance table: identity (and optional
// resource/boundary) policies, a request, and the expected decision.
type evalCase struct {
	name     string
	identity []string
	resource []string
	boundary string
	resAcct  string
	p        Principal
	action   string
	res      string
	keys     map[string][]string
	want     Decision
}

var (
	allow    = Decision{Allowed: true}
	implicit = Decision{Type: IdentityBased}
	denyID   = Decision{ExplicitDeny: true, Type: IdentityBased}
	denyRes  = Decision{ExplicitDeny: true, Type: ResourceBased}
	noRes    = Decision{Type: ResourceBased}
	noBound  = Decision{Type: PermissionsBoundary}
	denyBnd  = Decision{ExplicitDeny: true, Type: PermissionsBoundary}
)

func TestEvaluate(t *testing.T) {
	cases := []evalCase{
		// The basic logic (IAM User Guide, "Policy evaluation logic").
		{name: "default deny", action: "lambda:GetFunction", res: fnArn, p: session(), want: implicit},
		{name: "allow", identity: []string{stmt(`{"Effect":"Allow","Action":"lambda:GetFunction","Resource":"` + fnArn + `"}`)},
			action: "lambda:GetFunction", res: fnArn, p: session(), want: allow},
		{name: "explicit deny wins over allow",
			identity: []string{
				stmt(`{"Effect":"Allow","Action":"lambda:*","Resource":"*"}`),
				stmt(`{"Effect":"Deny","Action":"lambda:DeleteFunction","Resource":"*"}`)},
			action: "lambda:DeleteFunction", res: fnArn, p: session(), want: denyID},
		{name: "deny in the same statement list", identity: []string{stmt(
			`{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"lambda:Delete*","Resource":"` + otherFn + `"}`)},
			action: "lambda:DeleteFunction", res: otherFn, p: session(), want: denyID},
		{name: "deny of another resource does not apply", identity: []string{stmt(
			`{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"lambda:Delete*","Resource":"` + otherFn + `"}`)},
			action: "lambda:DeleteFunction", res: fnArn, p: session(), want: allow},

		// Actions: wildcards, case.
		{name: "action wildcard *", identity: []string{stmt(`{"Effect":"Allow","Action":"lambda:Get*","Resource":"*"}`)},
			action: "lambda:GetFunctionConfiguration", res: fnArn, p: session(), want: allow},
		{name: "action wildcard ? one char", identity: []string{stmt(`{"Effect":"Allow","Action":"sqs:?etQueueUrl","Resource":"*"}`)},
			action: "sqs:GetQueueUrl", res: "*", p: session(), want: allow},
		{name: "action ? not two chars", identity: []string{stmt(`{"Effect":"Allow","Action":"sqs:?QueueUrl","Resource":"*"}`)},
			action: "sqs:GetQueueUrl", res: "*", p: session(), want: implicit},
		{name: "action case-insensitive (policy)", identity: []string{stmt(`{"Effect":"Allow","Action":"LAMBDA:getfunction","Resource":"*"}`)},
			action: "lambda:GetFunction", res: fnArn, p: session(), want: allow},
		{name: "action case-insensitive (deny of a case variant)", identity: []string{stmt(
			`{"Effect":"Allow","Action":"lambda:*","Resource":"*"},{"Effect":"Deny","Action":"lambda:deletefunction","Resource":"*"}`)},
			action: "lambda:DeleteFunction", res: fnArn, p: session(), want: denyID},
		{name: "action of another service", identity: []string{stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"*"}`)},
			action: "lambda:GetFunction", res: fnArn, p: session(), want: implicit},
		{name: "action prefix is not a match", identity: []string{stmt(`{"Effect":"Allow","Action":"lambda:Get","Resource":"*"}`)},
			action: "lambda:GetFunction", res: fnArn, p: session(), want: implicit},
		{name: "action list", identity: []string{stmt(`{"Effect":"Allow","Action":["s3:GetObject","lambda:InvokeFunction"],"Resource":"*"}`)},
			action: "lambda:InvokeFunction", res: fnArn, p: session(), want: allow},

		// NotAction.
		{name: "NotAction allows everything else", identity: []string{stmt(`{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}`)},
			action: "lambda:DeleteFunction", res: fnArn, p: session(), want: allow},
		{name: "NotAction does not allow the excluded", identity: []string{stmt(`{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}`)},
			action: "iam:PutRolePolicy", res: roleArn, p: session(), want: implicit},
		{name: "Deny NotAction denies all but", identity: []string{stmt(
			`{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","NotAction":["lambda:Get*","lambda:List*"],"Resource":"*"}`)},
			action: "lambda:DeleteFunction", res: fnArn, p: session(), want: denyID},
		{name: "Deny NotAction leaves the excluded", identity: []string{stmt(
			`{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","NotAction":["lambda:Get*","lambda:List*"],"Resource":"*"}`)},
			action: "lambda:GetFunction", res: fnArn, p: session(), want: allow},

		// Resources.
		{name: "resource exact", identity: []string{stmt(`{"Effect":"Allow","Action":"lambda:*","Resource":"` + fnArn + `"}`)},
			action: "lambda:DeleteFunction", res: otherFn, p: session(), want: implicit},
		{name: "resource case variant refused", identity: []string{stmt(`{"Effect":"Allow","Action":"lambda:*","Resource":"arn:aws:lambda:us-east-1:` + acct + `:function:My-Fn"}`)},
			action: "lambda:GetFunction", res: fnArn, p: session(), want: implicit},
		{name: "resource wildcard in name", identity: []string{stmt(`{"Effect":"Allow","Action":"lambda:*","Resource":"arn:aws:lambda:*:` + acct + `:function:my-*"}`)},
			action: "lambda:GetFunction", res: fnArn, p: session(), want: allow},
		{name: "resource wildcard in account still needs the rest", identity: []string{stmt(`{"Effect":"Allow","Action":"lambda:*","Resource":"arn:aws:lambda:us-east-1:*:function:my-fn"}`)},
			action: "lambda:DeleteFunction", res: otherFn, p: session(), want: implicit},
		{name: "wildcard cannot spill across ARN parts", identity: []string{stmt(`{"Effect":"Allow","Action":"lambda:*","Resource":"arn:aws:lambda:*:function:victim"}`)},
			action: "lambda:DeleteFunction", res: otherFn, p: session(), want: implicit},
		{name: "resource ? wildcard", identity: []string{stmt(`{"Effect":"Allow","Action":"sqs:*","Resource":"arn:aws:sqs:us-east-1:` + acct + `:q?"}`)},
			action: "sqs:SendMessage", res: "arn:aws:sqs:us-east-1:" + acct + ":q1", p: session(), want: allow},
		{name: "s3 object wildcard crosses slashes", identity: []string{stmt(`{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket/*"}`)},
			action: "s3:GetObject", res: "arn:aws:s3:::bucket/a/b/c.txt", p: session(), want: allow},
		{name: "s3 bucket is not its objects", identity: []string{stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::bucket/*"}`)},
			action: "s3:ListBucket", res: "arn:aws:s3:::bucket", p: session(), want: implicit},
		{name: "NotResource allows the rest", identity: []string{stmt(`{"Effect":"Allow","Action":"lambda:*","NotResource":"` + otherFn + `"}`)},
			action: "lambda:DeleteFunction", res: fnArn, p: session(), want: allow},
		{name: "NotResource excludes", identity: []string{stmt(`{"Effect":"Allow","Action":"lambda:*","NotResource":"` + otherFn + `"}`)},
			action: "lambda:DeleteFunction", res: otherFn, p: session(), want: implicit},
		{name: "Deny NotResource denies outside", identity: []string{stmt(
			`{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"lambda:*","NotResource":"` + fnArn + `"}`)},
			action: "lambda:DeleteFunction", res: otherFn, p: session(), want: denyID},
		{name: "NotAction+NotResource trick does not reach the excluded", identity: []string{stmt(
			`{"Effect":"Allow","NotAction":"lambda:DeleteFunction","NotResource":"` + otherFn + `"}`)},
			action: "lambda:DeleteFunction", res: otherFn, p: session(), want: implicit},

		// Policy variables.
		{name: "variable aws:username", identity: []string{stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::home/${aws:username}/*"}`)},
			action: "s3:GetObject", res: "arn:aws:s3:::home/alice/notes", p: user(), keys: map[string][]string{"aws:username": {"alice"}}, want: allow},
		{name: "variable for another user", identity: []string{stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::home/${aws:username}/*"}`)},
			action: "s3:GetObject", res: "arn:aws:s3:::home/bob/notes", p: user(), keys: map[string][]string{"aws:username": {"alice"}}, want: implicit},
		{name: "variable missing matches nothing", identity: []string{stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::home/${aws:username}/*"}`)},
			action: "s3:GetObject", res: "arn:aws:s3:::home//notes", p: session(), want: implicit},
		{name: "variable default", identity: []string{stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::home/${aws:username, 'anon'}/*"}`)},
			action: "s3:GetObject", res: "arn:aws:s3:::home/anon/x", p: session(), want: allow},
		{name: "variable value is literal, not a wildcard", identity: []string{stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::home/${aws:username}/*"}`)},
			action: "s3:GetObject", res: "arn:aws:s3:::home/alice/x", p: user(), keys: map[string][]string{"aws:username": {"*"}}, want: implicit},
		{name: "variable PrincipalTag", identity: []string{stmt(`{"Effect":"Allow","Action":"sqs:*","Resource":"arn:aws:sqs:*:*:${aws:PrincipalTag/team}-*"}`)},
			action: "sqs:SendMessage", res: "arn:aws:sqs:us-east-1:" + acct + ":blue-jobs", p: session(),
			keys: map[string][]string{"aws:principaltag/team": {"blue"}}, want: allow},
		{name: "variables are literal in 2008-10-17", identity: []string{`{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::home/${aws:username}/*"}}`},
			action: "s3:GetObject", res: "arn:aws:s3:::home/${aws:username}/x", p: user(), keys: map[string][]string{"aws:username": {"alice"}}, want: allow},
		{name: "${*} is a literal star", identity: []string{stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/${*}"}`)},
			action: "s3:GetObject", res: "arn:aws:s3:::b/x", p: user(), want: implicit},
		{name: "variable in a condition value", identity: []string{stmt(`{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"StringLike":{"s3:prefix":"home/${aws:username}/*"}}}`)},
			action: "s3:ListBucket", res: "arn:aws:s3:::b", p: user(), keys: map[string][]string{"s3:prefix": {"home/alice/docs"}, "aws:username": {"alice"}}, want: allow},

		// Conditions: string.
		cond(`"StringEquals":{"aws:PrincipalTag/job-category":"iamuser-admin"}`, map[string][]string{"aws:principaltag/job-category": {"iamuser-admin"}}, true),
		cond(`"StringEquals":{"aws:PrincipalTag/job-category":"iamuser-admin"}`, map[string][]string{"aws:principaltag/job-category": {"IAMuser-admin"}}, false),
		cond(`"StringEquals":{"aws:PrincipalTag/job-category":"iamuser-admin"}`, nil, false),
		cond(`"StringNotEquals":{"aws:PrincipalTag/job-category":"iamuser-admin"}`, nil, true),
		cond(`"StringNotEquals":{"aws:PrincipalTag/job-category":["a","b"]}`, map[string][]string{"aws:principaltag/job-category": {"b"}}, false),
		cond(`"StringNotEquals":{"aws:PrincipalTag/job-category":["a","b"]}`, map[string][]string{"aws:principaltag/job-category": {"c"}}, true),
		cond(`"StringEqualsIgnoreCase":{"aws:PrincipalTag/job-category":"IAMUSER-admin"}`, map[string][]string{"aws:principaltag/job-category": {"iamuser-ADMIN"}}, true),
		cond(`"StringNotEqualsIgnoreCase":{"aws:PrincipalTag/job-category":"IAMUSER-admin"}`, map[string][]string{"aws:principaltag/job-category": {"iamuser-ADMIN"}}, false),
		cond(`"StringLike":{"aws:SourceArn":"arn:aws:s3:::my-*"}`, map[string][]string{"aws:sourcearn": {"arn:aws:s3:::my-bucket"}}, true),
		cond(`"StringLike":{"aws:SourceArn":"arn:aws:s3:::my-*"}`, map[string][]string{"aws:sourcearn": {"arn:aws:s3:::MY-bucket"}}, false),
		cond(`"StringNotLike":{"aws:SourceArn":"arn:aws:s3:::my-*"}`, map[string][]string{"aws:sourcearn": {"arn:aws:s3:::other"}}, true),
		cond(`"StringNotLike":{"aws:SourceArn":"arn:aws:s3:::my-*"}`, nil, true),
		cond(`"StringEquals":{"aws:SourceAccount":"`+acct+`"}`, map[string][]string{"aws:sourceaccount": {acct}}, true),
		cond(`"StringEquals":{"aws:RequestedRegion":["us-east-1","eu-west-1"]}`, map[string][]string{"aws:requestedregion": {"eu-west-1"}}, true),
		cond(`"StringEquals":{"aws:RequestedRegion":["us-east-1","eu-west-1"]}`, map[string][]string{"aws:requestedregion": {"ap-south-1"}}, false),
		// Condition key names are case-insensitive.
		cond(`"StringEquals":{"AWS:REQUESTEDREGION":"us-east-1"}`, map[string][]string{"aws:requestedregion": {"us-east-1"}}, true),
		// Several keys are ANDed, several operators too.
		cond(`"StringEquals":{"aws:RequestedRegion":"us-east-1","aws:SourceAccount":"`+acct+`"}`,
			map[string][]string{"aws:requestedregion": {"us-east-1"}}, false),
		cond(`"StringEquals":{"aws:RequestedRegion":"us-east-1"},"Bool":{"aws:SecureTransport":"true"}`,
			map[string][]string{"aws:requestedregion": {"us-east-1"}, "aws:securetransport": {"true"}}, true),
		cond(`"StringEquals":{"aws:RequestedRegion":"us-east-1"},"Bool":{"aws:SecureTransport":"true"}`,
			map[string][]string{"aws:requestedregion": {"us-east-1"}, "aws:securetransport": {"false"}}, false),

		// Numeric.
		cond(`"NumericLessThanEquals":{"s3:max-keys":"10"}`, map[string][]string{"s3:max-keys": {"10"}}, true),
		cond(`"NumericLessThanEquals":{"s3:max-keys":"10"}`, map[string][]string{"s3:max-keys": {"11"}}, false),
		cond(`"NumericLessThan":{"s3:max-keys":10}`, map[string][]string{"s3:max-keys": {"9.5"}}, true),
		cond(`"NumericGreaterThan":{"s3:max-keys":"10"}`, map[string][]string{"s3:max-keys": {"10"}}, false),
		cond(`"NumericGreaterThanEquals":{"s3:max-keys":"10"}`, map[string][]string{"s3:max-keys": {"10"}}, true),
		cond(`"NumericEquals":{"s3:max-keys":"10"}`, map[string][]string{"s3:max-keys": {"10.0"}}, true),
		cond(`"NumericNotEquals":{"s3:max-keys":"10"}`, map[string][]string{"s3:max-keys": {"10"}}, false),
		cond(`"NumericEquals":{"s3:max-keys":"10"}`, map[string][]string{"s3:max-keys": {"ten"}}, false),

		// Date.
		cond(`"DateGreaterThan":{"aws:CurrentTime":"2020-04-01T00:00:00Z"},"DateLessThan":{"aws:CurrentTime":"2020-06-30T23:59:59Z"}`,
			map[string][]string{"aws:currenttime": {"2020-05-01T12:00:00Z"}}, true),
		cond(`"DateGreaterThan":{"aws:CurrentTime":"2020-04-01T00:00:00Z"},"DateLessThan":{"aws:CurrentTime":"2020-06-30T23:59:59Z"}`,
			map[string][]string{"aws:currenttime": {"2020-07-01T00:00:00Z"}}, false),
		cond(`"DateLessThanEquals":{"aws:CurrentTime":"2020-06-30"}`, map[string][]string{"aws:currenttime": {"2020-06-30T00:00:00Z"}}, true),
		cond(`"DateEquals":{"aws:EpochTime":"1577836800"}`, map[string][]string{"aws:epochtime": {"2020-01-01T00:00:00Z"}}, true),
		cond(`"DateNotEquals":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}`, map[string][]string{"aws:currenttime": {"2020-01-01T00:00:01Z"}}, true),
		cond(`"DateGreaterThanEquals":{"aws:TokenIssueTime":"2020-01-01T00:00:00+01:00"}`, map[string][]string{"aws:tokenissuetime": {"2019-12-31T23:00:00Z"}}, true),

		// Bool.
		cond(`"Bool":{"aws:SecureTransport":"true"}`, map[string][]string{"aws:securetransport": {"true"}}, true),
		cond(`"Bool":{"aws:SecureTransport":true}`, map[string][]string{"aws:securetransport": {"false"}}, false),
		cond(`"Bool":{"aws:SecureTransport":"false"}`, nil, false),
		cond(`"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}`, nil, true),
		cond(`"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}`, map[string][]string{"aws:multifactorauthpresent": {"true"}}, false),

		// Binary.
		cond(`"BinaryEquals":{"key":"QmluYXJ5VmFsdWVJbkJhc2U2NA=="}`, map[string][]string{"key": {"QmluYXJ5VmFsdWVJbkJhc2U2NA=="}}, true),
		cond(`"BinaryEquals":{"key":"QmluYXJ5VmFsdWVJbkJhc2U2NA=="}`, map[string][]string{"key": {"b3RoZXI="}}, false),

		// IP addresses.
		cond(`"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}`, map[string][]string{"aws:sourceip": {"203.0.113.7"}}, true),
		cond(`"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}`, map[string][]string{"aws:sourceip": {"203.0.114.7"}}, false),
		cond(`"IpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:DB8:1234:5678::/64"]}`, map[string][]string{"aws:sourceip": {"2001:db8:1234:5678::1"}}, true),
		cond(`"IpAddress":{"aws:SourceIp":"127.0.0.1"}`, map[string][]string{"aws:sourceip": {"127.0.0.1"}}, true),
		cond(`"IpAddress":{"aws:SourceIp":"127.0.0.0/8"}`, map[string][]string{"aws:sourceip": {"::ffff:127.0.0.9"}}, true),
		cond(`"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}`, map[string][]string{"aws:sourceip": {"198.51.100.1"}}, true),
		cond(`"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}`, map[string][]string{"aws:sourceip": {"203.0.113.1"}}, false),
		cond(`"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}`, map[string][]string{"aws:sourceip": {"not-an-ip"}}, false),

		// ARN.
		cond(`"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:`+acct+`:topic-*"}`, map[string][]string{"aws:sourcearn": {"arn:aws:sns:us-east-1:" + acct + ":topic-a"}}, true),
		cond(`"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:`+acct+`:topic-*"}`, map[string][]string{"aws:sourcearn": {"arn:aws:sns:us-east-1:999999999999:topic-a"}}, false),
		cond(`"ArnEquals":{"aws:SourceArn":"arn:aws:s3:::bucket"}`, map[string][]string{"aws:sourcearn": {"arn:aws:s3:::bucket"}}, true),
		cond(`"ArnEquals":{"aws:SourceArn":"arn:aws:s3:::bucket"}`, map[string][]string{"aws:sourcearn": {"arn:aws:s3:::bucket2"}}, false),
		cond(`"ArnNotEquals":{"aws:SourceArn":"arn:aws:s3:::bucket"}`, map[string][]string{"aws:sourcearn": {"arn:aws:s3:::bucket2"}}, true),
		cond(`"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/admin-*"}`, map[string][]string{"aws:principalarn": {roleArn}}, true),
		cond(`"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/app/*"}`, map[string][]string{"aws:principalarn": {roleArn}}, false),
		cond(`"ArnLike":{"aws:SourceArn":"arn:aws:s3:::b"}`, map[string][]string{"aws:sourcearn": {"not-an-arn"}}, false),

		// Null.
		cond(`"Null":{"aws:TokenIssueTime":"true"}`, nil, true),
		cond(`"Null":{"aws:TokenIssueTime":"true"}`, map[string][]string{"aws:tokenissuetime": {"2020-01-01T00:00:00Z"}}, false),
		cond(`"Null":{"aws:TokenIssueTime":"false"}`, map[string][]string{"aws:tokenissuetime": {"2020-01-01T00:00:00Z"}}, true),
		cond(`"Null":{"aws:TokenIssueTime":"false"}`, nil, false),

		// IfExists.
		cond(`"StringEqualsIfExists":{"ec2:InstanceType":["t1.*","t2.*"]}`, nil, true),
		cond(`"StringLikeIfExists":{"ec2:InstanceType":["t1.*","t2.*"]}`, map[string][]string{"ec2:instancetype": {"m5.large"}}, false),
		cond(`"StringLikeIfExists":{"ec2:InstanceType":["t1.*","t2.*"]}`, map[string][]string{"ec2:instancetype": {"t2.micro"}}, true),
		cond(`"NumericLessThanIfExists":{"s3:max-keys":"5"}`, nil, true),
		cond(`"ArnLikeIfExists":{"aws:SourceArn":"arn:aws:s3:::b"}`, map[string][]string{"aws:sourcearn": {"arn:aws:s3:::c"}}, false),

		// Set operators (the DynamoDB attributes and tag keys examples).
		cond(`"ForAllValues:StringEquals":{"dynamodb:Attributes":["ID","Message","Tags"]}`, map[string][]string{"dynamodb:attributes": {"ID", "Message"}}, true),
		cond(`"ForAllValues:StringEquals":{"dynamodb:Attributes":["ID","Message","Tags"]}`, map[string][]string{"dynamodb:attributes": {"ID", "Password"}}, false),
		cond(`"ForAllValues:StringEquals":{"dynamodb:Attributes":["ID","Message","Tags"]}`, nil, true),
		cond(`"ForAnyValue:StringEquals":{"aws:TagKeys":["environment","cost-center"]}`, map[string][]string{"aws:tagkeys": {"owner", "environment"}}, true),
		cond(`"ForAnyValue:StringEquals":{"aws:TagKeys":["environment","cost-center"]}`, map[string][]string{"aws:tagkeys": {"owner"}}, false),
		cond(`"ForAnyValue:StringEquals":{"aws:TagKeys":["environment","cost-center"]}`, nil, false),
		cond(`"ForAnyValue:StringNotEquals":{"aws:TagKeys":["environment"]}`, map[string][]string{"aws:tagkeys": {"environment", "x"}}, true),
		cond(`"ForAnyValue:StringNotEquals":{"aws:TagKeys":["environment"]}`, map[string][]string{"aws:tagkeys": {"environment"}}, false),
		cond(`"ForAllValues:StringNotEquals":{"aws:TagKeys":["secret"]}`, map[string][]string{"aws:tagkeys": {"a", "b"}}, true),
		cond(`"ForAllValues:StringNotEquals":{"aws:TagKeys":["secret"]}`, map[string][]string{"aws:tagkeys": {"a", "secret"}}, false),
		cond(`"ForAllValues:StringLike":{"aws:TagKeys":["env*"]}`, map[string][]string{"aws:tagkeys": {"env", "environment"}}, true),
		cond(`"ForAnyValue:StringLikeIfExists":{"aws:TagKeys":["env*"]}`, nil, true),
		// A multivalued key without a set operator: some value matches.
		cond(`"StringEquals":{"aws:TagKeys":"b"}`, map[string][]string{"aws:tagkeys": {"a", "b"}}, true),

		// Resource policies, same account (Lambda AddPermission, SQS).
		{name: "resource policy alone allows a named role session",
			resource: []string{stmt(`{"Effect":"Allow","Principal":{"AWS":"` + sessionArn + `"},"Action":"lambda:InvokeFunction","Resource":"` + fnArn + `"}`)},
			action:   "lambda:InvokeFunction", res: fnArn, p: session(), want: allow},
		{name: "resource policy alone allows a named role",
			resource: []string{stmt(`{"Effect":"Allow","Principal":{"AWS":"` + roleArn + `"},"Action":"lambda:InvokeFunction","Resource":"` + fnArn + `"}`)},
			action:   "lambda:InvokeFunction", res: fnArn, p: session(), want: allow},
		{name: "resource policy naming the account delegates to identity policies",
			resource: []string{stmt(`{"Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":"lambda:InvokeFunction","Resource":"` + fnArn + `"}`)},
			action:   "lambda:InvokeFunction", res: fnArn, p: session(), want: implicit},
		{name: "resource policy naming the account allows its root",
			resource: []string{stmt(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:root"},"Action":"lambda:InvokeFunction","Resource":"` + fnArn + `"}`)},
			action:   "lambda:InvokeFunction", res: fnArn, p: Principal{ARN: rootArn, Account: acct}, want: allow},
		{name: "resource policy for another principal",
			resource: []string{stmt(`{"Effect":"Allow","Principal":{"AWS":"` + userArn + `"},"Action":"lambda:InvokeFunction","Resource":"` + fnArn + `"}`)},
			action:   "lambda:InvokeFunction", res: fnArn, p: session(), want: implicit},
		{name: "resource policy deny wins over identity allow",
			identity: []string{stmt(`{"Effect":"Allow","Action":"sqs:*","Resource":"*"}`)},
			resource: []string{stmt(`{"Effect":"Deny","Principal":"*","Action":"sqs:DeleteQueue","Resource":"*"}`)},
			action:   "sqs:DeleteQueue", res: "arn:aws:sqs:us-east-1:" + acct + ":q", p: session(), want: denyRes},
		{name: "public resource policy",
			resource: []string{stmt(`{"Effect":"Allow","Principal":"*","Action":"sqs:SendMessage","Resource":"*"}`)},
			action:   "sqs:SendMessage", res: "arn:aws:sqs:us-east-1:" + acct + ":q", p: user(), want: allow},
		{name: "NotPrincipal deny spares the named",
			identity: []string{stmt(`{"Effect":"Allow","Action":"sqs:*","Resource":"*"}`)},
			resource: []string{stmt(`{"Effect":"Deny","NotPrincipal":{"AWS":"` + userArn + `"},"Action":"sqs:*","Resource":"*"}`)},
			action:   "sqs:SendMessage", res: "arn:aws:sqs:us-east-1:" + acct + ":q", p: user(), want: allow},
		{name: "NotPrincipal deny hits the others",
			identity: []string{stmt(`{"Effect":"Allow","Action":"sqs:*","Resource":"*"}`)},
			resource: []string{stmt(`{"Effect":"Deny","NotPrincipal":{"AWS":"` + userArn + `"},"Action":"sqs:*","Resource":"*"}`)},
			action:   "sqs:SendMessage", res: "arn:aws:sqs:us-east-1:" + acct + ":q", p: session(), want: denyRes},
		{name: "resource policy without Resource applies to its resource",
			resource: []string{stmt(`{"Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"lambda:InvokeFunction","Condition":{"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::uploads"}}}`)},
			action:   "lambda:InvokeFunction", res: fnArn, p: Principal{Service: "s3.amazonaws.com"},
			keys: map[string][]string{"aws:sourcearn": {"arn:aws:s3:::uploads"}}, want: allow},

		// Service principals: the resource policy alone, with aws:SourceArn.
		{name: "service principal with the right source",
			resource: []string{stmt(`{"Effect":"Allow","Principal":{"Service":"sns.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"` + fnArn + `","Condition":{"ArnLike":{"AWS:SourceArn":"arn:aws:sns:us-east-1:` + acct + `:t"}}}`)},
			action:   "lambda:InvokeFunction", res: fnArn, p: Principal{Service: "sns.amazonaws.com"},
			keys: map[string][]string{"aws:sourcearn": {"arn:aws:sns:us-east-1:" + acct + ":t"}}, want: allow},
		{name: "service principal from another source",
			resource: []string{stmt(`{"Effect":"Allow","Principal":{"Service":"sns.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"` + fnArn + `","Condition":{"ArnLike":{"AWS:SourceArn":"arn:aws:sns:us-east-1:` + acct + `:t"}}}`)},
			action:   "lambda:InvokeFunction", res: fnArn, p: Principal{Service: "sns.amazonaws.com"},
			keys: map[string][]string{"aws:sourcearn": {"arn:aws:sns:us-east-1:" + acct + ":evil"}}, want: noRes},
		{name: "another service principal",
			resource: []string{stmt(`{"Effect":"Allow","Principal":{"Service":"sns.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"` + fnArn + `"}`)},
			action:   "lambda:InvokeFunction", res: fnArn, p: Principal{Service: "events.amazonaws.com"}, want: noRes},

		// Cross account: both sides must allow.
		{name: "cross account needs the resource policy",
			identity: []string{stmt(`{"Effect":"Allow","Action":"sqs:*","Resource":"*"}`)}, resAcct: "999999999999",
			action: "sqs:SendMessage", res: "arn:aws:sqs:us-east-1:999999999999:q", p: session(), want: noRes},
		{name: "cross account needs the identity policy",
			resource: []string{stmt(`{"Effect":"Allow","Principal":{"AWS":"` + roleArn + `"},"Action":"sqs:*","Resource":"*"}`)}, resAcct: "999999999999",
			action: "sqs:SendMessage", res: "arn:aws:sqs:us-east-1:999999999999:q", p: session(), want: implicit},
		{name: "cross account with both",
			identity: []string{stmt(`{"Effect":"Allow","Action":"sqs:*","Resource":"*"}`)},
			resource: []string{stmt(`{"Effect":"Allow","Principal":{"AWS":"` + acct + `"},"Action":"sqs:*","Resource":"*"}`)}, resAcct: "999999999999",
			action: "sqs:SendMessage", res: "arn:aws:sqs:us-east-1:999999999999:q", p: session(), want: allow},

		// Permissions boundaries.
		{name: "boundary limits identity allows",
			identity: []string{stmt(`{"Effect":"Allow","Action":"*","Resource":"*"}`)},
			boundary: stmt(`{"Effect":"Allow","Action":"lambda:Get*","Resource":"*"}`),
			action:   "lambda:DeleteFunction", res: fnArn, p: session(), want: noBound},
		{name: "boundary and identity both allow",
			identity: []string{stmt(`{"Effect":"Allow","Action":"*","Resource":"*"}`)},
			boundary: stmt(`{"Effect":"Allow","Action":"lambda:Get*","Resource":"*"}`),
			action:   "lambda:GetFunction", res: fnArn, p: session(), want: allow},
		{name: "boundary alone grants nothing",
			boundary: stmt(`{"Effect":"Allow","Action":"*","Resource":"*"}`),
			action:   "lambda:GetFunction", res: fnArn, p: session(), want: implicit},
		{name: "boundary deny",
			identity: []string{stmt(`{"Effect":"Allow","Action":"*","Resource":"*"}`)},
			boundary: stmt(`{"Effect":"Allow","Action":"*","Resource":"*"},{"Effect":"Deny","Action":"iam:*","Resource":"*"}`),
			action:   "iam:PutRolePolicy", res: roleArn, p: session(), want: denyBnd},
		{name: "resource policy naming the session is not limited by the boundary",
			boundary: stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"*"}`),
			resource: []string{stmt(`{"Effect":"Allow","Principal":{"AWS":"` + sessionArn + `"},"Action":"sqs:*","Resource":"*"}`)},
			action:   "sqs:SendMessage", res: "arn:aws:sqs:us-east-1:" + acct + ":q", p: session(), want: allow},
		{name: "resource policy naming the role is limited by the boundary",
			boundary: stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"*"}`),
			resource: []string{stmt(`{"Effect":"Allow","Principal":{"AWS":"` + roleArn + `"},"Action":"sqs:*","Resource":"*"}`)},
			action:   "sqs:SendMessage", res: "arn:aws:sqs:us-east-1:" + acct + ":q", p: session(), want: noBound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ps := &Policies{ResourceAccount: c.resAcct}
			for _, d := range c.identity {
				ps.Identity = append(ps.Identity, mustParse(t, d, Identity))
			}
			for _, d := range c.resource {
				ps.Resource = append(ps.Resource, mustParse(t, d, Resource))
			}
			if c.boundary != "" {
				ps.Boundary = mustParse(t, c.boundary, Identity)
			}
			r := &Request{Principal: c.p, Action: c.action, Resource: c.res}
			for k, v := range c.keys {
				r.Set(k, v...)
			}
			if got := Evaluate(ps, r); got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

// cond is a case for one Condition block: an Allow of everything under
// the block, with the request's keys; allowed is the expected outcome.
func cond(block string, keys map[string][]string, allowed bool) evalCase {
	want := implicit
	if allowed {
		want = allow
	}
	var ks []string
	for k, v := range keys {
		ks = append(ks, k+"="+strings.Join(v, ","))
	}
	return evalCase{
		name:     block + " with " + strings.Join(ks, ";"),
		identity: []string{stmt(`{"Effect":"Allow","Action":"*","Resource":"*","Condition":{` + block + `}}`)},
		action:   "s3:ListBucket", res: "arn:aws:s3:::b", p: session(), keys: keys, want: want,
	}
}

func TestMessage(t *testing.T) {
	p := "arn:aws:sts::" + acct + ":assumed-role/fn-role/my-fn"
	for _, c := range []struct {
		d    Decision
		want string
	}{
		{implicit, "User: " + p + " is not authorized to perform: lambda:DeleteFunction on resource: " + otherFn +
			" because no identity-based policy allows the lambda:DeleteFunction action"},
		{denyID, "User: " + p + " is not authorized to perform: lambda:DeleteFunction on resource: " + otherFn +
			" with an explicit deny in an identity-based policy"},
		{denyRes, "User: " + p + " is not authorized to perform: lambda:DeleteFunction on resource: " + otherFn +
			" with an explicit deny in a resource-based policy"},
		{noBound, "User: " + p + " is not authorized to perform: lambda:DeleteFunction on resource: " + otherFn +
			" because no permissions boundary allows the lambda:DeleteFunction action"},
	} {
		if got := c.d.Message(p, "lambda:DeleteFunction", otherFn); got != c.want {
			t.Errorf("got  %s\nwant %s", got, c.want)
		}
	}
}

func TestMalformed(t *testing.T) {
	for _, c := range []struct {
		doc  string
		kind Kind
		msg  string
	}{
		{`not json`, Identity, "Syntax errors in policy."},
		{`{"Version":"2012-10-17"}`, Identity, "Syntax errors in policy."},
		{`{"Version":"2012-10-17","Statement":[]}`, Identity, "Syntax errors in policy."},
		{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}],"Extra":1}`, Identity, "Syntax errors in policy."},
		{`{"Version":"2013-01-01","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}`, Identity, "The policy failed legacy parsing"},
		{stmt(`{"Action":"s3:*","Resource":"*"}`), Identity, "Missing required field Effect"},
		{stmt(`{"Effect":"Permit","Action":"s3:*","Resource":"*"}`), Identity, "Invalid effect: Permit"},
		{stmt(`{"Effect":"Allow","Resource":"*"}`), Identity, "Policy statement must contain actions."},
		{stmt(`{"Effect":"Allow","Action":"s3:*"}`), Identity, "Policy statement must contain resources."},
		{stmt(`{"Effect":"Allow","Action":"getobject","Resource":"*"}`), Identity, "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."},
		{stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"bucket"}`), Identity, `Resource bucket must be in ARN format or "*".`},
		{stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}`), Identity, "Policy document should not specify a principal."},
		{stmt(`{"Effect":"Allow","Action":"sqs:*","Resource":"*"}`), Resource, "Missing required field Principal"},
		{stmt(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::*:root"},"Action":"sqs:*","Resource":"*"}`), Resource, "Invalid principal in policy"},
		{stmt(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acct + `:role/*"},"Action":"sqs:*","Resource":"*"}`), Resource, "Invalid principal in policy"},
		{stmt(`{"Effect":"Allow","Principal":{"AWS":"12345"},"Action":"sqs:*","Resource":"*"}`), Resource, "Invalid principal in policy"},
		{stmt(`{"Effect":"Allow","Principal":"someone","Action":"sqs:*","Resource":"*"}`), Resource, "Invalid principal in policy"},
		{stmt(`{"Effect":"Allow","NotPrincipal":{"AWS":"` + userArn + `"},"Action":"sqs:*","Resource":"*"}`), Resource, "Invalid principal in policy"},
		{stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringFoo":{"a":"b"}}}`), Identity, "Invalid Condition type : StringFoo"},
		{stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"NumericEquals":{"a":"x"}}}`), Identity, "Invalid Condition value for NumericEquals: x"},
		{stmt(`{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"1.2.3.400/8"}}}`), Identity, "Invalid Condition value for IpAddress: 1.2.3.400/8"},
		{stmt(`{"Sid":"a","Effect":"Allow","Action":"s3:*","Resource":"*"},{"Sid":"a","Effect":"Allow","Action":"s3:*","Resource":"*"}`), Identity,
			"Statement IDs (SID) in a single policy must be unique."},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*","X":` + strings.Repeat(`"aaaaaaaaaa",`, 0) + `"` + strings.Repeat("a", MaxSize) + `"}}`, Identity,
			"Cannot exceed quota for PolicySize: 20480"},
	} {
		_, err := Parse([]byte(c.doc), c.kind)
		var pe *Error
		if !errors.As(err, &pe) || pe.Message != c.msg {
			t.Errorf("Parse(%.80s): %v, want %q", c.doc, err, c.msg)
		}
	}
}

func TestTrustPolicy(t *testing.T) {
	trust := mustParse(t, stmt(`{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}`), Trust)
	ps := &Policies{Resource: []*Policy{trust}}
	if d := Evaluate(ps, &Request{Principal: Principal{Service: "lambda.amazonaws.com"}, Action: "sts:AssumeRole", Resource: roleArn}); !d.Allowed {
		t.Errorf("lambda cannot assume: %+v", d)
	}
	if d := Evaluate(ps, &Request{Principal: user(), Action: "sts:AssumeRole", Resource: roleArn}); d.Allowed {
		t.Error("a user assumed a role trusting lambda only")
	}
}

func TestGlob(t *testing.T) {
	for _, c := range []struct {
		p, s string
		want bool
	}{
		{"*", "", true}, {"a*", "a", true}, {"a*b", "axxb", true}, {"a*b", "axxbc", false},
		{"*a*a*", "banana", true}, {"?", "", false}, {"a?c", "abc", true}, {"\x00*", "*", true}, {"\x00*", "x", false},
		{"a*b*c", "aXbYbZc", true}, {"", "", true}, {"", "a", false},
	} {
		if got := glob(c.p, c.s); got != c.want {
			t.Errorf("glob(%q, %q) = %v", c.p, c.s, got)
		}
	}
}

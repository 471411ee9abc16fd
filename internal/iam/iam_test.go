package iam

import (
	"context"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/policy"
	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

const acct = "123456789012"

func newService(t *testing.T) *Service {
	t.Helper()
	s, err := New(context.Background(), Options{Store: storetest.Open(t), AccountID: acct, Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// call runs one IAM query action and returns the status and body.
func call(t *testing.T, s *Service, params map[string]string) (int, string) {
	t.Helper()
	v := url.Values{"Version": {"2010-05-08"}}
	for k, x := range params {
		v.Set(k, x)
	}
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(v.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w.Code, w.Body.String()
}

// TestCatalogue: every AWS managed policy of the catalogue compiles, and
// the ones applications attach most are there with their ARNs.
func TestCatalogue(t *testing.T) {
	for _, p := range awsManaged() {
		if _, err := policy.Parse([]byte(p.DefaultDocument()), policy.Identity); err != nil {
			t.Errorf("%s: %v", p.Name, err)
		}
	}
	s := newService(t)
	for _, arn := range []string{
		"arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
		"arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole",
		"arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole",
		"arn:aws:iam::aws:policy/service-role/AWSLambdaKinesisExecutionRole",
		"arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
		"arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess", "arn:aws:iam::aws:policy/AmazonS3FullAccess",
		"arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess", "arn:aws:iam::aws:policy/AmazonSQSFullAccess",
		"arn:aws:iam::aws:policy/AmazonSNSFullAccess", "arn:aws:iam::aws:policy/AWSStepFunctionsFullAccess",
	} {
		if s.managed(arn) == nil || s.managed(arn).doc == nil {
			t.Errorf("%s is not in the catalogue", arn)
		}
	}
}

// TestRolePoliciesEvaluate: a role with an AWS managed policy attached and
// an inline one gets their union; detaching takes effect at once; the
// state survives a restart of the service (it is on the backbone).
func TestRolePoliciesEvaluate(t *testing.T) {
	s := newService(t)
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	for _, p := range []map[string]string{
		{"Action": "CreateRole", "RoleName": "fn", "Path": "/app/", "AssumeRolePolicyDocument": trust},
		{"Action": "AttachRolePolicy", "RoleName": "fn", "PolicyArn": "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole"},
		{"Action": "PutRolePolicy", "RoleName": "fn", "PolicyName": "table", "PolicyDocument": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"dynamodb:GetItem","Resource":"arn:aws:dynamodb:*:*:table/t"}]}`},
	} {
		if code, body := call(t, s, p); code != 200 {
			t.Fatalf("%s: %d %s", p["Action"], code, body)
		}
	}
	role := "arn:aws:iam::" + acct + ":role/app/fn"
	c := Caller{ARN: "arn:aws:sts::" + acct + ":assumed-role/fn/f", RoleArn: role}
	check := func(action, res string, want bool) {
		t.Helper()
		if d := s.Authorize(c, &policy.Request{Action: action, Resource: res}); d.Allowed != want {
			t.Errorf("%s on %s: %+v, want allowed=%v", action, res, d, want)
		}
	}
	check("sqs:ReceiveMessage", "arn:aws:sqs:us-east-1:"+acct+":q", true)
	check("dynamodb:GetItem", "arn:aws:dynamodb:us-east-1:"+acct+":table/t", true)
	check("dynamodb:PutItem", "arn:aws:dynamodb:us-east-1:"+acct+":table/t", false)
	if !s.CanLambdaAssume(role) || s.CanLambdaAssume("arn:aws:iam::"+acct+":role/fn") {
		t.Error("CanLambdaAssume: the role with its path is assumable, the same name without it is another role")
	}
	if code, _ := call(t, s, map[string]string{"Action": "DeleteRole", "RoleName": "fn"}); code != http.StatusConflict {
		t.Errorf("DeleteRole with policies: %d, want 409 DeleteConflict", code)
	}
	call(t, s, map[string]string{"Action": "DetachRolePolicy", "RoleName": "fn", "PolicyArn": "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole"})
	check("sqs:ReceiveMessage", "arn:aws:sqs:us-east-1:"+acct+":q", false)

	// Another service on the same store sees the same state.
	s2, err := New(context.Background(), Options{Store: s.st, AccountID: acct, Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if d := s2.Authorize(c, &policy.Request{Action: "dynamodb:GetItem", Resource: "arn:aws:dynamodb:us-east-1:" + acct + ":table/t"}); !d.Allowed {
		t.Errorf("second service: %+v", d)
	}
}

// TestIAMErrors: AWS's error codes for the usual mistakes.
func TestIAMErrors(t *testing.T) {
	s := newService(t)
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	call(t, s, map[string]string{"Action": "CreateRole", "RoleName": "r", "AssumeRolePolicyDocument": trust})
	big := `{"Version":"2012-10-17","Statement":[` + strings.Repeat(`{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket-with-a-long-name/*"},`, 120) +
		`{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`
	for _, c := range []struct {
		params map[string]string
		status int
		code   string
	}{
		{map[string]string{"Action": "CreateRole", "RoleName": "R", "AssumeRolePolicyDocument": trust}, 409, "EntityAlreadyExists"},
		{map[string]string{"Action": "CreateRole", "RoleName": "x", "AssumeRolePolicyDocument": `{"Statement":[{"Effect":"Allow","Action":"sts:AssumeRole"}]}`}, 400, "MalformedPolicyDocument"},
		{map[string]string{"Action": "GetRole", "RoleName": "nope"}, 404, "NoSuchEntity"},
		{map[string]string{"Action": "PutRolePolicy", "RoleName": "r", "PolicyName": "p", "PolicyDocument": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}]}`}, 400, "MalformedPolicyDocument"},
		{map[string]string{"Action": "PutRolePolicy", "RoleName": "r", "PolicyName": "p", "PolicyDocument": big}, 409, "LimitExceeded"},
		{map[string]string{"Action": "CreatePolicy", "PolicyName": "big", "PolicyDocument": big}, 409, "LimitExceeded"},
		{map[string]string{"Action": "AttachRolePolicy", "RoleName": "r", "PolicyArn": "arn:aws:iam::" + acct + ":policy/none"}, 404, "NoSuchEntity"},
		{map[string]string{"Action": "CreateInstanceProfile", "InstanceProfileName": "ip"}, 400, "InvalidAction"},
		{map[string]string{"Action": "Frobnicate"}, 400, "InvalidAction"},
	} {
		code, body := call(t, s, c.params)
		var e struct {
			Error struct{ Code, Message string }
		}
		_ = xml.Unmarshal([]byte(body), &e)
		if code != c.status || e.Error.Code != c.code {
			t.Errorf("%v: %d %s, want %d %s", c.params["Action"], code, body, c.status, c.code)
		}
	}
}

// TestManagedPolicyVersions: versions, the default, and the limit of five.
func TestManagedPolicyVersions(t *testing.T) {
	s := newService(t)
	doc := func(a string) string {
		return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"` + a + `","Resource":"*"}]}`
	}
	call(t, s, map[string]string{"Action": "CreatePolicy", "PolicyName": "p", "PolicyDocument": doc("s3:GetObject")})
	call(t, s, map[string]string{"Action": "CreateUser", "UserName": "u"})
	arn := "arn:aws:iam::" + acct + ":policy/p"
	call(t, s, map[string]string{"Action": "AttachUserPolicy", "UserName": "u", "PolicyArn": arn})
	c := Caller{ARN: "arn:aws:iam::" + acct + ":user/u", UserName: "u"}
	allowed := func(a string) bool {
		return s.Authorize(c, &policy.Request{Action: a, Resource: "arn:aws:s3:::b/k"}).Allowed
	}
	if !allowed("s3:GetObject") || allowed("s3:PutObject") {
		t.Fatal("v1")
	}
	for i := 2; i <= 5; i++ {
		if code, body := call(t, s, map[string]string{"Action": "CreatePolicyVersion", "PolicyArn": arn, "PolicyDocument": doc("s3:PutObject"),
			"SetAsDefault": map[bool]string{true: "true", false: "false"}[i == 3]}); code != 200 {
			t.Fatalf("version %d: %s", i, body)
		}
	}
	if !allowed("s3:PutObject") || allowed("s3:GetObject") {
		t.Error("v3 is the default: PutObject only")
	}
	if code, _ := call(t, s, map[string]string{"Action": "CreatePolicyVersion", "PolicyArn": arn, "PolicyDocument": doc("s3:*")}); code != http.StatusConflict {
		t.Errorf("sixth version: %d, want 409 LimitExceeded", code)
	}
	if code, _ := call(t, s, map[string]string{"Action": "DeletePolicyVersion", "PolicyArn": arn, "VersionId": "v3"}); code != http.StatusConflict {
		t.Errorf("deleting the default version: %d, want 409", code)
	}
	call(t, s, map[string]string{"Action": "SetDefaultPolicyVersion", "PolicyArn": arn, "VersionId": "v1"})
	if !allowed("s3:GetObject") {
		t.Error("back to v1")
	}
	_, body := call(t, s, map[string]string{"Action": "GetPolicyVersion", "PolicyArn": arn, "VersionId": "v1"})
	if !strings.Contains(body, url.PathEscape(doc("s3:GetObject"))) {
		t.Errorf("GetPolicyVersion: the document, URL-encoded, as IAM returns it: %s", body)
	}
}

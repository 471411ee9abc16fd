package resource_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/nimbus-serverless/nimbus/internal/stack"
)

// logGroup returns the log group named name, or nil.
func (e *env) logGroup(t *testing.T, name string) *struct{ retention *int32 } {
	t.Helper()
	out, err := e.logs.DescribeLogGroups(t.Context(), &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: &name})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range out.LogGroups {
		if g.LogGroupName != nil && *g.LogGroupName == name {
			return &struct{ retention *int32 }{g.RetentionInDays}
		}
	}
	return nil
}

// TestLogGroup creates a log group with a retention, changes the
// retention in place, renames it (replacement), and deletes it.
func TestLogGroup(t *testing.T) {
	e := newEnv(t)
	lg := e.create(t, "Logs", "AWS::Logs::LogGroup", map[string]any{"RetentionInDays": "7"})
	name := lg.PhysicalID
	if !strings.HasPrefix(name, stackName+"-Logs-") {
		t.Errorf("generated name %s", name)
	}
	if want := "arn:aws:logs:us-east-1:000000000000:log-group:" + name + ":*"; lg.Attrs["Arn"] != want {
		t.Errorf("Arn = %v, want %s", lg.Attrs["Arn"], want)
	}
	if g := e.logGroup(t, name); g == nil || g.retention == nil || *g.retention != 7 {
		t.Fatalf("log group = %+v, want retention 7", g)
	}
	lg = e.update(t, lg, map[string]any{"RetentionInDays": float64(30)})
	if g := e.logGroup(t, name); g == nil || g.retention == nil || *g.retention != 30 {
		t.Errorf("after update: %+v, want retention 30", g)
	}
	lg = e.update(t, lg, map[string]any{})
	if g := e.logGroup(t, name); g == nil || g.retention != nil {
		t.Errorf("after removing the retention: %+v, want none", g)
	}
	lg = e.replace(t, lg, map[string]any{"LogGroupName": "/custom/name"})
	if e.logGroup(t, name) != nil || e.logGroup(t, "/custom/name") == nil {
		t.Error("replacement did not move the log group to its new name")
	}
	_, err := e.ps["AWS::Logs::LogGroup"].Create(t.Context(), request("Dup", "AWS::Logs::LogGroup", map[string]any{"LogGroupName": "/custom/name"}))
	wantErr(t, err, "Resource handler returned message:", "(Service: CloudWatchLogs, Status Code: 400", "HandlerErrorCode: AlreadyExists")
	_, err = e.ps["AWS::Logs::LogGroup"].Create(t.Context(), request("Bad", "AWS::Logs::LogGroup", map[string]any{"RetentionInDays": float64(8)}))
	wantErr(t, err, "Resource handler returned message:", "(Service: CloudWatchLogs, Status Code: 400")
	e.delete(t, lg)
	if e.logGroup(t, "/custom/name") != nil {
		t.Error("deleted log group still exists")
	}
}

// TestIAMProvidersMakeRealEntities checks the names, ARNs and ids of roles
// and policies, and that they exist in the node's IAM with their policies
// (so the front door evaluates them), and are gone after delete.
func TestIAMProvidersMakeRealEntities(t *testing.T) {
	e := newEnv(t)
	ic := awsiam.NewFromConfig(e.cfg)
	doc := map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}}}
	trust := map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
		"Effect": "Allow", "Principal": map[string]any{"Service": []any{"lambda.amazonaws.com"}}, "Action": []any{"sts:AssumeRole"},
	}}}
	role := e.create(t, "FnRole", "AWS::IAM::Role", map[string]any{
		"AssumeRolePolicyDocument": trust, "Path": "/service/",
		"ManagedPolicyArns": []any{"arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"},
	})
	if !regexp.MustCompile(`^teststack-FnRole-[A-Z0-9]{13}$`).MatchString(role.PhysicalID) {
		t.Errorf("role name %s", role.PhysicalID)
	}
	if want := "arn:aws:iam::000000000000:role/service/" + role.PhysicalID; role.Attrs["Arn"] != want {
		t.Errorf("Arn = %v, want %s", role.Attrs["Arn"], want)
	}
	if id, _ := role.Attrs["RoleId"].(string); !regexp.MustCompile(`^AROA[A-Z0-9]{17}$`).MatchString(id) {
		t.Errorf("RoleId = %q", id)
	}
	att, err := ic.ListAttachedRolePolicies(t.Context(), &awsiam.ListAttachedRolePoliciesInput{RoleName: aws.String(role.PhysicalID)})
	if err != nil || len(att.AttachedPolicies) != 1 || aws.ToString(att.AttachedPolicies[0].PolicyName) != "AWSLambdaBasicExecutionRole" {
		t.Errorf("attached policies: %v %v", att, err)
	}
	// Policies change in place; the ids stay (the update drops the
	// managed policy: it is detached).
	updated := e.update(t, role, map[string]any{
		"AssumeRolePolicyDocument": trust, "Path": "/service/",
		"Policies": []any{map[string]any{"PolicyName": "p", "PolicyDocument": doc}},
	})
	if updated.PhysicalID != role.PhysicalID || updated.Attrs["RoleId"] != role.Attrs["RoleId"] {
		t.Errorf("in-place update changed the role: %v -> %v", role.Result, updated.Result)
	}
	if _, err := ic.GetRolePolicy(t.Context(), &awsiam.GetRolePolicyInput{RoleName: aws.String(role.PhysicalID), PolicyName: aws.String("p")}); err != nil {
		t.Errorf("inline policy of the updated role: %v", err)
	}
	named := e.replace(t, updated, map[string]any{"AssumeRolePolicyDocument": trust, "RoleName": "my-role"})
	if named.PhysicalID != "my-role" || named.Attrs["Arn"] != "arn:aws:iam::000000000000:role/my-role" {
		t.Errorf("named role = %v", named.Result)
	}
	if _, err := ic.GetRole(t.Context(), &awsiam.GetRoleInput{RoleName: aws.String(role.PhysicalID)}); err == nil {
		t.Error("the replaced role still exists")
	}
	_, err = e.ps["AWS::IAM::Role"].Create(t.Context(), request("R", "AWS::IAM::Role", map[string]any{"RoleName": "x"}))
	wantErr(t, err, "required key [AssumeRolePolicyDocument] not found")
	_, err = e.ps["AWS::IAM::Role"].Create(t.Context(), request("R", "AWS::IAM::Role", map[string]any{"AssumeRolePolicyDocument": trust, "Path": "nope"}))
	wantErr(t, err, `Path "nope" must begin and end with /`)

	pol := e.create(t, "FnPolicy", "AWS::IAM::Policy", map[string]any{
		"PolicyName": "inline", "PolicyDocument": doc, "Roles": []any{"my-role"},
	})
	if _, err := ic.GetRolePolicy(t.Context(), &awsiam.GetRolePolicyInput{RoleName: aws.String("my-role"), PolicyName: aws.String("inline")}); err != nil {
		t.Errorf("AWS::IAM::Policy on my-role: %v", err)
	}
	if !strings.HasPrefix(pol.PhysicalID, "teststack-FnPol-") {
		t.Errorf("inline policy id %s", pol.PhysicalID)
	}
	mp := e.create(t, "Managed", "AWS::IAM::ManagedPolicy", map[string]any{"PolicyDocument": doc, "Roles": []any{"my-role"}})
	if !strings.HasPrefix(mp.PhysicalID, "arn:aws:iam::000000000000:policy/teststack-Managed-") || mp.Attrs["PolicyArn"] != mp.PhysicalID {
		t.Errorf("managed policy = %v", mp.Result)
	}
	if _, err := e.ps["AWS::IAM::ManagedPolicy"].Update(t.Context(), request("Managed", "AWS::IAM::ManagedPolicy",
		map[string]any{"PolicyDocument": map[string]any{}, "ManagedPolicyName": "n"}), mp); !errors.Is(err, stack.ErrReplace) {
		t.Errorf("renaming a managed policy = %v, want ErrReplace", err)
	}
	for _, r := range []*stack.Resource{mp, pol, named} {
		e.delete(t, r)
	}
	if _, err := ic.GetRole(t.Context(), &awsiam.GetRoleInput{RoleName: aws.String("my-role")}); err == nil {
		t.Error("the deleted role still exists")
	}
	if _, err := ic.GetPolicy(t.Context(), &awsiam.GetPolicyInput{PolicyArn: aws.String(mp.PhysicalID)}); err == nil {
		t.Error("the deleted managed policy still exists")
	}
	_, err = e.ps["AWS::IAM::InstanceProfile"].Create(t.Context(), request("IP", "AWS::IAM::InstanceProfile", map[string]any{"Roles": []any{"r"}}))
	wantErr(t, err, "Nimbus does not support AWS::IAM::InstanceProfile")
}

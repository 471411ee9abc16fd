package resource_test

import (
	"errors"
	"regexp"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/smithy-go"
)

// TestIAMUserGroupAccessKey: a template's group (with an inline policy),
// user (in the group) and access key are real: the key signs requests as
// the user, which may do what the group allows and is denied the rest
// (the node runs the default --iam enforce); an Inactive key is refused;
// deleting the resources removes them.
func TestIAMUserGroupAccessKey(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	ic := awsiam.NewFromConfig(e.cfg)
	listOnly := map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
		"Effect": "Allow", "Action": "lambda:ListFunctions", "Resource": "*"}}}
	group := e.create(t, "Readers", "AWS::IAM::Group", map[string]any{"Policies": []any{map[string]any{"PolicyName": "list", "PolicyDocument": listOnly}}})
	if group.Attrs["Arn"] != "arn:aws:iam::000000000000:group/"+group.PhysicalID {
		t.Errorf("group = %v", group.Result)
	}
	user := e.create(t, "Dev", "AWS::IAM::User", map[string]any{"Path": "/team/", "Groups": []any{group.PhysicalID}})
	if !regexp.MustCompile(`^teststack-Dev-[A-Z0-9]{13}$`).MatchString(user.PhysicalID) ||
		user.Attrs["Arn"] != "arn:aws:iam::000000000000:user/team/"+user.PhysicalID {
		t.Errorf("user = %v", user.Result)
	}
	key := e.create(t, "DevKey", "AWS::IAM::AccessKey", map[string]any{"UserName": user.PhysicalID})
	secret, _ := key.Attrs["SecretAccessKey"].(string)
	if !regexp.MustCompile(`^AKIA[A-Z0-9]{16}$`).MatchString(key.PhysicalID) || len(secret) != 40 {
		t.Fatalf("access key = %s %d", key.PhysicalID, len(secret))
	}
	cfg := e.cfg.Copy()
	cfg.Credentials = credentials.NewStaticCredentialsProvider(key.PhysicalID, secret, "")
	cfg.RetryMaxAttempts = 1
	lc := lambda.NewFromConfig(cfg)
	if _, err := lc.ListFunctions(ctx, &lambda.ListFunctionsInput{}); err != nil {
		t.Errorf("ListFunctions with the template's key (the group allows it): %v", err)
	}
	var ae smithy.APIError
	_, err := lc.GetAccountSettings(ctx, &lambda.GetAccountSettingsInput{})
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDeniedException" {
		t.Errorf("GetAccountSettings with the template's key: %v, want AccessDeniedException", err)
	}
	// The key made Inactive in place is refused.
	key = e.update(t, key, map[string]any{"UserName": user.PhysicalID, "Status": "Inactive"})
	_, err = lc.ListFunctions(ctx, &lambda.ListFunctionsInput{})
	if !errors.As(err, &ae) || ae.ErrorCode() != "UnrecognizedClientException" {
		t.Errorf("ListFunctions with the Inactive key: %v", err)
	}
	// Out of the group, the user has nothing.
	user = e.update(t, user, map[string]any{"Path": "/team/"})
	if gs, err := ic.ListGroupsForUser(ctx, &awsiam.ListGroupsForUserInput{UserName: aws.String(user.PhysicalID)}); err != nil || len(gs.Groups) != 0 {
		t.Errorf("groups after the update: %v %v", gs, err)
	}
	_, err = e.ps["AWS::IAM::User"].Create(ctx, request("U", "AWS::IAM::User", map[string]any{"LoginProfile": map[string]any{"Password": "x"}}))
	wantErr(t, err, "Nimbus does not support LoginProfile")
	e.delete(t, key)
	e.delete(t, user)
	e.delete(t, group)
	if _, err := ic.GetUser(ctx, &awsiam.GetUserInput{UserName: aws.String(user.PhysicalID)}); err == nil {
		t.Error("the deleted user still exists")
	}
	if _, err := ic.GetGroup(ctx, &awsiam.GetGroupInput{GroupName: aws.String(group.PhysicalID)}); err == nil {
		t.Error("the deleted group still exists")
	}
}

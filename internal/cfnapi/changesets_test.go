package cfnapi_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/stack"
)

const changeSetID = "arn:aws:cloudformation:us-east-1:000000000000:changeSet/cs/2b2c3d4e-0000-4000-8000-000000000002"

func (f *fakeStacks) CreateChangeSet(_ context.Context, in stack.ChangeSetInput) (string, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if in.ChangeSetName == "dup" {
		return "", "", &awsapi.Error{Status: 400, Code: "AlreadyExistsException", Type: "User", Message: "ChangeSet [dup] already exists"}
	}
	f.changeSets = append(f.changeSets, in)
	return changeSetID, stackID, nil
}

func changeSetMissing(name string) error {
	return &awsapi.Error{Status: http.StatusNotFound, Code: "ChangeSetNotFound", Type: "User", Message: "ChangeSet [" + name + "] does not exist"}
}

func (f *fakeStacks) changeSet(name string) (*stack.ChangeSet, error) {
	cs := &stack.ChangeSet{
		ID: changeSetID, Name: "cs", StackID: stackID, StackName: "app", Description: "Created by AWS CLI",
		Type: "UPDATE", Status: "CREATE_COMPLETE", ExecutionStatus: "AVAILABLE", CreationTime: t0,
		Parameters:   []stack.Parameter{{Key: "Stage", Value: "prod"}, {Key: "Secret", Value: "****"}},
		Capabilities: []string{"CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"},
		Tags:         map[string]string{"team": "core"},
		Changes: []stack.ResourceChange{
			{Action: "Add", LogicalID: "FnUrl", ResourceType: "AWS::Lambda::Url"},
			{Action: "Modify", LogicalID: "Fn", PhysicalID: "app-Fn-ABCDEFGHIJKLM", ResourceType: "AWS::Lambda::Function",
				Replacement: "False", Scope: []string{"Properties"}, Details: []stack.ChangeDetail{
					{Attribute: "Properties", Name: "Environment", RequiresRecreation: "Never", Evaluation: "Static", ChangeSource: "ParameterReference", CausingEntity: "Stage"},
					{Attribute: "Properties", Name: "Role", RequiresRecreation: "Never", Evaluation: "Dynamic", ChangeSource: "ResourceReference", CausingEntity: "FnRole"},
				}},
			{Action: "Modify", LogicalID: "FnRole", PhysicalID: "app-FnRole-NOPQRSTUVWXYZ", ResourceType: "AWS::IAM::Role",
				Replacement: "True", Scope: []string{"Properties"}, Details: []stack.ChangeDetail{
					{Attribute: "Properties", Name: "Path", RequiresRecreation: "Always", Evaluation: "Static", ChangeSource: "DirectModification"},
				}},
			{Action: "Remove", LogicalID: "Old", PhysicalID: "app-Old-ABCDEFGHIJKLM", ResourceType: "AWS::Logs::LogGroup"},
		},
	}
	switch name {
	case "cs", changeSetID:
		return cs, nil
	case "empty":
		cs.Name, cs.Status, cs.ExecutionStatus, cs.Changes = "empty", "FAILED", "UNAVAILABLE", nil
		cs.StatusReason = stack.ReasonNoChanges
		return cs, nil
	}
	return nil, changeSetMissing(name)
}

func (f *fakeStacks) DescribeChangeSet(_ context.Context, name, stackName string) (*stack.ChangeSet, error) {
	if stackName != "" && stackName != "app" && stackName != stackID {
		return nil, notFound(stackName)
	}
	return f.changeSet(name)
}

func (f *fakeStacks) ExecuteChangeSet(_ context.Context, in stack.ExecuteInput) error {
	cs, err := f.changeSet(in.ChangeSetName)
	if err != nil {
		return err
	}
	if cs.ExecutionStatus != "AVAILABLE" {
		return &awsapi.Error{Status: 400, Code: "InvalidChangeSetStatus", Type: "User",
			Message: fmt.Sprintf("ChangeSet [%s] cannot be executed in its current status of [%s]", cs.ID, cs.Status)}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.executes = append(f.executes, in)
	return nil
}

func (f *fakeStacks) DeleteChangeSet(_ context.Context, name, _ string) error {
	_, err := f.changeSet(name)
	return err
}

func (f *fakeStacks) ListChangeSets(_ context.Context, stackName string) ([]stack.ChangeSet, error) {
	if stackName != "app" && stackName != stackID {
		return nil, notFound(stackName)
	}
	a, _ := f.changeSet("cs")
	b, _ := f.changeSet("empty")
	b.ID = "arn:aws:cloudformation:us-east-1:000000000000:changeSet/empty/3b2c3d4e-0000-4000-8000-000000000003"
	a.Changes, b.Changes = nil, nil
	return []stack.ChangeSet{*a, *b}, nil
}

func (f *fakeStacks) ChangeSetTemplate(_ context.Context, name, _, stage string) (string, error) {
	if _, err := f.changeSet(name); err != nil {
		return "", err
	}
	if stage == "Processed" {
		return `{"Resources":{"Fn":{"Type":"AWS::Lambda::Function"}},"Description":"change set"}`, nil
	}
	return sampleTemplate, nil
}

// TestGoldenChangeSets checks the change-set operations' responses byte
// for byte against testdata/*.xml (-update rewrites them).
func TestGoldenChangeSets(t *testing.T) {
	cases := []struct {
		name string
		form url.Values
	}{
		{"create-change-set", form("CreateChangeSet", "StackName", "app", "ChangeSetName", "cs", "ChangeSetType", "UPDATE",
			"TemplateBody", sampleTemplate, "Description", "Created by AWS CLI",
			"Parameters.member.1.ParameterKey", "Stage", "Parameters.member.1.ParameterValue", "prod",
			"Parameters.member.2.ParameterKey", "Secret", "Parameters.member.2.UsePreviousValue", "true",
			"Capabilities.member.1", "CAPABILITY_IAM", "Capabilities.member.2", "CAPABILITY_AUTO_EXPAND",
			"Tags", "", "NotificationARNs", "")},
		{"create-change-set-no-name", form("CreateChangeSet", "StackName", "app", "TemplateBody", sampleTemplate)},
		{"create-change-set-exists", form("CreateChangeSet", "StackName", "app", "ChangeSetName", "dup", "TemplateBody", sampleTemplate)},
		{"create-change-set-import", form("CreateChangeSet", "StackName", "app", "ChangeSetName", "cs", "ChangeSetType", "IMPORT", "TemplateBody", sampleTemplate)},
		{"describe-change-set", form("DescribeChangeSet", "ChangeSetName", "cs", "StackName", "app")},
		{"describe-change-set-page", form("DescribeChangeSet", "ChangeSetName", changeSetID)},
		{"describe-change-set-empty", form("DescribeChangeSet", "ChangeSetName", "empty", "StackName", "app")},
		{"describe-change-set-missing", form("DescribeChangeSet", "ChangeSetName", "nope", "StackName", "app")},
		{"execute-change-set", form("ExecuteChangeSet", "ChangeSetName", changeSetID)},
		{"execute-change-set-empty", form("ExecuteChangeSet", "ChangeSetName", "empty", "StackName", "app")},
		{"delete-change-set", form("DeleteChangeSet", "ChangeSetName", "cs", "StackName", "app")},
		{"list-change-sets", form("ListChangeSets", "StackName", "app")},
		{"get-template-change-set", form("GetTemplate", "ChangeSetName", changeSetID, "TemplateStage", "Processed")},
		{"get-template-change-set-missing", form("GetTemplate", "ChangeSetName", "nope", "StackName", "app")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pageSize := 0
			if c.name == "describe-change-set-page" {
				pageSize = 3
			}
			f := newFake()
			rec := post(newHandler(f, &fakeArtifacts{}, pageSize), c.form)
			got := fmt.Sprintf("HTTP %d %s\n%s", rec.Code, rec.Header().Get("Content-Type"), rec.Body.String())
			checkWellFormed(t, rec.Body.Bytes())
			golden(t, c.name, got)
			switch c.name {
			case "create-change-set":
				if len(f.changeSets) != 1 {
					t.Fatalf("CreateChangeSet calls %+v", f.changeSets)
				}
				in := f.changeSets[0]
				if in.ChangeSetName != "cs" || in.ChangeSetType != "UPDATE" || in.Description != "Created by AWS CLI" ||
					in.Parameters["Stage"] != "prod" || !slices.Equal(in.UsePrevious, []string{"Secret"}) ||
					!slices.Equal(in.Capabilities, []string{"CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"}) ||
					in.TemplateBody != sampleTemplate || in.Tags == nil || len(in.Tags) != 0 {
					t.Fatalf("CreateChangeSet input %+v", in)
				}
			case "execute-change-set":
				if len(f.executes) != 1 || f.executes[0].ChangeSetName != changeSetID {
					t.Fatalf("ExecuteChangeSet calls %+v", f.executes)
				}
			}
		})
	}
}

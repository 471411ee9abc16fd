package cfnapi_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/cfn"
	"github.com/nimbus-serverless/nimbus/internal/stack"
)

var t0 = time.Date(2026, 12, 4, 14, 30, 15, 123_000_000, time.UTC)

const stackID = "arn:aws:cloudformation:us-east-1:000000000000:stack/app/1b2c3d4e-0000-4000-8000-000000000001"

func notFound(name string) error {
	return &awsapi.Error{Status: http.StatusBadRequest, Code: "ValidationError", Type: "User",
		Message: "Stack with id " + name + " does not exist"}
}

// fakeStacks is a stack engine with one stack, "app", and canned answers;
// it records what it was asked.
type fakeStacks struct {
	mu      sync.Mutex
	creates []stack.CreateInput
	updates []stack.UpdateInput
	deletes []string
	filters [][]string
	events  []stack.Event
	fail    error // returned by every call when set

	changeSets []stack.ChangeSetInput
	executes   []stack.ExecuteInput
}

func newFake() *fakeStacks {
	f := &fakeStacks{}
	for i := range 5 {
		f.events = append(f.events, stack.Event{
			EventID: fmt.Sprintf("ev-%d", 5-i), StackID: stackID, StackName: "app",
			LogicalID: "Fn", PhysicalID: "app-Fn-ABCDEFGHIJKLM", ResourceType: "AWS::Lambda::Function",
			Status: "CREATE_IN_PROGRESS", Timestamp: t0.Add(time.Duration(5-i) * time.Second),
		})
	}
	f.events[0].Status, f.events[0].StatusReason = "CREATE_FAILED", "Resource handler returned message: \"<bad> & worse\""
	return f
}

func (f *fakeStacks) CreateStack(_ context.Context, in stack.CreateInput) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return "", f.fail
	}
	if in.StackName == "app" {
		return "", &awsapi.Error{Status: 400, Code: "AlreadyExistsException", Type: "User", Message: "Stack [app] already exists"}
	}
	f.creates = append(f.creates, in)
	return stackID, nil
}

func (f *fakeStacks) UpdateStack(_ context.Context, in stack.UpdateInput) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return "", f.fail
	}
	f.updates = append(f.updates, in)
	return stackID, nil
}

func (f *fakeStacks) DeleteStack(_ context.Context, name, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deletes = append(f.deletes, name)
	return f.fail
}

func (f *fakeStacks) stack() stack.Stack {
	return stack.Stack{
		StackID: stackID, StackName: "app", Description: "An app & its <API>",
		Status: "UPDATE_COMPLETE", CreationTime: t0, LastUpdatedTime: t0.Add(time.Hour),
		Parameters:   []stack.Parameter{{Key: "Stage", Value: "prod"}, {Key: "Secret", Value: "****"}},
		Outputs:      []stack.Output{{Key: "Url", Value: "http://x.execute-api.us-east-1.localhost:9000/", Description: "API URL", ExportName: "app-url"}, {Key: "Fn", Value: "app-Fn-ABCDEFGHIJKLM"}},
		Capabilities: []string{"CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"},
		Tags:         map[string]string{"team": "core", "env": "prod"},
	}
}

func (f *fakeStacks) DescribeStacks(_ context.Context, name string) ([]stack.Stack, error) {
	if f.fail != nil {
		return nil, f.fail
	}
	switch name {
	case "", "app", stackID:
		return []stack.Stack{f.stack()}, nil
	}
	return nil, notFound(name)
}

func (f *fakeStacks) ListStacks(_ context.Context, filter []string) ([]stack.Summary, error) {
	f.mu.Lock()
	f.filters = append(f.filters, filter)
	f.mu.Unlock()
	return []stack.Summary{
		{StackID: stackID, StackName: "app", Status: "UPDATE_COMPLETE", TemplateDescription: "An app", CreationTime: t0, LastUpdatedTime: t0.Add(time.Hour)},
		{StackID: stackID + "x", StackName: "old", Status: "DELETE_COMPLETE", CreationTime: t0, DeletionTime: t0.Add(2 * time.Hour)},
	}, nil
}

func (f *fakeStacks) Events(_ context.Context, name string) ([]stack.Event, error) {
	if name != "app" && name != stackID {
		return nil, notFound(name)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.events), nil
}

func (f *fakeStacks) Resources(_ context.Context, name string) ([]stack.StackResource, error) {
	if name != "app" && name != stackID {
		return nil, notFound(name)
	}
	return []stack.StackResource{
		{StackID: stackID, StackName: "app", LogicalID: "Fn", PhysicalID: "app-Fn-ABCDEFGHIJKLM", ResourceType: "AWS::Lambda::Function", Status: "CREATE_COMPLETE", LastUpdated: t0},
		{StackID: stackID, StackName: "app", LogicalID: "FnRole", PhysicalID: "app-FnRole-NOPQRSTUVWXYZ", ResourceType: "AWS::IAM::Role", Status: "CREATE_COMPLETE", LastUpdated: t0},
		{StackID: stackID, StackName: "app", LogicalID: "Api", ResourceType: "AWS::ApiGatewayV2::Api", Status: "CREATE_FAILED", StatusReason: "quota", LastUpdated: t0},
	}, nil
}

func (f *fakeStacks) Template(_ context.Context, name, stage string) (string, error) {
	if name != "app" && name != stackID {
		return "", notFound(name)
	}
	if stage == "Processed" {
		return `{"Resources":{"Fn":{"Type":"AWS::Lambda::Function"}}}`, nil
	}
	return sampleTemplate, nil
}

func (f *fakeStacks) Exports(context.Context) ([]stack.Export, error) {
	return []stack.Export{{StackID: stackID, Name: "app-url", Value: "http://x/"}, {StackID: stackID, Name: "app-arn", Value: "arn:aws:lambda:us-east-1:000000000000:function:f"}}, nil
}

func (f *fakeStacks) Validate(_ context.Context, body string) (*stack.Validation, error) {
	if body == "bad" {
		return nil, &awsapi.Error{Status: 400, Code: "ValidationError", Type: "User", Message: "Template format error: not a template"}
	}
	return &stack.Validation{
		Description:        "An app",
		Parameters:         []stack.ParameterDeclaration{{Key: "Stage", DefaultValue: "dev", Description: "Stage name"}, {Key: "Secret", NoEcho: true}},
		Capabilities:       []string{"CAPABILITY_AUTO_EXPAND"},
		CapabilitiesReason: "The following resource(s) require capabilities: [AWS::Serverless-2016-10-31]",
	}, nil
}

const sampleTemplate = "Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n"

// parseTemplate stands in for cfn.Parse with a fixed answer, so the golden
// files do not depend on the template package.
func parseTemplate(b []byte) (*cfn.Template, error) {
	if string(b) == "bad" {
		return nil, errors.New("not a template")
	}
	return &cfn.Template{
		FormatVersion: "2010-09-09",
		Transform:     []string{"AWS::Serverless-2016-10-31"},
		Parameters: map[string]*cfn.Parameter{
			"Stage":  {Type: "String", AllowedValues: []any{"dev", "prod"}},
			"Secret": {Type: "String", NoEcho: true},
		},
		Resources: map[string]*cfn.Resource{
			"Fn": {Type: "AWS::Serverless::Function"}, "Api": {Type: "AWS::Serverless::HttpApi"}, "Fn2": {Type: "AWS::Serverless::Function"},
		},
	}, nil
}

// fakeArtifacts is an in-memory artifact store.
type fakeArtifacts struct {
	mu   sync.Mutex
	data map[string][]byte
}

func (a *fakeArtifacts) Put(_ context.Context, sha string, data []byte) error {
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != sha {
		return errors.New("hash mismatch")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.data == nil {
		a.data = map[string][]byte{}
	}
	a.data[sha] = data
	return nil
}

func (a *fakeArtifacts) Has(_ context.Context, sha string) (bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.data[sha]
	return ok, nil
}

package cfnapi_test

import (
	"errors"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/smithy-go"

	"github.com/nimbus-serverless/nimbus/internal/stack"
)

// sdkClient is an aws-sdk-go-v2 CloudFormation client against the
// handler, so the SDK's own XML deserialisers read every response.
func sdkClient(t *testing.T, f *fakeStacks, pageSize int) *cloudformation.Client {
	t.Helper()
	srv := httptest.NewServer(newHandler(f, &fakeArtifacts{}, pageSize))
	t.Cleanup(srv.Close)
	return cloudformation.NewFromConfig(aws.Config{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
	})
}

func TestSDK(t *testing.T) {
	f := newFake()
	c := sdkClient(t, f, 2)
	ctx := t.Context()

	out, err := c.CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName:    aws.String("new"),
		TemplateBody: aws.String(sampleTemplate),
		Parameters:   []types.Parameter{{ParameterKey: aws.String("Stage"), ParameterValue: aws.String("prod & <dev>")}},
		Capabilities: []types.Capability{types.CapabilityCapabilityIam, types.CapabilityCapabilityAutoExpand},
		Tags:         []types.Tag{{Key: aws.String("nimbus:skip-unsupported"), Value: aws.String("true")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.StackId) != stackID {
		t.Errorf("StackId = %q", aws.ToString(out.StackId))
	}
	if in := f.creates[0]; in.Parameters["Stage"] != "prod & <dev>" || !in.SkipUnsupported || in.TemplateBody != sampleTemplate ||
		!reflect.DeepEqual(in.Capabilities, []string{"CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"}) {
		t.Errorf("CreateStack input = %+v", in)
	}

	_, err = c.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String("app"), TemplateBody: aws.String(sampleTemplate)})
	var exists *types.AlreadyExistsException
	if !errors.As(err, &exists) || exists.ErrorMessage() != "Stack [app] already exists" {
		t.Errorf("CreateStack of an existing stack = %v, want AlreadyExistsException", err)
	}

	ds, err := c.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("app")})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Stacks) != 1 {
		t.Fatalf("Stacks = %+v", ds.Stacks)
	}
	s := ds.Stacks[0]
	if aws.ToString(s.StackName) != "app" || s.StackStatus != types.StackStatusUpdateComplete || !s.CreationTime.Equal(t0) ||
		!s.LastUpdatedTime.Equal(t0.Add(3600e9)) || s.DeletionTime != nil || aws.ToString(s.Description) != "An app & its <API>" {
		t.Errorf("stack = %+v", s)
	}
	if len(s.Outputs) != 2 || aws.ToString(s.Outputs[0].ExportName) != "app-url" || aws.ToString(s.Outputs[1].OutputValue) != "app-Fn-ABCDEFGHIJKLM" {
		t.Errorf("outputs = %+v", s.Outputs)
	}
	if len(s.Tags) != 2 || aws.ToString(s.Tags[0].Key) != "env" || len(s.Parameters) != 2 || len(s.Capabilities) != 2 {
		t.Errorf("tags %+v, parameters %+v, capabilities %v", s.Tags, s.Parameters, s.Capabilities)
	}

	_, err = c.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("nope")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "ValidationError" || ae.ErrorMessage() != "Stack with id nope does not exist" {
		t.Errorf("DescribeStacks of a missing stack = %v", err)
	}

	// The paginator follows NextToken over pages of 2.
	var ids []string
	for p := cloudformation.NewDescribeStackEventsPaginator(c, &cloudformation.DescribeStackEventsInput{StackName: aws.String("app")}); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.StackEvents {
			ids = append(ids, aws.ToString(e.EventId))
		}
	}
	if want := []string{"ev-5", "ev-4", "ev-3", "ev-2", "ev-1"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("events = %v, want %v", ids, want)
	}

	res, err := c.DescribeStackResource(ctx, &cloudformation.DescribeStackResourceInput{StackName: aws.String("app"), LogicalResourceId: aws.String("Fn")})
	if err != nil || aws.ToString(res.StackResourceDetail.PhysicalResourceId) != "app-Fn-ABCDEFGHIJKLM" || !res.StackResourceDetail.LastUpdatedTimestamp.Equal(t0) {
		t.Errorf("DescribeStackResource = %+v, %v", res, err)
	}
	var logical []string
	for p := cloudformation.NewListStackResourcesPaginator(c, &cloudformation.ListStackResourcesInput{StackName: aws.String("app")}); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range page.StackResourceSummaries {
			logical = append(logical, aws.ToString(r.LogicalResourceId))
		}
	}
	if want := []string{"Fn", "FnRole", "Api"}; !reflect.DeepEqual(logical, want) {
		t.Errorf("ListStackResources = %v, want %v", logical, want)
	}

	tpl, err := c.GetTemplate(ctx, &cloudformation.GetTemplateInput{StackName: aws.String("app")})
	if err != nil || aws.ToString(tpl.TemplateBody) != sampleTemplate || len(tpl.StagesAvailable) != 2 {
		t.Errorf("GetTemplate = %+v, %v", tpl, err)
	}

	v, err := c.ValidateTemplate(ctx, &cloudformation.ValidateTemplateInput{TemplateBody: aws.String(sampleTemplate)})
	if err != nil || len(v.Parameters) != 2 || !aws.ToBool(v.Parameters[1].NoEcho) || aws.ToString(v.Parameters[0].DefaultValue) != "dev" ||
		!reflect.DeepEqual(v.DeclaredTransforms, []string{"AWS::Serverless-2016-10-31"}) || len(v.Capabilities) != 1 {
		t.Errorf("ValidateTemplate = %+v, %v", v, err)
	}
	_, err = c.ValidateTemplate(ctx, &cloudformation.ValidateTemplateInput{TemplateURL: aws.String("https://s3.amazonaws.com/b/t.yaml")})
	if !errors.As(err, &ae) || ae.ErrorCode() != "ValidationError" {
		t.Errorf("ValidateTemplate with a URL = %v", err)
	}

	ex, err := c.ListExports(ctx, &cloudformation.ListExportsInput{})
	if err != nil || len(ex.Exports) != 2 || aws.ToString(ex.Exports[0].Name) != "app-url" || ex.NextToken != nil {
		t.Errorf("ListExports = %+v, %v", ex, err)
	}

	ls, err := c.ListStacks(ctx, &cloudformation.ListStacksInput{StackStatusFilter: []types.StackStatus{types.StackStatusDeleteComplete}})
	if err != nil || len(ls.StackSummaries) != 2 || ls.StackSummaries[1].DeletionTime == nil {
		t.Errorf("ListStacks = %+v, %v", ls, err)
	}

	if _, err := c.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String("app")}); err != nil || len(f.deletes) != 1 {
		t.Errorf("DeleteStack = %v (deletes %v)", err, f.deletes)
	}

	ccs, err := c.CreateChangeSet(ctx, &cloudformation.CreateChangeSetInput{StackName: aws.String("app"), ChangeSetName: aws.String("cs"),
		TemplateBody: aws.String(sampleTemplate), ChangeSetType: types.ChangeSetTypeUpdate})
	if err != nil || aws.ToString(ccs.Id) != changeSetID || aws.ToString(ccs.StackId) != stackID {
		t.Errorf("CreateChangeSet = %+v, %v", ccs, err)
	}
	// Changes come in pages (of 2 here).
	var changes []types.Change
	var token *string
	for range 5 {
		dcs, err := c.DescribeChangeSet(ctx, &cloudformation.DescribeChangeSetInput{ChangeSetName: aws.String(changeSetID), NextToken: token})
		if err != nil || dcs.Status != types.ChangeSetStatusCreateComplete || dcs.ExecutionStatus != types.ExecutionStatusAvailable || dcs.CreationTime == nil {
			t.Fatalf("DescribeChangeSet = %+v, %v", dcs, err)
		}
		changes = append(changes, dcs.Changes...)
		if token = dcs.NextToken; token == nil {
			break
		}
	}
	if len(changes) != 4 || changes[2].ResourceChange.Replacement != types.ReplacementTrue ||
		changes[1].ResourceChange.Details[1].Evaluation != types.EvaluationTypeDynamic || changes[3].ResourceChange.Action != types.ChangeActionRemove {
		t.Errorf("DescribeChangeSet changes = %+v", changes)
	}
	_, err = c.DescribeChangeSet(ctx, &cloudformation.DescribeChangeSetInput{ChangeSetName: aws.String("nope"), StackName: aws.String("app")})
	var nf *types.ChangeSetNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("DescribeChangeSet of a missing change set = %v, want ChangeSetNotFoundException", err)
	}
	if _, err := c.ExecuteChangeSet(ctx, &cloudformation.ExecuteChangeSetInput{ChangeSetName: aws.String(changeSetID)}); err != nil || len(f.executes) != 1 {
		t.Errorf("ExecuteChangeSet = %v", err)
	}
	_, err = c.ExecuteChangeSet(ctx, &cloudformation.ExecuteChangeSetInput{ChangeSetName: aws.String("empty"), StackName: aws.String("app")})
	var bad *types.InvalidChangeSetStatusException
	if !errors.As(err, &bad) {
		t.Errorf("ExecuteChangeSet of an empty change set = %v, want InvalidChangeSetStatusException", err)
	}
	lcs, err := c.ListChangeSets(ctx, &cloudformation.ListChangeSetsInput{StackName: aws.String("app")})
	if err != nil || len(lcs.Summaries) != 2 || aws.ToString(lcs.Summaries[1].StatusReason) != stack.ReasonNoChanges {
		t.Errorf("ListChangeSets = %+v, %v", lcs, err)
	}
	if _, err := c.DeleteChangeSet(ctx, &cloudformation.DeleteChangeSetInput{ChangeSetName: aws.String("cs"), StackName: aws.String("app")}); err != nil {
		t.Errorf("DeleteChangeSet = %v", err)
	}

	_, err = c.CancelUpdateStack(ctx, &cloudformation.CancelUpdateStackInput{StackName: aws.String("app")})
	if !errors.As(err, &ae) || ae.ErrorCode() != "InvalidAction" {
		t.Errorf("CancelUpdateStack = %v, want InvalidAction", err)
	}
}

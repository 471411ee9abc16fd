package resource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"

	"github.com/nimbus-serverless/nimbus/internal/stack"
)

const svcStates = "Sfn"

func addStepFunctions(c *clients, ps map[string]stack.Provider) {
	ps["AWS::StepFunctions::StateMachine"] = &stateMachineProvider{c}
}

// stateMachineProps are AWS::StepFunctions::StateMachine's properties.
type stateMachineProps struct {
	Definition              any
	DefinitionString        *string
	DefinitionS3Location    any
	DefinitionSubstitutions map[string]any
	RoleArn                 string
	StateMachineName        *string
	StateMachineType        string
	LoggingConfiguration    any
	TracingConfiguration    any
	Tags                    []tag
}

type stateMachineProvider struct{ c *clients }

// definition is the state machine's definition text, substitutions made
// (${name} replaced, as CloudFormation does).
func (sp *stateMachineProps) definition(logicalID string) (string, error) {
	var def string
	switch {
	case sp.DefinitionS3Location != nil:
		return "", fmt.Errorf("%s: DefinitionS3Location needs an object store, which Nimbus does not have yet; use Definition or DefinitionString (or SAM's DefinitionUri, which nimbus deploy inlines)", logicalID)
	case sp.Definition != nil && sp.DefinitionString != nil:
		return "", fmt.Errorf("%s: only one of Definition and DefinitionString may be given", logicalID)
	case sp.Definition != nil:
		b, err := json.Marshal(sp.Definition)
		if err != nil {
			return "", fmt.Errorf("%s: Definition: %w", logicalID, err)
		}
		def = string(b)
	case sp.DefinitionString != nil:
		def = *sp.DefinitionString
	default:
		return "", fmt.Errorf("%s: one of Definition, DefinitionString or DefinitionS3Location is required", logicalID)
	}
	for k, v := range sp.DefinitionSubstitutions {
		var s string
		switch x := v.(type) {
		case string:
			s = x
		default:
			b, _ := json.Marshal(x)
			s = string(b)
		}
		def = strings.ReplaceAll(def, "${"+k+"}", s)
	}
	return def, nil
}

func jsonRaw[T any](v any) (*T, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func (p *stateMachineProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var sp stateMachineProps
	if err := props(r, &sp); err != nil {
		return nil, err
	}
	def, err := sp.definition(r.LogicalID)
	if err != nil {
		return nil, err
	}
	name := derefOr(sp.StateMachineName, "")
	if name == "" {
		name = physicalName(r.StackName, r.LogicalID, 80)
	}
	in := &awssfn.CreateStateMachineInput{Name: aws.String(name), Definition: aws.String(def), RoleArn: aws.String(sp.RoleArn),
		Type: sfntypes.StateMachineType(sp.StateMachineType)}
	if in.LoggingConfiguration, err = jsonRaw[sfntypes.LoggingConfiguration](sp.LoggingConfiguration); err != nil {
		return nil, fmt.Errorf("%s: LoggingConfiguration: %w", r.LogicalID, err)
	}
	if in.TracingConfiguration, err = jsonRaw[sfntypes.TracingConfiguration](sp.TracingConfiguration); err != nil {
		return nil, fmt.Errorf("%s: TracingConfiguration: %w", r.LogicalID, err)
	}
	for _, t := range sp.Tags {
		in.Tags = append(in.Tags, sfntypes.Tag{Key: aws.String(t.Key), Value: aws.String(t.Value)})
	}
	out, err := p.c.sfn.CreateStateMachine(ctx, in)
	if err != nil {
		return nil, apiError(svcStates, err)
	}
	return p.result(ctx, aws.ToString(out.StateMachineArn), name)
}

func (p *stateMachineProvider) result(ctx context.Context, arn, name string) (*stack.Result, error) {
	attrs := map[string]any{"Arn": arn, "Name": name}
	if d, err := p.c.sfn.DescribeStateMachine(ctx, &awssfn.DescribeStateMachineInput{StateMachineArn: aws.String(arn)}); err == nil {
		attrs["StateMachineRevisionId"] = aws.ToString(d.RevisionId)
	}
	return &stack.Result{PhysicalID: arn, Attrs: attrs}, nil
}

func (p *stateMachineProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	var sp stateMachineProps
	if err := props(r, &sp); err != nil {
		return nil, err
	}
	ch := changed(prev.Properties, r.Properties)
	for k := range prev.Properties {
		if _, ok := r.Properties[k]; !ok {
			ch[k] = true
		}
	}
	if anyChanged(ch, "StateMachineName", "StateMachineType") {
		return nil, replace(r.LogicalID, "StateMachineName", "StateMachineType")
	}
	def, err := sp.definition(r.LogicalID)
	if err != nil {
		return nil, err
	}
	in := &awssfn.UpdateStateMachineInput{StateMachineArn: aws.String(prev.PhysicalID), Definition: aws.String(def),
		RoleArn: aws.String(sp.RoleArn)}
	if in.LoggingConfiguration, err = jsonRaw[sfntypes.LoggingConfiguration](sp.LoggingConfiguration); err != nil {
		return nil, fmt.Errorf("%s: LoggingConfiguration: %w", r.LogicalID, err)
	}
	if in.TracingConfiguration, err = jsonRaw[sfntypes.TracingConfiguration](sp.TracingConfiguration); err != nil {
		return nil, fmt.Errorf("%s: TracingConfiguration: %w", r.LogicalID, err)
	}
	if _, err := p.c.sfn.UpdateStateMachine(ctx, in); err != nil {
		return nil, apiError(svcStates, err)
	}
	name := prev.PhysicalID[strings.LastIndex(prev.PhysicalID, ":")+1:]
	return p.result(ctx, prev.PhysicalID, name)
}

func (p *stateMachineProvider) Delete(ctx context.Context, _ *stack.Request, cur *stack.Resource) error {
	if cur.PhysicalID == "" {
		return nil
	}
	_, err := p.c.sfn.DeleteStateMachine(ctx, &awssfn.DeleteStateMachineInput{StateMachineArn: aws.String(cur.PhysicalID)})
	var ae smithy.APIError
	if errors.As(err, &ae) && (ae.ErrorCode() == "StateMachineDoesNotExist" || ae.ErrorCode() == "InvalidArn") {
		return nil
	}
	return ignoreNotFound(svcStates, err)
}

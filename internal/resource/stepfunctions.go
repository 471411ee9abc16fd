package resource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/aws/smithy-go"

	"github.com/nimbus-serverless/nimbus/internal/stack"
	"github.com/nimbus-serverless/nimbus/internal/yamldoc"
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

// maxDefinitionBytes bounds a definition read from a bucket (Step
// Functions' limit on a definition: 1 MB).
const maxDefinitionBytes = 1 << 20

// definition is the state machine's definition text, substitutions made
// (${name} replaced, as CloudFormation does). DefinitionS3Location's
// object (JSON or YAML) is read from the node's S3 with the provider's
// credentials (the stack operation's, see resource.Options), or from the
// artifacts `nimbus deploy` uploaded.
func (sp *stateMachineProps) definition(ctx context.Context, c *clients, logicalID string) (string, error) {
	var def string
	given := 0
	for _, set := range []bool{sp.Definition != nil, sp.DefinitionString != nil, sp.DefinitionS3Location != nil} {
		if set {
			given++
		}
	}
	switch {
	case given > 1:
		return "", fmt.Errorf("%s: only one of Definition, DefinitionString and DefinitionS3Location may be given", logicalID)
	case sp.DefinitionS3Location != nil:
		text, err := c.readDefinition(ctx, logicalID, sp.DefinitionS3Location)
		if err != nil {
			return "", err
		}
		def = text
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
	def, err := sp.definition(ctx, p.c, r.LogicalID)
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
	def, err := sp.definition(ctx, p.c, r.LogicalID)
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

// definitionLocation is DefinitionS3Location.
type definitionLocation struct {
	Bucket, Key, Version string
}

// readDefinition reads the definition DefinitionS3Location names: JSON
// as it is, YAML turned into JSON.
func (c *clients) readDefinition(ctx context.Context, logicalID string, v any) (string, error) {
	loc, err := jsonRaw[definitionLocation](v)
	if err != nil || loc == nil || loc.Bucket == "" || loc.Key == "" {
		return "", fmt.Errorf("%s: DefinitionS3Location needs Bucket and Key", logicalID)
	}
	var data []byte
	if loc.Bucket == stack.ArtifactBucket {
		if c.opts.Artifacts == nil {
			return "", fmt.Errorf("%s: DefinitionS3Location: no artifact store", logicalID)
		}
		if data, err = c.opts.Artifacts.Get(ctx, loc.Key); err != nil {
			return "", fmt.Errorf("%s: DefinitionS3Location s3://%s/%s: %w", logicalID, loc.Bucket, loc.Key, err)
		}
	} else {
		in := &s3.GetObjectInput{Bucket: aws.String(loc.Bucket), Key: aws.String(loc.Key)}
		if loc.Version != "" {
			in.VersionId = aws.String(loc.Version)
		}
		out, err := c.s3.GetObject(ctx, in)
		if err != nil {
			return "", fmt.Errorf("%s: DefinitionS3Location s3://%s/%s: %w", logicalID, loc.Bucket, loc.Key, apiError("S3", err))
		}
		defer out.Body.Close()
		if data, err = io.ReadAll(io.LimitReader(out.Body, maxDefinitionBytes+1)); err != nil {
			return "", fmt.Errorf("%s: DefinitionS3Location s3://%s/%s: %w", logicalID, loc.Bucket, loc.Key, err)
		}
	}
	if len(data) > maxDefinitionBytes {
		return "", fmt.Errorf("%s: DefinitionS3Location s3://%s/%s is larger than a definition may be (1 MB)", logicalID, loc.Bucket, loc.Key)
	}
	if json.Valid(data) {
		return string(data), nil
	}
	doc, err := yamldoc.Decode(data, yamldoc.Options{Noun: "definition"})
	if err != nil {
		return "", fmt.Errorf("%s: DefinitionS3Location s3://%s/%s is neither JSON nor YAML: %w", logicalID, loc.Bucket, loc.Key, err)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("%s: DefinitionS3Location s3://%s/%s: %w", logicalID, loc.Bucket, loc.Key, err)
	}
	return string(b), nil
}

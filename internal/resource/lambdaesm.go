package resource

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/nimbus-serverless/nimbus/internal/stack"
)

func addEventSourceMappings(c *clients, ps map[string]stack.Provider) {
	ps["AWS::Lambda::EventSourceMapping"] = &esmProvider{c}
}

// esmProps are AWS::Lambda::EventSourceMapping's properties (the SAM
// SQS, DynamoDB and Kinesis events translate to it).
type esmProps struct {
	FunctionName                   *string
	EventSourceArn                 *string
	BatchSize                      *int64
	Enabled                        *bool
	StartingPosition               types.EventSourcePosition
	StartingPositionTimestamp      *float64
	MaximumBatchingWindowInSeconds *int64
	MaximumRetryAttempts           *int64
	MaximumRecordAgeInSeconds      *int64
	BisectBatchOnFunctionError     *bool
	ParallelizationFactor          *int64
	TumblingWindowInSeconds        *int64
	FunctionResponseTypes          []types.FunctionResponseType
	FilterCriteria                 *struct {
		Filters []struct{ Pattern *string }
	}
	DestinationConfig *struct {
		OnFailure *struct{ Destination *string }
	}
	ScalingConfig *struct{ MaximumConcurrency *int64 }
	Tags          []tag
	// Accepted and not acted on.
	KmsKeyArn                  *string
	MetricsConfig              any
	ProvisionedPollerConfig    any
	SourceAccessConfigurations any
	Topics                     any
	Queues                     any
	LoggingConfig              any
}

type esmProvider struct{ c *clients }

func (p esmProps) filters() *types.FilterCriteria {
	if p.FilterCriteria == nil {
		return nil
	}
	fc := &types.FilterCriteria{}
	for _, f := range p.FilterCriteria.Filters {
		fc.Filters = append(fc.Filters, types.Filter{Pattern: f.Pattern})
	}
	return fc
}

func (p esmProps) destination() *types.DestinationConfig {
	if p.DestinationConfig == nil || p.DestinationConfig.OnFailure == nil {
		return nil
	}
	return &types.DestinationConfig{OnFailure: &types.OnFailure{Destination: p.DestinationConfig.OnFailure.Destination}}
}

func (p esmProps) scaling() *types.ScalingConfig {
	if p.ScalingConfig == nil {
		return nil
	}
	return &types.ScalingConfig{MaximumConcurrency: i32(p.ScalingConfig.MaximumConcurrency)}
}

func (p *esmProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var ep esmProps
	if err := props(r, &ep); err != nil {
		return nil, err
	}
	if err := requireProps(r.LogicalID, r.Properties, "FunctionName"); err != nil {
		return nil, err
	}
	in := &lambda.CreateEventSourceMappingInput{
		FunctionName: ep.FunctionName, EventSourceArn: ep.EventSourceArn, BatchSize: i32(ep.BatchSize), Enabled: ep.Enabled,
		StartingPosition: ep.StartingPosition, MaximumBatchingWindowInSeconds: i32(ep.MaximumBatchingWindowInSeconds),
		MaximumRetryAttempts: i32(ep.MaximumRetryAttempts), MaximumRecordAgeInSeconds: i32(ep.MaximumRecordAgeInSeconds),
		BisectBatchOnFunctionError: ep.BisectBatchOnFunctionError, ParallelizationFactor: i32(ep.ParallelizationFactor),
		TumblingWindowInSeconds: i32(ep.TumblingWindowInSeconds), FunctionResponseTypes: ep.FunctionResponseTypes,
		FilterCriteria: ep.filters(), DestinationConfig: ep.destination(), ScalingConfig: ep.scaling(),
	}
	out, err := p.c.lambda.CreateEventSourceMapping(ctx, in)
	if err != nil {
		return nil, apiError(svcLambda, err)
	}
	return esmResult(aws.ToString(out.UUID), aws.ToString(out.EventSourceMappingArn)), nil
}

func esmResult(id, arn string) *stack.Result {
	return &stack.Result{PhysicalID: id, Attrs: map[string]any{"Id": id, "EventSourceMappingArn": arn}}
}

func (p *esmProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	var ep esmProps
	if err := props(r, &ep); err != nil {
		return nil, err
	}
	ch := changed(prev.Properties, r.Properties)
	if anyChanged(ch, "EventSourceArn", "StartingPosition", "StartingPositionTimestamp") {
		return nil, replace(r.LogicalID, "EventSourceArn or StartingPosition")
	}
	out, err := p.c.lambda.UpdateEventSourceMapping(ctx, &lambda.UpdateEventSourceMappingInput{UUID: aws.String(prev.PhysicalID),
		FunctionName: ep.FunctionName, BatchSize: i32(ep.BatchSize), Enabled: ep.Enabled,
		MaximumBatchingWindowInSeconds: i32(ep.MaximumBatchingWindowInSeconds), MaximumRetryAttempts: i32(ep.MaximumRetryAttempts),
		MaximumRecordAgeInSeconds: i32(ep.MaximumRecordAgeInSeconds), BisectBatchOnFunctionError: ep.BisectBatchOnFunctionError,
		ParallelizationFactor: i32(ep.ParallelizationFactor), FunctionResponseTypes: ep.FunctionResponseTypes,
		FilterCriteria: ep.filters(), DestinationConfig: ep.destination(), ScalingConfig: ep.scaling()})
	if err != nil {
		return nil, apiError(svcLambda, err)
	}
	return esmResult(prev.PhysicalID, aws.ToString(out.EventSourceMappingArn)), nil
}

func (p *esmProvider) Delete(ctx context.Context, r *stack.Request, cur *stack.Resource) error {
	if cur.PhysicalID == "" {
		return nil
	}
	_, err := p.c.lambda.DeleteEventSourceMapping(ctx, &lambda.DeleteEventSourceMappingInput{UUID: aws.String(cur.PhysicalID)})
	return ignoreNotFound(svcLambda, err)
}

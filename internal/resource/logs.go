package resource

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	logtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"

	"github.com/nimbus-serverless/nimbus/internal/stack"
)

const svcLogs = "CloudWatchLogs"

func addLogs(c *clients, ps map[string]stack.Provider) {
	ps["AWS::Logs::LogGroup"] = &logGroupProvider{c}
}

// logGroupProps are AWS::Logs::LogGroup's properties.
type logGroupProps struct {
	DataProtectionPolicy any
	FieldIndexPolicies   []any
	KmsKeyId             *string //nolint:revive // CloudFormation's name
	LogGroupClass        logtypes.LogGroupClass
	LogGroupName         *string
	RetentionInDays      *int64
	Tags                 []tag
}

type logGroupProvider struct{ c *clients }

func (p *logGroupProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var lp logGroupProps
	if err := props(r, &lp); err != nil {
		return nil, err
	}
	name := derefOr(lp.LogGroupName, "")
	if name == "" {
		name = physicalName(r.StackName, r.LogicalID, 512)
	}
	if _, err := p.c.logs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{
		LogGroupName: &name, KmsKeyId: lp.KmsKeyId, LogGroupClass: lp.LogGroupClass, Tags: tagMap(lp.Tags),
	}); err != nil {
		return nil, apiError(svcLogs, err)
	}
	if lp.RetentionInDays != nil {
		if err := p.retention(ctx, name, lp.RetentionInDays); err != nil {
			if _, derr := p.c.logs.DeleteLogGroup(context.WithoutCancel(ctx), &cloudwatchlogs.DeleteLogGroupInput{LogGroupName: &name}); derr != nil && !notFound(derr) {
				p.c.log.Warn("undo log group create", "log_group", name, "err", derr)
			}
			return nil, err
		}
	}
	return p.result(r, name), nil
}

func (p *logGroupProvider) result(r *stack.Request, name string) *stack.Result {
	region, acct := r.Region, r.AccountID
	if region == "" {
		region = p.c.opts.Region
	}
	if acct == "" {
		acct = p.c.opts.AccountID
	}
	return &stack.Result{PhysicalID: name, Attrs: map[string]any{
		"Arn": "arn:aws:logs:" + region + ":" + acct + ":log-group:" + name + ":*",
	}}
}

// retention sets (days) or removes (nil) a log group's retention.
func (p *logGroupProvider) retention(ctx context.Context, name string, days *int64) error {
	var err error
	if days == nil {
		_, err = p.c.logs.DeleteRetentionPolicy(ctx, &cloudwatchlogs.DeleteRetentionPolicyInput{LogGroupName: &name})
	} else {
		_, err = p.c.logs.PutRetentionPolicy(ctx, &cloudwatchlogs.PutRetentionPolicyInput{LogGroupName: &name, RetentionInDays: i32(days)})
	}
	return apiError(svcLogs, err)
}

func (p *logGroupProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	var lp logGroupProps
	if err := props(r, &lp); err != nil {
		return nil, err
	}
	ch := changed(prev.Properties, r.Properties)
	if anyChanged(ch, "LogGroupName", "LogGroupClass", "KmsKeyId") {
		return nil, replace(r.LogicalID, "LogGroupName, LogGroupClass or KmsKeyId")
	}
	if ch["RetentionInDays"] {
		if err := p.retention(ctx, prev.PhysicalID, lp.RetentionInDays); err != nil {
			return nil, err
		}
	}
	return p.result(r, prev.PhysicalID), nil
}

func (p *logGroupProvider) Delete(ctx context.Context, r *stack.Request, cur *stack.Resource) error {
	if cur.PhysicalID == "" {
		return nil
	}
	_, err := p.c.logs.DeleteLogGroup(ctx, &cloudwatchlogs.DeleteLogGroupInput{LogGroupName: &cur.PhysicalID})
	return ignoreNotFound(svcLogs, err)
}

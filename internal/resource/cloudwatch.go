package resource

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"

	"github.com/nimbus-serverless/nimbus/internal/stack"
)

const svcCloudWatch = "CloudWatch"

func addCloudWatch(c *clients, ps map[string]stack.Provider) {
	ps["AWS::CloudWatch::Alarm"] = &alarmProvider{c}
	ps["AWS::CloudWatch::CompositeAlarm"] = &compositeAlarmProvider{c}
	ps["AWS::CloudWatch::Dashboard"] = &dashboardProvider{c}
}

type cwDimension struct{ Name, Value string }

type cwMetric struct {
	MetricName *string
	Namespace  *string
	Dimensions []cwDimension
}

type cwMetricStat struct {
	Metric cwMetric
	Period *int64
	Stat   *string
	Unit   *string
}

type cwQuery struct {
	Id         *string //nolint:revive // CloudFormation's name
	Expression *string
	Label      *string
	MetricStat *cwMetricStat
	Period     *int64
	ReturnData *bool
	AccountId  *string //nolint:revive // CloudFormation's name
}

// alarmProps are AWS::CloudWatch::Alarm's properties.
type alarmProps struct {
	ActionsEnabled                   *bool
	AlarmActions                     []string
	AlarmDescription                 *string
	AlarmName                        *string
	ComparisonOperator               *string
	DatapointsToAlarm                *int64
	Dimensions                       []cwDimension
	EvaluateLowSampleCountPercentile *string
	EvaluationPeriods                *int64
	ExtendedStatistic                *string
	InsufficientDataActions          []string
	MetricName                       *string
	Metrics                          []cwQuery
	Namespace                        *string
	OKActions                        []string
	Period                           *int64
	Statistic                        *string
	Tags                             []tag
	Threshold                        *float64
	ThresholdMetricId                *string //nolint:revive // CloudFormation's name
	TreatMissingData                 *string
	Unit                             *string
}

func dims(ds []cwDimension) []cwtypes.Dimension {
	out := make([]cwtypes.Dimension, len(ds))
	for i, d := range ds {
		out[i] = cwtypes.Dimension{Name: aws.String(d.Name), Value: aws.String(d.Value)}
	}
	return out
}

func cwTags(ts []tag) []cwtypes.Tag {
	out := make([]cwtypes.Tag, len(ts))
	for i, t := range ts {
		out[i] = cwtypes.Tag{Key: aws.String(t.Key), Value: aws.String(t.Value)}
	}
	return out
}

func (ap *alarmProps) input(name string) *cloudwatch.PutMetricAlarmInput {
	in := &cloudwatch.PutMetricAlarmInput{
		AlarmName: aws.String(name), ActionsEnabled: ap.ActionsEnabled, AlarmActions: ap.AlarmActions,
		AlarmDescription: ap.AlarmDescription, ComparisonOperator: cwtypes.ComparisonOperator(derefOr(ap.ComparisonOperator, "")),
		DatapointsToAlarm: i32(ap.DatapointsToAlarm), EvaluateLowSampleCountPercentile: ap.EvaluateLowSampleCountPercentile,
		EvaluationPeriods: i32(ap.EvaluationPeriods), ExtendedStatistic: ap.ExtendedStatistic,
		InsufficientDataActions: ap.InsufficientDataActions, MetricName: ap.MetricName, Namespace: ap.Namespace,
		OKActions: ap.OKActions, Period: i32(ap.Period), Statistic: cwtypes.Statistic(derefOr(ap.Statistic, "")),
		Threshold: ap.Threshold, ThresholdMetricId: ap.ThresholdMetricId, TreatMissingData: ap.TreatMissingData,
		Unit: cwtypes.StandardUnit(derefOr(ap.Unit, "")), Tags: cwTags(ap.Tags),
	}
	if len(ap.Dimensions) > 0 {
		in.Dimensions = dims(ap.Dimensions)
	}
	for _, q := range ap.Metrics {
		mq := cwtypes.MetricDataQuery{Id: q.Id, Expression: q.Expression, Label: q.Label, Period: i32(q.Period),
			ReturnData: q.ReturnData, AccountId: q.AccountId}
		if q.MetricStat != nil {
			mq.MetricStat = &cwtypes.MetricStat{Period: i32(q.MetricStat.Period), Stat: q.MetricStat.Stat,
				Unit: cwtypes.StandardUnit(derefOr(q.MetricStat.Unit, "")),
				Metric: &cwtypes.Metric{MetricName: q.MetricStat.Metric.MetricName, Namespace: q.MetricStat.Metric.Namespace,
					Dimensions: dims(q.MetricStat.Metric.Dimensions)}}
		}
		in.Metrics = append(in.Metrics, mq)
	}
	return in
}

type alarmProvider struct{ c *clients }

func (p *alarmProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var ap alarmProps
	if err := props(r, &ap); err != nil {
		return nil, err
	}
	if err := requireProps(r.LogicalID, r.Properties, "ComparisonOperator", "EvaluationPeriods"); err != nil {
		return nil, err
	}
	name := derefOr(ap.AlarmName, "")
	if name == "" {
		name = physicalName(r.StackName, r.LogicalID, 255)
	}
	if _, err := p.c.cloudwatch.PutMetricAlarm(ctx, ap.input(name)); err != nil {
		return nil, apiError(svcCloudWatch, err)
	}
	return p.c.alarmResult(r, name), nil
}

func (c *clients) alarmResult(r *stack.Request, name string) *stack.Result {
	region, acct := r.Region, r.AccountID
	if region == "" {
		region = c.opts.Region
	}
	if acct == "" {
		acct = c.opts.AccountID
	}
	return &stack.Result{PhysicalID: name, Attrs: map[string]any{"Arn": "arn:aws:cloudwatch:" + region + ":" + acct + ":alarm:" + name}}
}

func (p *alarmProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	var ap alarmProps
	if err := props(r, &ap); err != nil {
		return nil, err
	}
	if changed(prev.Properties, r.Properties)["AlarmName"] {
		return nil, replace(r.LogicalID, "AlarmName")
	}
	if _, err := p.c.cloudwatch.PutMetricAlarm(ctx, ap.input(prev.PhysicalID)); err != nil {
		return nil, apiError(svcCloudWatch, err)
	}
	return p.c.alarmResult(r, prev.PhysicalID), nil
}

func (p *alarmProvider) Delete(ctx context.Context, _ *stack.Request, cur *stack.Resource) error {
	return p.c.deleteAlarm(ctx, cur.PhysicalID)
}

func (c *clients) deleteAlarm(ctx context.Context, name string) error {
	if name == "" {
		return nil
	}
	_, err := c.cloudwatch.DeleteAlarms(ctx, &cloudwatch.DeleteAlarmsInput{AlarmNames: []string{name}})
	return ignoreNotFound(svcCloudWatch, err)
}

// compositeAlarmProps are AWS::CloudWatch::CompositeAlarm's properties.
type compositeAlarmProps struct {
	ActionsEnabled                   *bool
	ActionsSuppressor                *string
	ActionsSuppressorExtensionPeriod *int64
	ActionsSuppressorWaitPeriod      *int64
	AlarmActions                     []string
	AlarmDescription                 *string
	AlarmName                        *string
	AlarmRule                        *string
	InsufficientDataActions          []string
	OKActions                        []string
	Tags                             []tag
}

func (cp *compositeAlarmProps) input(name string) *cloudwatch.PutCompositeAlarmInput {
	return &cloudwatch.PutCompositeAlarmInput{AlarmName: aws.String(name), AlarmRule: cp.AlarmRule, ActionsEnabled: cp.ActionsEnabled,
		ActionsSuppressor: cp.ActionsSuppressor, ActionsSuppressorExtensionPeriod: i32(cp.ActionsSuppressorExtensionPeriod),
		ActionsSuppressorWaitPeriod: i32(cp.ActionsSuppressorWaitPeriod), AlarmActions: cp.AlarmActions,
		AlarmDescription: cp.AlarmDescription, InsufficientDataActions: cp.InsufficientDataActions, OKActions: cp.OKActions,
		Tags: cwTags(cp.Tags)}
}

type compositeAlarmProvider struct{ c *clients }

func (p *compositeAlarmProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var cp compositeAlarmProps
	if err := props(r, &cp); err != nil {
		return nil, err
	}
	if err := requireProps(r.LogicalID, r.Properties, "AlarmRule"); err != nil {
		return nil, err
	}
	name := derefOr(cp.AlarmName, "")
	if name == "" {
		name = physicalName(r.StackName, r.LogicalID, 255)
	}
	if _, err := p.c.cloudwatch.PutCompositeAlarm(ctx, cp.input(name)); err != nil {
		return nil, apiError(svcCloudWatch, err)
	}
	return p.c.alarmResult(r, name), nil
}

func (p *compositeAlarmProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	var cp compositeAlarmProps
	if err := props(r, &cp); err != nil {
		return nil, err
	}
	if changed(prev.Properties, r.Properties)["AlarmName"] {
		return nil, replace(r.LogicalID, "AlarmName")
	}
	if _, err := p.c.cloudwatch.PutCompositeAlarm(ctx, cp.input(prev.PhysicalID)); err != nil {
		return nil, apiError(svcCloudWatch, err)
	}
	return p.c.alarmResult(r, prev.PhysicalID), nil
}

func (p *compositeAlarmProvider) Delete(ctx context.Context, _ *stack.Request, cur *stack.Resource) error {
	return p.c.deleteAlarm(ctx, cur.PhysicalID)
}

// dashboardProps are AWS::CloudWatch::Dashboard's properties.
type dashboardProps struct {
	DashboardBody *string
	DashboardName *string
}

type dashboardProvider struct{ c *clients }

func (p *dashboardProvider) put(ctx context.Context, r *stack.Request, name string) (*stack.Result, error) {
	var dp dashboardProps
	if err := props(r, &dp); err != nil {
		return nil, err
	}
	if err := requireProps(r.LogicalID, r.Properties, "DashboardBody"); err != nil {
		return nil, err
	}
	if name == "" {
		name = derefOr(dp.DashboardName, "")
	}
	if name == "" {
		name = physicalName(r.StackName, r.LogicalID, 255)
	}
	if _, err := p.c.cloudwatch.PutDashboard(ctx, &cloudwatch.PutDashboardInput{DashboardName: aws.String(name), DashboardBody: dp.DashboardBody}); err != nil {
		return nil, apiError(svcCloudWatch, err)
	}
	return &stack.Result{PhysicalID: name}, nil
}

func (p *dashboardProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	return p.put(ctx, r, "")
}

func (p *dashboardProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	if changed(prev.Properties, r.Properties)["DashboardName"] {
		return nil, replace(r.LogicalID, "DashboardName")
	}
	return p.put(ctx, r, prev.PhysicalID)
}

func (p *dashboardProvider) Delete(ctx context.Context, _ *stack.Request, cur *stack.Resource) error {
	if cur.PhysicalID == "" {
		return nil
	}
	_, err := p.c.cloudwatch.DeleteDashboards(ctx, &cloudwatch.DeleteDashboardsInput{DashboardNames: []string{cur.PhysicalID}})
	return ignoreNotFound(svcCloudWatch, err)
}

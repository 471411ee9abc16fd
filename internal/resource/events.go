package resource

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/nimbus-serverless/nimbus/internal/stack"
)

const svcEvents = "EventBridge"

func addEvents(c *clients, ps map[string]stack.Provider) {
	ps["AWS::Events::Rule"] = &ruleProvider{c}
	ps["AWS::Events::EventBus"] = &eventBusProvider{c}
	ps["AWS::Events::Archive"] = &archiveProvider{c}
	ps["AWS::Events::EventBusPolicy"] = &eventBusPolicyProvider{c}
}

// --- AWS::Events::Rule --------------------------------------------------

// ruleProps are AWS::Events::Rule's properties.
type ruleProps struct {
	Description        *string
	EventBusName       *string
	EventPattern       any // a JSON object, or its text
	Name               *string
	RoleArn            *string
	ScheduleExpression *string
	State              *string
	Targets            []ruleTarget
}

// ruleTarget is one entry of Targets. Parameters of target kinds Nimbus
// does not deliver to are accepted by the schema and refused by name.
type ruleTarget struct {
	ID                          string `cfn:"Id"`
	Arn                         string
	Input                       *string
	InputPath                   *string
	InputTransformer            *inputTransformer
	RetryPolicy                 *retryPolicy
	DeadLetterConfig            *struct{ Arn *string }
	SqsParameters               *struct{ MessageGroupId *string } //nolint:revive // CloudFormation's name
	RoleArn                     *string
	AppSyncParameters           any
	BatchParameters             any
	EcsParameters               any
	HttpParameters              any //nolint:revive // CloudFormation's name
	KinesisParameters           any
	RedshiftDataParameters      any
	RunCommandParameters        any
	SageMakerPipelineParameters any
}

type inputTransformer struct {
	InputPathsMap map[string]string
	InputTemplate string
}

type retryPolicy struct {
	MaximumEventAgeInSeconds *int64
	MaximumRetryAttempts     *int64
}

type ruleProvider struct{ c *clients }

// patternText is EventPattern as PutRule takes it: CloudFormation accepts
// the pattern as a JSON object or as its text.
func patternText(p any) (*string, error) {
	switch v := p.(type) {
	case nil:
		return nil, nil
	case string:
		return &v, nil
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("encode EventPattern: %w", err)
		}
		s := string(b)
		return &s, nil
	}
}

// ruleID is a rule's physical id, which is also its Ref: the name on the
// default bus, "bus|name" on another (as CloudFormation answers).
func ruleID(bus, name string) string {
	if bus == "" || bus == "default" {
		return name
	}
	return bus + "|" + name
}

// splitRuleID is ruleID's inverse.
func splitRuleID(id string) (bus, name string) {
	if i := strings.LastIndex(id, "|"); i >= 0 {
		return id[:i], id[i+1:]
	}
	return "", id
}

// busOf is the bus name of an EventBusName property (a name or an ARN).
func busOf(v *string) string {
	s := aws.ToString(v)
	if i := strings.Index(s, ":event-bus/"); strings.HasPrefix(s, "arn:") && i >= 0 {
		return s[i+len(":event-bus/"):]
	}
	return s
}

func (p *ruleProvider) put(ctx context.Context, r *stack.Request, rp *ruleProps, bus, name string) (string, error) {
	pattern, err := patternText(rp.EventPattern)
	if err != nil {
		return "", err
	}
	in := &eventbridge.PutRuleInput{Name: &name, Description: rp.Description, EventPattern: pattern,
		RoleArn: rp.RoleArn, ScheduleExpression: rp.ScheduleExpression}
	if bus != "" {
		in.EventBusName = &bus
	}
	if rp.State != nil {
		in.State = ebtypes.RuleState(*rp.State)
	}
	out, err := p.c.events.PutRule(ctx, in)
	if err != nil {
		return "", apiError(svcEvents, err)
	}
	return aws.ToString(out.RuleArn), nil
}

// targets converts the Targets property to the API's.
func targets(ts []ruleTarget) ([]ebtypes.Target, error) {
	out := make([]ebtypes.Target, 0, len(ts))
	for _, t := range ts {
		et := ebtypes.Target{Id: aws.String(t.ID), Arn: aws.String(t.Arn), Input: t.Input, InputPath: t.InputPath, RoleArn: t.RoleArn}
		if it := t.InputTransformer; it != nil {
			et.InputTransformer = &ebtypes.InputTransformer{InputPathsMap: it.InputPathsMap, InputTemplate: aws.String(it.InputTemplate)}
		}
		if rp := t.RetryPolicy; rp != nil {
			et.RetryPolicy = &ebtypes.RetryPolicy{MaximumEventAgeInSeconds: i32(rp.MaximumEventAgeInSeconds), MaximumRetryAttempts: i32(rp.MaximumRetryAttempts)}
		}
		if d := t.DeadLetterConfig; d != nil {
			et.DeadLetterConfig = &ebtypes.DeadLetterConfig{Arn: d.Arn}
		}
		if sp := t.SqsParameters; sp != nil {
			et.SqsParameters = &ebtypes.SqsParameters{MessageGroupId: sp.MessageGroupId}
		}
		for _, x := range []struct {
			name string
			v    any
		}{{"AppSyncParameters", t.AppSyncParameters}, {"BatchParameters", t.BatchParameters}, {"EcsParameters", t.EcsParameters},
			{"HttpParameters", t.HttpParameters}, {"KinesisParameters", t.KinesisParameters},
			{"RedshiftDataParameters", t.RedshiftDataParameters}, {"RunCommandParameters", t.RunCommandParameters},
			{"SageMakerPipelineParameters", t.SageMakerPipelineParameters}} {
			if x.v != nil {
				return nil, fmt.Errorf("target %s: Nimbus does not deliver to the targets %s configures yet", t.ID, x.name)
			}
		}
		out = append(out, et)
	}
	return out, nil
}

// putTargets sets the rule's targets to ts, removing those of prev that
// ts no longer has.
func (p *ruleProvider) putTargets(ctx context.Context, bus, name string, ts, prev []ruleTarget) error {
	keep := map[string]bool{}
	for _, t := range ts {
		keep[t.ID] = true
	}
	var gone []string
	for _, t := range prev {
		if !keep[t.ID] {
			gone = append(gone, t.ID)
		}
	}
	var busp *string
	if bus != "" {
		busp = &bus
	}
	if len(gone) > 0 {
		out, err := p.c.events.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: &name, EventBusName: busp, Ids: gone})
		if err != nil {
			return apiError(svcEvents, err)
		}
		if out.FailedEntryCount > 0 {
			return fmt.Errorf("remove targets of rule %s: %s", name, aws.ToString(out.FailedEntries[0].ErrorMessage))
		}
	}
	if len(ts) == 0 {
		return nil
	}
	in, err := targets(ts)
	if err != nil {
		return err
	}
	out, err := p.c.events.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: &name, EventBusName: busp, Targets: in})
	if err != nil {
		return apiError(svcEvents, err)
	}
	if out.FailedEntryCount > 0 {
		f := out.FailedEntries[0]
		return fmt.Errorf("Resource handler returned message: %q (HandlerErrorCode: InvalidRequest)", //nolint:staticcheck // CloudFormation's wording
			fmt.Sprintf("Target %s: %s: %s", aws.ToString(f.TargetId), aws.ToString(f.ErrorCode), aws.ToString(f.ErrorMessage)))
	}
	return nil
}

func (p *ruleProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var rp ruleProps
	if err := props(r, &rp); err != nil {
		return nil, err
	}
	if rp.EventPattern == nil && rp.ScheduleExpression == nil {
		return nil, fmt.Errorf("Properties validation failed for resource %s with message: #: EventPattern or ScheduleExpression is required", r.LogicalID) //nolint:staticcheck // CloudFormation's wording
	}
	bus := busOf(rp.EventBusName)
	name := aws.ToString(rp.Name)
	if name == "" {
		name = physicalName(r.StackName, r.LogicalID, 64)
	}
	arn, err := p.put(ctx, r, &rp, bus, name)
	if err != nil {
		return nil, err
	}
	if err := p.putTargets(ctx, bus, name, rp.Targets, nil); err != nil {
		p.undo(context.WithoutCancel(ctx), bus, name, rp.Targets)
		return nil, err
	}
	return &stack.Result{PhysicalID: ruleID(bus, name), Attrs: map[string]any{"Arn": arn}}, nil
}

// undo deletes a rule whose creation failed half-way.
func (p *ruleProvider) undo(ctx context.Context, bus, name string, ts []ruleTarget) {
	if err := p.delete(ctx, bus, name, ts); err != nil {
		p.c.log.Warn("undo rule create", "rule", name, "err", err)
	}
}

func (p *ruleProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	var rp, old ruleProps
	if err := props(r, &rp); err != nil {
		return nil, err
	}
	if err := propsOf(r.LogicalID, prev.Properties, &old); err != nil {
		return nil, err
	}
	ch := changed(prev.Properties, r.Properties)
	if anyChanged(ch, "Name", "EventBusName") {
		return nil, replace(r.LogicalID, "Name or EventBusName")
	}
	bus, name := splitRuleID(prev.PhysicalID)
	arn, err := p.put(ctx, r, &rp, bus, name)
	if err != nil {
		return nil, err
	}
	if err := p.putTargets(ctx, bus, name, rp.Targets, old.Targets); err != nil {
		return nil, err
	}
	return &stack.Result{PhysicalID: prev.PhysicalID, Attrs: map[string]any{"Arn": arn}}, nil
}

func (p *ruleProvider) Delete(ctx context.Context, r *stack.Request, cur *stack.Resource) error {
	if cur.PhysicalID == "" {
		return nil
	}
	var old ruleProps
	_ = propsOf(r.LogicalID, cur.Properties, &old) // the targets are listed below anyway
	bus, name := splitRuleID(cur.PhysicalID)
	return p.delete(ctx, bus, name, old.Targets)
}

// delete removes a rule's targets (those the rule has now, which include
// ts) and then the rule; a rule already gone is no error.
func (p *ruleProvider) delete(ctx context.Context, bus, name string, _ []ruleTarget) error {
	var busp *string
	if bus != "" {
		busp = &bus
	}
	var ids []string
	var token *string
	for {
		out, err := p.c.events.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: &name, EventBusName: busp, NextToken: token})
		if err != nil {
			return ignoreNotFound(svcEvents, err)
		}
		for _, t := range out.Targets {
			ids = append(ids, aws.ToString(t.Id))
		}
		if token = out.NextToken; token == nil {
			break
		}
	}
	if len(ids) > 0 {
		if _, err := p.c.events.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: &name, EventBusName: busp, Ids: ids}); err != nil {
			return ignoreNotFound(svcEvents, err)
		}
	}
	_, err := p.c.events.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: &name, EventBusName: busp})
	return ignoreNotFound(svcEvents, err)
}

// --- AWS::Events::EventBus ----------------------------------------------

type eventBusProps struct {
	Name             *string
	Description      *string
	EventSourceName  *string
	KmsKeyIdentifier *string
	DeadLetterConfig *struct{ Arn *string }
	LogConfig        any
	Policy           any
	Tags             []tag
}

type eventBusProvider struct{ c *clients }

func (p *eventBusProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var bp eventBusProps
	if err := props(r, &bp); err != nil {
		return nil, err
	}
	if err := requireProps(r.LogicalID, r.Properties, "Name"); err != nil {
		return nil, err
	}
	switch {
	case bp.LogConfig != nil:
		return nil, fmt.Errorf("%s: Nimbus does not implement event bus logging (LogConfig) yet", r.LogicalID)
	case len(bp.Tags) > 0:
		return nil, fmt.Errorf("%s: Nimbus does not implement tags on EventBridge resources yet", r.LogicalID)
	}
	in := &eventbridge.CreateEventBusInput{Name: bp.Name, Description: bp.Description, EventSourceName: bp.EventSourceName,
		KmsKeyIdentifier: bp.KmsKeyIdentifier}
	if bp.DeadLetterConfig != nil {
		in.DeadLetterConfig = &ebtypes.DeadLetterConfig{Arn: bp.DeadLetterConfig.Arn}
	}
	out, err := p.c.events.CreateEventBus(ctx, in)
	if err != nil {
		return nil, apiError(svcEvents, err)
	}
	if bp.Policy != nil {
		pol, ok := bp.Policy.(string)
		if !ok {
			b, _ := json.Marshal(bp.Policy)
			pol = string(b)
		}
		if _, err := p.c.events.PutPermission(ctx, &eventbridge.PutPermissionInput{EventBusName: bp.Name, Policy: aws.String(pol)}); err != nil {
			return nil, apiError(svcEvents, err)
		}
	}
	return &stack.Result{PhysicalID: *bp.Name, Attrs: map[string]any{"Arn": aws.ToString(out.EventBusArn), "Name": *bp.Name}}, nil
}

func (p *eventBusProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	var bp eventBusProps
	if err := props(r, &bp); err != nil {
		return nil, err
	}
	ch := changed(prev.Properties, r.Properties)
	if anyChanged(ch, "Name", "EventSourceName") {
		return nil, replace(r.LogicalID, "Name or EventSourceName")
	}
	if len(ch) > 0 {
		return nil, fmt.Errorf("%s: Nimbus does not implement updating an event bus (UpdateEventBus) yet; change its Name to replace it", r.LogicalID)
	}
	out, err := p.c.events.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{Name: &prev.PhysicalID})
	if err != nil {
		return nil, apiError(svcEvents, err)
	}
	return &stack.Result{PhysicalID: prev.PhysicalID, Attrs: map[string]any{"Arn": aws.ToString(out.Arn), "Name": prev.PhysicalID}}, nil
}

func (p *eventBusProvider) Delete(ctx context.Context, _ *stack.Request, cur *stack.Resource) error {
	if cur.PhysicalID == "" {
		return nil
	}
	_, err := p.c.events.DeleteEventBus(ctx, &eventbridge.DeleteEventBusInput{Name: &cur.PhysicalID})
	return ignoreNotFound(svcEvents, err)
}

// --- AWS::Events::Archive -------------------------------------------------

type archiveProps struct {
	ArchiveName      *string
	SourceArn        *string
	Description      *string
	EventPattern     any
	RetentionDays    *int64
	KmsKeyIdentifier *string
}

type archiveProvider struct{ c *clients }

func (p *archiveProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var ap archiveProps
	if err := props(r, &ap); err != nil {
		return nil, err
	}
	if err := requireProps(r.LogicalID, r.Properties, "SourceArn"); err != nil {
		return nil, err
	}
	name := aws.ToString(ap.ArchiveName)
	if name == "" {
		name = physicalName(r.StackName, r.LogicalID, 48)
	}
	pattern, err := patternText(ap.EventPattern)
	if err != nil {
		return nil, err
	}
	out, err := p.c.events.CreateArchive(ctx, &eventbridge.CreateArchiveInput{ArchiveName: &name, EventSourceArn: ap.SourceArn,
		Description: ap.Description, EventPattern: pattern, RetentionDays: i32(ap.RetentionDays), KmsKeyIdentifier: ap.KmsKeyIdentifier})
	if err != nil {
		return nil, apiError(svcEvents, err)
	}
	return &stack.Result{PhysicalID: name, Attrs: map[string]any{"Arn": aws.ToString(out.ArchiveArn)}}, nil
}

func (p *archiveProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	var ap archiveProps
	if err := props(r, &ap); err != nil {
		return nil, err
	}
	if anyChanged(changed(prev.Properties, r.Properties), "ArchiveName", "SourceArn") {
		return nil, replace(r.LogicalID, "ArchiveName or SourceArn")
	}
	pattern, err := patternText(ap.EventPattern)
	if err != nil {
		return nil, err
	}
	if pattern == nil {
		pattern = aws.String("")
	}
	retention := i32(ap.RetentionDays)
	if retention == nil {
		retention = aws.Int32(0)
	}
	out, err := p.c.events.UpdateArchive(ctx, &eventbridge.UpdateArchiveInput{ArchiveName: &prev.PhysicalID,
		Description: aws.String(aws.ToString(ap.Description)), EventPattern: pattern, RetentionDays: retention,
		KmsKeyIdentifier: ap.KmsKeyIdentifier})
	if err != nil {
		return nil, apiError(svcEvents, err)
	}
	return &stack.Result{PhysicalID: prev.PhysicalID, Attrs: map[string]any{"Arn": aws.ToString(out.ArchiveArn)}}, nil
}

func (p *archiveProvider) Delete(ctx context.Context, _ *stack.Request, cur *stack.Resource) error {
	if cur.PhysicalID == "" {
		return nil
	}
	_, err := p.c.events.DeleteArchive(ctx, &eventbridge.DeleteArchiveInput{ArchiveName: &cur.PhysicalID})
	return ignoreNotFound(svcEvents, err)
}

package resource

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"github.com/nimbus-serverless/nimbus/internal/stack"
)

// --- AWS::CloudFormation::Stack -------------------------------------------
//
// A nested stack is a stack of its own, made through the node's
// CloudFormation API from the template its TemplateURL names (a bucket of
// the node), with the parameters the parent passes. Its outputs are the
// parent's Fn::GetAtt <Nested>.Outputs.<Name>; Ref is its stack id. The
// provider waits for the nested stack to settle: a nested stack that fails
// rolls itself back and is deleted, so nothing is left behind, and the
// parent fails (and rolls back) with its reason. The provider's calls are
// signed as the parent operation acts (its caller or service role), so
// the nested stack is created by, and acts as, that identity. The
// parent's caller must be allowed to read the TemplateURL
// (stack.CodeAccess).

func addNestedStacks(c *clients, ps map[string]stack.Provider) {
	ps["AWS::CloudFormation::Stack"] = &nestedStackProvider{c}
}

type nestedStackProps struct {
	TemplateURL      string
	Parameters       map[string]string
	TimeoutInMinutes *int64
	NotificationARNs []string
	Tags             []tag
}

type nestedStackProvider struct{ c *clients }

// nestedWait bounds the wait for a nested stack without TimeoutInMinutes.
const nestedWait = time.Hour

func (p *nestedStackProvider) props(r *stack.Request) (*nestedStackProps, error) {
	if err := requireProps(r.LogicalID, r.Properties, "TemplateURL"); err != nil {
		return nil, err
	}
	var np nestedStackProps
	if err := props(r, &np); err != nil {
		return nil, err
	}
	if len(np.NotificationARNs) > 0 {
		return nil, fmt.Errorf("%s: Nimbus does not implement the nested stack property NotificationARNs yet", r.LogicalID)
	}
	return &np, nil
}

func (np *nestedStackProps) parameters() []cfntypes.Parameter {
	keys := make([]string, 0, len(np.Parameters))
	for k := range np.Parameters {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]cfntypes.Parameter, 0, len(keys))
	for _, k := range keys {
		out = append(out, cfntypes.Parameter{ParameterKey: aws.String(k), ParameterValue: aws.String(np.Parameters[k])})
	}
	return out
}

func (np *nestedStackProps) tags() []cfntypes.Tag {
	out := make([]cfntypes.Tag, 0, len(np.Tags))
	for _, t := range np.Tags {
		out = append(out, cfntypes.Tag{Key: aws.String(t.Key), Value: aws.String(t.Value)})
	}
	return out
}

func (np *nestedStackProps) wait() time.Duration {
	if np.TimeoutInMinutes != nil && *np.TimeoutInMinutes > 0 {
		return time.Duration(*np.TimeoutInMinutes) * time.Minute
	}
	return nestedWait
}

// capabilities are what a nested stack may need: the parent's template
// was accepted with the capabilities it declared, and CloudFormation
// passes them down.
var nestedCapabilities = []cfntypes.Capability{cfntypes.CapabilityCapabilityIam, cfntypes.CapabilityCapabilityNamedIam,
	cfntypes.CapabilityCapabilityAutoExpand}

func (p *nestedStackProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	np, err := p.props(r)
	if err != nil {
		return nil, err
	}
	name := physicalName(r.StackName, r.LogicalID, 128)
	root := r.StackID // the parent, unless it is nested itself
	if ps, err := p.c.cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(r.StackID)}); err == nil &&
		len(ps.Stacks) == 1 && aws.ToString(ps.Stacks[0].RootId) != "" {
		root = aws.ToString(ps.Stacks[0].RootId)
	}
	out, err := p.c.cfn.CreateStack(stack.WithParent(ctx, r.StackID, root), &cloudformation.CreateStackInput{StackName: aws.String(name),
		TemplateURL: aws.String(np.TemplateURL), Parameters: np.parameters(), Capabilities: nestedCapabilities, Tags: np.tags()})
	if err != nil {
		return nil, apiError("CloudFormation", err)
	}
	id := aws.ToString(out.StackId)
	st, err := p.settle(ctx, id, np.wait())
	if err == nil && st.StackStatus != cfntypes.StackStatusCreateComplete {
		err = fmt.Errorf("Embedded stack %s was not successfully created: %s", id, reasonOf(st)) //nolint:staticcheck // CloudFormation's wording
	}
	if err != nil {
		if derr := p.remove(context.WithoutCancel(ctx), id); derr != nil {
			p.c.log.Warn("undo nested stack", "stack", id, "err", derr)
		}
		return nil, err
	}
	return &stack.Result{PhysicalID: id, Attrs: outputsOf(st)}, nil
}

func (p *nestedStackProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	np, err := p.props(r)
	if err != nil {
		return nil, err
	}
	id := prev.PhysicalID
	_, err = p.c.cfn.UpdateStack(ctx, &cloudformation.UpdateStackInput{StackName: aws.String(id),
		TemplateURL: aws.String(np.TemplateURL), Parameters: np.parameters(), Capabilities: nestedCapabilities, Tags: np.tags()})
	if err != nil && !strings.Contains(err.Error(), "No updates are to be performed") {
		return nil, apiError("CloudFormation", err)
	}
	st, err := p.settle(ctx, id, np.wait())
	if err != nil {
		return nil, err
	}
	if st.StackStatus != cfntypes.StackStatusUpdateComplete && st.StackStatus != cfntypes.StackStatusCreateComplete {
		return nil, fmt.Errorf("Embedded stack %s was not successfully updated: %s", id, reasonOf(st)) //nolint:staticcheck // CloudFormation's wording
	}
	return &stack.Result{PhysicalID: id, Attrs: outputsOf(st)}, nil
}

func (p *nestedStackProvider) Delete(ctx context.Context, _ *stack.Request, cur *stack.Resource) error {
	return p.remove(ctx, cur.PhysicalID)
}

// remove deletes the nested stack id and waits until it is gone.
func (p *nestedStackProvider) remove(ctx context.Context, id string) error {
	if _, err := p.c.cfn.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String(id)}); err != nil {
		if isStackGone(err) {
			return nil
		}
		return apiError("CloudFormation", err)
	}
	st, err := p.settle(ctx, id, nestedWait)
	if err != nil {
		if isStackGone(err) {
			return nil
		}
		return err
	}
	if st.StackStatus != cfntypes.StackStatusDeleteComplete {
		return fmt.Errorf("Embedded stack %s was not successfully deleted: %s", id, reasonOf(st)) //nolint:staticcheck // CloudFormation's wording
	}
	return nil
}

// settle waits until stack id is in no *_IN_PROGRESS state and returns
// it.
func (p *nestedStackProvider) settle(ctx context.Context, id string, limit time.Duration) (*cfntypes.Stack, error) {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	wait := 50 * time.Millisecond
	for {
		out, err := p.c.cfn.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(id)})
		if err != nil {
			return nil, err
		}
		if len(out.Stacks) == 0 {
			return nil, fmt.Errorf("nested stack %s: not found", id)
		}
		st := out.Stacks[0]
		if !strings.HasSuffix(string(st.StackStatus), "_IN_PROGRESS") {
			return &st, nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("wait for nested stack %s: %w", id, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, time.Second)
	}
}

func isStackGone(err error) bool {
	return err != nil && strings.Contains(err.Error(), "does not exist")
}

func reasonOf(st *cfntypes.Stack) string {
	if r := aws.ToString(st.StackStatusReason); r != "" {
		return string(st.StackStatus) + ": " + r
	}
	return string(st.StackStatus)
}

// outputsOf are a nested stack's attributes: Outputs.<key> per output.
func outputsOf(st *cfntypes.Stack) map[string]any {
	attrs := map[string]any{}
	for _, o := range st.Outputs {
		attrs["Outputs."+aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	return attrs
}

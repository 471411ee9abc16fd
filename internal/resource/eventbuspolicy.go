package resource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/nimbus-serverless/nimbus/internal/stack"
)

// eventBusPolicyProvider is AWS::Events::EventBusPolicy: one statement of
// a bus's policy, by StatementId. A Statement is merged into the bus's
// policy (PutPermission with the whole Policy); the older Action,
// Principal and Condition form is PutPermission's own. The node stores
// the policy; evaluating it is the access-control engine's.
type eventBusPolicyProvider struct{ c *clients }

type eventBusPolicyProps struct {
	EventBusName *string
	StatementId  *string //nolint:revive // CloudFormation's name
	Statement    any
	Action       *string
	Principal    *string
	Condition    *struct{ Type, Key, Value *string }
}

func (p *eventBusPolicyProvider) put(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var bp eventBusPolicyProps
	if err := props(r, &bp); err != nil {
		return nil, err
	}
	if err := requireProps(r.LogicalID, r.Properties, "StatementId"); err != nil {
		return nil, err
	}
	sid := aws.ToString(bp.StatementId)
	if bp.Statement == nil {
		in := &eventbridge.PutPermissionInput{EventBusName: bp.EventBusName, StatementId: bp.StatementId, Action: bp.Action, Principal: bp.Principal}
		if c := bp.Condition; c != nil {
			in.Condition = &ebtypes.Condition{Type: c.Type, Key: c.Key, Value: c.Value}
		}
		if _, err := p.c.events.PutPermission(ctx, in); err != nil {
			return nil, apiError(svcEvents, err)
		}
		return &stack.Result{PhysicalID: sid}, nil
	}
	st, ok := bp.Statement.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("Properties validation failed for resource %s with message: #/Statement: expected type: JSONObject", r.LogicalID) //nolint:staticcheck // CloudFormation's wording
	}
	stmt := map[string]any{}
	for k, v := range st {
		stmt[k] = v
	}
	stmt["Sid"] = sid
	doc, err := p.policy(ctx, bp.EventBusName)
	if err != nil {
		return nil, err
	}
	kept := doc.Statement[:0]
	for _, s := range doc.Statement {
		if s["Sid"] != sid {
			kept = append(kept, s)
		}
	}
	doc.Statement = append(kept, stmt)
	b, _ := json.Marshal(doc)
	if _, err := p.c.events.PutPermission(ctx, &eventbridge.PutPermissionInput{EventBusName: bp.EventBusName, Policy: aws.String(string(b))}); err != nil {
		return nil, apiError(svcEvents, err)
	}
	return &stack.Result{PhysicalID: sid}, nil
}

type busPolicyDoc struct {
	Version   string           `json:"Version"`
	Statement []map[string]any `json:"Statement"`
}

func (p *eventBusPolicyProvider) policy(ctx context.Context, bus *string) (*busPolicyDoc, error) {
	d, err := p.c.events.DescribeEventBus(ctx, &eventbridge.DescribeEventBusInput{Name: bus})
	if err != nil {
		return nil, apiError(svcEvents, err)
	}
	doc := &busPolicyDoc{Version: "2012-10-17"}
	if d.Policy != nil {
		if err := json.Unmarshal([]byte(*d.Policy), doc); err != nil {
			return nil, fmt.Errorf("decode the policy of event bus %s: %w", aws.ToString(bus), err)
		}
	}
	return doc, nil
}

func (p *eventBusPolicyProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	return p.put(ctx, r)
}

func (p *eventBusPolicyProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	if anyChanged(changed(prev.Properties, r.Properties), "EventBusName", "StatementId") {
		return nil, replace(r.LogicalID, "EventBusName or StatementId")
	}
	return p.put(ctx, r)
}

func (p *eventBusPolicyProvider) Delete(ctx context.Context, r *stack.Request, cur *stack.Resource) error {
	if cur.PhysicalID == "" {
		return nil
	}
	var bp eventBusPolicyProps
	_ = propsOf(r.LogicalID, cur.Properties, &bp)
	_, err := p.c.events.RemovePermission(ctx, &eventbridge.RemovePermissionInput{EventBusName: bp.EventBusName, StatementId: aws.String(cur.PhysicalID)})
	var nf *ebtypes.ResourceNotFoundException
	if err == nil || errors.As(err, &nf) {
		return nil
	}
	return apiError(svcEvents, err)
}

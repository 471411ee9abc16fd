package resource

import (
	"context"
	"fmt"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/stack"
)

// Nimbus has no IAM service: roles and policies are recorded, not made.
// Their properties (AssumeRolePolicyDocument, Policies, ManagedPolicyArns,
// PolicyDocument) stay in the stack record the engine keeps, for access
// control; the providers give them the names, ARNs and ids CloudFormation
// would, so templates that refer to them resolve.
func addIAM(c *clients, ps map[string]stack.Provider) {
	ps["AWS::IAM::Role"] = &roleProvider{c}
	ps["AWS::IAM::Policy"] = &policyProvider{}
	ps["AWS::IAM::ManagedPolicy"] = &managedPolicyProvider{c}
}

// iamPath is an IAM path property ("/" by default), checked as IAM does.
func iamPath(logicalID string, p *string) (string, error) {
	if p == nil || *p == "" {
		return "/", nil
	}
	if !strings.HasPrefix(*p, "/") || !strings.HasSuffix(*p, "/") || len(*p) > 512 {
		return "", fmt.Errorf("%s: Path %q must begin and end with /", logicalID, *p)
	}
	return *p, nil
}

// --- AWS::IAM::Role ---------------------------------------------------

type roleProps struct {
	AssumeRolePolicyDocument any
	Description              *string
	ManagedPolicyArns        []string
	MaxSessionDuration       *int64
	Path                     *string
	PermissionsBoundary      *string
	Policies                 []any // recorded
	RoleName                 *string
	Tags                     []tag
}

type roleProvider struct{ c *clients }

func (p *roleProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var rp roleProps
	if err := props(r, &rp); err != nil {
		return nil, err
	}
	if err := requireProps(r.LogicalID, r.Properties, "AssumeRolePolicyDocument"); err != nil {
		return nil, err
	}
	path, err := iamPath(r.LogicalID, rp.Path)
	if err != nil {
		return nil, err
	}
	name := derefOr(rp.RoleName, "")
	if name == "" {
		name = physicalName(r.StackName, r.LogicalID, 64)
	}
	if len(name) > 64 {
		return nil, fmt.Errorf("%s: RoleName %s is longer than 64 characters", r.LogicalID, name)
	}
	return &stack.Result{PhysicalID: name, Attrs: map[string]any{
		"Arn":    "arn:aws:iam::" + p.account(r) + ":role" + path + name,
		"RoleId": "AROA" + randomID(17),
	}}, nil
}

func (p *roleProvider) account(r *stack.Request) string {
	if r.AccountID != "" {
		return r.AccountID
	}
	return p.c.opts.AccountID
}

func (p *roleProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	var rp roleProps
	if err := props(r, &rp); err != nil {
		return nil, err
	}
	if anyChanged(changed(prev.Properties, r.Properties), "RoleName", "Path") {
		return nil, replace(r.LogicalID, "RoleName or Path")
	}
	return &stack.Result{PhysicalID: prev.PhysicalID, Attrs: prev.Attrs}, nil
}

func (p *roleProvider) Delete(context.Context, *stack.Request, *stack.Resource) error { return nil }

// --- AWS::IAM::Policy -------------------------------------------------

type policyProps struct {
	PolicyDocument any
	PolicyName     *string
	Groups, Roles  []string
	Users          []string
}

type policyProvider struct{}

func (p *policyProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var pp policyProps
	if err := props(r, &pp); err != nil {
		return nil, err
	}
	if err := requireProps(r.LogicalID, r.Properties, "PolicyDocument", "PolicyName"); err != nil {
		return nil, err
	}
	// CloudFormation's id of an inline policy: <stack>-<first 5 of logical id>-<random>.
	l := r.LogicalID
	if len(l) > 5 {
		l = l[:5]
	}
	return &stack.Result{PhysicalID: physicalName(r.StackName, l, 128), Attrs: map[string]any{}}, nil
}

func (p *policyProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	var pp policyProps
	if err := props(r, &pp); err != nil {
		return nil, err
	}
	return &stack.Result{PhysicalID: prev.PhysicalID, Attrs: prev.Attrs}, nil
}

func (p *policyProvider) Delete(context.Context, *stack.Request, *stack.Resource) error { return nil }

// --- AWS::IAM::ManagedPolicy ------------------------------------------

type managedPolicyProps struct {
	Description       *string
	Groups, Roles     []string
	Users             []string
	ManagedPolicyName *string
	Path              *string
	PolicyDocument    any
}

type managedPolicyProvider struct{ c *clients }

func (p *managedPolicyProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var mp managedPolicyProps
	if err := props(r, &mp); err != nil {
		return nil, err
	}
	if err := requireProps(r.LogicalID, r.Properties, "PolicyDocument"); err != nil {
		return nil, err
	}
	path, err := iamPath(r.LogicalID, mp.Path)
	if err != nil {
		return nil, err
	}
	name := derefOr(mp.ManagedPolicyName, "")
	if name == "" {
		name = physicalName(r.StackName, r.LogicalID, 128)
	}
	acct := r.AccountID
	if acct == "" {
		acct = p.c.opts.AccountID
	}
	arn := "arn:aws:iam::" + acct + ":policy" + path + name
	return &stack.Result{PhysicalID: arn, Attrs: map[string]any{
		"PolicyArn": arn, "PolicyId": "ANPA" + randomID(17),
	}}, nil
}

func (p *managedPolicyProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	var mp managedPolicyProps
	if err := props(r, &mp); err != nil {
		return nil, err
	}
	if anyChanged(changed(prev.Properties, r.Properties), "ManagedPolicyName", "Path", "Description") {
		return nil, replace(r.LogicalID, "ManagedPolicyName, Path or Description")
	}
	return &stack.Result{PhysicalID: prev.PhysicalID, Attrs: prev.Attrs}, nil
}

func (p *managedPolicyProvider) Delete(context.Context, *stack.Request, *stack.Resource) error {
	return nil
}

func derefOr(p *string, def string) string {
	if p == nil {
		return def
	}
	return *p
}

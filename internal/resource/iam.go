package resource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"

	"github.com/nimbus-serverless/nimbus/internal/stack"
)

// AWS::IAM::Role, Policy and ManagedPolicy are made through the node's own
// IAM API, so the roles a template (or SAM's function roles, with their
// expanded policy templates) declares are the ones the front door
// evaluates: trust policy, inline policies, attached managed policies,
// path, boundary, tags. An AWS managed policy the node's catalogue does not
// hold is skipped with a warning (it would grant nothing here), so
// templates naming one still deploy.
func addIAM(c *clients, ps map[string]stack.Provider) {
	ps["AWS::IAM::Role"] = &roleProvider{c}
	ps["AWS::IAM::Policy"] = &policyProvider{c}
	ps["AWS::IAM::ManagedPolicy"] = &managedPolicyProvider{c}
	ps["AWS::IAM::InstanceProfile"] = refusedProvider("Nimbus does not support AWS::IAM::InstanceProfile: there are no EC2 instances; " +
		"a function gets its execution role's credentials directly")
}

// refusedProvider refuses every operation with msg.
type refusedProvider string

func (p refusedProvider) Create(context.Context, *stack.Request) (*stack.Result, error) {
	return nil, errors.New(string(p))
}

func (p refusedProvider) Update(context.Context, *stack.Request, *stack.Resource) (*stack.Result, error) {
	return nil, errors.New(string(p))
}

func (p refusedProvider) Delete(context.Context, *stack.Request, *stack.Resource) error { return nil }

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

// policyJSON is a policy document property (an object, or a JSON string)
// as the JSON text IAM takes.
func policyJSON(v any) (string, error) {
	if s, ok := v.(string); ok {
		return s, nil
	}
	b, err := json.Marshal(v)
	return string(b), err
}

// inlinePolicy is one entry of a role's Policies.
type inlinePolicy struct {
	PolicyName     string
	PolicyDocument any
}

// inlinePolicies reads a role's Policies (after the engine resolved their
// intrinsics; entries that are not objects, like a resolved AWS::NoValue,
// are skipped).
func inlinePolicies(l []any) []inlinePolicy {
	var out []inlinePolicy
	for _, v := range l {
		m, ok := v.(map[string]any)
		if !ok {
			continue
		}
		name, _ := m["PolicyName"].(string)
		out = append(out, inlinePolicy{PolicyName: name, PolicyDocument: m["PolicyDocument"]})
	}
	return out
}

func (c *clients) awsManagedMissing(arn string, err error) bool {
	var ae smithy.APIError
	if strings.HasPrefix(arn, "arn:aws:iam::aws:policy/") && errors.As(err, &ae) && ae.ErrorCode() == "NoSuchEntity" {
		c.log.Warn("AWS managed policy not in Nimbus's catalogue: attached as nothing", "policy", arn)
		return true
	}
	return false
}

// --- AWS::IAM::Role ---------------------------------------------------

type roleProps struct {
	AssumeRolePolicyDocument any
	Description              *string
	ManagedPolicyArns        []string
	MaxSessionDuration       *int64
	Path                     *string
	PermissionsBoundary      *string
	Policies                 []any // {PolicyName, PolicyDocument} each (inlinePolicies)
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
	trust, err := policyJSON(rp.AssumeRolePolicyDocument)
	if err != nil {
		return nil, err
	}
	in := &awsiam.CreateRoleInput{RoleName: aws.String(name), Path: aws.String(path), AssumeRolePolicyDocument: aws.String(trust),
		Description: rp.Description, PermissionsBoundary: rp.PermissionsBoundary}
	if rp.MaxSessionDuration != nil {
		in.MaxSessionDuration = aws.Int32(int32(*rp.MaxSessionDuration)) //nolint:gosec // IAM bounds it (3600..43200)
	}
	for _, t := range rp.Tags {
		in.Tags = append(in.Tags, iamtypes.Tag{Key: aws.String(t.Key), Value: aws.String(t.Value)})
	}
	out, err := p.c.iam.CreateRole(ctx, in)
	if err != nil {
		return nil, apiError("Iam", err)
	}
	if err := p.sync(ctx, name, nil, &rp); err != nil {
		return nil, err
	}
	return &stack.Result{PhysicalID: name, Attrs: map[string]any{
		"Arn": aws.ToString(out.Role.Arn), "RoleId": aws.ToString(out.Role.RoleId),
	}}, nil
}

// sync makes the role's inline and attached policies those of cur (prev:
// what the stack set before, nil on create).
func (p *roleProvider) sync(ctx context.Context, name string, prev, cur *roleProps) error {
	var before roleProps
	if prev != nil {
		before = *prev
	}
	curPolicies, oldPolicies := inlinePolicies(cur.Policies), inlinePolicies(before.Policies)
	for _, ip := range curPolicies {
		doc, err := policyJSON(ip.PolicyDocument)
		if err != nil {
			return err
		}
		if _, err := p.c.iam.PutRolePolicy(ctx, &awsiam.PutRolePolicyInput{RoleName: aws.String(name),
			PolicyName: aws.String(ip.PolicyName), PolicyDocument: aws.String(doc)}); err != nil {
			return apiError("Iam", err)
		}
	}
	for _, old := range oldPolicies {
		if !slices.ContainsFunc(curPolicies, func(x inlinePolicy) bool { return x.PolicyName == old.PolicyName }) {
			if _, err := p.c.iam.DeleteRolePolicy(ctx, &awsiam.DeleteRolePolicyInput{RoleName: aws.String(name),
				PolicyName: aws.String(old.PolicyName)}); ignoreNotFound("Iam", err) != nil {
				return apiError("Iam", err)
			}
		}
	}
	for _, arn := range cur.ManagedPolicyArns {
		if slices.Contains(before.ManagedPolicyArns, arn) {
			continue
		}
		if _, err := p.c.iam.AttachRolePolicy(ctx, &awsiam.AttachRolePolicyInput{RoleName: aws.String(name),
			PolicyArn: aws.String(arn)}); err != nil && !p.c.awsManagedMissing(arn, err) {
			return apiError("Iam", err)
		}
	}
	for _, arn := range before.ManagedPolicyArns {
		if !slices.Contains(cur.ManagedPolicyArns, arn) {
			if _, err := p.c.iam.DetachRolePolicy(ctx, &awsiam.DetachRolePolicyInput{RoleName: aws.String(name),
				PolicyArn: aws.String(arn)}); ignoreNotFound("Iam", err) != nil {
				return apiError("Iam", err)
			}
		}
	}
	return nil
}

func (p *roleProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	var rp, old roleProps
	if err := props(r, &rp); err != nil {
		return nil, err
	}
	if err := propsOf(r.LogicalID, prev.Properties, &old); err != nil {
		return nil, err
	}
	ch := changed(prev.Properties, r.Properties)
	if anyChanged(ch, "RoleName", "Path") {
		return nil, replace(r.LogicalID, "RoleName or Path")
	}
	name := prev.PhysicalID
	if ch["AssumeRolePolicyDocument"] {
		trust, err := policyJSON(rp.AssumeRolePolicyDocument)
		if err != nil {
			return nil, err
		}
		if _, err := p.c.iam.UpdateAssumeRolePolicy(ctx, &awsiam.UpdateAssumeRolePolicyInput{RoleName: aws.String(name),
			PolicyDocument: aws.String(trust)}); err != nil {
			return nil, apiError("Iam", err)
		}
	}
	if anyChanged(ch, "Description", "MaxSessionDuration") {
		in := &awsiam.UpdateRoleInput{RoleName: aws.String(name), Description: rp.Description}
		if rp.MaxSessionDuration != nil {
			in.MaxSessionDuration = aws.Int32(int32(*rp.MaxSessionDuration)) //nolint:gosec // IAM bounds it
		}
		if _, err := p.c.iam.UpdateRole(ctx, in); err != nil {
			return nil, apiError("Iam", err)
		}
	}
	if ch["PermissionsBoundary"] {
		var err error
		if rp.PermissionsBoundary != nil {
			_, err = p.c.iam.PutRolePermissionsBoundary(ctx, &awsiam.PutRolePermissionsBoundaryInput{RoleName: aws.String(name),
				PermissionsBoundary: rp.PermissionsBoundary})
		} else {
			_, err = p.c.iam.DeleteRolePermissionsBoundary(ctx, &awsiam.DeleteRolePermissionsBoundaryInput{RoleName: aws.String(name)})
		}
		if err != nil {
			return nil, apiError("Iam", err)
		}
	}
	if err := p.sync(ctx, name, &old, &rp); err != nil {
		return nil, err
	}
	return &stack.Result{PhysicalID: prev.PhysicalID, Attrs: prev.Attrs}, nil
}

func (p *roleProvider) Delete(ctx context.Context, _ *stack.Request, prev *stack.Resource) error {
	name := aws.String(prev.PhysicalID)
	pols, err := p.c.iam.ListRolePolicies(ctx, &awsiam.ListRolePoliciesInput{RoleName: name})
	if err != nil {
		return ignoreNotFound("Iam", err)
	}
	for _, pn := range pols.PolicyNames {
		if _, err := p.c.iam.DeleteRolePolicy(ctx, &awsiam.DeleteRolePolicyInput{RoleName: name, PolicyName: aws.String(pn)}); ignoreNotFound("Iam", err) != nil {
			return apiError("Iam", err)
		}
	}
	att, err := p.c.iam.ListAttachedRolePolicies(ctx, &awsiam.ListAttachedRolePoliciesInput{RoleName: name})
	if err != nil {
		return ignoreNotFound("Iam", err)
	}
	for _, a := range att.AttachedPolicies {
		if _, err := p.c.iam.DetachRolePolicy(ctx, &awsiam.DetachRolePolicyInput{RoleName: name, PolicyArn: a.PolicyArn}); ignoreNotFound("Iam", err) != nil {
			return apiError("Iam", err)
		}
	}
	_, err = p.c.iam.DeleteRole(ctx, &awsiam.DeleteRoleInput{RoleName: name})
	return ignoreNotFound("Iam", err)
}

// --- AWS::IAM::Policy -------------------------------------------------

type policyProps struct {
	PolicyDocument any
	PolicyName     *string
	Groups, Roles  []string
	Users          []string
}

type policyProvider struct{ c *clients }

// each puts (doc != "") or deletes the inline policy name on every role,
// user and group of pp.
func (p *policyProvider) each(ctx context.Context, pp *policyProps, name, doc string) error {
	for _, role := range pp.Roles {
		var err error
		if doc != "" {
			_, err = p.c.iam.PutRolePolicy(ctx, &awsiam.PutRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(name), PolicyDocument: aws.String(doc)})
		} else {
			_, err = p.c.iam.DeleteRolePolicy(ctx, &awsiam.DeleteRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(name)})
		}
		if err != nil && (doc != "" || !notFound(err)) {
			return apiError("Iam", err)
		}
	}
	for _, user := range pp.Users {
		var err error
		if doc != "" {
			_, err = p.c.iam.PutUserPolicy(ctx, &awsiam.PutUserPolicyInput{UserName: aws.String(user), PolicyName: aws.String(name), PolicyDocument: aws.String(doc)})
		} else {
			_, err = p.c.iam.DeleteUserPolicy(ctx, &awsiam.DeleteUserPolicyInput{UserName: aws.String(user), PolicyName: aws.String(name)})
		}
		if err != nil && (doc != "" || !notFound(err)) {
			return apiError("Iam", err)
		}
	}
	for _, g := range pp.Groups {
		var err error
		if doc != "" {
			_, err = p.c.iam.PutGroupPolicy(ctx, &awsiam.PutGroupPolicyInput{GroupName: aws.String(g), PolicyName: aws.String(name), PolicyDocument: aws.String(doc)})
		} else {
			_, err = p.c.iam.DeleteGroupPolicy(ctx, &awsiam.DeleteGroupPolicyInput{GroupName: aws.String(g), PolicyName: aws.String(name)})
		}
		if err != nil && (doc != "" || !notFound(err)) {
			return apiError("Iam", err)
		}
	}
	return nil
}

func (p *policyProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var pp policyProps
	if err := props(r, &pp); err != nil {
		return nil, err
	}
	if err := requireProps(r.LogicalID, r.Properties, "PolicyDocument", "PolicyName"); err != nil {
		return nil, err
	}
	doc, err := policyJSON(pp.PolicyDocument)
	if err != nil {
		return nil, err
	}
	if err := p.each(ctx, &pp, *pp.PolicyName, doc); err != nil {
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
	var pp, old policyProps
	if err := props(r, &pp); err != nil {
		return nil, err
	}
	if err := propsOf(r.LogicalID, prev.Properties, &old); err != nil {
		return nil, err
	}
	doc, err := policyJSON(pp.PolicyDocument)
	if err != nil {
		return nil, err
	}
	// Remove the old policy where it no longer applies (another name, or
	// an entity no longer listed), then put the new one.
	gone := old
	if derefOr(old.PolicyName, "") == derefOr(pp.PolicyName, "") {
		gone.Roles = slices.DeleteFunc(slices.Clone(old.Roles), func(x string) bool { return slices.Contains(pp.Roles, x) })
		gone.Users = slices.DeleteFunc(slices.Clone(old.Users), func(x string) bool { return slices.Contains(pp.Users, x) })
		gone.Groups = slices.DeleteFunc(slices.Clone(old.Groups), func(x string) bool { return slices.Contains(pp.Groups, x) })
	}
	if err := p.each(ctx, &gone, derefOr(old.PolicyName, ""), ""); err != nil {
		return nil, err
	}
	if err := p.each(ctx, &pp, derefOr(pp.PolicyName, ""), doc); err != nil {
		return nil, err
	}
	return &stack.Result{PhysicalID: prev.PhysicalID, Attrs: prev.Attrs}, nil
}

func (p *policyProvider) Delete(ctx context.Context, _ *stack.Request, prev *stack.Resource) error {
	var old policyProps
	if err := propsOf("", prev.Properties, &old); err != nil {
		return nil //nolint:nilerr // a record that does not decode set nothing
	}
	return p.each(ctx, &old, derefOr(old.PolicyName, ""), "")
}

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

// attach attaches (or detaches) arn to/from the entities of mp.
func (p *managedPolicyProvider) attach(ctx context.Context, mp *managedPolicyProps, arn string, on bool) error {
	a := aws.String(arn)
	for _, role := range mp.Roles {
		var err error
		if on {
			_, err = p.c.iam.AttachRolePolicy(ctx, &awsiam.AttachRolePolicyInput{RoleName: aws.String(role), PolicyArn: a})
		} else {
			_, err = p.c.iam.DetachRolePolicy(ctx, &awsiam.DetachRolePolicyInput{RoleName: aws.String(role), PolicyArn: a})
		}
		if err != nil && (on || !notFound(err)) {
			return apiError("Iam", err)
		}
	}
	for _, user := range mp.Users {
		var err error
		if on {
			_, err = p.c.iam.AttachUserPolicy(ctx, &awsiam.AttachUserPolicyInput{UserName: aws.String(user), PolicyArn: a})
		} else {
			_, err = p.c.iam.DetachUserPolicy(ctx, &awsiam.DetachUserPolicyInput{UserName: aws.String(user), PolicyArn: a})
		}
		if err != nil && (on || !notFound(err)) {
			return apiError("Iam", err)
		}
	}
	for _, g := range mp.Groups {
		var err error
		if on {
			_, err = p.c.iam.AttachGroupPolicy(ctx, &awsiam.AttachGroupPolicyInput{GroupName: aws.String(g), PolicyArn: a})
		} else {
			_, err = p.c.iam.DetachGroupPolicy(ctx, &awsiam.DetachGroupPolicyInput{GroupName: aws.String(g), PolicyArn: a})
		}
		if err != nil && (on || !notFound(err)) {
			return apiError("Iam", err)
		}
	}
	return nil
}

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
	doc, err := policyJSON(mp.PolicyDocument)
	if err != nil {
		return nil, err
	}
	out, err := p.c.iam.CreatePolicy(ctx, &awsiam.CreatePolicyInput{PolicyName: aws.String(name), Path: aws.String(path),
		PolicyDocument: aws.String(doc), Description: mp.Description})
	if err != nil {
		return nil, apiError("Iam", err)
	}
	arn := aws.ToString(out.Policy.Arn)
	if err := p.attach(ctx, &mp, arn, true); err != nil {
		return nil, err
	}
	return &stack.Result{PhysicalID: arn, Attrs: map[string]any{
		"PolicyArn": arn, "PolicyId": aws.ToString(out.Policy.PolicyId),
	}}, nil
}

func (p *managedPolicyProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	var mp, old managedPolicyProps
	if err := props(r, &mp); err != nil {
		return nil, err
	}
	if err := propsOf(r.LogicalID, prev.Properties, &old); err != nil {
		return nil, err
	}
	ch := changed(prev.Properties, r.Properties)
	if anyChanged(ch, "ManagedPolicyName", "Path", "Description") {
		return nil, replace(r.LogicalID, "ManagedPolicyName, Path or Description")
	}
	arn := prev.PhysicalID
	if ch["PolicyDocument"] {
		doc, err := policyJSON(mp.PolicyDocument)
		if err != nil {
			return nil, err
		}
		// Keep within IAM's five versions: drop the oldest non-default.
		if vs, err := p.c.iam.ListPolicyVersions(ctx, &awsiam.ListPolicyVersionsInput{PolicyArn: aws.String(arn)}); err == nil && len(vs.Versions) >= 5 {
			for i := len(vs.Versions) - 1; i >= 0; i-- {
				if !vs.Versions[i].IsDefaultVersion {
					_, _ = p.c.iam.DeletePolicyVersion(ctx, &awsiam.DeletePolicyVersionInput{PolicyArn: aws.String(arn), VersionId: vs.Versions[i].VersionId})
					break
				}
			}
		}
		if _, err := p.c.iam.CreatePolicyVersion(ctx, &awsiam.CreatePolicyVersionInput{PolicyArn: aws.String(arn),
			PolicyDocument: aws.String(doc), SetAsDefault: true}); err != nil {
			return nil, apiError("Iam", err)
		}
	}
	gone := managedPolicyProps{
		Roles:  slices.DeleteFunc(slices.Clone(old.Roles), func(x string) bool { return slices.Contains(mp.Roles, x) }),
		Users:  slices.DeleteFunc(slices.Clone(old.Users), func(x string) bool { return slices.Contains(mp.Users, x) }),
		Groups: slices.DeleteFunc(slices.Clone(old.Groups), func(x string) bool { return slices.Contains(mp.Groups, x) }),
	}
	if err := p.attach(ctx, &gone, arn, false); err != nil {
		return nil, err
	}
	if err := p.attach(ctx, &mp, arn, true); err != nil {
		return nil, err
	}
	return &stack.Result{PhysicalID: prev.PhysicalID, Attrs: prev.Attrs}, nil
}

func (p *managedPolicyProvider) Delete(ctx context.Context, _ *stack.Request, prev *stack.Resource) error {
	var old managedPolicyProps
	_ = propsOf("", prev.Properties, &old)
	arn := prev.PhysicalID
	if err := p.attach(ctx, &old, arn, false); err != nil {
		return err
	}
	if vs, err := p.c.iam.ListPolicyVersions(ctx, &awsiam.ListPolicyVersionsInput{PolicyArn: aws.String(arn)}); err == nil {
		for _, v := range vs.Versions {
			if !v.IsDefaultVersion {
				_, _ = p.c.iam.DeletePolicyVersion(ctx, &awsiam.DeletePolicyVersionInput{PolicyArn: aws.String(arn), VersionId: v.VersionId})
			}
		}
	}
	_, err := p.c.iam.DeletePolicy(ctx, &awsiam.DeletePolicyInput{PolicyArn: aws.String(arn)})
	return ignoreNotFound("Iam", err)
}

func derefOr(p *string, def string) string {
	if p == nil {
		return def
	}
	return *p
}

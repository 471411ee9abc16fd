package resource

import (
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/nimbus-serverless/nimbus/internal/stack"
)

// AWS::IAM::User, Group and AccessKey are made through the node's IAM API
// too, so a template can hand a team non-root keys whose policies the
// front door enforces: Ref of a user or group is its name, of an access
// key its AccessKeyId; GetAtt Arn (users, groups) and SecretAccessKey
// (keys). A user's LoginProfile is refused (Nimbus has no console).
func addIAMUsers(c *clients, ps map[string]stack.Provider) {
	ps["AWS::IAM::User"] = &userProvider{c}
	ps["AWS::IAM::Group"] = &groupProvider{c}
	ps["AWS::IAM::AccessKey"] = &accessKeyProvider{c}
	ps["AWS::IAM::UserToGroupAddition"] = &groupAdditionProvider{c}
}

// entityPolicies lists, puts and deletes the inline policies and lists,
// attaches and detaches the managed policies of one user or group.
type entityPolicies struct {
	put    func(ctx context.Context, name, doc string) error
	del    func(ctx context.Context, name string) error
	attach func(ctx context.Context, arn string) error
	detach func(ctx context.Context, arn string) error
	// list names its inline policies and the ARNs of its managed ones.
	list func(ctx context.Context) (inline, arns []string, err error)
}

// dropPolicies deletes every inline policy of an entity and detaches every
// managed one, as its deletion needs (those made outside the stack too).
func (c *clients) dropPolicies(ctx context.Context, e entityPolicies) error {
	names, arns, err := e.list(ctx)
	if err != nil {
		return ignoreNotFound("Iam", err)
	}
	inline := make([]any, 0, len(names))
	for _, pn := range names {
		inline = append(inline, map[string]any{"PolicyName": pn})
	}
	return c.syncPolicies(ctx, e, inline, nil, arns, nil)
}

// syncPolicies makes an entity's inline policies cur and its managed
// policies curArns, given what the stack set before (prev, prevArns).
func (c *clients) syncPolicies(ctx context.Context, e entityPolicies, prev, cur []any, prevArns, curArns []string) error {
	curP, oldP := inlinePolicies(cur), inlinePolicies(prev)
	for _, ip := range curP {
		doc, err := policyJSON(ip.PolicyDocument)
		if err != nil {
			return err
		}
		if err := e.put(ctx, ip.PolicyName, doc); err != nil {
			return apiError("Iam", err)
		}
	}
	for _, old := range oldP {
		if !slices.ContainsFunc(curP, func(x inlinePolicy) bool { return x.PolicyName == old.PolicyName }) {
			if err := e.del(ctx, old.PolicyName); ignoreNotFound("Iam", err) != nil {
				return apiError("Iam", err)
			}
		}
	}
	for _, arn := range curArns {
		if slices.Contains(prevArns, arn) {
			continue
		}
		if err := e.attach(ctx, arn); err != nil && !c.awsManagedMissing(arn, err) {
			return apiError("Iam", err)
		}
	}
	for _, arn := range prevArns {
		if !slices.Contains(curArns, arn) {
			if err := e.detach(ctx, arn); ignoreNotFound("Iam", err) != nil {
				return apiError("Iam", err)
			}
		}
	}
	return nil
}

// --- AWS::IAM::User ---------------------------------------------------

type userProps struct {
	UserName            *string
	Path                *string
	Groups              []string
	ManagedPolicyArns   []string
	Policies            []any
	PermissionsBoundary *string
	Tags                []tag
	LoginProfile        any
}

type userProvider struct{ c *clients }

func (p *userProvider) ops(name string) entityPolicies {
	iam, n := p.c.iam, aws.String(name)
	return entityPolicies{
		put: func(ctx context.Context, pn, doc string) error {
			_, err := iam.PutUserPolicy(ctx, &awsiam.PutUserPolicyInput{UserName: n, PolicyName: aws.String(pn), PolicyDocument: aws.String(doc)})
			return err
		},
		del: func(ctx context.Context, pn string) error {
			_, err := iam.DeleteUserPolicy(ctx, &awsiam.DeleteUserPolicyInput{UserName: n, PolicyName: aws.String(pn)})
			return err
		},
		attach: func(ctx context.Context, arn string) error {
			_, err := iam.AttachUserPolicy(ctx, &awsiam.AttachUserPolicyInput{UserName: n, PolicyArn: aws.String(arn)})
			return err
		},
		detach: func(ctx context.Context, arn string) error {
			_, err := iam.DetachUserPolicy(ctx, &awsiam.DetachUserPolicyInput{UserName: n, PolicyArn: aws.String(arn)})
			return err
		},
		list: func(ctx context.Context) ([]string, []string, error) {
			pols, err := iam.ListUserPolicies(ctx, &awsiam.ListUserPoliciesInput{UserName: n})
			if err != nil {
				return nil, nil, err
			}
			att, err := iam.ListAttachedUserPolicies(ctx, &awsiam.ListAttachedUserPoliciesInput{UserName: n})
			if err != nil {
				return nil, nil, err
			}
			return pols.PolicyNames, attachedArns(att.AttachedPolicies), nil
		},
	}
}

// groups adds the user to cur's groups and removes it from prev's others.
func (p *userProvider) groups(ctx context.Context, name string, prev, cur []string) error {
	for _, g := range cur {
		if slices.Contains(prev, g) {
			continue
		}
		if _, err := p.c.iam.AddUserToGroup(ctx, &awsiam.AddUserToGroupInput{UserName: aws.String(name), GroupName: aws.String(g)}); err != nil {
			return apiError("Iam", err)
		}
	}
	for _, g := range prev {
		if !slices.Contains(cur, g) {
			_, err := p.c.iam.RemoveUserFromGroup(ctx, &awsiam.RemoveUserFromGroupInput{UserName: aws.String(name), GroupName: aws.String(g)})
			if ignoreNotFound("Iam", err) != nil {
				return apiError("Iam", err)
			}
		}
	}
	return nil
}

func (p *userProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var up userProps
	if err := props(r, &up); err != nil {
		return nil, err
	}
	if up.LoginProfile != nil {
		return nil, fmt.Errorf("%s: Nimbus does not support LoginProfile: there is no console sign-in; use an AWS::IAM::AccessKey", r.LogicalID)
	}
	path, err := iamPath(r.LogicalID, up.Path)
	if err != nil {
		return nil, err
	}
	name := derefOr(up.UserName, "")
	if name == "" {
		name = physicalName(r.StackName, r.LogicalID, 64)
	}
	in := &awsiam.CreateUserInput{UserName: aws.String(name), Path: aws.String(path), PermissionsBoundary: up.PermissionsBoundary}
	for _, t := range up.Tags {
		in.Tags = append(in.Tags, iamtypes.Tag{Key: aws.String(t.Key), Value: aws.String(t.Value)})
	}
	out, err := p.c.iam.CreateUser(ctx, in)
	if err != nil {
		return nil, apiError("Iam", err)
	}
	if err := p.c.syncPolicies(ctx, p.ops(name), nil, up.Policies, nil, up.ManagedPolicyArns); err != nil {
		return nil, err
	}
	if err := p.groups(ctx, name, nil, up.Groups); err != nil {
		return nil, err
	}
	return &stack.Result{PhysicalID: name, Attrs: map[string]any{"Arn": aws.ToString(out.User.Arn)}}, nil
}

func (p *userProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	var up, old userProps
	if err := props(r, &up); err != nil {
		return nil, err
	}
	if err := propsOf(r.LogicalID, prev.Properties, &old); err != nil {
		return nil, err
	}
	if up.LoginProfile != nil {
		return nil, fmt.Errorf("%s: Nimbus does not support LoginProfile: there is no console sign-in; use an AWS::IAM::AccessKey", r.LogicalID)
	}
	ch := changed(prev.Properties, r.Properties)
	if anyChanged(ch, "UserName", "Path", "Tags") {
		return nil, replace(r.LogicalID, "UserName, Path or Tags")
	}
	name := prev.PhysicalID
	if ch["PermissionsBoundary"] {
		var err error
		if up.PermissionsBoundary != nil {
			_, err = p.c.iam.PutUserPermissionsBoundary(ctx, &awsiam.PutUserPermissionsBoundaryInput{UserName: aws.String(name),
				PermissionsBoundary: up.PermissionsBoundary})
		} else {
			_, err = p.c.iam.DeleteUserPermissionsBoundary(ctx, &awsiam.DeleteUserPermissionsBoundaryInput{UserName: aws.String(name)})
		}
		if err != nil {
			return nil, apiError("Iam", err)
		}
	}
	if err := p.c.syncPolicies(ctx, p.ops(name), old.Policies, up.Policies, old.ManagedPolicyArns, up.ManagedPolicyArns); err != nil {
		return nil, err
	}
	if err := p.groups(ctx, name, old.Groups, up.Groups); err != nil {
		return nil, err
	}
	return &stack.Result{PhysicalID: prev.PhysicalID, Attrs: prev.Attrs}, nil
}

func (p *userProvider) Delete(ctx context.Context, _ *stack.Request, prev *stack.Resource) error {
	name := aws.String(prev.PhysicalID)
	if err := p.c.dropPolicies(ctx, p.ops(prev.PhysicalID)); err != nil {
		return err
	}
	gs, err := p.c.iam.ListGroupsForUser(ctx, &awsiam.ListGroupsForUserInput{UserName: name})
	if err != nil {
		return ignoreNotFound("Iam", err)
	}
	var groups []string
	for _, g := range gs.Groups {
		groups = append(groups, aws.ToString(g.GroupName))
	}
	if err := p.groups(ctx, prev.PhysicalID, groups, nil); err != nil {
		return err
	}
	// Keys made outside the stack would block the delete, as in AWS
	// (DeleteConflict); the stack's own AccessKeys are deleted first.
	_, err = p.c.iam.DeleteUser(ctx, &awsiam.DeleteUserInput{UserName: name})
	return ignoreNotFound("Iam", err)
}

// --- AWS::IAM::Group --------------------------------------------------

type groupProps struct {
	GroupName         *string
	Path              *string
	ManagedPolicyArns []string
	Policies          []any
}

type groupProvider struct{ c *clients }

func (p *groupProvider) ops(name string) entityPolicies {
	iam, n := p.c.iam, aws.String(name)
	return entityPolicies{
		put: func(ctx context.Context, pn, doc string) error {
			_, err := iam.PutGroupPolicy(ctx, &awsiam.PutGroupPolicyInput{GroupName: n, PolicyName: aws.String(pn), PolicyDocument: aws.String(doc)})
			return err
		},
		del: func(ctx context.Context, pn string) error {
			_, err := iam.DeleteGroupPolicy(ctx, &awsiam.DeleteGroupPolicyInput{GroupName: n, PolicyName: aws.String(pn)})
			return err
		},
		attach: func(ctx context.Context, arn string) error {
			_, err := iam.AttachGroupPolicy(ctx, &awsiam.AttachGroupPolicyInput{GroupName: n, PolicyArn: aws.String(arn)})
			return err
		},
		detach: func(ctx context.Context, arn string) error {
			_, err := iam.DetachGroupPolicy(ctx, &awsiam.DetachGroupPolicyInput{GroupName: n, PolicyArn: aws.String(arn)})
			return err
		},
		list: func(ctx context.Context) ([]string, []string, error) {
			pols, err := iam.ListGroupPolicies(ctx, &awsiam.ListGroupPoliciesInput{GroupName: n})
			if err != nil {
				return nil, nil, err
			}
			att, err := iam.ListAttachedGroupPolicies(ctx, &awsiam.ListAttachedGroupPoliciesInput{GroupName: n})
			if err != nil {
				return nil, nil, err
			}
			return pols.PolicyNames, attachedArns(att.AttachedPolicies), nil
		},
	}
}

func (p *groupProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var gp groupProps
	if err := props(r, &gp); err != nil {
		return nil, err
	}
	path, err := iamPath(r.LogicalID, gp.Path)
	if err != nil {
		return nil, err
	}
	name := derefOr(gp.GroupName, "")
	if name == "" {
		name = physicalName(r.StackName, r.LogicalID, 128)
	}
	out, err := p.c.iam.CreateGroup(ctx, &awsiam.CreateGroupInput{GroupName: aws.String(name), Path: aws.String(path)})
	if err != nil {
		return nil, apiError("Iam", err)
	}
	if err := p.c.syncPolicies(ctx, p.ops(name), nil, gp.Policies, nil, gp.ManagedPolicyArns); err != nil {
		return nil, err
	}
	return &stack.Result{PhysicalID: name, Attrs: map[string]any{"Arn": aws.ToString(out.Group.Arn)}}, nil
}

func (p *groupProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	var gp, old groupProps
	if err := props(r, &gp); err != nil {
		return nil, err
	}
	if err := propsOf(r.LogicalID, prev.Properties, &old); err != nil {
		return nil, err
	}
	if anyChanged(changed(prev.Properties, r.Properties), "GroupName", "Path") {
		return nil, replace(r.LogicalID, "GroupName or Path")
	}
	if err := p.c.syncPolicies(ctx, p.ops(prev.PhysicalID), old.Policies, gp.Policies, old.ManagedPolicyArns, gp.ManagedPolicyArns); err != nil {
		return nil, err
	}
	return &stack.Result{PhysicalID: prev.PhysicalID, Attrs: prev.Attrs}, nil
}

func (p *groupProvider) Delete(ctx context.Context, _ *stack.Request, prev *stack.Resource) error {
	name := aws.String(prev.PhysicalID)
	if err := p.c.dropPolicies(ctx, p.ops(prev.PhysicalID)); err != nil {
		return err
	}
	if g, err := p.c.iam.GetGroup(ctx, &awsiam.GetGroupInput{GroupName: name}); err == nil {
		for _, u := range g.Users {
			if _, err := p.c.iam.RemoveUserFromGroup(ctx, &awsiam.RemoveUserFromGroupInput{GroupName: name, UserName: u.UserName}); ignoreNotFound("Iam", err) != nil {
				return apiError("Iam", err)
			}
		}
	}
	_, err := p.c.iam.DeleteGroup(ctx, &awsiam.DeleteGroupInput{GroupName: name})
	return ignoreNotFound("Iam", err)
}

// --- AWS::IAM::UserToGroupAddition ------------------------------------

type groupAdditionProps struct {
	GroupName *string
	Users     []string
}

type groupAdditionProvider struct{ c *clients }

func (p *groupAdditionProvider) set(ctx context.Context, group string, prev, cur []string) error {
	for _, u := range cur {
		if !slices.Contains(prev, u) {
			if _, err := p.c.iam.AddUserToGroup(ctx, &awsiam.AddUserToGroupInput{GroupName: aws.String(group), UserName: aws.String(u)}); err != nil {
				return apiError("Iam", err)
			}
		}
	}
	for _, u := range prev {
		if !slices.Contains(cur, u) {
			_, err := p.c.iam.RemoveUserFromGroup(ctx, &awsiam.RemoveUserFromGroupInput{GroupName: aws.String(group), UserName: aws.String(u)})
			if ignoreNotFound("Iam", err) != nil {
				return apiError("Iam", err)
			}
		}
	}
	return nil
}

func (p *groupAdditionProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var gp groupAdditionProps
	if err := props(r, &gp); err != nil {
		return nil, err
	}
	if err := requireProps(r.LogicalID, r.Properties, "GroupName", "Users"); err != nil {
		return nil, err
	}
	if err := p.set(ctx, *gp.GroupName, nil, gp.Users); err != nil {
		return nil, err
	}
	return &stack.Result{PhysicalID: physicalName(r.StackName, r.LogicalID, 128), Attrs: map[string]any{}}, nil
}

func (p *groupAdditionProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	var gp, old groupAdditionProps
	if err := props(r, &gp); err != nil {
		return nil, err
	}
	if err := propsOf(r.LogicalID, prev.Properties, &old); err != nil {
		return nil, err
	}
	if derefOr(gp.GroupName, "") != derefOr(old.GroupName, "") {
		return nil, replace(r.LogicalID, "GroupName")
	}
	if err := p.set(ctx, derefOr(gp.GroupName, ""), old.Users, gp.Users); err != nil {
		return nil, err
	}
	return &stack.Result{PhysicalID: prev.PhysicalID, Attrs: prev.Attrs}, nil
}

func (p *groupAdditionProvider) Delete(ctx context.Context, _ *stack.Request, prev *stack.Resource) error {
	var old groupAdditionProps
	if err := propsOf("", prev.Properties, &old); err != nil {
		return nil //nolint:nilerr // a record that does not decode added nobody
	}
	return p.set(ctx, derefOr(old.GroupName, ""), old.Users, nil)
}

// --- AWS::IAM::AccessKey ----------------------------------------------

type accessKeyProps struct {
	UserName *string
	Status   *string
	Serial   *int64
}

type accessKeyProvider struct{ c *clients }

func (p *accessKeyProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var kp accessKeyProps
	if err := props(r, &kp); err != nil {
		return nil, err
	}
	if err := requireProps(r.LogicalID, r.Properties, "UserName"); err != nil {
		return nil, err
	}
	out, err := p.c.iam.CreateAccessKey(ctx, &awsiam.CreateAccessKeyInput{UserName: kp.UserName})
	if err != nil {
		return nil, apiError("Iam", err)
	}
	id := aws.ToString(out.AccessKey.AccessKeyId)
	if st := derefOr(kp.Status, "Active"); st != "Active" {
		if _, err := p.c.iam.UpdateAccessKey(ctx, &awsiam.UpdateAccessKeyInput{UserName: kp.UserName, AccessKeyId: aws.String(id),
			Status: iamtypes.StatusType(st)}); err != nil {
			return nil, apiError("Iam", err)
		}
	}
	return &stack.Result{PhysicalID: id, Attrs: map[string]any{"SecretAccessKey": aws.ToString(out.AccessKey.SecretAccessKey)}}, nil
}

func (p *accessKeyProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	var kp accessKeyProps
	if err := props(r, &kp); err != nil {
		return nil, err
	}
	ch := changed(prev.Properties, r.Properties)
	if anyChanged(ch, "UserName", "Serial") {
		return nil, replace(r.LogicalID, "UserName or Serial")
	}
	if ch["Status"] {
		if _, err := p.c.iam.UpdateAccessKey(ctx, &awsiam.UpdateAccessKeyInput{UserName: kp.UserName, AccessKeyId: aws.String(prev.PhysicalID),
			Status: iamtypes.StatusType(derefOr(kp.Status, "Active"))}); err != nil {
			return nil, apiError("Iam", err)
		}
	}
	return &stack.Result{PhysicalID: prev.PhysicalID, Attrs: prev.Attrs}, nil
}

func (p *accessKeyProvider) Delete(ctx context.Context, _ *stack.Request, prev *stack.Resource) error {
	var old accessKeyProps
	_ = propsOf("", prev.Properties, &old)
	_, err := p.c.iam.DeleteAccessKey(ctx, &awsiam.DeleteAccessKeyInput{UserName: old.UserName, AccessKeyId: aws.String(prev.PhysicalID)})
	return ignoreNotFound("Iam", err)
}

// ReplacementProperties: the properties whose change replaces a user, a
// group, a group addition or an access key (change sets report them).
func (p *userProvider) ReplacementProperties(string) []string {
	return []string{"UserName", "Path", "Tags"}
}

// ReplacementProperties: see userProvider.
func (p *groupProvider) ReplacementProperties(string) []string { return []string{"GroupName", "Path"} }

// ReplacementProperties: see userProvider.
func (p *groupAdditionProvider) ReplacementProperties(string) []string { return []string{"GroupName"} }

// ReplacementProperties: see userProvider.
func (p *accessKeyProvider) ReplacementProperties(string) []string {
	return []string{"UserName", "Serial"}
}

// attachedArns are the ARNs of attached managed policies.
func attachedArns(att []iamtypes.AttachedPolicy) []string {
	arns := make([]string, 0, len(att))
	for _, a := range att {
		arns = append(arns, aws.ToString(a.PolicyArn))
	}
	return arns
}

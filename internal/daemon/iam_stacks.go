package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/nimbus-serverless/nimbus/internal/auth"
	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/config"
	"github.com/nimbus-serverless/nimbus/internal/policy"
	"github.com/nimbus-serverless/nimbus/internal/stack"
)

// Stacks act as their caller or their service role
// (docs/design/access-control.md, "Stacks act as their caller or their
// role"): the engine keeps who asked for each operation (stack.Actor) and
// puts it on the context of every resource provider call; stackCredentials
// signs the call with a session of that identity, so the front door
// judges each resource a stack makes as it would the caller's own call.

// cloudFormationPrincipal is the service principal a stack's RoleARN
// must trust.
const cloudFormationPrincipal = "cloudformation.amazonaws.com"

// stackRoleSession is the session name CloudFormation gives the sessions
// of a service role (arn:aws:sts::<account>:assumed-role/<role>/AWSCloudFormation).
const stackRoleSession = "AWSCloudFormation"

// stackSessionTTL bounds the credentials of one provider call (a nested
// stack's provider polls for up to its timeout, each poll signed anew).
const stackSessionTTL = 15 * time.Minute

// stackIdentity is the engine's stack.Identity: who calls the
// CloudFormation API, and whether a service role may be used.
type stackIdentity struct{ d *Daemon }

// Caller is the identity the front door verified for the request on ctx.
func (s stackIdentity) Caller(ctx context.Context) (stack.Actor, bool) {
	id, ok := auth.FromContext(ctx)
	if !ok {
		return stack.Actor{}, false
	}
	if id.Root || id.Insecure {
		return stack.Actor{Root: true}, true
	}
	return stack.Actor{Principal: id.Principal, UserName: id.UserName, RoleArn: id.RoleArn, SessionName: id.SessionName,
		SessionPolicy: id.SessionPolicy, FunctionArn: id.FunctionArn}, true
}

// CheckRole refuses, under --iam enforce, a service role that does not
// exist or whose trust policy does not let CloudFormation assume it, with
// CloudFormation's answer. Under audit and off a role limits nothing (the
// stack's calls are signed as root), so it is not checked, as Lambda's
// execution role is not.
func (s stackIdentity) CheckRole(ctx context.Context, roleARN string) error {
	d := s.d
	if d.iam == nil || d.cfg.InsecureNoAuth || d.cfg.IAMMode() != config.IAMEnforce {
		return nil
	}
	if !d.iam.ServiceCanAssume(ctx, roleARN, cloudFormationPrincipal) {
		return &awsapi.Error{Status: http.StatusBadRequest, Code: stack.CodeValidationError, Type: "User",
			Message: "Role " + roleARN + " is invalid or cannot be assumed"}
	}
	return nil
}

// stackCredentials signs a resource provider's call as the stack
// operation on its context acts (stack.ActorOf): a session of the
// stack's service role named AWSCloudFormation, or a session of the
// caller itself (the same user, role session with its session policy, or
// function), issued for the call. Root callers, calls outside a stack
// operation, and every call under --iam off or --insecure-no-auth are
// signed with the root credentials, as before.
type stackCredentials struct{ d *Daemon }

// Retrieve implements aws.CredentialsProvider for the call on ctx.
func (c stackCredentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	d := c.d
	a, ok := stack.ActorOf(ctx)
	if !ok || a.Root || d.cfg.InsecureNoAuth || d.cfg.IAMMode() == config.IAMOff || d.iam == nil || d.issuer == nil {
		_, root := d.providerClient()
		return root.Retrieve(ctx)
	}
	g := auth.Grant{UserName: a.UserName, RoleArn: a.RoleArn, SessionName: a.SessionName, Policy: a.SessionPolicy,
		FunctionArn: a.FunctionArn}
	if a.ServiceRole != "" {
		if d.cfg.IAMMode() == config.IAMEnforce && !d.iam.ServiceCanAssume(ctx, a.ServiceRole, cloudFormationPrincipal) {
			return aws.Credentials{}, fmt.Errorf("Role %s is invalid or cannot be assumed", a.ServiceRole) //nolint:staticcheck // CloudFormation's wording
		}
		g = auth.Grant{RoleArn: a.ServiceRole, SessionName: stackRoleSession}
	}
	if g.UserName == "" && g.RoleArn == "" {
		// An identity the engine kept but cannot sign as is allowed
		// nothing: sign as no one the front door knows.
		return aws.Credentials{}, fmt.Errorf("stack operation: no identity to act as (%s)", a.Principal)
	}
	cr, err := d.issuer.IssueSession(g, stackSessionTTL)
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("credentials for the stack's caller: %w", err)
	}
	return aws.Credentials{AccessKeyID: cr.AccessKeyID, SecretAccessKey: cr.SecretAccessKey, SessionToken: cr.SessionToken,
		CanExpire: true, Expires: cr.Expiration, Source: "nimbus-cloudformation"}, nil
}

// templateReader is who a template's dynamic references and SSM
// parameter types are read as: the stack operation's Actor when ctx is
// an operation's, else the API caller (CreateStack resolving its
// parameters). false: unrestricted (root, the node itself, IAM off).
func (d *Daemon) templateReader(ctx context.Context) (auth.Identity, bool) {
	if d.iam == nil || d.cfg.InsecureNoAuth || d.cfg.IAMMode() == config.IAMOff {
		return auth.Identity{}, false
	}
	if a, ok := stack.ActorOf(ctx); ok {
		switch {
		case a.Root:
			return auth.Identity{}, false
		case a.ServiceRole != "":
			return auth.Identity{RoleArn: a.ServiceRole, SessionName: stackRoleSession,
				Principal: "arn:aws:sts::" + d.cfg.AccountID + ":assumed-role/" + lastSegment(a.ServiceRole) + "/" + stackRoleSession}, true
		}
		return auth.Identity{Principal: a.Principal, UserName: a.UserName, RoleArn: a.RoleArn, SessionName: a.SessionName,
			SessionPolicy: a.SessionPolicy, FunctionArn: a.FunctionArn}, true
	}
	id, ok := auth.FromContext(ctx)
	if !ok || id.Root || id.Insecure {
		return auth.Identity{}, false
	}
	return id, true
}

// templateMayRead judges whether whoever a template is read for
// (templateReader) may do action on resource: the node reads dynamic
// references as root, so this keeps a caller who may create stacks from
// reading, into a stack's outputs or resources, a secret or parameter
// IAM keeps from them.
func (d *Daemon) templateMayRead(ctx context.Context, action, resource string) error {
	id, ok := d.templateReader(ctx)
	if !ok {
		return nil
	}
	if msg := d.judgeAs(ctx, id, &policy.Request{Action: action, Resource: resource}); msg != "" {
		return errors.New("AccessDeniedException: " + msg)
	}
	return nil
}

// parameterArn is the ARN of the SSM parameter name (a name with or
// without its leading "/", and maybe a ":version" or ":label").
func (d *Daemon) parameterArn(name string) string {
	if i := strings.LastIndexByte(name, ':'); i > 0 && !strings.HasPrefix(name, "arn:") {
		name = name[:i]
	}
	if strings.HasPrefix(name, "arn:") {
		return name
	}
	return "arn:aws:ssm:" + d.cfg.Region + ":" + d.cfg.AccountID + ":parameter/" + strings.TrimPrefix(name, "/")
}

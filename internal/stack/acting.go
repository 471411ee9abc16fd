package stack

import (
	"context"
	"strings"
)

// Who a stack operation acts as. CloudFormation makes a stack's
// resources with its caller's permissions, or, when the stack has a
// service role (RoleARN), with a session of that role; so a caller who
// may create stacks can make through one only what they (or the role)
// may make directly. The engine keeps the acting identity with the stack
// (record.Actor, record.RoleARN), so an operation resumed after a
// restart, a rollback, and the cleanup of an update act as the operation
// that started them did, and puts it on the context of every provider
// call (ActorOf); the daemon signs those calls with a session of it.
//
//	operation           acts as
//	CreateStack         RoleARN if given, else its caller
//	UpdateStack         RoleARN if given, else the stack's, else its caller
//	ExecuteChangeSet    the change set's RoleARN, else the stack's, else its caller
//	DeleteStack         RoleARN if given, else the stack's, else its caller
//	rollback, cleanup   whoever the operation they belong to acts as

// Actor is the identity a stack operation acts as. The engine keeps it
// and hands it on; Options.Identity makes it from the API caller and the
// daemon signs with it.
type Actor struct {
	// Root is the node's root (and every caller of a node without
	// authentication).
	Root bool `json:",omitempty"`
	// ServiceRole is the stack's service role (RoleARN): calls act as a
	// session of it that CloudFormation assumed.
	ServiceRole string `json:",omitempty"`
	// Principal is the caller's ARN (a user, an assumed-role session).
	Principal string `json:",omitempty"`
	// UserName is an IAM user's name (its access key or a
	// GetSessionToken session).
	UserName string `json:",omitempty"`
	// RoleArn is the role of a session: an AssumeRole session (with
	// SessionName and any SessionPolicy) or a function's (FunctionArn).
	RoleArn       string `json:",omitempty"`
	SessionName   string `json:",omitempty"`
	SessionPolicy string `json:",omitempty"`
	FunctionArn   string `json:",omitempty"`
}

// Identity is how the engine learns who calls its API (Options.Identity).
type Identity interface {
	// Caller is the identity of the API call on ctx; false when it has
	// none (the engine's own calls).
	Caller(ctx context.Context) (Actor, bool)
	// CheckRole refuses a service role CloudFormation cannot assume
	// (CloudFormation's ValidationError "Role <arn> is invalid or cannot
	// be assumed"). Whether the caller may pass it (iam:PassRole) is the
	// front door's to judge.
	CheckRole(ctx context.Context, roleARN string) error
}

type actorKey struct{}

// WithActor returns ctx carrying the identity a stack operation acts as.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorOf is the identity the stack operation whose provider call ctx is
// acts as; false outside a stack operation (or for a stack recorded
// before the engine kept one).
func ActorOf(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(actorKey{}).(Actor)
	return a, ok
}

// maxRoleARN is CloudFormation's limit of RoleARN.
const maxRoleARN = 2048

// checkRoleARN refuses a RoleARN that is not a role's ARN, or that
// CloudFormation cannot assume.
func (s *Service) checkRoleARN(ctx context.Context, arn string) error {
	if arn == "" {
		return nil
	}
	if len(arn) < 20 || len(arn) > maxRoleARN || !strings.HasPrefix(arn, "arn:") || !strings.Contains(arn, ":role/") {
		return validationError("%s is not a valid RoleARN", truncate(arn, 256))
	}
	if s.identity == nil {
		return nil
	}
	return s.identity.CheckRole(ctx, arn)
}

// actFor sets who the operation rec is about to run acts as: its
// caller on ctx (or nobody, when the engine has no Identity or ctx no
// caller), and the service role roleARN if given (else the stack's).
func (s *Service) actFor(ctx context.Context, rec *record, roleARN string) {
	if roleARN != "" {
		rec.RoleARN = roleARN
	}
	rec.Actor = nil
	if s.identity == nil || ctx == nil {
		return
	}
	if a, ok := s.identity.Caller(ctx); ok {
		rec.Actor = &a
	}
}

// acting is the context of an operation on rec: it carries the stack's
// service role if it has one, else the caller of the operation.
func acting(ctx context.Context, rec *record) context.Context {
	switch {
	case rec.RoleARN != "":
		return WithActor(ctx, Actor{ServiceRole: rec.RoleARN})
	case rec.Actor != nil:
		return WithActor(ctx, *rec.Actor)
	}
	return ctx
}

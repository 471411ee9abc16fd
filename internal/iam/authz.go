package iam

import (
	"context"
	"strings"
	"sync"

	"github.com/nimbus-serverless/nimbus/internal/policy"
)

// Caller is an authenticated principal, as the front door knows it.
type Caller struct {
	// Root: the account's root credentials (never restricted).
	Root bool
	// ARN of the caller: a user, or an assumed-role session
	// (arn:aws:sts::<account>:assumed-role/<role>/<session>).
	ARN string
	// RoleArn is the role behind a session.
	RoleArn string
	// UserName is set for IAM users' access keys.
	UserName string
	// SessionPolicy, if set, is an AssumeRole session policy: the session
	// is granted only what it allows too.
	SessionPolicy *policy.Policy
}

// ResourcePolicies supplies the resource-based policies of one service's
// resources to the evaluation of every call (Lambda's function
// permissions, SQS queue policies; S3 bucket, SNS topic, Secrets Manager
// policies as those services register theirs with
// Service.RegisterResourcePolicies).
type ResourcePolicies interface {
	// ResourcePolicy returns the JSON policy document attached to the
	// resource arn, or "" when it has none (or the resource does not
	// exist). It is called for every call by a non-root caller on the
	// service, so it should read from memory; the document is compiled
	// once per distinct text, not per call.
	ResourcePolicy(ctx context.Context, arn string) (string, error)
}

// ResourcePolicyFunc adapts a function to ResourcePolicies.
type ResourcePolicyFunc func(ctx context.Context, arn string) (string, error)

// ResourcePolicy calls f.
func (f ResourcePolicyFunc) ResourcePolicy(ctx context.Context, arn string) (string, error) {
	return f(ctx, arn)
}

type resourceSources struct {
	mu sync.RWMutex
	m  map[string]ResourcePolicies // by action prefix ("sqs", "lambda")
}

// RegisterResourcePolicies makes src the source of resource policies for
// the actions of service (its IAM action prefix: "lambda", "sqs", "s3",
// "sns", "secretsmanager", ...).
func (s *Service) RegisterResourcePolicies(service string, src ResourcePolicies) {
	s.res.mu.Lock()
	defer s.res.mu.Unlock()
	if s.res.m == nil {
		s.res.m = map[string]ResourcePolicies{}
	}
	s.res.m[service] = src
}

// ResourcePolicy is the compiled resource policy of arn for an action of
// service, nil if it has none. A document that does not parse grants
// nothing (and is logged).
func (s *Service) ResourcePolicy(ctx context.Context, service, arn string) (*policy.Policy, error) {
	s.res.mu.RLock()
	src := s.res.m[service]
	s.res.mu.RUnlock()
	if src == nil || arn == "" || arn == "*" {
		return nil, nil
	}
	doc, err := src.ResourcePolicy(ctx, arn)
	if err != nil || doc == "" {
		return nil, err
	}
	return s.compile(doc, policy.Resource), nil
}

// identity collects the identity policies, boundary and tags of a caller.
// found is false for a role or user that does not exist (it has no
// policies: everything is implicitly denied).
func (s *Service) identity(c Caller) (ids []*policy.Policy, boundary *policy.Policy, tags []Tag, found bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	add := func(ce *cached) {
		ids = append(ids, ce.inline...)
		for _, arn := range ce.e.Attached {
			if mp := s.policies[arn]; mp != nil && mp.doc != nil {
				ids = append(ids, mp.doc)
			}
		}
	}
	var ce *cached
	switch {
	case c.RoleArn != "":
		ce = s.entities[KindRole+"/"+nameFromArn(c.RoleArn)]
		if ce != nil && s.entityArn(KindRole, ce.e.Path, ce.e.Name) != c.RoleArn {
			ce = nil // same name, another path: another role
		}
	case c.UserName != "":
		ce = s.entities[KindUser+"/"+c.UserName]
	}
	if ce == nil {
		return nil, nil, nil, false
	}
	add(ce)
	for _, g := range ce.e.Groups {
		if ge := s.entities[KindGroup+"/"+g]; ge != nil {
			add(ge)
		}
	}
	if ce.e.Boundary != "" {
		if mp := s.policies[ce.e.Boundary]; mp != nil {
			boundary = mp.doc
		}
		if boundary == nil {
			// A boundary that cannot be read allows nothing.
			boundary = denyAll()
		}
	}
	return ids, boundary, ce.e.Tags, true
}

var denyAll = sync.OnceValue(func() *policy.Policy {
	p, _ := policy.Parse([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`), policy.Identity)
	return p
})

// nameFromArn is the last path segment of an IAM ARN.
func nameFromArn(arn string) string {
	return arn[strings.LastIndexByte(arn, '/')+1:]
}

// Authorize evaluates r (its Action, Resource and the request's own
// condition keys already set) for caller c, with the resource's policies.
// It sets the principal and the principal's condition keys
// (aws:PrincipalArn, aws:PrincipalAccount, aws:PrincipalType,
// aws:username, aws:userid, aws:PrincipalTag/*). Root is always allowed.
func (s *Service) Authorize(c Caller, r *policy.Request, resource ...*policy.Policy) policy.Decision {
	if c.Root {
		return policy.Decision{Allowed: true}
	}
	ids, boundary, tags, _ := s.identity(c)
	account := s.opts.AccountID
	r.Principal = policy.Principal{ARN: c.ARN, Account: account, RoleARN: c.RoleArn}
	switch {
	case c.RoleArn != "":
		r.Set("aws:PrincipalArn", c.RoleArn)
		r.Set("aws:PrincipalType", "AssumedRole")
		if ce := s.entity(KindRole, nameFromArn(c.RoleArn)); ce != nil {
			r.Set("aws:userid", ce.e.ID+":"+nameFromArn(c.ARN))
		}
	case c.UserName != "":
		r.Set("aws:PrincipalArn", c.ARN)
		r.Set("aws:PrincipalType", "User")
		r.Set("aws:username", c.UserName)
		if ce := s.entity(KindUser, c.UserName); ce != nil {
			r.Set("aws:userid", ce.e.ID)
		}
	}
	r.Set("aws:PrincipalAccount", account)
	for _, t := range tags {
		r.Set("aws:PrincipalTag/"+t.Key, t.Value)
	}
	ps := &policy.Policies{Identity: ids, Boundary: boundary}
	for _, p := range resource {
		if p != nil {
			ps.Resource = append(ps.Resource, p)
		}
	}
	d := policy.Evaluate(ps, r)
	if d.Allowed && c.SessionPolicy != nil {
		// A session policy limits what the role's policies grant (AWS:
		// "the resulting session's permissions are the intersection").
		sd := policy.Evaluate(&policy.Policies{Identity: []*policy.Policy{c.SessionPolicy}}, r)
		if !sd.Allowed {
			if sd.ExplicitDeny {
				return policy.Decision{ExplicitDeny: true, Type: policy.SessionPolicy}
			}
			return policy.Decision{Type: policy.SessionPolicy}
		}
	}
	return d
}

// AccessKeyOwner returns the user of an active access key.
func (s *Service) AccessKeyOwner(id string) (user string, ok bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	k := s.keys[id]
	if k == nil || k.Status != "Active" {
		return "", false
	}
	if s.entities[KindUser+"/"+k.User] == nil {
		return "", false
	}
	return k.User, true
}

// UserArn is the ARN of an existing user.
func (s *Service) UserArn(name string) (string, bool) { return s.EntityArn(KindUser, name) }

// EntityArn is the ARN (with its path) of an existing role, user or group.
func (s *Service) EntityArn(kind, name string) (string, bool) {
	ce := s.entity(kind, name)
	if ce == nil {
		return "", false
	}
	return s.entityArn(kind, ce.e.Path, ce.e.Name), true
}

// Role returns the stored role named by arn (nil if none).
func (s *Service) Role(arn string) *Entity {
	ce := s.entity(KindRole, nameFromArn(arn))
	if ce == nil || s.entityArn(KindRole, ce.e.Path, ce.e.Name) != arn {
		return nil
	}
	e := *ce.e
	return &e
}

// Trust is the compiled trust policy of the role arn (nil if the role does
// not exist or its policy does not parse).
func (s *Service) Trust(arn string) *policy.Policy {
	ce := s.entity(KindRole, nameFromArn(arn))
	if ce == nil || s.entityArn(KindRole, ce.e.Path, ce.e.Name) != arn {
		return nil
	}
	return ce.trust
}

// CanLambdaAssume reports whether the role arn exists and its trust
// policy lets lambda.amazonaws.com call sts:AssumeRole.
func (s *Service) CanLambdaAssume(arn string) bool { return s.CanAssume(arn, "lambda.amazonaws.com") }

// CanAssume reports whether the role arn exists and its trust policy lets
// the service principal (lambda.amazonaws.com, states.amazonaws.com, ...)
// call sts:AssumeRole: what AWS checks before a service acts as a role.
func (s *Service) CanAssume(arn, service string) bool {
	t := s.Trust(arn)
	if t == nil {
		return false
	}
	d := policy.Evaluate(&policy.Policies{Resource: []*policy.Policy{t}},
		&policy.Request{Principal: policy.Principal{Service: service}, Action: "sts:AssumeRole", Resource: arn})
	return d.Allowed
}

// LambdaCanAssume is CanLambdaAssume for a role that may have been
// created on another node a moment ago (ServiceCanAssume).
func (s *Service) LambdaCanAssume(ctx context.Context, arn string) bool {
	return s.ServiceCanAssume(ctx, arn, "lambda.amazonaws.com")
}

// ServiceCanAssume is CanAssume for a role that may have been created on
// another node a moment ago: a role this node's cache does not let the
// service assume is read from the backbone once before the answer is no
// (the cache follows the KV watch, which may lag behind a CreateRole
// answered elsewhere).
func (s *Service) ServiceCanAssume(ctx context.Context, arn, service string) bool {
	if s.CanAssume(arn, service) {
		return true
	}
	if !strings.HasPrefix(arn, "arn:aws:iam::"+s.opts.AccountID+":role/") {
		return false
	}
	key := entityKey(KindRole, nameFromArn(arn))
	e, err := s.st.Get(ctx, key)
	if err != nil {
		return false
	}
	s.apply(key, e.Value, e.Revision, false)
	return s.CanAssume(arn, service)
}

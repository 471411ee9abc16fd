package stack

import (
	"context"
	"errors"
)

// Provider creates, updates and deletes the resources of one type, as a
// CloudFormation resource provider does. Providers call the node's own
// AWS APIs (Lambda, API Gateway, Logs) through aws-sdk-go-v2 clients, so
// every resource a stack makes is validated exactly as a user's call is.
type Provider interface {
	// Create makes the resource and returns its physical id and
	// attributes. On error nothing may be left behind.
	Create(ctx context.Context, r *Request) (*Result, error)
	// Update changes the resource from prev to r.Properties in place. It
	// returns ErrReplace (wrapped or not) when the change needs a new
	// resource; the engine then creates one with Create and deletes the old
	// one once the whole stack has succeeded.
	Update(ctx context.Context, r *Request, prev *Resource) (*Result, error)
	// Delete removes the resource. A resource already gone is not an error.
	Delete(ctx context.Context, r *Request, cur *Resource) error
}

// ErrReplace is returned by Provider.Update for a change that needs
// replacement.
var ErrReplace = errors.New("update requires replacement")

// Request is what a provider is asked to do.
type Request struct {
	StackName, StackID string
	LogicalID, Type    string
	// Properties are fully evaluated: no intrinsic functions remain.
	Properties        map[string]any
	Region, AccountID string
}

// Result is what a provider made.
type Result struct {
	// PhysicalID is what Ref returns, unless Ref is set.
	PhysicalID string
	// Ref overrides the value of Ref for types where it differs from the
	// physical id (AWS::Lambda::Version's Ref is the version ARN, say).
	Ref any `json:",omitempty"`
	// Attrs are the Fn::GetAtt values.
	Attrs map[string]any `json:",omitempty"`
}

// Resource is a created resource as the stack records it.
type Resource struct {
	LogicalID  string
	Type       string
	Properties map[string]any // as last applied
	Result
}

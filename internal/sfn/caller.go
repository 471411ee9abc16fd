package sfn

import "context"

// A Task calls its service as the state machine's role (AWS's Step
// Functions assumes the machine's roleArn for every integration): the
// interpreter puts the execution on the context of each call, and the
// node's Tasks sign the call with a session of that role
// (docs/design/access-control.md).

type callerKey struct{}

// Caller is on whose behalf a Task calls a service.
type Caller struct {
	// RoleArn is the state machine's execution role.
	RoleArn string
	// ExecutionArn and ExecutionName name the execution making the call.
	ExecutionArn, ExecutionName string
}

// withCaller returns ctx carrying the caller of x's Tasks.
func withCaller(ctx context.Context, x *Execution) context.Context {
	if x == nil {
		return ctx
	}
	return context.WithValue(ctx, callerKey{}, Caller{RoleArn: x.RoleARN, ExecutionArn: x.ARN, ExecutionName: x.Name})
}

// CallerOf returns the caller a Task's integration was called for (ok
// false outside a Task).
func CallerOf(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}

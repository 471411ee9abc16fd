package stack

import (
	"context"
	"time"
)

// The contract between the engine and the CloudFormation API (cfnapi).
// Errors are *awsapi.Error with CloudFormation's codes: ValidationError
// (400; "Stack with id X does not exist", "No updates are to be
// performed.", template and parameter errors), AlreadyExistsException
// (400), InsufficientCapabilitiesException (400), LimitExceededException.

// CreateInput starts a stack (CreateStack).
type CreateInput struct {
	StackName    string
	TemplateBody string
	Parameters   map[string]string // ParameterKey -> ParameterValue
	// UsePrevious lists parameters of UpdateStack whose previous value is kept.
	UsePrevious     []string
	Capabilities    []string
	Tags            map[string]string
	DisableRollback bool
	// SkipUnsupported deploys a template with resource types Nimbus does
	// not have, leaving those out with a warning event each (the CLI's
	// --skip-unsupported; carried as the stack tag nimbus:skip-unsupported=true).
	SkipUnsupported bool
	// RoleARN is the service role the stack's operations act as (a
	// session CloudFormation assumes); without one they act as their
	// caller. UpdateStack and DeleteStack without one keep the stack's.
	RoleARN string
}

// UpdateInput changes a stack (UpdateStack). An empty TemplateBody with
// UsePreviousTemplate keeps the template.
type UpdateInput struct {
	CreateInput
	UsePreviousTemplate bool
}

// Stack is one stack as DescribeStacks shows it.
type Stack struct {
	StackID, StackName, Description string
	Status, StatusReason            string
	CreationTime                    time.Time
	LastUpdatedTime                 time.Time // zero if never updated
	DeletionTime                    time.Time // zero unless deleted
	Parameters                      []Parameter
	Outputs                         []Output
	Capabilities                    []string
	Tags                            map[string]string
	DisableRollback                 bool
	RoleARN                         string // the service role, if any
	// ParentID and RootID name a nested stack's parent and its root
	// (top-level) stack; both are empty for a top-level stack.
	ParentID, RootID string
}

// Parameter is a stack parameter; NoEcho values are shown as "****".
type Parameter struct{ Key, Value string }

// Output is a resolved stack output.
type Output struct{ Key, Value, Description, ExportName string }

// Export is one exported output (ListExports).
type Export struct{ StackID, Name, Value string }

// Event is one stack event (DescribeStackEvents), newest first.
type Event struct {
	EventID, StackID, StackName         string
	LogicalID, PhysicalID, ResourceType string
	Status, StatusReason                string
	Timestamp                           time.Time
	ResourceProperties                  string // JSON, may be empty
}

// StackResource is one resource of a stack (DescribeStackResources,
// ListStackResources).
type StackResource struct {
	StackID, StackName                  string
	LogicalID, PhysicalID, ResourceType string
	Status, StatusReason                string
	LastUpdated                         time.Time
}

// Summary is one entry of ListStacks (deleted stacks included for 90 days in
// AWS; here until the node's data is removed).
type Summary struct {
	StackID, StackName, Status, StatusReason, TemplateDescription string
	CreationTime, LastUpdatedTime, DeletionTime                   time.Time
	ParentID, RootID                                              string // a nested stack's
}

// Validation is what ValidateTemplate returns.
type Validation struct {
	Description        string
	Parameters         []ParameterDeclaration
	Capabilities       []string // CAPABILITY_IAM / CAPABILITY_AUTO_EXPAND as needed
	CapabilitiesReason string
}

// ParameterDeclaration describes a template parameter.
type ParameterDeclaration struct {
	Key, DefaultValue, Description string
	NoEcho                         bool
}

type parentKey struct{}

type parentStack struct{ parent, root string }

// WithParent returns ctx for CreateStack of a nested stack: the stack it
// creates records parentID and rootID (DescribeStacks' ParentId and
// RootId). A context value, so only an in-process caller — the
// AWS::CloudFormation::Stack provider — can set it; no request can.
func WithParent(ctx context.Context, parentID, rootID string) context.Context {
	return context.WithValue(ctx, parentKey{}, parentStack{parent: parentID, root: rootID})
}

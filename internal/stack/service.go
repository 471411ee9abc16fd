package stack

import (
	"context"
	"errors"
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

var errSkeleton = errors.New("stack: not implemented")

// Service is the engine. It is safe for concurrent use; operations on one
// stack are serialised, different stacks proceed in parallel.
type Service struct{}

// CreateStack records the stack as CREATE_IN_PROGRESS and applies it in the
// background; it returns the stack id at once, as CloudFormation does.
func (s *Service) CreateStack(ctx context.Context, in CreateInput) (string, error) {
	return "", errSkeleton
}

// UpdateStack applies a new template or parameters in the background.
func (s *Service) UpdateStack(ctx context.Context, in UpdateInput) (string, error) {
	return "", errSkeleton
}

// DeleteStack deletes a stack's resources in reverse order in the
// background. Deleting a stack that does not exist is not an error.
func (s *Service) DeleteStack(ctx context.Context, nameOrID string) error { return errSkeleton }

// DescribeStacks returns one stack (by name or id; deleted ones only by
// id) or, with an empty name, every live stack.
func (s *Service) DescribeStacks(ctx context.Context, nameOrID string) ([]Stack, error) {
	return nil, errSkeleton
}

// ListStacks lists stacks whose status is in filter (all if empty).
func (s *Service) ListStacks(ctx context.Context, filter []string) ([]Summary, error) {
	return nil, errSkeleton
}

// Events returns a stack's events, newest first.
func (s *Service) Events(ctx context.Context, nameOrID string) ([]Event, error) {
	return nil, errSkeleton
}

// Resources returns a stack's resources.
func (s *Service) Resources(ctx context.Context, nameOrID string) ([]StackResource, error) {
	return nil, errSkeleton
}

// Template returns a stack's template as submitted ("Original") or after
// the SAM transform ("Processed").
func (s *Service) Template(ctx context.Context, nameOrID, stage string) (string, error) {
	return "", errSkeleton
}

// Exports lists every exported output of every live stack.
func (s *Service) Exports(ctx context.Context) ([]Export, error) { return nil, errSkeleton }

// Validate parses and checks a template without creating anything.
func (s *Service) Validate(ctx context.Context, body string) (*Validation, error) {
	return nil, errSkeleton
}

// Run resumes operations a previous process left in progress and returns
// when ctx ends and every background operation has stopped.
func (s *Service) Run(ctx context.Context) error { <-ctx.Done(); return nil }

package cfnapi

import (
	"context"
	"maps"
	"slices"

	"github.com/nimbus-serverless/nimbus/internal/stack"
)

// Change sets: CreateChangeSet, DescribeChangeSet, ExecuteChangeSet,
// DeleteChangeSet and ListChangeSets, as `aws cloudformation deploy` and
// `sam deploy` use them.

// ChangeSets is what the change-set operations need of the engine;
// *stack.Service implements it (Stacks embeds it).
type ChangeSets interface {
	CreateChangeSet(ctx context.Context, in stack.ChangeSetInput) (id, stackID string, err error)
	DescribeChangeSet(ctx context.Context, nameOrID, stackName string) (*stack.ChangeSet, error)
	ExecuteChangeSet(ctx context.Context, in stack.ExecuteInput) error
	DeleteChangeSet(ctx context.Context, nameOrID, stackName string) error
	ListChangeSets(ctx context.Context, stackName string) ([]stack.ChangeSet, error)
	ChangeSetTemplate(ctx context.Context, nameOrID, stackName, stage string) (string, error)
}

// maxDescription is the limit of a change set's Description.
const maxDescription = 1024

type changeSetIDResult struct {
	ID      string `xml:"Id"`
	StackID string `xml:"StackId"`
}

type targetXML struct {
	Attribute          string `xml:",omitempty"`
	Name               string `xml:",omitempty"`
	RequiresRecreation string `xml:",omitempty"`
}

type changeDetailXML struct {
	Target        targetXML
	Evaluation    string `xml:",omitempty"`
	ChangeSource  string `xml:",omitempty"`
	CausingEntity string `xml:",omitempty"`
}

type resourceChangeXML struct {
	Action             string
	LogicalResourceID  string `xml:"LogicalResourceId"`
	PhysicalResourceID string `xml:"PhysicalResourceId,omitempty"`
	ResourceType       string
	Replacement        string `xml:",omitempty"`
	Scope              members[string]
	Details            members[changeDetailXML]
}

type changeXML struct {
	Type           string
	ResourceChange resourceChangeXML
}

type describeChangeSetResult struct {
	ChangeSetName       string
	ChangeSetID         string `xml:"ChangeSetId"`
	StackID             string `xml:"StackId"`
	StackName           string
	Description         string                 `xml:",omitempty"`
	Parameters          *members[parameterXML] `xml:",omitempty"`
	CreationTime        string
	ExecutionStatus     string
	Status              string
	StatusReason        string `xml:",omitempty"`
	NotificationARNs    members[string]
	Capabilities        *members[string] `xml:",omitempty"`
	Tags                members[tagXML]
	Changes             members[changeXML]
	IncludeNestedStacks bool
}

type changeSetSummaryXML struct {
	StackID             string `xml:"StackId"`
	StackName           string
	ChangeSetID         string `xml:"ChangeSetId"`
	ChangeSetName       string
	ExecutionStatus     string
	Status              string
	StatusReason        string `xml:",omitempty"`
	CreationTime        string
	Description         string `xml:",omitempty"`
	IncludeNestedStacks bool
}

type listChangeSetsResult struct {
	Summaries members[changeSetSummaryXML]
	NextToken string `xml:",omitempty"`
}

// emptyResult is the result element of an operation whose output has no
// members (<ExecuteChangeSetResult/>).
type emptyResult struct{}

func (h *Handler) createChangeSet(ctx context.Context, f Form) (any, error) {
	in, err := stackInput(f, true)
	if err != nil {
		return nil, err
	}
	cs := stack.ChangeSetInput{UpdateInput: stack.UpdateInput{CreateInput: in}}
	if cs.ChangeSetName, err = f.required("ChangeSetName"); err != nil {
		return nil, err
	}
	cs.ChangeSetType, cs.Description = f.Get("ChangeSetType"), f.Get("Description")
	if len(cs.Description) > maxDescription {
		return nil, validation("1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to %d", maxDescription)
	}
	if len(f.Structs("ResourcesToImport")) > 0 || cs.ChangeSetType == stack.ChangeSetTypeImport {
		return nil, validation("ChangeSetType IMPORT is not supported by Nimbus: it cannot import existing resources into a stack.")
	}
	if cs.UsePreviousTemplate, err = f.Bool("UsePreviousTemplate"); err != nil {
		return nil, err
	}
	if cs.TemplateBody, err = h.template(ctx, f, !cs.UsePreviousTemplate); err != nil {
		return nil, err
	}
	if cs.UsePreviousTemplate && cs.TemplateBody != "" {
		return nil, validation("You cannot specify both usePreviousTemplate and Template Body/Template Url.")
	}
	id, stackID, err := h.opts.Stacks.CreateChangeSet(ctx, cs)
	if err != nil {
		return nil, err
	}
	return changeSetIDResult{id, stackID}, nil
}

// changeSetRef reads ChangeSetName (a name or an id) and StackName.
func changeSetRef(f Form) (string, string, error) {
	name, err := f.required("ChangeSetName")
	if err != nil {
		return "", "", err
	}
	return name, f.Get("StackName"), nil
}

func (h *Handler) describeChangeSet(ctx context.Context, f Form) (any, error) {
	name, stackName, err := changeSetRef(f)
	if err != nil {
		return nil, err
	}
	cs, err := h.opts.Stacks.DescribeChangeSet(ctx, name, stackName)
	if err != nil {
		return nil, err
	}
	page, next, err := paginate(cs.Changes, f.Get("NextToken"), h.opts.PageSize, func(c stack.ResourceChange) string { return c.LogicalID })
	if err != nil {
		return nil, err
	}
	out := describeChangeSetResult{
		ChangeSetName: cs.Name, ChangeSetID: cs.ID, StackID: cs.StackID, StackName: cs.StackName,
		Description: cs.Description, CreationTime: timestamp(cs.CreationTime),
		ExecutionStatus: cs.ExecutionStatus, Status: cs.Status, StatusReason: cs.StatusReason,
		NotificationARNs: list([]string{}), Capabilities: optList(cs.Capabilities),
		Tags: list([]tagXML{}), Changes: list(make([]changeXML, 0, len(page))),
	}
	var params []parameterXML
	for _, p := range cs.Parameters {
		params = append(params, parameterXML{p.Key, p.Value})
	}
	out.Parameters = optList(params)
	for _, k := range slices.Sorted(maps.Keys(cs.Tags)) {
		out.Tags.Member = append(out.Tags.Member, tagXML{k, cs.Tags[k]})
	}
	for _, c := range page {
		rc := resourceChangeXML{
			Action: c.Action, LogicalResourceID: c.LogicalID, PhysicalResourceID: c.PhysicalID,
			ResourceType: c.ResourceType, Replacement: c.Replacement,
			Scope: list(slices.Clone(c.Scope)), Details: list(make([]changeDetailXML, 0, len(c.Details))),
		}
		if rc.Scope.Member == nil {
			rc.Scope.Member = []string{}
		}
		for _, d := range c.Details {
			rc.Details.Member = append(rc.Details.Member, changeDetailXML{
				Target:     targetXML{d.Attribute, d.Name, d.RequiresRecreation},
				Evaluation: d.Evaluation, ChangeSource: d.ChangeSource, CausingEntity: d.CausingEntity,
			})
		}
		out.Changes.Member = append(out.Changes.Member, changeXML{Type: "Resource", ResourceChange: rc})
	}
	// NextToken is written after Changes, as the model orders them.
	if next != "" {
		return struct {
			describeChangeSetResult
			NextToken string
		}{out, next}, nil
	}
	return out, nil
}

func (h *Handler) executeChangeSet(ctx context.Context, f Form) (any, error) {
	name, stackName, err := changeSetRef(f)
	if err != nil {
		return nil, err
	}
	in := stack.ExecuteInput{ChangeSetName: name, StackName: stackName}
	if in.DisableRollback, err = f.Bool("DisableRollback"); err != nil {
		return nil, err
	}
	if err := h.opts.Stacks.ExecuteChangeSet(ctx, in); err != nil {
		return nil, err
	}
	return emptyResult{}, nil
}

func (h *Handler) deleteChangeSet(ctx context.Context, f Form) (any, error) {
	name, stackName, err := changeSetRef(f)
	if err != nil {
		return nil, err
	}
	if err := h.opts.Stacks.DeleteChangeSet(ctx, name, stackName); err != nil {
		return nil, err
	}
	return emptyResult{}, nil
}

func (h *Handler) listChangeSets(ctx context.Context, f Form) (any, error) {
	name, err := f.required("StackName")
	if err != nil {
		return nil, err
	}
	sets, err := h.opts.Stacks.ListChangeSets(ctx, name)
	if err != nil {
		return nil, err
	}
	page, next, err := paginate(sets, f.Get("NextToken"), h.opts.PageSize, func(c stack.ChangeSet) string { return c.ID })
	if err != nil {
		return nil, err
	}
	out := listChangeSetsResult{NextToken: next, Summaries: list(make([]changeSetSummaryXML, 0, len(page)))}
	for _, c := range page {
		out.Summaries.Member = append(out.Summaries.Member, changeSetSummaryXML{
			StackID: c.StackID, StackName: c.StackName, ChangeSetID: c.ID, ChangeSetName: c.Name,
			ExecutionStatus: c.ExecutionStatus, Status: c.Status, StatusReason: c.StatusReason,
			CreationTime: timestamp(c.CreationTime), Description: c.Description,
		})
	}
	return out, nil
}

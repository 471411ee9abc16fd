package cfnapi

import (
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/stack"
)

type operation func(h *Handler, ctx context.Context, f Form) (any, error)

// operations are the actions served; every other CloudFormation action is
// answered InvalidAction.
var operations = map[string]operation{
	"CreateStack":            (*Handler).createStack,
	"UpdateStack":            (*Handler).updateStack,
	"DeleteStack":            (*Handler).deleteStack,
	"DescribeStacks":         (*Handler).describeStacks,
	"ListStacks":             (*Handler).listStacks,
	"DescribeStackEvents":    (*Handler).describeStackEvents,
	"DescribeStackResources": (*Handler).describeStackResources,
	"DescribeStackResource":  (*Handler).describeStackResource,
	"ListStackResources":     (*Handler).listStackResources,
	"GetTemplate":            (*Handler).getTemplate,
	"GetTemplateSummary":     (*Handler).getTemplateSummary,
	"ValidateTemplate":       (*Handler).validateTemplate,
	"ListExports":            (*Handler).listExports,
	"CreateChangeSet":        (*Handler).createChangeSet,
	"DescribeChangeSet":      (*Handler).describeChangeSet,
	"ExecuteChangeSet":       (*Handler).executeChangeSet,
	"DeleteChangeSet":        (*Handler).deleteChangeSet,
	"ListChangeSets":         (*Handler).listChangeSets,
}

// SkipUnsupportedTag is the stack tag that asks the engine to leave out
// resource types Nimbus does not have (`nimbus deploy --skip-unsupported`).
const SkipUnsupportedTag = "nimbus:skip-unsupported"

// capabilities are the values of the Capability enum.
var capabilities = []string{"CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"}

// maxTags is CloudFormation's limit of tags on a stack.
const maxTags = 50

// template reads TemplateBody, or the object TemplateURL names in one of
// the node's buckets (read as the caller: Options.ReadObject).
func (h *Handler) template(ctx context.Context, f Form, required bool) (string, error) {
	body, url := f.Get("TemplateBody"), f.Get("TemplateURL")
	if url != "" {
		if body != "" {
			return "", validation("Specify exactly one of TemplateBody or TemplateUrl.")
		}
		return h.templateFromURL(ctx, url)
	}
	if body == "" && required {
		return "", validation("Either Template URL or Template Body must be specified.")
	}
	if len(body) > MaxTemplateBytes {
		return "", validation("1 validation error detected: Value at 'templateBody' failed to satisfy constraint: Member must have length less than or equal to %d", MaxTemplateBytes)
	}
	return body, nil
}

// templateFromURL reads a TemplateURL: an S3 URL in any of AWS's forms
// (virtual-hosted or path-style, with or without a region) or the node's
// own S3 address (what `aws cloudformation deploy --s3-bucket` builds from
// its endpoint), naming a bucket of this node; at most 1 MB, as
// CloudFormation takes through S3.
func (h *Handler) templateFromURL(ctx context.Context, raw string) (string, error) {
	if len(raw) > 1024 {
		return "", validation("1 validation error detected: Value at 'templateURL' failed to satisfy constraint: Member must have length less than or equal to 1024")
	}
	bucket, key, ok := ParseTemplateURL(raw)
	if !ok {
		return "", validation("TemplateURL must be a supported URL.")
	}
	if h.opts.ReadObject == nil {
		return "", validation("TemplateURL is not supported by this node: it reads no buckets. Send the template inline as TemplateBody.")
	}
	b, err := h.opts.ReadObject(ctx, bucket, key)
	if err != nil {
		return "", validation("S3 error: %v", err)
	}
	if len(b) > MaxTemplateBytes {
		return "", validation("Template may not exceed %d bytes in size.", MaxTemplateBytes)
	}
	return string(b), nil
}

// ParseTemplateURL finds the bucket and key a TemplateURL names
// (stack.ParseTemplateURL: the engine judges nested stacks' TemplateURL
// too).
func ParseTemplateURL(raw string) (bucket, key string, ok bool) { return stack.ParseTemplateURL(raw) }

// stackInput reads the members CreateStack and UpdateStack share.
func stackInput(f Form, update bool) (stack.CreateInput, error) {
	var in stack.CreateInput
	var err error
	if in.StackName, err = f.required("StackName"); err != nil {
		return in, err
	}
	for _, p := range f.Structs("Parameters") {
		key := p["ParameterKey"]
		if key == "" {
			return in, validation("Every parameter must have a ParameterKey.")
		}
		usePrev := strings.EqualFold(p["UsePreviousValue"], "true")
		switch {
		case usePrev && !update:
			return in, validation("Invalid input for parameter key %s. UsePreviousValue can only be used when updating a stack", key)
		case usePrev && p["ParameterValue"] != "":
			return in, validation("Invalid input for parameter key %s. Cannot specify usePreviousValue as true and non empty value for a parameter", key)
		case usePrev:
			in.UsePrevious = append(in.UsePrevious, key)
		default:
			if in.Parameters == nil {
				in.Parameters = map[string]string{}
			}
			in.Parameters[key] = p["ParameterValue"]
		}
	}
	in.Capabilities = f.List("Capabilities")
	for _, c := range in.Capabilities {
		if !slices.Contains(capabilities, c) {
			return in, validation("1 validation error detected: Value '[%s]' at 'capabilities' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [%s]]",
				strings.Join(in.Capabilities, ", "), strings.Join(capabilities, ", "))
		}
	}
	tags := f.Structs("Tags")
	if len(tags) > maxTags {
		return in, validation("1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to %d", maxTags)
	}
	if len(tags) > 0 || f.has("Tags") {
		in.Tags = map[string]string{}
	}
	for _, t := range tags {
		k, v := t["Key"], t["Value"]
		if k == "" {
			return in, validation("1 validation error detected: Value null at 'tags.member.key' failed to satisfy constraint: Member must not be null")
		}
		in.Tags[k] = v
	}
	in.SkipUnsupported = in.Tags[SkipUnsupportedTag] == "true"
	in.RoleARN = f.Get("RoleARN")
	if in.DisableRollback, err = f.Bool("DisableRollback"); err != nil {
		return in, err
	}
	switch onFailure := f.Get("OnFailure"); onFailure {
	case "":
	case "ROLLBACK", "DO_NOTHING", "DELETE":
		if update {
			break
		}
		if f.has("DisableRollback") {
			return in, validation("You can specify either DisableRollback or OnFailure, but not both.")
		}
		if onFailure == "DELETE" {
			return in, validation("OnFailure DELETE is not supported by Nimbus yet: use ROLLBACK (the default) or DO_NOTHING.")
		}
		in.DisableRollback = onFailure == "DO_NOTHING"
	default:
		return in, validation("1 validation error detected: Value '%s' at 'onFailure' failed to satisfy constraint: Member must satisfy enum value set: [DO_NOTHING, ROLLBACK, DELETE]", truncate(onFailure, 64))
	}
	return in, nil
}

func (h *Handler) createStack(ctx context.Context, f Form) (any, error) {
	in, err := stackInput(f, false)
	if err != nil {
		return nil, err
	}
	if in.TemplateBody, err = h.template(ctx, f, true); err != nil {
		return nil, err
	}
	id, err := h.opts.Stacks.CreateStack(ctx, in)
	if err != nil {
		return nil, err
	}
	return stackIDResult{id}, nil
}

func (h *Handler) updateStack(ctx context.Context, f Form) (any, error) {
	in, err := stackInput(f, true)
	if err != nil {
		return nil, err
	}
	up := stack.UpdateInput{CreateInput: in}
	if up.UsePreviousTemplate, err = f.Bool("UsePreviousTemplate"); err != nil {
		return nil, err
	}
	if up.TemplateBody, err = h.template(ctx, f, !up.UsePreviousTemplate); err != nil {
		return nil, err
	}
	if up.UsePreviousTemplate && up.TemplateBody != "" {
		return nil, validation("You cannot specify both usePreviousTemplate and Template Body/Template Url.")
	}
	id, err := h.opts.Stacks.UpdateStack(ctx, up)
	if err != nil {
		return nil, err
	}
	return stackIDResult{id}, nil
}

func (h *Handler) deleteStack(ctx context.Context, f Form) (any, error) {
	name, err := f.required("StackName")
	if err != nil {
		return nil, err
	}
	return nil, h.opts.Stacks.DeleteStack(ctx, name, f.Get("RoleARN"))
}

func (h *Handler) describeStacks(ctx context.Context, f Form) (any, error) {
	stacks, err := h.opts.Stacks.DescribeStacks(ctx, f.Get("StackName"))
	if err != nil {
		return nil, err
	}
	page, next, err := paginate(stacks, f.Get("NextToken"), h.opts.PageSize, func(s stack.Stack) string { return s.StackID })
	if err != nil {
		return nil, err
	}
	out := describeStacksResult{NextToken: next, Stacks: list(make([]stackXML, 0, len(page)))}
	for _, s := range page {
		out.Stacks.Member = append(out.Stacks.Member, stackToXML(s))
	}
	return out, nil
}

func stackToXML(s stack.Stack) stackXML {
	x := stackXML{
		StackID: s.StackID, StackName: s.StackName, Description: s.Description,
		CreationTime: timestamp(s.CreationTime), LastUpdatedTime: timestamp(s.LastUpdatedTime),
		DeletionTime: timestamp(s.DeletionTime), StackStatus: s.Status, StackStatusReason: s.StatusReason,
		DisableRollback: s.DisableRollback, Capabilities: optList(s.Capabilities), RoleARN: s.RoleARN,
		ParentID: s.ParentID, RootID: s.RootID,
		DriftInformation: stackDriftXML{"NOT_CHECKED"},
	}
	var params []parameterXML
	for _, p := range s.Parameters {
		params = append(params, parameterXML{p.Key, p.Value})
	}
	x.Parameters = optList(params)
	var outputs []outputXML
	for _, o := range s.Outputs {
		outputs = append(outputs, outputXML{o.Key, o.Value, o.Description, o.ExportName})
	}
	x.Outputs = optList(outputs)
	for _, k := range slices.Sorted(maps.Keys(s.Tags)) {
		x.Tags.Member = append(x.Tags.Member, tagXML{k, s.Tags[k]})
	}
	return x
}

func (h *Handler) listStacks(ctx context.Context, f Form) (any, error) {
	sums, err := h.opts.Stacks.ListStacks(ctx, f.List("StackStatusFilter"))
	if err != nil {
		return nil, err
	}
	page, next, err := paginate(sums, f.Get("NextToken"), h.opts.PageSize, func(s stack.Summary) string { return s.StackID })
	if err != nil {
		return nil, err
	}
	out := listStacksResult{NextToken: next, StackSummaries: list(make([]summaryXML, 0, len(page)))}
	for _, s := range page {
		out.StackSummaries.Member = append(out.StackSummaries.Member, summaryXML{
			StackID: s.StackID, StackName: s.StackName, TemplateDescription: s.TemplateDescription,
			CreationTime: timestamp(s.CreationTime), LastUpdatedTime: timestamp(s.LastUpdatedTime),
			DeletionTime: timestamp(s.DeletionTime), StackStatus: s.Status, StackStatusReason: s.StatusReason,
			ParentID: s.ParentID, RootID: s.RootID, DriftInformation: stackDriftXML{"NOT_CHECKED"},
		})
	}
	return out, nil
}

func (h *Handler) describeStackEvents(ctx context.Context, f Form) (any, error) {
	name, err := f.required("StackName")
	if err != nil {
		return nil, err
	}
	events, err := h.opts.Stacks.Events(ctx, name)
	if err != nil {
		return nil, err
	}
	// Events are newest first; a token names the last event of a page,
	// so events added meanwhile do not shift the next page.
	page, next, err := paginate(events, f.Get("NextToken"), h.opts.PageSize, func(e stack.Event) string { return e.EventID })
	if err != nil {
		return nil, err
	}
	out := describeStackEventsResult{NextToken: next, StackEvents: list(make([]eventXML, 0, len(page)))}
	for _, e := range page {
		out.StackEvents.Member = append(out.StackEvents.Member, eventXML{
			StackID: e.StackID, EventID: e.EventID, StackName: e.StackName, LogicalResourceID: e.LogicalID,
			PhysicalResourceID: e.PhysicalID, ResourceType: e.ResourceType, Timestamp: timestamp(e.Timestamp),
			ResourceStatus: e.Status, ResourceStatusReason: e.StatusReason, ResourceProperties: e.ResourceProperties,
		})
	}
	return out, nil
}

func (h *Handler) describeStackResources(ctx context.Context, f Form) (any, error) {
	name, physical, logical := f.Get("StackName"), f.Get("PhysicalResourceId"), f.Get("LogicalResourceId")
	var resources []stack.StackResource
	var err error
	switch {
	case name != "":
		resources, err = h.opts.Stacks.Resources(ctx, name)
	case physical != "":
		resources, err = h.resourcesOwning(ctx, physical)
	default:
		return nil, validation("Either StackName or PhysicalResourceId must be specified.")
	}
	if err != nil {
		return nil, err
	}
	out := describeStackResourcesResult{StackResources: list(make([]stackResourceXML, 0, len(resources)))}
	for _, r := range resources {
		if (logical != "" && r.LogicalID != logical) || (name != "" && physical != "" && r.PhysicalID != physical) {
			continue
		}
		out.StackResources.Member = append(out.StackResources.Member, stackResourceXML{
			StackName: r.StackName, StackID: r.StackID, LogicalResourceID: r.LogicalID, PhysicalResourceID: r.PhysicalID,
			ResourceType: r.ResourceType, Timestamp: timestamp(r.LastUpdated), ResourceStatus: r.Status,
			ResourceStatusReason: r.StatusReason, DriftInformation: resourceDriftXML{"NOT_CHECKED"},
		})
	}
	return out, nil
}

// resourcesOwning returns the resources of the live stack that has a
// resource with the physical id.
func (h *Handler) resourcesOwning(ctx context.Context, physical string) ([]stack.StackResource, error) {
	stacks, err := h.opts.Stacks.DescribeStacks(ctx, "")
	if err != nil {
		return nil, err
	}
	for _, s := range stacks {
		rs, err := h.opts.Stacks.Resources(ctx, s.StackID)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			if r.PhysicalID == physical {
				return rs, nil
			}
		}
	}
	return nil, validation("Stack for %s does not exist", physical)
}

func (h *Handler) describeStackResource(ctx context.Context, f Form) (any, error) {
	name, err := f.required("StackName")
	if err != nil {
		return nil, err
	}
	logical, err := f.required("LogicalResourceId")
	if err != nil {
		return nil, err
	}
	resources, err := h.opts.Stacks.Resources(ctx, name)
	if err != nil {
		return nil, err
	}
	for _, r := range resources {
		if r.LogicalID == logical {
			return describeStackResourceResult{resourceDetailXML{
				StackName: r.StackName, StackID: r.StackID, LogicalResourceID: r.LogicalID, PhysicalResourceID: r.PhysicalID,
				ResourceType: r.ResourceType, LastUpdatedTimestamp: timestamp(r.LastUpdated), ResourceStatus: r.Status,
				ResourceStatusReason: r.StatusReason, DriftInformation: resourceDriftXML{"NOT_CHECKED"},
			}}, nil
		}
	}
	return nil, validation("Resource %s does not exist for stack %s", logical, name)
}

func (h *Handler) listStackResources(ctx context.Context, f Form) (any, error) {
	name, err := f.required("StackName")
	if err != nil {
		return nil, err
	}
	resources, err := h.opts.Stacks.Resources(ctx, name)
	if err != nil {
		return nil, err
	}
	page, next, err := paginate(resources, f.Get("NextToken"), h.opts.PageSize, func(r stack.StackResource) string { return r.LogicalID })
	if err != nil {
		return nil, err
	}
	out := listStackResourcesResult{NextToken: next, StackResourceSummaries: list(make([]resourceSummaryXML, 0, len(page)))}
	for _, r := range page {
		out.StackResourceSummaries.Member = append(out.StackResourceSummaries.Member, resourceSummaryXML{
			LogicalResourceID: r.LogicalID, PhysicalResourceID: r.PhysicalID, ResourceType: r.ResourceType,
			LastUpdatedTimestamp: timestamp(r.LastUpdated), ResourceStatus: r.Status,
			ResourceStatusReason: r.StatusReason, DriftInformation: resourceDriftXML{"NOT_CHECKED"},
		})
	}
	return out, nil
}

// Template stages (GetTemplate's TemplateStage).
const (
	StageOriginal  = "Original"
	StageProcessed = "Processed"
)

func (h *Handler) getTemplate(ctx context.Context, f Form) (any, error) {
	changeSet, name := f.Get("ChangeSetName"), f.Get("StackName")
	if changeSet == "" && !f.has("StackName") {
		_, err := f.required("StackName")
		return nil, err
	}
	stage := f.Get("TemplateStage")
	switch stage {
	case "":
		stage = StageOriginal
	case StageOriginal, StageProcessed:
	default:
		return nil, validation("1 validation error detected: Value '%s' at 'templateStage' failed to satisfy constraint: Member must satisfy enum value set: [Original, Processed]", truncate(stage, 64))
	}
	var body string
	var err error
	if changeSet != "" {
		body, err = h.opts.Stacks.ChangeSetTemplate(ctx, changeSet, name, stage)
	} else {
		body, err = h.opts.Stacks.Template(ctx, name, stage)
	}
	if err != nil {
		return nil, err
	}
	return getTemplateResult{TemplateBody: body, StagesAvailable: list([]string{StageOriginal, StageProcessed})}, nil
}

func (h *Handler) validateTemplate(ctx context.Context, f Form) (any, error) {
	body, err := h.template(ctx, f, true)
	if err != nil {
		return nil, err
	}
	v, err := h.opts.Stacks.Validate(ctx, body)
	if err != nil {
		return nil, err
	}
	out := validateTemplateResult{
		Parameters:  list(make([]templateParameterXML, 0, len(v.Parameters))),
		Description: v.Description, Capabilities: optList(v.Capabilities), CapabilitiesReason: v.CapabilitiesReason,
	}
	for _, p := range v.Parameters {
		out.Parameters.Member = append(out.Parameters.Member, templateParameterXML{p.Key, p.DefaultValue, p.NoEcho, p.Description})
	}
	if t := h.parseTemplate(body); t != nil {
		out.DeclaredTransforms = optList(t.Transform)
	}
	return out, nil
}

func (h *Handler) getTemplateSummary(ctx context.Context, f Form) (any, error) {
	if f.Get("StackSetName") != "" {
		return nil, validation("Stack sets are not supported by Nimbus.")
	}
	body, err := h.template(ctx, f, false)
	if err != nil {
		return nil, err
	}
	switch name := f.Get("StackName"); {
	case body != "" && name != "":
		return nil, validation("Specify exactly one of TemplateBody, TemplateURL or StackName.")
	case name != "":
		if body, err = h.opts.Stacks.Template(ctx, name, StageOriginal); err != nil {
			return nil, err
		}
	case body == "":
		return nil, validation("Either Template URL or Template Body must be specified.")
	}
	v, err := h.opts.Stacks.Validate(ctx, body)
	if err != nil {
		return nil, err
	}
	out := getTemplateSummaryResult{
		Parameters:  list(make([]parameterDeclarationXML, 0, len(v.Parameters))),
		Description: v.Description, Capabilities: optList(v.Capabilities), CapabilitiesReason: v.CapabilitiesReason,
		ResourceTypes: list([]string{}),
	}
	t := h.parseTemplate(body)
	for _, p := range v.Parameters {
		x := parameterDeclarationXML{ParameterKey: p.Key, DefaultValue: p.DefaultValue, NoEcho: p.NoEcho, Description: p.Description}
		if t != nil && t.Parameters[p.Key] != nil {
			decl := t.Parameters[p.Key]
			x.ParameterType = decl.Type
			var allowed []string
			for _, a := range decl.AllowedValues {
				allowed = append(allowed, fmt.Sprint(a))
			}
			x.ParameterConstraints.AllowedValues = optList(allowed)
		}
		out.Parameters.Member = append(out.Parameters.Member, x)
	}
	if t != nil {
		out.Version = t.FormatVersion
		out.DeclaredTransforms = optList(t.Transform)
		types := map[string]bool{}
		for _, r := range t.Resources {
			if r != nil {
				types[r.Type] = true
			}
		}
		out.ResourceTypes.Member = slices.Sorted(maps.Keys(types))
	}
	return out, nil
}

func (h *Handler) listExports(ctx context.Context, f Form) (any, error) {
	exports, err := h.opts.Stacks.Exports(ctx)
	if err != nil {
		return nil, err
	}
	page, next, err := paginate(exports, f.Get("NextToken"), h.opts.PageSize, func(e stack.Export) string { return e.Name })
	if err != nil {
		return nil, err
	}
	out := listExportsResult{NextToken: next, Exports: list(make([]exportXML, 0, len(page)))}
	for _, e := range page {
		out.Exports.Member = append(out.Exports.Member, exportXML{e.StackID, e.Name, e.Value})
	}
	return out, nil
}

// paginate returns the page of items after the item NextToken names (the
// first page without one) and the token of the next page ("" on the last).
// A token is the key of the last item of the page before, so items added
// meanwhile do not shift the pages.
func paginate[T any](items []T, token string, size int, key func(T) string) ([]T, string, error) {
	start := 0
	if token != "" {
		k, err := base64.RawURLEncoding.DecodeString(token)
		i := -1
		if err == nil {
			i = slices.IndexFunc(items, func(it T) bool { return key(it) == string(k) })
		}
		if i < 0 {
			return nil, "", validation("Invalid NextToken: %s", truncate(token, 64))
		}
		start = i + 1
	}
	end := min(start+size, len(items))
	page := items[start:end]
	if end == len(items) {
		return page, "", nil
	}
	return page, base64.RawURLEncoding.EncodeToString([]byte(key(items[end-1]))), nil
}

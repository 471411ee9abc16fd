package resource

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/stack"
)

const svcPipes = "Pipes"

func addPipes(c *clients, ps map[string]stack.Provider) {
	ps["AWS::Pipes::Pipe"] = &pipeProvider{c}
}

// pipes calls the node's EventBridge Pipes API (REST-JSON, signed for
// "pipes"; the module list has no aws-sdk-go-v2 client for it).
func (c *clients) pipes(ctx context.Context, method, path string, in, out any) error {
	return c.restJSON(ctx, "pipes", svcPipes, method, path, nil, in, out)
}

// pipeProvider is AWS::Pipes::Pipe. Its properties are the CreatePipe
// request's; the API validates them (and refuses by name what Nimbus does
// not implement). Create and Update wait until the pipe settles in
// RUNNING or STOPPED, as CloudFormation does.
type pipeProvider struct{ c *clients }

// pipeInts are the integer members of a pipe's parameters; a template may
// give them as strings.
var pipeInts = map[string]bool{"BatchSize": true, "MaximumBatchingWindowInSeconds": true, "MaximumRecordAgeInSeconds": true,
	"MaximumRetryAttempts": true, "ParallelizationFactor": true}

// pipeBody is the Create/UpdatePipe request of a template's properties.
func pipeBody(logicalID string, p map[string]any, update bool) (map[string]any, error) {
	b := map[string]any{}
	for k, v := range p {
		switch k {
		case "Name":
		case "Source", "Tags":
			if !update {
				b[k] = v
			}
		case "Description", "DesiredState", "SourceParameters", "Enrichment", "EnrichmentParameters", "Target",
			"TargetParameters", "RoleArn", "LogConfiguration", "KmsKeyIdentifier":
			b[k] = coerceInts(v, "")
		default:
			return nil, fmt.Errorf("Properties validation failed for resource %s with message: #: extraneous key [%s] is not permitted", logicalID, k) //nolint:staticcheck // CloudFormation's wording
		}
	}
	return b, nil
}

// coerceInts turns the numbers a template wrote as strings into numbers,
// for the keys in pipeInts.
func coerceInts(v any, key string) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = coerceInts(e, k)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = coerceInts(e, key)
		}
		return out
	case string:
		if pipeInts[key] {
			if n, err := strconv.Atoi(strings.TrimSpace(x)); err == nil {
				return n
			}
		}
	}
	return v
}

func (p *pipeProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	if err := requireProps(r.LogicalID, r.Properties, "Source", "Target", "RoleArn"); err != nil {
		return nil, err
	}
	body, err := pipeBody(r.LogicalID, r.Properties, false)
	if err != nil {
		return nil, err
	}
	name, _ := r.Properties["Name"].(string)
	if name == "" {
		name = physicalName(r.StackName, r.LogicalID, 64)
	}
	if err := p.c.pipes(ctx, http.MethodPost, "/v1/pipes/"+url.PathEscape(name), body, nil); err != nil {
		return nil, err
	}
	return p.settled(ctx, name)
}

// settled waits for the pipe's transition to end and answers its
// attributes; a *_FAILED state fails the resource with its reason.
func (p *pipeProvider) settled(ctx context.Context, name string) (*stack.Result, error) {
	var d struct {
		Arn, CurrentState, StateReason string
		CreationTime, LastModifiedTime float64
	}
	err := poll(ctx, "pipe "+name, func(ctx context.Context) (bool, error) {
		if err := p.c.pipes(ctx, http.MethodGet, "/v1/pipes/"+url.PathEscape(name), nil, &d); err != nil {
			return false, err
		}
		switch {
		case d.CurrentState == "RUNNING" || d.CurrentState == "STOPPED":
			return true, nil
		case strings.HasSuffix(d.CurrentState, "_FAILED"):
			return false, fmt.Errorf("pipe %s is %s: %s", name, d.CurrentState, d.StateReason)
		}
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	iso := func(v float64) string { return time.UnixMilli(int64(v * 1000)).UTC().Format(time.RFC3339) }
	return &stack.Result{PhysicalID: name, Attrs: map[string]any{"Arn": d.Arn, "CurrentState": d.CurrentState,
		"StateReason": d.StateReason, "CreationTime": iso(d.CreationTime), "LastModifiedTime": iso(d.LastModifiedTime)}}, nil
}

func (p *pipeProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	ch := changed(prev.Properties, r.Properties)
	if anyChanged(ch, "Name", "Source") {
		return nil, replace(r.LogicalID, "Name or Source")
	}
	if ch["Tags"] {
		return nil, fmt.Errorf("%s: Nimbus does not update the Tags of a pipe in place yet", r.LogicalID)
	}
	body, err := pipeBody(r.LogicalID, r.Properties, true)
	if err != nil {
		return nil, err
	}
	// Members the template dropped go back to their defaults.
	for _, k := range []string{"SourceParameters", "EnrichmentParameters", "TargetParameters"} {
		if _, ok := body[k]; !ok && prev.Properties[k] != nil {
			body[k] = map[string]any{}
		}
	}
	if _, ok := body["Enrichment"]; !ok && prev.Properties["Enrichment"] != nil {
		body["Enrichment"] = ""
	}
	if sp, ok := body["SourceParameters"].(map[string]any); ok && sp["FilterCriteria"] == nil {
		if psp, _ := prev.Properties["SourceParameters"].(map[string]any); psp != nil && psp["FilterCriteria"] != nil {
			sp["FilterCriteria"] = map[string]any{"Filters": []any{}}
		}
	}
	if err := p.c.pipes(ctx, http.MethodPut, "/v1/pipes/"+url.PathEscape(prev.PhysicalID), body, nil); err != nil {
		return nil, err
	}
	return p.settled(ctx, prev.PhysicalID)
}

func (p *pipeProvider) Delete(ctx context.Context, _ *stack.Request, cur *stack.Resource) error {
	if cur.PhysicalID == "" {
		return nil
	}
	path := "/v1/pipes/" + url.PathEscape(cur.PhysicalID)
	if err := p.c.pipes(ctx, http.MethodDelete, path, nil, nil); err != nil {
		if schedulerNotFound(err) {
			return nil
		}
		return err
	}
	// CloudFormation waits until the pipe is gone.
	return poll(ctx, "pipe "+cur.PhysicalID+" deletion", func(ctx context.Context) (bool, error) {
		err := p.c.pipes(ctx, http.MethodGet, path, nil, nil)
		if schedulerNotFound(err) {
			return true, nil
		}
		return false, err
	})
}

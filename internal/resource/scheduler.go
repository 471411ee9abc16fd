package resource

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/nimbus-serverless/nimbus/internal/stack"
)

const svcScheduler = "Scheduler"

func addScheduler(c *clients, ps map[string]stack.Provider) {
	ps["AWS::Scheduler::Schedule"] = &scheduleProvider{c}
	ps["AWS::Scheduler::ScheduleGroup"] = &scheduleGroupProvider{c}
}

// schedulerError is a refusal of a REST-JSON API called through
// restJSON (Scheduler, Pipes).
type schedulerError struct {
	svc       string
	status    int
	code, msg string
	requestID string
}

func (e *schedulerError) Error() string {
	detail := fmt.Sprintf("Service: %s, Status Code: %d", e.svc, e.status)
	if e.requestID != "" {
		detail += ", Request ID: " + e.requestID
	}
	return fmt.Sprintf("Resource handler returned message: %q (HandlerErrorCode: %s)", e.msg+" ("+detail+")",
		handlerErrorCode(e.code, e.status))
}

// scheduler calls the node's EventBridge Scheduler API (REST-JSON,
// signed for "scheduler"). The project's module list has no
// aws-sdk-go-v2 client for Scheduler, so this is the SDK's SigV4 signer
// over net/http, as the SDK would send it.
func (c *clients) scheduler(ctx context.Context, method, path string, query url.Values, in, out any) error {
	return c.restJSON(ctx, "scheduler", svcScheduler, method, path, query, in, out)
}

// restJSON calls a REST-JSON API of the node signed for signing (svc
// names it in errors), through the SDK's SigV4 signer over net/http.
func (c *clients) restJSON(ctx context.Context, signing, svc, method, path string, query url.Values, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("encode %s %s: %w", method, path, err)
		}
	}
	u := strings.TrimRight(c.opts.Endpoint, "/") + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s request: %w", svc, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.opts.Credentials != nil {
		creds, err := c.opts.Credentials.Retrieve(ctx)
		if err != nil {
			return fmt.Errorf("%s credentials: %w", svc, err)
		}
		if creds.HasKeys() {
			sum := sha256.Sum256(body)
			if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), signing, c.opts.Region, time.Now()); err != nil {
				return fmt.Errorf("sign %s request: %w", svc, err)
			}
		}
	}
	hc := c.opts.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("call %s: %w", svc, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("read %s answer: %w", svc, err)
	}
	if resp.StatusCode >= 300 {
		var e struct{ Message string } // Message or message: json matches either
		_ = json.Unmarshal(b, &e)
		code, _, _ := strings.Cut(resp.Header.Get("X-Amzn-ErrorType"), ":")
		if e.Message == "" {
			e.Message = code
		}
		return &schedulerError{svc: svc, status: resp.StatusCode, code: code, msg: e.Message, requestID: resp.Header.Get("X-Amzn-RequestId")}
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("decode %s answer: %w", svc, err)
		}
	}
	return nil
}

func schedulerNotFound(err error) bool {
	se, ok := err.(*schedulerError) //nolint:errorlint // the call returns it unwrapped
	return ok && se.status == http.StatusNotFound
}

// --- AWS::Scheduler::ScheduleGroup -----------------------------------------

type scheduleGroupProps struct {
	Name *string
	Tags []tag
}

type scheduleGroupProvider struct{ c *clients }

func (p *scheduleGroupProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var gp scheduleGroupProps
	if err := props(r, &gp); err != nil {
		return nil, err
	}
	name := aws.ToString(gp.Name)
	if name == "" {
		name = physicalName(r.StackName, r.LogicalID, 64)
	}
	in := map[string]any{}
	if len(gp.Tags) > 0 {
		in["Tags"] = gp.Tags
	}
	if err := p.c.scheduler(ctx, http.MethodPost, "/schedule-groups/"+url.PathEscape(name), nil, in, nil); err != nil {
		return nil, err
	}
	return p.result(ctx, name)
}

func (p *scheduleGroupProvider) result(ctx context.Context, name string) (*stack.Result, error) {
	var g struct {
		Arn, State                         string
		CreationDate, LastModificationDate float64
	}
	if err := p.c.scheduler(ctx, http.MethodGet, "/schedule-groups/"+url.PathEscape(name), nil, nil, &g); err != nil {
		return nil, err
	}
	iso := func(v float64) string { return time.UnixMilli(int64(v * 1000)).UTC().Format(time.RFC3339) }
	return &stack.Result{PhysicalID: name, Attrs: map[string]any{"Arn": g.Arn, "State": g.State,
		"CreationDate": iso(g.CreationDate), "LastModificationDate": iso(g.LastModificationDate)}}, nil
}

func (p *scheduleGroupProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	ch := changed(prev.Properties, r.Properties)
	if ch["Name"] {
		return nil, replace(r.LogicalID, "Name")
	}
	if ch["Tags"] {
		if err := p.retag(ctx, r, prev); err != nil {
			return nil, err
		}
	}
	return p.result(ctx, prev.PhysicalID)
}

// retag makes the group's tags the template's: removes the keys it no
// longer has, then sets the rest.
func (p *scheduleGroupProvider) retag(ctx context.Context, r *stack.Request, prev *stack.Resource) error {
	var gp scheduleGroupProps
	if err := props(r, &gp); err != nil {
		return err
	}
	var out struct{ Tags []tag }
	path := "/tags/" + url.PathEscape("arn:aws:scheduler:"+r.Region+":"+r.AccountID+":schedule-group/"+prev.PhysicalID)
	if err := p.c.scheduler(ctx, http.MethodGet, path, nil, nil, &out); err != nil {
		return err
	}
	want := tagMap(gp.Tags)
	var gone []string
	for _, t := range out.Tags {
		if _, ok := want[t.Key]; !ok {
			gone = append(gone, t.Key)
		}
	}
	if len(gone) > 0 {
		if err := p.c.scheduler(ctx, http.MethodDelete, path, url.Values{"TagKeys": gone}, nil, nil); err != nil {
			return err
		}
	}
	if len(gp.Tags) > 0 {
		return p.c.scheduler(ctx, http.MethodPost, path, nil, map[string]any{"Tags": gp.Tags}, nil)
	}
	return nil
}

func (p *scheduleGroupProvider) Delete(ctx context.Context, _ *stack.Request, cur *stack.Resource) error {
	if cur.PhysicalID == "" {
		return nil
	}
	err := p.c.scheduler(ctx, http.MethodDelete, "/schedule-groups/"+url.PathEscape(cur.PhysicalID), nil, nil, nil)
	if err == nil || schedulerNotFound(err) {
		return nil
	}
	return err
}

// --- AWS::Scheduler::Schedule ------------------------------------------------

type scheduleProps struct {
	Name                       *string
	GroupName                  *string
	Description                *string
	ScheduleExpression         *string
	ScheduleExpressionTimezone *string
	StartDate                  *string
	EndDate                    *string
	FlexibleTimeWindow         map[string]any
	State                      *string
	KmsKeyArn                  *string //nolint:revive // CloudFormation's name
	Target                     map[string]any
	ActionAfterCompletion      *string
}

type scheduleProvider struct{ c *clients }

// body is the Create/UpdateSchedule request of sp.
func (sp *scheduleProps) body(logicalID string) (map[string]any, error) {
	b := map[string]any{"ScheduleExpression": aws.ToString(sp.ScheduleExpression), "FlexibleTimeWindow": sp.FlexibleTimeWindow,
		"Target": sp.Target}
	for k, v := range map[string]*string{"GroupName": sp.GroupName, "Description": sp.Description,
		"ScheduleExpressionTimezone": sp.ScheduleExpressionTimezone, "State": sp.State, "KmsKeyArn": sp.KmsKeyArn,
		"ActionAfterCompletion": sp.ActionAfterCompletion} {
		if v != nil {
			b[k] = *v
		}
	}
	for k, v := range map[string]*string{"StartDate": sp.StartDate, "EndDate": sp.EndDate} {
		if v == nil {
			continue
		}
		t, err := time.Parse(time.RFC3339, *v)
		if err != nil {
			return nil, fmt.Errorf("Properties validation failed for resource %s with message: #/%s: %q is not a valid date-time", logicalID, k, *v) //nolint:staticcheck // CloudFormation's wording
		}
		b[k] = float64(t.UnixMilli()) / 1000
	}
	return b, nil
}

func (p *scheduleProvider) Create(ctx context.Context, r *stack.Request) (*stack.Result, error) {
	var sp scheduleProps
	if err := props(r, &sp); err != nil {
		return nil, err
	}
	if err := requireProps(r.LogicalID, r.Properties, "ScheduleExpression", "FlexibleTimeWindow", "Target"); err != nil {
		return nil, err
	}
	name := aws.ToString(sp.Name)
	if name == "" {
		name = physicalName(r.StackName, r.LogicalID, 64)
	}
	body, err := sp.body(r.LogicalID)
	if err != nil {
		return nil, err
	}
	var out struct{ ScheduleArn string }
	if err := p.c.scheduler(ctx, http.MethodPost, "/schedules/"+url.PathEscape(name), nil, body, &out); err != nil {
		return nil, err
	}
	return &stack.Result{PhysicalID: name, Attrs: map[string]any{"Arn": out.ScheduleArn}}, nil
}

func (p *scheduleProvider) Update(ctx context.Context, r *stack.Request, prev *stack.Resource) (*stack.Result, error) {
	var sp scheduleProps
	if err := props(r, &sp); err != nil {
		return nil, err
	}
	if anyChanged(changed(prev.Properties, r.Properties), "Name", "GroupName") {
		return nil, replace(r.LogicalID, "Name or GroupName")
	}
	body, err := sp.body(r.LogicalID)
	if err != nil {
		return nil, err
	}
	var out struct{ ScheduleArn string }
	if err := p.c.scheduler(ctx, http.MethodPut, "/schedules/"+url.PathEscape(prev.PhysicalID), nil, body, &out); err != nil {
		return nil, err
	}
	return &stack.Result{PhysicalID: prev.PhysicalID, Attrs: map[string]any{"Arn": out.ScheduleArn}}, nil
}

func (p *scheduleProvider) Delete(ctx context.Context, r *stack.Request, cur *stack.Resource) error {
	if cur.PhysicalID == "" {
		return nil
	}
	var sp scheduleProps
	_ = propsOf(r.LogicalID, cur.Properties, &sp)
	q := url.Values{}
	if g := aws.ToString(sp.GroupName); g != "" {
		q.Set("groupName", g)
	}
	err := p.c.scheduler(ctx, http.MethodDelete, "/schedules/"+url.PathEscape(cur.PhysicalID), q, nil, nil)
	if err == nil || schedulerNotFound(err) {
		return nil
	}
	return err
}

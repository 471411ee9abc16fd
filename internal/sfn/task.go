package sfn

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// LambdaInvoker invokes functions for Task states (the node's Lambda API).
type LambdaInvoker interface {
	// Invoke calls the function (a name or ARN, with an optional
	// qualifier) and returns its response; a refusal by the Lambda API is
	// an *APIError.
	Invoke(ctx context.Context, in *LambdaInput) (*LambdaOutput, error)
}

// LambdaInput is one invocation.
type LambdaInput struct {
	Function, Qualifier string
	Payload             []byte
	// Async invokes with InvocationType Event.
	Async bool
}

// LambdaOutput is the Lambda API's answer.
type LambdaOutput struct {
	StatusCode      int
	Payload         []byte
	FunctionError   string
	ExecutedVersion string
	RequestID       string
}

// ServiceCaller calls another service's JSON API on this node (SQS,
// EventBridge) as the state machine's role would.
type ServiceCaller interface {
	// Call sends body to service's operation and returns the answer's
	// body; a refusal by the service is an *APIError.
	Call(ctx context.Context, service, operation string, body []byte) ([]byte, error)
}

// APIError is a service's refusal of a call a task made.
type APIError struct{ Code, Message string }

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// Tasks are the integrations Task states call.
type Tasks struct {
	Lambda LambdaInvoker
	Call   ServiceCaller
	Region string
}

// integration is a Task's Resource, classified.
type integration struct {
	kind     string // "function", "lambda", "sqs", "events"
	resource string
	token    bool   // .waitForTaskToken
	sync     string // ".sync" or ".sync:2" (states:startExecution)
	rtype    string // resourceType of the history events
	action   string // resource of the history events
	// An AWS SDK integration: the service Tasks.Call knows and the
	// prefix of its errors.
	sdkService, sdkPrefix string
	sdkCamel              bool // the API names members in camelCase
}

// classify recognises a Task's Resource; unsupported ones are refused
// by name when the definition is created.
func classify(resource string) (integration, error) {
	var refuse = func(format string, args ...any) error { return refusal(fmt.Sprintf(format, args...)) }
	if strings.HasPrefix(resource, "arn:aws:lambda:") && strings.Contains(resource, ":function:") {
		return integration{kind: "function", resource: resource}, nil
	}
	rest, ok := strings.CutPrefix(resource, "arn:aws:states:::")
	if !ok {
		if strings.HasPrefix(resource, "arn:aws:states:") && strings.Contains(resource, ":activity:") {
			return integration{}, refuse("Nimbus does not support activities (%s) yet", resource)
		}
		return integration{}, refuse("The resource '%s' is not a supported Task resource", resource)
	}
	base, pattern, _ := strings.Cut(rest, ".")
	in := integration{resource: resource}
	switch pattern {
	case "":
	case "waitForTaskToken":
		in.token = true
	case "sync", "sync:2":
		if base != "states:startExecution" {
			return integration{}, refuse("Nimbus does not support the '.%s' integration pattern for %s; it serves .sync and .sync:2 for states:startExecution only "+
				"(AWS has no .sync for lambda:invoke, sqs, sns, events or dynamodb)", pattern, resource)
		}
		in.sync = "." + pattern
	default:
		return integration{}, refuse("Nimbus does not support the '.%s' integration pattern (%s) yet", pattern, resource)
	}
	svc, action, _ := strings.Cut(base, ":")
	in.rtype, in.action = svc, action
	switch base {
	case "lambda:invoke":
		in.kind = "lambda"
	case "sqs:sendMessage":
		in.kind = "sqs"
	case "events:putEvents":
		in.kind = "events"
	case "sns:publish":
		in.kind = "sns"
	case "dynamodb:getItem", "dynamodb:putItem", "dynamodb:updateItem", "dynamodb:deleteItem":
		in.kind = "dynamodb"
	case "states:startExecution":
		in.kind = "states"
	default:
		if svc == "aws-sdk" {
			return sdkIntegration(in, action)
		}
		names := map[string]string{"sns": "Amazon SNS", "dynamodb": "Amazon DynamoDB", "s3": "Amazon S3", "states": "Step Functions",
			"ecs": "Amazon ECS", "batch": "AWS Batch", "glue": "AWS Glue", "aws-sdk": "AWS SDK"}
		name := names[svc]
		if name == "" {
			name = svc
		}
		return integration{}, refuse("Nimbus does not support the %s integration (%s) yet; it supports lambda:invoke, sqs:sendMessage, sns:publish, "+
			"events:putEvents, dynamodb:getItem/putItem/updateItem/deleteItem, states:startExecution and aws-sdk:<service>:<action> for %s", name, resource, sdkServiceList())
	}
	return in, nil
}

// refusal is a Task resource Nimbus refuses, worded for the client.
type refusal string

func (r refusal) Error() string { return string(r) }

// token is the task token of the result event at key: the execution ARN
// and the key, with an HMAC under the execution's secret.
func (x *Execution) token(key string) string {
	body, _ := json.Marshal(map[string]string{"a": x.ARN, "k": key})
	m := hmac.New(sha256.New, x.Seed)
	m.Write(body)
	return base64.RawURLEncoding.EncodeToString(body) + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// parseToken reads a token's execution ARN and key without checking it.
func parseToken(tok string) (arn, key string, ok bool) {
	b64, _, found := strings.Cut(tok, ".")
	if !found {
		return "", "", false
	}
	body, err := base64.RawURLEncoding.DecodeString(b64)
	if err != nil {
		return "", "", false
	}
	var v struct{ A, K string }
	if json.Unmarshal(body, &v) != nil || v.A == "" || v.K == "" {
		return "", "", false
	}
	return v.A, v.K, true
}

// checkToken reports whether tok was issued by this execution.
func (x *Execution) checkToken(tok string) bool {
	_, key, ok := parseToken(tok)
	return ok && hmac.Equal([]byte(x.token(key)), []byte(tok))
}

// task runs a Task state's resource once.
func (r *run) task(ctx context.Context, b *branch, st *State, params any, env *intrinsicEnv) (any, *Event, error) {
	in, err := classify(st.Resource)
	if err != nil {
		return nil, nil, &Failure{Name: ErrRuntime, Cause: err.Error()}
	}
	timeout := st.TimeoutSeconds
	if st.TimeoutSecondsPath != nil {
		v, err := st.TimeoutSecondsPath.eval(env.input, env.ctx, env.vars)
		n, ok := intArg(v)
		if err != nil || !ok || n <= 0 {
			return nil, nil, &Failure{Name: ErrRuntime, Cause: "TimeoutSecondsPath does not reference a positive integer"}
		}
		timeout = n
	}
	heartbeat := st.HeartbeatSeconds
	for _, f := range []struct {
		e    *jexpr
		name string
		dst  *int64
	}{{st.TimeoutExpr, "TimeoutSeconds", &timeout}, {st.HeartbeatExpr, "HeartbeatSeconds", &heartbeat}} {
		if f.e == nil {
			continue
		}
		v, err := f.e.eval(env.j, f.name)
		if err != nil {
			return nil, nil, err
		}
		n, ok := intArg(v)
		if !ok || n <= 0 || n > 99999999 {
			return nil, nil, queryError(f.name, f.e.src, "the value must be a positive integer")
		}
		*f.dst = n
	}
	if st.HeartbeatSecondsPath != nil {
		v, err := st.HeartbeatSecondsPath.eval(env.input, env.ctx, env.vars)
		n, ok := intArg(v)
		if err != nil || !ok || n <= 0 {
			return nil, nil, &Failure{Name: ErrRuntime, Cause: "HeartbeatSecondsPath does not reference a positive integer"}
		}
		heartbeat = n
	}
	paramText := encodeJSON(params)
	var sched *Event
	if in.kind == "function" {
		d := map[string]any{"resource": st.Resource, "input": paramText, "inputDetails": map[string]any{"truncated": false}}
		if timeout > 0 {
			d["timeoutInSeconds"] = timeout
		}
		sched, err = r.j.emit(b, "LambdaFunctionScheduled", d)
		if err == nil {
			_, err = r.j.emit(b, "LambdaFunctionStarted", nil)
		}
	} else {
		d := map[string]any{"resourceType": in.rtype, "resource": in.action + tokenSuffix(in), "region": r.tasks.Region, "parameters": paramText}
		if timeout > 0 {
			d["timeoutInSeconds"] = timeout
		}
		if heartbeat > 0 {
			d["heartbeatInSeconds"] = heartbeat
		}
		sched, err = r.j.emit(b, "TaskScheduled", d)
		if err == nil {
			_, err = r.j.emit(b, "TaskStarted", map[string]any{"resourceType": in.rtype, "resource": in.action + tokenSuffix(in)})
		}
	}
	if err != nil {
		return nil, nil, err
	}
	if in.token || in.sync != "" {
		return r.tokenTask(ctx, b, in, params, sched, timeout, heartbeat)
	}
	if ev, ok := r.j.recorded(b); ok {
		return taskResult(ev)
	}
	// The invocation has an effect outside: record that it was scheduled.
	if err := r.j.flush(ctx); err != nil {
		return nil, nil, err
	}
	cctx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		cctx, cancel = context.WithDeadline(ctx, sched.Time.Add(time.Duration(timeout)*time.Second))
		defer cancel()
	}
	out, f := r.callIntegration(cctx, in, params)
	if ctx.Err() != nil {
		return nil, nil, ctx.Err()
	}
	if f == nil && cctx.Err() != nil {
		f = &Failure{Name: ErrTimeout, Cause: "Task timed out."}
	}
	if f != nil && cctx.Err() != nil && timeout > 0 {
		f = &Failure{Name: ErrTimeout, Cause: "Task timed out."}
	}
	ev, err := r.recordResult(ctx, b, in, out, f)
	if err != nil {
		return nil, nil, err
	}
	return taskResult(ev)
}

func tokenSuffix(in integration) string {
	if in.token {
		return ".waitForTaskToken"
	}
	return in.sync
}

// recordResult emits a task's result event.
func (r *run) recordResult(ctx context.Context, b *branch, in integration, out any, f *Failure) (*Event, error) {
	var typ string
	d := map[string]any{}
	if in.kind != "function" {
		d["resourceType"], d["resource"] = in.rtype, in.action+tokenSuffix(in)
	}
	switch {
	case f == nil:
		typ = "TaskSucceeded"
		d["output"], d["outputDetails"] = encodeJSON(out), map[string]any{"truncated": false}
	case f.Name == ErrTimeout || f.Name == ErrHeartbeatTimeout:
		typ = "TaskTimedOut"
		d["error"], d["cause"] = f.Name, f.Cause
	default:
		typ = "TaskFailed"
		d["error"], d["cause"] = f.Name, f.Cause
	}
	if in.kind == "function" {
		typ = "LambdaFunction" + strings.TrimPrefix(typ, "Task")
	}
	ev, err := r.j.emit(b, typ, d)
	if err != nil {
		return nil, err
	}
	return ev, r.j.flush(ctx)
}

// taskResult reads a result event.
func taskResult(ev *Event) (any, *Event, error) {
	if out, ok := ev.Details["output"].(string); ok {
		v, err := decodeJSON([]byte(out))
		if err != nil {
			return nil, ev, &Failure{Name: ErrRuntime, Cause: "The task's output is not JSON"}
		}
		if len(out) > MaxPayloadBytes {
			return nil, ev, &Failure{Name: ErrDataLimitExceeded, Cause: "The task's output is larger than 262144 bytes."}
		}
		return v, nil, nil
	}
	e, _ := ev.Details["error"].(string)
	c, _ := ev.Details["cause"].(string)
	return nil, ev, &Failure{Name: e, Cause: c}
}

// tokenTask calls the service once (recording TaskSubmitted) and then
// waits for SendTaskSuccess/Failure, a heartbeat's or the task's timeout.
func (r *run) tokenTask(ctx context.Context, b *branch, in integration, params any, sched *Event, timeout, heartbeat int64) (any, *Event, error) {
	sub, ok := r.j.recorded(b)
	if !ok {
		if err := r.j.flush(ctx); err != nil {
			return nil, nil, err
		}
		var out any
		f := r.checkSyncChild(ctx, in, params)
		if f == nil {
			out, f = r.callIntegration(ctx, in, params)
		}
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		if f != nil {
			ev, err := r.recordResult(ctx, b, in, nil, f)
			if err != nil {
				return nil, nil, err
			}
			return taskResult(ev)
		}
		var err error
		if sub, err = r.j.emit(b, "TaskSubmitted", map[string]any{"resourceType": in.rtype, "resource": in.action + tokenSuffix(in),
			"output": encodeJSON(out), "outputDetails": map[string]any{"truncated": false}}); err != nil {
			return nil, nil, err
		}
		if err := r.j.flush(ctx); err != nil {
			return nil, nil, err
		}
	} else if sub.Type != "TaskSubmitted" {
		return taskResult(sub) // the call itself failed
	}
	resultKey := r.j.resolve(b.peekKey())
	for {
		if ev, ok := r.j.recorded(b); ok {
			return taskResult(ev)
		}
		var deadline time.Time
		why := ErrTimeout
		if timeout > 0 {
			deadline = sched.Time.Add(time.Duration(timeout) * time.Second)
		}
		if heartbeat > 0 {
			last := sub.Time
			if hb, ok := r.j.get("hb:" + resultKey); ok && hb.Time.After(last) {
				last = hb.Time
			}
			if h := last.Add(time.Duration(heartbeat) * time.Second); deadline.IsZero() || h.Before(deadline) {
				deadline, why = h, ErrHeartbeatTimeout
			}
		}
		if !deadline.IsZero() && !r.now().Before(deadline) {
			cause := "Task timed out."
			if why == ErrHeartbeatTimeout {
				cause = "Task heartbeat timed out."
			}
			ev, err := r.recordResult(ctx, b, in, nil, &Failure{Name: why, Cause: cause})
			if errors.Is(err, errConflict) {
				continue
			}
			if err != nil {
				return nil, nil, err
			}
			return taskResult(ev)
		}
		if in.sync != "" {
			// Register (again) with the child; look again within syncPoll.
			if err := r.watchChild(ctx, in, sub, resultKey); err != nil {
				return nil, nil, err
			}
			if poll := r.now().Add(syncPoll); deadline.IsZero() || poll.Before(deadline) {
				deadline = poll
			}
		}
		return nil, nil, &suspended{until: deadline}
	}
}

// callIntegration calls the Task's service.
func (r *run) callIntegration(ctx context.Context, in integration, params any) (any, *Failure) {
	ctx = withCaller(ctx, r.x) // the call is signed as the machine's role (caller.go)
	switch in.kind {
	case "function", "lambda", "lambdasdk":
		return r.callLambda(ctx, in, params)
	case "sqs":
		return r.callSQS(ctx, params)
	case "events":
		return r.callEvents(ctx, params)
	case "sns":
		return r.callSNS(ctx, params)
	case "dynamodb":
		return r.callDynamoDB(ctx, in, params)
	case "states":
		return r.callStartExecution(ctx, params)
	case "sdk":
		return r.callSDK(ctx, in, params)
	}
	return nil, &Failure{Name: ErrRuntime, Cause: "unsupported integration"}
}

func (r *run) callLambda(ctx context.Context, in integration, params any) (any, *Failure) {
	if r.tasks == nil || r.tasks.Lambda == nil {
		return nil, &Failure{Name: ErrLambdaServiceException, Cause: "Lambda is not available on this node"}
	}
	li := &LambdaInput{}
	if in.kind == "function" {
		li.Function = in.resource
		li.Payload = []byte(encodeJSON(params))
	} else {
		m, ok := params.(map[string]any)
		fn, _ := m["FunctionName"].(string)
		if !ok || fn == "" {
			return nil, &Failure{Name: ErrRuntime, Cause: "The field 'FunctionName' is required in the Parameters of " + in.resource}
		}
		li.Function = fn
		li.Qualifier, _ = m["Qualifier"].(string)
		if it, _ := m["InvocationType"].(string); it == "Event" {
			li.Async = true
		}
		if s, ok := m["Payload"].(string); ok && in.kind == "lambdasdk" {
			li.Payload = []byte(s) // the API's blob: a string is sent as it is
		} else if p, ok := m["Payload"]; ok {
			li.Payload = []byte(encodeJSON(p))
		} else {
			li.Payload = []byte("{}")
		}
	}
	out, err := r.tasks.Lambda.Invoke(ctx, li)
	if err != nil {
		var ae *APIError
		if errors.As(err, &ae) {
			return nil, &Failure{Name: "Lambda." + ae.Code, Cause: ae.Message}
		}
		if ctx.Err() != nil {
			return nil, &Failure{Name: ErrTimeout, Cause: "Task timed out."}
		}
		return nil, &Failure{Name: ErrLambdaServiceException, Cause: err.Error()}
	}
	if in.kind == "lambdasdk" {
		return lambdaSDKResult(li, out), nil
	}
	if out.FunctionError != "" {
		var fe struct {
			ErrorType    string `json:"errorType"`
			ErrorMessage string `json:"errorMessage"`
		}
		_ = json.Unmarshal(out.Payload, &fe)
		name := fe.ErrorType
		if name == "" {
			name = ErrLambdaUnknown
		}
		return nil, &Failure{Name: name, Cause: string(out.Payload)}
	}
	var payload any = map[string]any{}
	if len(out.Payload) > 0 {
		v, err := decodeJSON(out.Payload)
		if err != nil {
			// A function may return a non-JSON body; AWS passes it on as a string.
			v = string(out.Payload)
		}
		payload = v
	}
	if in.kind == "function" {
		return payload, nil
	}
	status := out.StatusCode
	if status == 0 {
		status = 200
	}
	res := map[string]any{
		"ExecutedVersion": out.ExecutedVersion,
		"Payload":         payload,
		"SdkHttpMetadata": map[string]any{
			"HttpHeaders":    map[string]any{"Content-Type": "application/json", "X-Amz-Executed-Version": out.ExecutedVersion, "x-amzn-RequestId": out.RequestID},
			"HttpStatusCode": json.Number(strconv.Itoa(status)),
		},
		"SdkResponseMetadata": map[string]any{"RequestId": out.RequestID},
		"StatusCode":          json.Number(strconv.Itoa(status)),
	}
	if li.Async {
		delete(res, "Payload")
		delete(res, "ExecutedVersion")
	}
	return res, nil
}

// stringify turns an object field AWS's integration takes as a string
// (SQS MessageBody, EventBridge Detail) into JSON text.
func stringify(m map[string]any, field string) {
	if v, ok := m[field]; ok {
		if _, isStr := v.(string); !isStr {
			m[field] = encodeJSON(v)
		}
	}
}

func (r *run) callService(ctx context.Context, service, op, prefix string, body any) (any, *Failure) {
	if r.tasks == nil || r.tasks.Call == nil {
		return nil, &Failure{Name: prefix + ".ServiceException", Cause: service + " is not available on this node"}
	}
	ctx = withCaller(ctx, r.x) // as the machine's role, for Tasks and a Map's ItemReader/ResultWriter alike
	resp, err := r.tasks.Call.Call(ctx, service, op, []byte(encodeJSON(body)))
	if err != nil {
		var ae *APIError
		if errors.As(err, &ae) {
			code := ae.Code
			if i := strings.LastIndexAny(code, ".#"); i >= 0 {
				code = code[i+1:]
			}
			return nil, &Failure{Name: prefix + "." + code, Cause: ae.Message}
		}
		return nil, &Failure{Name: ErrTaskFailed, Cause: err.Error()}
	}
	v, err := decodeJSON(resp)
	if err != nil {
		return nil, &Failure{Name: ErrTaskFailed, Cause: "the service's answer is not JSON"}
	}
	return v, nil
}

func (r *run) callSQS(ctx context.Context, params any) (any, *Failure) {
	m, ok := params.(map[string]any)
	if !ok {
		return nil, &Failure{Name: ErrRuntime, Cause: "The Parameters of arn:aws:states:::sqs:sendMessage must be an object"}
	}
	body := map[string]any{}
	for k, v := range m {
		body[k] = v
	}
	stringify(body, "MessageBody")
	return r.callService(ctx, "sqs", "SendMessage", "SQS", body)
}

func (r *run) callEvents(ctx context.Context, params any) (any, *Failure) {
	m, ok := params.(map[string]any)
	entries, ok2 := m["Entries"].([]any)
	if !ok || !ok2 {
		return nil, &Failure{Name: ErrRuntime, Cause: "The Parameters of arn:aws:states:::events:putEvents must have an array 'Entries'"}
	}
	var out []any
	for _, e := range entries {
		em, ok := e.(map[string]any)
		if !ok {
			return nil, &Failure{Name: ErrRuntime, Cause: "Each of 'Entries' must be an object"}
		}
		c := map[string]any{}
		for k, v := range em {
			c[k] = v
		}
		stringify(c, "Detail")
		if _, ok := c["Resources"]; !ok {
			c["Resources"] = []any{r.x.ARN}
		}
		out = append(out, c)
	}
	res, f := r.callService(ctx, "events", "PutEvents", "EventBridge", map[string]any{"Entries": out})
	if f != nil {
		return nil, f
	}
	if rm, ok := res.(map[string]any); ok {
		if n, ok := intArg(rm["FailedEntryCount"]); ok && n > 0 {
			return nil, &Failure{Name: "EventBridge.FailedEntry", Cause: encodeJSON(rm["Entries"])}
		}
	}
	return res, nil
}

// lambdaSDKResult is Invoke's answer as the AWS SDK integration
// (arn:aws:states:::aws-sdk:lambda:invoke) hands it on: unlike the
// optimized integration, the payload stays the function's text and a
// function error does not fail the task (it is in FunctionError).
func lambdaSDKResult(li *LambdaInput, out *LambdaOutput) map[string]any {
	status := out.StatusCode
	if status == 0 {
		status = 200
		if li.Async {
			status = 202
		}
	}
	res := map[string]any{"StatusCode": json.Number(strconv.Itoa(status)), "Payload": string(out.Payload)}
	if out.ExecutedVersion != "" {
		res["ExecutedVersion"] = out.ExecutedVersion
	}
	if out.FunctionError != "" {
		res["FunctionError"] = out.FunctionError
	}
	return res
}

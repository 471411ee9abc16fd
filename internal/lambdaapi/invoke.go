package lambdaapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/nimbus-serverless/nimbus/internal/async"
	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/invoke"
	"github.com/nimbus-serverless/nimbus/internal/trace"
)

// Invocation types.
const (
	invokeRequestResponse = "RequestResponse"
	invokeEvent           = "Event"
	invokeDryRun          = "DryRun"
)

// maxClientContext is the largest X-Amz-Client-Context (base64) Lambda
// accepts.
const maxClientContext = 3583

// invokeOptions are an Invoke request's headers, checked.
type invokeOptions struct {
	invocationType string
	logTail        bool
	clientContext  []byte // decoded JSON object, or nil
	tenantID       string
}

// parseInvokeHeaders checks the headers of an Invoke request.
func parseInvokeHeaders(hd http.Header) (invokeOptions, error) {
	var o invokeOptions
	var v verrs
	o.invocationType = hd.Get("X-Amz-Invocation-Type")
	if o.invocationType == "" {
		o.invocationType = invokeRequestResponse
	}
	v.enum(&o.invocationType, "invocationType", invokeEvent, invokeRequestResponse, invokeDryRun)
	logType := hd.Get("X-Amz-Log-Type")
	if logType != "" {
		v.enum(&logType, "logType", "None", "Tail")
	}
	if err := v.err(); err != nil {
		return o, err
	}
	o.logTail = logType == "Tail"
	if cc := hd.Get("X-Amz-Client-Context"); cc != "" {
		if len(cc) > maxClientContext {
			return o, awsapi.InvalidRequestContent("Client context must be a valid Base64-encoded JSON object of at most %d bytes (got %d bytes).", maxClientContext, len(cc))
		}
		raw, err := base64.StdEncoding.DecodeString(cc)
		t := bytes.TrimSpace(raw)
		if err != nil || len(t) == 0 || t[0] != '{' || !json.Valid(t) || !utf8.Valid(t) {
			return o, awsapi.InvalidRequestContent("Client context must be a valid Base64-encoded JSON object.")
		}
		o.clientContext = t
	}
	o.tenantID = hd.Get("X-Amz-Tenant-Id")
	return o, nil
}

// checkPayload checks an invocation payload is JSON and returns the event
// to pass: an empty body is no payload, which functions receive as {}.
func checkPayload(body []byte) ([]byte, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return []byte("{}"), nil
	}
	if !utf8.Valid(body) || !json.Valid(body) {
		var v any
		err := json.Unmarshal(body, &v)
		return nil, awsapi.InvalidRequestContent("Could not parse request body into json: Could not parse payload into json: %s", jsonErrorDetail(body, err))
	}
	return body, nil
}

// payloadTooLarge is AWS's answer to a synchronous payload over 6 MB.
func payloadTooLarge(n int64) error {
	return awsapi.TooLarge("%d byte payload is too large for the RequestResponse invocation type (limit %d bytes)", n, function.MaxSyncPayload)
}

// readPayload reads an invocation body of at most MaxSyncPayload bytes.
// Over the limit it reports the body's size: the declared length, else
// what it counts by reading on (up to a bound).
func (c *call) readPayload() ([]byte, error) {
	const limit = function.MaxSyncPayload
	if c.r.ContentLength > limit {
		return nil, payloadTooLarge(c.r.ContentLength)
	}
	b, err := io.ReadAll(io.LimitReader(c.r.Body, limit+1))
	if err != nil {
		return nil, awsapi.InvalidRequestContent("Could not read the request body.")
	}
	if len(b) > limit {
		rest, _ := io.Copy(io.Discard, io.LimitReader(c.r.Body, 64<<20))
		return nil, payloadTooLarge(int64(len(b)) + rest)
	}
	return b, nil
}

func (h *Handler) invoke(c *call) error {
	name, qualifier, err := h.functionRef(c, true)
	if err != nil {
		return err
	}
	opts, err := parseInvokeHeaders(c.r.Header)
	if err != nil {
		return err
	}
	body, err := c.readPayload()
	if err != nil {
		return err
	}
	payload, err := checkPayload(body)
	if err != nil {
		return err
	}
	ctx := c.r.Context()
	cfg, err := h.reg.Resolve(ctx, name, qualifier)
	if err != nil {
		return err
	}
	mode := ""
	if cfg.TracingConfig != nil {
		mode = cfg.TracingConfig.Mode
	}
	tr := trace.Accept(c.r.Header, mode, time.Now())
	traceID := tr.Header.String()
	switch opts.invocationType {
	case invokeDryRun:
		c.w.WriteHeader(http.StatusNoContent)
		return nil
	case invokeEvent:
		if len(body) > function.MaxAsyncPayload {
			return awsapi.TooLarge("%d byte payload is too large for the Event invocation type (limit %d bytes)", len(body), function.MaxAsyncPayload)
		}
		trace.Record(ctx, tr) // the front door's span; the event's own follow when it runs
		return h.enqueue(c, &async.Event{
			RequestID:          c.reqID,
			FunctionName:       name,
			Qualifier:          qualifier,
			InvokedFunctionArn: awsapi.FunctionARN(h.region, h.account, name, qualifier),
			Payload:            payload,
			ClientContext:      opts.clientContext,
			TraceID:            traceID,
			TenantID:           opts.tenantID,
		})
	}
	if h.inv == nil {
		return awsapi.Service("No invoker is configured on this Nimbus server.")
	}
	trace.Record(ctx, tr)
	res, err := h.inv.Invoke(ctx, cfg, &invoke.Request{
		RequestID:          c.reqID,
		InvokedFunctionArn: awsapi.FunctionARN(h.region, h.account, name, qualifier),
		Payload:            payload,
		ClientContext:      opts.clientContext,
		TraceID:            traceID,
		TenantID:           opts.tenantID,
		LogTail:            opts.logTail,
	})
	if err != nil {
		return err
	}
	hd := c.w.Header()
	hd.Set(trace.HeaderXRay, traceID)
	if res.FunctionError != "" {
		hd.Set("X-Amz-Function-Error", res.FunctionError)
	}
	executed := res.ExecutedVersion
	if executed == "" {
		executed = cfg.Version
	}
	hd.Set("X-Amz-Executed-Version", executed)
	if opts.logTail {
		tail := res.LogTail
		if len(tail) > function.MaxLogTail {
			tail = tail[len(tail)-function.MaxLogTail:]
		}
		hd.Set("X-Amz-Log-Result", base64.StdEncoding.EncodeToString(tail))
	}
	ct := res.ContentType
	if ct == "" {
		ct = "application/json"
	}
	hd.Set("Content-Type", ct)
	c.w.WriteHeader(http.StatusOK)
	_, _ = c.w.Write(res.Payload)
	return nil
}

// enqueue queues an asynchronous invocation durably and answers 202.
func (h *Handler) enqueue(c *call, ev *async.Event) error {
	if h.async == nil {
		return awsapi.Service("Asynchronous invocation is not configured on this Nimbus server.")
	}
	if err := h.async.Enqueue(c.r.Context(), ev); err != nil {
		return err
	}
	c.w.WriteHeader(http.StatusAccepted)
	return nil
}

// maxInvokeAsyncPayload is InvokeAsync's limit ("The payload limit is
// 256KB. For larger payloads, for up to 1MB, use Invoke").
const maxInvokeAsyncPayload = 256 * 1024

// invokeAsync is the deprecated InvokeAsync: the body is the event, the
// answer 202 {"Status":202}.
func (h *Handler) invokeAsync(c *call) error {
	name, qualifier, err := h.functionRef(c, false)
	if err != nil {
		return err
	}
	body, err := c.readPayload()
	if err != nil {
		return err
	}
	payload, err := checkPayload(body)
	if err != nil {
		return err
	}
	if _, err := h.reg.Resolve(c.r.Context(), name, qualifier); err != nil {
		return err
	}
	if len(body) > maxInvokeAsyncPayload {
		return awsapi.TooLarge("%d byte payload is too large for the InvokeAsync operation (limit %d bytes)", len(body), maxInvokeAsyncPayload)
	}
	if h.async == nil {
		return awsapi.Service("Asynchronous invocation is not configured on this Nimbus server.")
	}
	if err := h.async.Enqueue(c.r.Context(), &async.Event{
		RequestID:          c.reqID,
		FunctionName:       name,
		InvokedFunctionArn: awsapi.FunctionARN(h.region, h.account, name, ""),
		Payload:            payload,
	}); err != nil {
		return err
	}
	return c.writeJSON(http.StatusAccepted, map[string]int{"Status": http.StatusAccepted})
}

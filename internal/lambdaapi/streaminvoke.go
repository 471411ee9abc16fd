package lambdaapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/protocol/eventstream"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/invoke"
	"github.com/nimbus-serverless/nimbus/internal/trace"
)

// InvokeWithResponseStream (POST /2021-11-15/functions/{fn}/response-
// streaming-invocations): the function's response goes to the client as
// the runtime posts it, each piece a PayloadChunk event of an AWS event
// stream (application/vnd.amazon.eventstream), closed by an
// InvokeComplete event carrying the error (if any) and the log tail.

// eventStream is the invoke.ResponseStream of one InvokeWithResponseStream
// call: it writes the response head on Begin and a PayloadChunk per Write.
type eventStream struct {
	c       *call
	rc      *http.ResponseController
	enc     *eventstream.Encoder
	version string
	traceID string
	started bool
}

func (s *eventStream) start() {
	if s.started {
		return
	}
	s.started = true
	hd := s.c.w.Header()
	hd.Set("Content-Type", "application/vnd.amazon.eventstream")
	hd.Set("X-Amz-Executed-Version", s.version)
	hd.Set(trace.HeaderXRay, s.traceID)
	s.c.w.WriteHeader(http.StatusOK)
	_ = s.rc.Flush()
}

// Begin implements invoke.ResponseStream.
func (s *eventStream) Begin(string) error {
	s.start()
	return nil
}

// Write implements invoke.ResponseStream.
func (s *eventStream) Write(p []byte) (int, error) {
	if err := s.event("PayloadChunk", "application/octet-stream", p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (s *eventStream) event(eventType, contentType string, payload []byte) error {
	msg := eventstream.Message{Payload: payload}
	msg.Headers.Set(":event-type", eventstream.StringValue(eventType))
	msg.Headers.Set(":message-type", eventstream.StringValue("event"))
	msg.Headers.Set(":content-type", eventstream.StringValue(contentType))
	var buf bytes.Buffer
	if err := s.enc.Encode(&buf, msg); err != nil {
		return fmt.Errorf("encode %s event: %w", eventType, err)
	}
	if _, err := s.c.w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write %s event: %w", eventType, err)
	}
	if err := s.rc.Flush(); err != nil {
		return fmt.Errorf("flush %s event: %w", eventType, err)
	}
	return nil
}

// streamingInvocationTypes are the InvocationType values the operation
// takes (botocore's ResponseStreamingInvocationType).
var streamingInvocationTypes = []string{invokeRequestResponse, invokeDryRun}

func (h *Handler) invokeWithResponseStream(c *call) error {
	name, qualifier, err := h.functionRef(c, true)
	if err != nil {
		return err
	}
	if it := c.r.Header.Get("X-Amz-Invocation-Type"); it != "" {
		var v verrs
		v.enum(&it, "invocationType", streamingInvocationTypes...)
		if err := v.err(); err != nil {
			return err
		}
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
	if opts.invocationType == invokeDryRun {
		c.w.WriteHeader(http.StatusNoContent)
		return nil
	}
	if h.inv == nil {
		return awsapi.Service("No invoker is configured on this Nimbus server.")
	}
	mode := ""
	if cfg.TracingConfig != nil {
		mode = cfg.TracingConfig.Mode
	}
	tr := trace.Accept(c.r.Header, mode, time.Now())
	trace.Record(ctx, tr)
	s := &eventStream{c: c, rc: http.NewResponseController(c.w), enc: eventstream.NewEncoder(),
		version: cfg.Version, traceID: tr.Header.String()}
	res, err := h.inv.Invoke(ctx, cfg, &invoke.Request{
		RequestID:          c.reqID,
		InvokedFunctionArn: awsapi.FunctionARN(h.region, h.account, name, qualifier),
		Payload:            payload,
		ClientContext:      opts.clientContext,
		TraceID:            s.traceID,
		TenantID:           opts.tenantID,
		LogTail:            opts.logTail,
		Stream:             s,
	})
	if err != nil && !s.started {
		return err
	}
	if res != nil && res.ExecutedVersion != "" && !s.started {
		s.version = res.ExecutedVersion
	}
	s.start()
	complete := struct {
		ErrorCode    string `json:"ErrorCode,omitempty"`
		ErrorDetails string `json:"ErrorDetails,omitempty"`
		LogResult    string `json:"LogResult,omitempty"`
	}{}
	switch {
	case err != nil:
		complete.ErrorCode, complete.ErrorDetails = "ServiceException", "The invocation failed."
		if e := awsapi.As(wireError(err)); e != nil {
			complete.ErrorCode, complete.ErrorDetails = e.Code, e.Message
		}
	case res.FunctionError != "":
		var ep invoke.ErrorPayload
		_ = json.Unmarshal(res.Payload, &ep)
		complete.ErrorCode, complete.ErrorDetails = ep.ErrorType, ep.ErrorMessage
		if complete.ErrorCode == "" {
			complete.ErrorCode = res.ErrorType
		}
	case !res.Streamed && len(res.Payload) > 0:
		_, _ = s.Write(res.Payload)
	}
	if res != nil && opts.logTail {
		tail := res.LogTail
		if len(tail) > function.MaxLogTail {
			tail = tail[len(tail)-function.MaxLogTail:]
		}
		complete.LogResult = base64.StdEncoding.EncodeToString(tail)
	}
	b, _ := json.Marshal(complete)
	_ = s.event("InvokeComplete", "application/json", b)
	return nil
}

// Package funcurl serves Lambda function URLs: HTTP requests whose Host is
// <url-id>.lambda-url.<region>.localhost[:port] (any domain after the
// region is accepted) become payload-format-2.0 events for the function
// (or alias) the URL belongs to, and the function's answer becomes the
// HTTP response, as AWS's function URLs do: BUFFERED and RESPONSE_STREAM
// invoke modes, AuthType NONE and AWS_IAM (SigV4-signed callers only),
// and CORS answered by the platform.
//
// It owns the request path of a function URL; the events and response
// mapping are package httpevent's, the URL configurations the registry's
// (created through lambdaapi). Who may import it: the daemon (wiring). It
// imports awsapi, errdefs, function, invoke, httpevent and trace.
package funcurl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/errdefs"
	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/httpevent"
	"github.com/nimbus-serverless/nimbus/internal/invoke"
	"github.com/nimbus-serverless/nimbus/internal/trace"
)

// Registry finds function URLs and the functions they invoke;
// *registry.Registry implements it.
type Registry interface {
	ResolveURL(ctx context.Context, urlID string) (string, *function.URLConfig, error)
	Resolve(ctx context.Context, name, qualifier string) (*function.Config, error)
}

// Authenticator checks the SigV4 signature (service "lambda") of a request
// to an AWS_IAM function URL, judges whether the caller may
// lambda:InvokeFunctionUrl on resource (the function's ARN, qualified as
// the URL is), and names the caller for the event's
// requestContext.authorizer.iam. An error means the request is refused.
type Authenticator interface {
	Authenticate(r *http.Request, resource string) (*httpevent.IAMIdentity, error)
}

// Options configures New.
type Options struct {
	Registry  Registry
	Invoker   invoke.Invoker
	Region    string
	AccountID string
	// Auth verifies callers of AWS_IAM URLs; with none, every request to
	// an AWS_IAM URL is refused.
	Auth   Authenticator
	Logger *slog.Logger
	// Now is the clock of requestContext.time; time.Now when nil.
	Now func() time.Time
}

// Handler serves function URLs.
type Handler struct {
	reg     Registry
	inv     invoke.Invoker
	region  string
	account string
	auth    Authenticator
	log     *slog.Logger
	now     func() time.Time
}

// New returns the function URL handler.
func New(opts Options) *Handler {
	h := &Handler{reg: opts.Registry, inv: opts.Invoker, region: opts.Region, account: opts.AccountID,
		auth: opts.Auth, log: opts.Logger, now: opts.Now}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	return h
}

// Answers function URLs give when they do not reach the function, or
// when it fails (AWS's bodies and x-amzn-ErrorType).
func writeMessage(w http.ResponseWriter, status int, errType string, msg *string) {
	b, _ := json.Marshal(struct {
		Message *string `json:"Message"`
	}{msg})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if errType != "" {
		h.Set("X-Amzn-ErrorType", errType)
	}
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func str(s string) *string { return &s }

// forbidden is the answer to an unsigned or badly signed request to an
// AWS_IAM URL.
func forbidden(w http.ResponseWriter) {
	writeMessage(w, http.StatusForbidden, awsapi.CodeAccessDenied, str("Forbidden"))
}

// unknownURL is the answer for a URL id that names no function URL.
func unknownURL(w http.ResponseWriter) {
	writeMessage(w, http.StatusForbidden, awsapi.CodeAccessDenied, nil)
}

// functionFailed is the answer when the function failed (a handled or
// unhandled error, a timeout, a crash) or answered something that is not
// a response: 502 with the plain words AWS sends.
func functionFailed(w http.ResponseWriter) {
	b := []byte("Internal Server Error")
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusBadGateway)
	_, _ = w.Write(b)
}

// ServeHTTP serves one request to a function URL.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := awsapi.NewRequestID()
	w.Header().Set(awsapi.HeaderRequestID, reqID)
	urlID, _, ok := ParseHost(r.Host)
	if !ok {
		unknownURL(w)
		return
	}
	ctx := r.Context()
	name, u, err := h.reg.ResolveURL(ctx, urlID)
	if err != nil {
		unknownURL(w)
		return
	}
	if u.Cors != nil && isPreflight(r) {
		writePreflight(w, r, u.Cors)
		return
	}
	var ident *httpevent.IAMIdentity
	accountID := "anonymous"
	if u.AuthType == function.URLAuthIAM {
		if h.auth == nil {
			forbidden(w)
			return
		}
		resource := "arn:aws:lambda:" + h.region + ":" + h.account + ":function:" + name
		if u.Qualifier != "" && u.Qualifier != "$LATEST" {
			resource += ":" + u.Qualifier // an alias's URL
		}
		ident, err = h.auth.Authenticate(r, resource)
		if err != nil {
			h.log.Debug("function url request refused", "url_id", urlID, "err", err)
			forbidden(w)
			return
		}
		accountID = ident.AccountID
	}
	if r.ContentLength > function.MaxSyncPayload {
		tooLarge(w)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, function.MaxSyncPayload+1))
	if err != nil {
		writeMessage(w, http.StatusBadRequest, awsapi.CodeInvalidRequestContent, str("Could not read the request body."))
		return
	}
	if len(body) > function.MaxSyncPayload {
		tooLarge(w)
		return
	}
	cfg, err := h.reg.Resolve(ctx, name, u.Qualifier)
	if err != nil {
		h.invokeFailed(w, urlID, err)
		return
	}
	mode := ""
	if cfg.TracingConfig != nil {
		mode = cfg.TracingConfig.Mode
	}
	now := h.now()
	tr := trace.Accept(r.Header, mode, now)
	trace.Record(ctx, tr)
	traceID := tr.Header.String()
	r.Header.Set(trace.HeaderXRay, traceID)
	w.Header().Set(trace.HeaderXRay, traceID)
	ev := httpevent.BuildURL(r, body, httpevent.Options{
		RequestID: reqID, Time: now, AccountID: accountID, APIID: urlID,
		DomainName: hostOnly(r.Host), DomainPrefix: urlID, IAM: ident,
	})
	payload, err := httpevent.Marshal(ev)
	if err != nil {
		functionFailed(w)
		return
	}
	if len(payload) > function.MaxSyncPayload {
		tooLarge(w)
		return
	}
	req := &invoke.Request{RequestID: reqID, InvokedFunctionArn: u.FunctionArn, Payload: payload, TraceID: traceID}
	var sw *streamWriter
	if u.Mode() == function.InvokeStream {
		base := http.Header{}
		for _, k := range []string{awsapi.HeaderRequestID, trace.HeaderXRay} {
			base[k] = w.Header()[k]
		}
		sw = newStreamWriter(w, r, u.Cors, base)
		req.Stream = sw
	}
	res, err := h.inv.Invoke(ctx, cfg, req)
	if sw != nil && sw.started {
		if err != nil || res.FunctionError != "" {
			// The head is out: all that is left is to cut the stream so
			// the client sees an incomplete response, not a whole one.
			h.log.Debug("function url stream failed after its head", "url_id", urlID, "err", err)
			panic(http.ErrAbortHandler)
		}
		return
	}
	if err != nil {
		h.invokeFailed(w, urlID, err)
		return
	}
	if res.FunctionError != "" {
		functionFailed(w)
		return
	}
	if sw != nil && res.Streamed {
		if !sw.finish() {
			functionFailed(w)
		}
		return
	}
	resp, err := httpevent.MapV2(res.Payload)
	if err != nil {
		functionFailed(w)
		return
	}
	applyCORS(resp.Header, r, u.Cors)
	resp.Write(w)
}

// invokeFailed answers an invocation the core refused: the one table of
// this edge from error categories (errdefs) to what a function URL answers.
// Every category not named is the function's failure to the client.
func (h *Handler) invokeFailed(w http.ResponseWriter, urlID string, err error) {
	switch {
	case errors.Is(err, errdefs.ErrThrottled):
		writeMessage(w, http.StatusTooManyRequests, awsapi.CodeTooManyRequests, str("Rate Exceeded."))
	case errors.Is(err, errdefs.ErrNotFound):
		unknownURL(w)
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads the answer.
	default:
		h.log.Warn("function url invoke failed", "url_id", urlID, "err", err)
		functionFailed(w)
	}
}

// tooLarge answers a request whose event would exceed Lambda's 6 MB
// synchronous payload.
func tooLarge(w http.ResponseWriter) {
	writeMessage(w, http.StatusRequestEntityTooLarge, awsapi.CodeRequestTooLarge,
		str(fmt.Sprintf("Request must be smaller than %d bytes for the InvokeFunction operation", function.MaxSyncPayload)))
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

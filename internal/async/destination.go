package async

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/function"
)

// Conditions of an invocation record.
const (
	ConditionSuccess          = "Success"
	ConditionRetriesExhausted = "RetriesExhausted"
	ConditionEventAgeExceeded = "EventAgeExceeded"
)

// Destination delivers invocation records (or, as a dead-letter target,
// events) to one kind of target: a Lambda function today; queues, topics
// and event buses plug in through Options.Destinations as they arrive.
type Destination interface {
	// Deliver hands d over durably. An error wrapping ErrUndeliverable
	// means it can never succeed (the record is logged and dropped);
	// any other error is retried later.
	Deliver(ctx context.Context, d *Delivery) error
}

// Delivery is one record on its way to a destination.
type Delivery struct {
	// TargetArn is the destination's ARN.
	TargetArn string
	// Kind is "success", "failure" or "dlq".
	Kind string
	// RequestID is the id of the invocation the record is about.
	RequestID string
	// DedupID is unique per (event, kind): a delivery repeated after a
	// crash carries the same one.
	DedupID string
	// Body is the record JSON (for "dlq", the event itself).
	Body []byte
}

// ErrUndeliverable marks a delivery that cannot succeed.
var ErrUndeliverable = errors.New("undeliverable")

// Record is the invocation record Lambda sends to destinations.
type Record struct {
	Version         string           `json:"version"`
	Timestamp       string           `json:"timestamp"`
	RequestContext  RequestContext   `json:"requestContext"`
	RequestPayload  json.RawMessage  `json:"requestPayload"`
	ResponseContext *ResponseContext `json:"responseContext,omitempty"`
	ResponsePayload json.RawMessage  `json:"responsePayload,omitempty"`
}

// RequestContext identifies the invocation a record is about.
type RequestContext struct {
	RequestID              string `json:"requestId"`
	FunctionArn            string `json:"functionArn"`
	Condition              string `json:"condition"`
	ApproximateInvokeCount int    `json:"approximateInvokeCount"`
}

// ResponseContext is the latest invocation's outcome.
type ResponseContext struct {
	StatusCode      int    `json:"statusCode"`
	ExecutedVersion string `json:"executedVersion"`
	FunctionError   string `json:"functionError,omitempty"`
}

// record builds the invocation record of env in condition.
func (s *Service) record(env *envelope, condition string) []byte {
	version := function.LatestVersion
	switch {
	case env.Last != nil && env.Last.ExecutedVersion != "":
		version = env.Last.ExecutedVersion
	case env.Qualifier != "":
		version = env.Qualifier
	}
	r := Record{
		Version:   "1.0",
		Timestamp: s.now().UTC().Format("2006-01-02T15:04:05.000Z"),
		RequestContext: RequestContext{
			RequestID:              env.RequestID,
			FunctionArn:            awsapi.FunctionARN(s.region, s.account, env.Function, version),
			Condition:              condition,
			ApproximateInvokeCount: env.Invokes,
		},
		RequestPayload: env.Payload,
	}
	if env.Last != nil {
		r.ResponseContext = &ResponseContext{
			StatusCode:      env.Last.StatusCode,
			ExecutedVersion: env.Last.ExecutedVersion,
			FunctionError:   env.Last.FunctionError,
		}
		r.ResponsePayload = env.Last.Payload
	}
	b, err := json.Marshal(r)
	if err != nil {
		panic(fmt.Sprintf("async: encode record: %v", err)) // checked JSON only: cannot fail
	}
	return b
}

// jsonPayload returns p as JSON: itself when valid, else a JSON string.
func jsonPayload(p []byte) json.RawMessage {
	if len(p) == 0 {
		return nil
	}
	if json.Valid(p) {
		return p
	}
	b, _ := json.Marshal(string(p))
	return b
}

// deliver sends body to target. It reports whether the event may be
// acknowledged: false means it was left for redelivery (after a pause)
// because the destination failed in a way that may pass.
func (s *Service) deliver(ctx context.Context, l lease, env *envelope, target, kind string, body []byte) bool {
	d := &Delivery{TargetArn: target, Kind: kind, RequestID: env.RequestID, DedupID: env.DedupID + "/" + kind, Body: body}
	dest := s.dests[arnService(target)]
	var err error
	if dest == nil {
		err = fmt.Errorf("%w: Nimbus has no %q service for %s", ErrUndeliverable, arnService(target), target)
	} else {
		err = dest.Deliver(ctx, d)
	}
	switch {
	case err == nil:
		s.counters.destDelivered.Add(1)
		return true
	case errors.Is(err, ErrUndeliverable):
		s.counters.destFailed.Add(1)
		s.log.Error("invocation record not delivered", "request_id", env.RequestID, "kind", kind,
			"target", target, "err", err)
		return true
	default:
		s.counters.destFailed.Add(1)
		if ctx.Err() == nil {
			s.log.Warn("deliver invocation record; will retry", "request_id", env.RequestID, "kind", kind,
				"target", target, "err", err)
			l.later(ctx, env, s.scaled(minBackoff))
		}
		return false
	}
}

// arnService is the service field of an ARN ("lambda", "sqs", ...).
func arnService(arn string) string {
	parts := strings.SplitN(arn, ":", 4)
	if len(parts) < 4 || parts[0] != "arn" {
		return ""
	}
	return parts[2]
}

// lambdaDestination invokes a function asynchronously with the record, as
// Lambda does: the record is queued durably like any event (with its own
// retries and destinations) before the source event is acknowledged.
type lambdaDestination struct{ s *Service }

func (l lambdaDestination) Deliver(ctx context.Context, d *Delivery) error {
	name, qualifier, ok := ParseFunctionArn(d.TargetArn)
	if !ok {
		return fmt.Errorf("%w: %s is not a function ARN", ErrUndeliverable, d.TargetArn)
	}
	return l.s.Enqueue(ctx, &Event{
		RequestID:          awsapi.NewRequestID(),
		FunctionName:       name,
		Qualifier:          qualifier,
		InvokedFunctionArn: d.TargetArn,
		Payload:            d.Body,
		DedupID:            d.DedupID,
	})
}

// ParseFunctionArn splits arn:<partition>:lambda:<region>:<account>:function:<name>[:<qualifier>].
func ParseFunctionArn(arn string) (name, qualifier string, ok bool) {
	p := strings.Split(arn, ":")
	if len(p) < 7 || len(p) > 8 || p[0] != "arn" || p[2] != "lambda" || p[5] != "function" || p[6] == "" {
		return "", "", false
	}
	if len(p) == 8 {
		if p[7] == "" {
			return "", "", false
		}
		qualifier = p[7]
	}
	return p[6], qualifier, true
}

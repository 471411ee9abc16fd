package async

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/deliver"
	"github.com/nimbus-serverless/nimbus/internal/errdefs"
	"github.com/nimbus-serverless/nimbus/internal/function"
)

// Conditions of an invocation record.
const (
	ConditionSuccess          = "Success"
	ConditionRetriesExhausted = "RetriesExhausted"
	ConditionEventAgeExceeded = "EventAgeExceeded"
)

// ErrUndeliverable marks a delivery that cannot succeed (the shared
// deliver.ErrUndeliverable).
var ErrUndeliverable = deliver.ErrUndeliverable

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
	d := &deliver.Delivery{TargetArn: target, DedupID: env.DedupID + "/" + kind, Body: body}
	// Lambda sends a record (and a dead-lettered event) as the function's
	// execution role: the router's guard asks the role's policies.
	// A function that is gone has no role: nothing its records name
	// allows the Lambda service itself.
	d.Source = &deliver.Source{Service: "lambda.amazonaws.com", Arn: awsapi.FunctionARN(s.region, s.account, env.Function, ""),
		Account: s.account}
	if cfg, err := s.fns.Resolve(ctx, env.Function, env.Qualifier); err == nil {
		d.Source.RoleArn = cfg.Role
	}
	err := s.targets.Deliver(ctx, d)
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

// Enqueuer queues an asynchronous invocation (*Service implements it).
type Enqueuer interface {
	Enqueue(ctx context.Context, ev *Event) error
}

// Resolver finds a function version (*registry.Registry).
type Resolver interface {
	Resolve(ctx context.Context, name, qualifier string) (*function.Config, error)
}

// FunctionTarget is the deliverer of Lambda function ARNs (with a
// version or alias, or none): it invokes the function asynchronously
// with the payload, as Lambda, EventBridge and SNS do. The event is
// queued durably (with the function's own retries and destinations)
// before Deliver returns; the delivery's DedupID makes a repeated
// attempt queue once. A function that does not exist is undeliverable.
func FunctionTarget(q Enqueuer, fns Resolver) deliver.Deliverer {
	return deliver.Func(func(ctx context.Context, d *deliver.Delivery) error {
		name, qualifier, ok := ParseFunctionArn(d.TargetArn)
		if !ok {
			return deliver.Undeliverable("%s is not a function ARN", d.TargetArn)
		}
		if _, err := fns.Resolve(ctx, name, qualifier); err != nil {
			if errors.Is(err, errdefs.ErrNotFound) {
				return deliver.Undeliverable("function %s does not exist", d.TargetArn)
			}
			return fmt.Errorf("resolve %s: %w", d.TargetArn, err)
		}
		return q.Enqueue(ctx, &Event{
			RequestID:          awsapi.NewRequestID(),
			FunctionName:       name,
			Qualifier:          qualifier,
			InvokedFunctionArn: d.TargetArn,
			Payload:            d.Body,
			DedupID:            d.DedupID,
		})
	})
}

// ParseFunctionArn splits arn:<partition>:lambda:<region>:<account>:function:<name>[:<qualifier>].
func ParseFunctionArn(arn string) (name, qualifier string, ok bool) {
	return deliver.FunctionName(arn)
}

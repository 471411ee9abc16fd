package events

import (
	"context"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/async"
	"github.com/nimbus-serverless/nimbus/internal/deliver"
	"github.com/nimbus-serverless/nimbus/internal/function"
)

// Deliverer and Delivery are the shared delivery interface
// (internal/deliver): the node's router hands every target and dead
// letter to the deliverer of its ARN's service.
type (
	Deliverer = deliver.Deliverer
	Delivery  = deliver.Delivery
)

// ErrUndeliverable marks a delivery that cannot succeed.
var ErrUndeliverable = deliver.ErrUndeliverable

// Functions is what delivery needs of the registry: whether a function
// version exists. *registry.Registry implements it.
type Functions interface {
	Resolve(ctx context.Context, name, qualifier string) (*function.Config, error)
}

// Enqueuer is the node's asynchronous invocation (*async.Service).
type Enqueuer interface {
	Enqueue(ctx context.Context, ev *async.Event) error
}

// canDeliver reports whether arn is a target this node can deliver to,
// and if not, why (a message naming what Nimbus lacks).
func (s *Service) canDeliver(arn string) (bool, string) {
	if err := s.deliveries.Check(arn); err != nil {
		return false, "Target arn: " + err.Error() + "."
	}
	return true, ""
}

// deliver makes one attempt to hand rm's input to its target through the
// shared router. A Lambda function is invoked asynchronously, as
// EventBridge invokes it: the event is queued durably on the node's
// async path (which runs the function's own retries and destinations);
// the dedup id makes a repeated attempt enqueue once.
func (s *Service) deliver(ctx context.Context, t *Target, rm *retryMsg) error {
	d := &Delivery{TargetArn: t.Arn, DedupID: "events/" + rm.EventID + "/" + rm.Rule + "/" + rm.TargetID, Body: rm.Input}
	if rm.Event.Replay != "" {
		d.DedupID += "/replay/" + rm.Event.Replay // a replay delivers the event again, by design
	}
	if t.SqsParameters != nil {
		d.GroupID = t.SqsParameters.MessageGroupID
	}
	// EventBridge invokes a function as events.amazonaws.com for the rule
	// (the function's resource policy decides); other targets with a
	// RoleArn are reached as that role.
	d.Source = &deliver.Source{Service: "events.amazonaws.com", Arn: s.arns.rule(splitRuleID(rm.Rule)), Account: s.account}
	if arnService(t.Arn) != "lambda" {
		d.Source.RoleArn = t.RoleArn
	}
	return s.deliveries.Deliver(ctx, d)
}

// arnService is the service field of an ARN ("lambda", "sqs", ...).
func arnService(arn string) string {
	parts := strings.SplitN(arn, ":", 4)
	if len(parts) < 4 || parts[0] != "arn" {
		return ""
	}
	return parts[2]
}

// splitRuleID splits a rule id (bus/name; bus names may hold '/').
func splitRuleID(id string) (bus, name string) {
	i := strings.LastIndexByte(id, '/')
	return id[:i], id[i+1:]
}

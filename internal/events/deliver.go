package events

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/async"
	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/errdefs"
	"github.com/nimbus-serverless/nimbus/internal/function"
)

// Deliverer hands an event to one kind of target (by the service of its
// ARN: "sqs", "sns", "states", ...). Lambda functions are built in;
// other services plug in through Options.Deliverers as they land.
type Deliverer interface {
	// Deliver hands d over durably. An error wrapping ErrUndeliverable
	// can never succeed (no retry); any other error is retried.
	Deliver(ctx context.Context, d *Delivery) error
}

// Delivery is one event on its way to one target.
type Delivery struct {
	TargetArn string
	// DedupID is the same for every attempt of one (event, rule, target).
	DedupID string
	Body    []byte
	// GroupID is a FIFO queue target's MessageGroupId.
	GroupID string
	// Attributes travel beside the body where the target has them (SQS
	// message attributes of a dead letter).
	Attributes map[string]string
}

// ErrUndeliverable marks a delivery that cannot succeed.
var ErrUndeliverable = errors.New("undeliverable")

// Functions is what delivery needs of the registry: whether a function
// version exists. *registry.Registry implements it.
type Functions interface {
	Resolve(ctx context.Context, name, qualifier string) (*function.Config, error)
}

// Enqueuer is the node's asynchronous invocation (*async.Service).
type Enqueuer interface {
	Enqueue(ctx context.Context, ev *async.Event) error
}

// servicesNamed are the target services Nimbus refuses by name until they
// land.
var servicesNamed = map[string]string{
	"sqs":          "Amazon SQS",
	"sns":          "Amazon SNS",
	"states":       "AWS Step Functions",
	"events":       "Amazon EventBridge (another event bus or an API destination)",
	"kinesis":      "Amazon Kinesis",
	"firehose":     "Amazon Data Firehose",
	"logs":         "Amazon CloudWatch Logs",
	"ecs":          "Amazon ECS",
	"batch":        "AWS Batch",
	"ssm":          "AWS Systems Manager",
	"codebuild":    "AWS CodeBuild",
	"codepipeline": "AWS CodePipeline",
	"redshift":     "Amazon Redshift",
	"sagemaker":    "Amazon SageMaker",
	"execute-api":  "Amazon API Gateway",
	"inspector":    "Amazon Inspector",
	"appsync":      "AWS AppSync",
}

// serviceName is how a refusal names an ARN's service.
func serviceName(svc string) string {
	if n, ok := servicesNamed[svc]; ok {
		return n
	}
	if svc == "" {
		return "an unknown service"
	}
	return "the service " + svc
}

// canDeliver reports whether arn is a target this node can deliver to,
// and if not, why (a message naming what Nimbus lacks).
func (s *Service) canDeliver(arn string) (bool, string) {
	svc := arnService(arn)
	if svc == "lambda" {
		if _, _, ok := async.ParseFunctionArn(arn); !ok {
			return false, fmt.Sprintf("Target arn %s is not a Lambda function ARN.", arn)
		}
		return true, ""
	}
	if s.deliverers[svc] != nil {
		return true, ""
	}
	return false, fmt.Sprintf("Nimbus does not deliver to %s targets yet (%s); only Lambda functions can be targets.",
		serviceName(svc), arn)
}

// deliver makes one attempt to hand rm's input to its target. A Lambda
// function is invoked asynchronously, as EventBridge invokes it: the
// event is queued durably on the node's async path (which runs the
// function's own retries and destinations); the dedup id makes a repeated
// attempt enqueue once.
func (s *Service) deliver(ctx context.Context, t *Target, rm *retryMsg) error {
	dedup := "events/" + rm.EventID + "/" + rm.Rule + "/" + rm.TargetID
	svc := arnService(t.Arn)
	if svc != "lambda" {
		d := s.deliverers[svc]
		if d == nil {
			return fmt.Errorf("%w: no deliverer for %s", ErrUndeliverable, svc)
		}
		del := &Delivery{TargetArn: t.Arn, DedupID: dedup, Body: rm.Input}
		if t.SqsParameters != nil {
			del.GroupID = t.SqsParameters.MessageGroupID
		}
		return d.Deliver(ctx, del)
	}
	name, qualifier, ok := async.ParseFunctionArn(t.Arn)
	if !ok {
		return fmt.Errorf("%w: %s is not a function ARN", ErrUndeliverable, t.Arn)
	}
	if _, err := s.fns.Resolve(ctx, name, qualifier); err != nil {
		if errors.Is(err, errdefs.ErrNotFound) {
			return fmt.Errorf("%w: function %s does not exist", ErrUndeliverable, t.Arn)
		}
		return fmt.Errorf("resolve %s: %w", t.Arn, err)
	}
	return s.async.Enqueue(ctx, &async.Event{
		RequestID:          awsapi.NewRequestID(),
		FunctionName:       name,
		Qualifier:          qualifier,
		InvokedFunctionArn: t.Arn,
		Payload:            rm.Input,
		DedupID:            dedup,
	})
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

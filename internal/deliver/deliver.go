package deliver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Delivery is one payload on its way to one ARN.
type Delivery struct {
	// TargetArn names the target: a Lambda function (optionally with a
	// version or alias), an SQS queue, an SNS topic, ...
	TargetArn string
	// DedupID is the same for every attempt of one logical delivery, so
	// a target that deduplicates (async invocations, FIFO queues) keeps
	// one copy of a repeated attempt.
	DedupID string
	// Body is the payload: the event, the record, the message.
	Body []byte
	// GroupID is the MessageGroupId for FIFO targets ("" otherwise).
	GroupID string
	// Subject is an SNS topic target's Subject ("" for none).
	Subject string
	// Attributes travel beside the body where the target has them (SQS
	// and SNS message attributes).
	Attributes map[string]Attribute
	// Source, when set, is on whose behalf the payload is handed over;
	// the router's Guard decides whether that source may reach the
	// target (IAM: a service principal against the target's resource
	// policy, a role against its own policies).
	Source *Source
}

// Source is who hands a delivery over: a service acting for one of its
// resources (S3 for a bucket, SNS for a topic, EventBridge for a rule),
// judged by the target's resource policy with aws:SourceArn and
// aws:SourceAccount; or a role the service acts as (a schedule's or a
// target's RoleArn), judged by the role's policies.
type Source struct {
	// Service is the service principal ("s3.amazonaws.com").
	Service string
	// Arn is the resource the service acts for (aws:SourceArn).
	Arn string
	// Account owns that resource (aws:SourceAccount).
	Account string
	// RoleArn is the role the service acts as, when it acts as one.
	RoleArn string
}

// Attribute is one message attribute (SQS's and SNS's shape).
type Attribute struct {
	// DataType is String, Number or Binary, optionally with a
	// ".custom" suffix (String.Array for SNS).
	DataType    string
	StringValue string
	BinaryValue []byte
}

// Strings makes string attributes of m.
func Strings(m map[string]string) map[string]Attribute {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]Attribute, len(m))
	for k, v := range m {
		out[k] = Attribute{DataType: "String", StringValue: v}
	}
	return out
}

// Deliverer hands payloads to the targets of one service.
type Deliverer interface {
	// Deliver hands d over durably. An error wrapping ErrUndeliverable
	// can never succeed (do not retry); any other error may pass later.
	Deliver(ctx context.Context, d *Delivery) error
}

// Func adapts a function to Deliverer.
type Func func(ctx context.Context, d *Delivery) error

// Deliver calls f.
func (f Func) Deliver(ctx context.Context, d *Delivery) error { return f(ctx, d) }

// ErrUndeliverable marks a delivery that cannot succeed: the ARN names
// no target Nimbus serves, or the target does not exist, or refuses the
// payload for good.
var ErrUndeliverable = errors.New("undeliverable")

// Undeliverable wraps a reason in ErrUndeliverable.
func Undeliverable(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUndeliverable, fmt.Sprintf(format, args...))
}

// Router delivers to any ARN through the Deliverer registered for its
// service. It is safe for concurrent use; register before delivering.
type Router struct {
	mu    sync.RWMutex
	m     map[string]Deliverer                         // guarded by mu
	guard func(ctx context.Context, d *Delivery) error // guarded by mu
}

// Guard makes g decide every delivery that has a Source before it is
// handed over: an error refuses it (wrap ErrUndeliverable when it can
// never pass, as an access denial cannot until a policy changes).
func (r *Router) Guard(g func(ctx context.Context, d *Delivery) error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.guard = g
}

// NewRouter returns a router with no services.
func NewRouter() *Router { return &Router{m: map[string]Deliverer{}} }

// Handle registers d for ARNs of service svc ("lambda", "sqs", ...),
// replacing any earlier one.
func (r *Router) Handle(svc string, d Deliverer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.m[svc] = d
}

// Has reports whether svc has a deliverer.
func (r *Router) Has(svc string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.m[svc] != nil
}

// Deliver hands d to the deliverer of its ARN's service.
func (r *Router) Deliver(ctx context.Context, d *Delivery) error {
	svc := Service(d.TargetArn)
	r.mu.RLock()
	dl, guard := r.m[svc], r.guard
	r.mu.RUnlock()
	if dl == nil {
		return Undeliverable("Nimbus does not deliver to %s (%s)", ServiceName(svc), d.TargetArn)
	}
	if guard != nil && d.Source != nil {
		if err := guard(ctx, d); err != nil {
			return err
		}
	}
	return dl.Deliver(ctx, d)
}

// Authorize asks the router's Guard about d without delivering it: for a
// service that hands d to its target another way (Scheduler putting an
// event on a bus directly) but must be judged like any delivery. nil when
// d has no Source or the router no Guard.
func (r *Router) Authorize(ctx context.Context, d *Delivery) error {
	if r == nil {
		return nil
	}
	r.mu.RLock()
	guard := r.guard
	r.mu.RUnlock()
	if guard == nil || d.Source == nil {
		return nil
	}
	return guard(ctx, d)
}

// Check reports why arn cannot be a target of this router, or nil: the
// ARN must be well formed and its service served. It does not look the
// target up (a queue may be created after the rule that names it).
func (r *Router) Check(arn string) error {
	a, ok := Parse(arn)
	if !ok {
		return fmt.Errorf("%s is not a valid ARN", arn)
	}
	if !r.Has(a.Service) {
		return fmt.Errorf("Nimbus does not deliver to %s targets yet (%s)", ServiceName(a.Service), arn) //nolint:staticcheck // ST1005: shown to clients as a sentence naming Nimbus
	}
	switch a.Service {
	case "lambda":
		if _, _, ok := FunctionName(arn); !ok {
			return fmt.Errorf("%s is not a Lambda function ARN", arn)
		}
	case "sqs", "sns":
		if a.Resource == "" || strings.ContainsAny(a.Resource, ":/") {
			return fmt.Errorf("%s is not an %s ARN", arn, ServiceName(a.Service))
		}
	}
	return nil
}

// ARN is a parsed arn:partition:service:region:account:resource.
type ARN struct {
	Partition, Service, Region, Account, Resource string
}

// Parse splits an ARN into its fields.
func Parse(arn string) (ARN, bool) {
	p := strings.SplitN(arn, ":", 6)
	if len(p) != 6 || p[0] != "arn" || p[1] == "" || p[2] == "" {
		return ARN{}, false
	}
	return ARN{Partition: p[1], Service: p[2], Region: p[3], Account: p[4], Resource: p[5]}, true
}

// Service is the service field of an ARN ("lambda", "sqs", ...), "" if
// arn is not one.
func Service(arn string) string {
	a, _ := Parse(arn)
	return a.Service
}

// FunctionName splits arn:<partition>:lambda:<region>:<account>:function:<name>[:<qualifier>].
func FunctionName(arn string) (name, qualifier string, ok bool) {
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

// servicesNamed are how refusals name the services of ARNs.
var servicesNamed = map[string]string{
	"lambda":       "AWS Lambda",
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
	"s3":           "Amazon S3",
	"codebuild":    "AWS CodeBuild",
	"codepipeline": "AWS CodePipeline",
	"redshift":     "Amazon Redshift",
	"sagemaker":    "Amazon SageMaker",
	"execute-api":  "Amazon API Gateway",
	"inspector":    "Amazon Inspector",
	"appsync":      "AWS AppSync",
}

// ServiceName is how a message names an ARN's service.
func ServiceName(svc string) string {
	if n, ok := servicesNamed[svc]; ok {
		return n
	}
	if svc == "" {
		return "an unknown service"
	}
	return "the service " + svc
}

// Policy is a retry policy: Attempts tries in all, waiting Backoff(n)
// before try n+1.
type Policy struct {
	Attempts int
	Backoff  func(n int) time.Duration
}

// Retry delivers d through dl, retrying errors that may pass under p.
// It stops early on ErrUndeliverable or when ctx ends, and returns the
// last error.
func Retry(ctx context.Context, dl Deliverer, d *Delivery, p Policy) error {
	attempts := max(p.Attempts, 1)
	var err error
	for n := 1; ; n++ {
		if err = dl.Deliver(ctx, d); err == nil || errors.Is(err, ErrUndeliverable) || n >= attempts {
			return err
		}
		var wait time.Duration
		if p.Backoff != nil {
			wait = p.Backoff(n)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return errors.Join(err, ctx.Err())
		case <-t.C:
		}
	}
}

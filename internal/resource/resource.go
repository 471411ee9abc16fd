// Package resource holds the resource providers of the deployment engine:
// one stack.Provider for each CloudFormation resource type Nimbus
// supports (AWS::Lambda::*, AWS::ApiGateway::*, AWS::ApiGatewayV2::*,
// AWS::Logs::LogGroup, AWS::Events::Rule and EventBus, AWS::DynamoDB::Table,
// AWS::Scheduler::Schedule and ScheduleGroup, AWS::StepFunctions::StateMachine,
// AWS::S3::Bucket and BucketPolicy, AWS::SQS::Queue and QueuePolicy,
// AWS::SNS::Topic, Subscription and TopicPolicy, AWS::CloudWatch::Alarm,
// CompositeAlarm and Dashboard, AWS::SecretsManager::Secret,
// RotationSchedule and ResourcePolicy, AWS::SSM::Parameter, AWS::KMS::Key
// and Alias, AWS::CloudFormation::Stack (nested stacks, made through the
// node's own CloudFormation API), and AWS::IAM::* recorded for access
// control).
// Providers make resources by calling the node's own AWS APIs through
// aws-sdk-go-v2 clients, so every resource a stack makes is validated as a
// user's call is, and an API's error becomes the resource's failure
// reason in CloudFormation's words.
//
// It may import internal/stack and internal/awsapi. The daemon builds the
// providers (Providers) and hands them to the engine; nothing else
// imports this package.
package resource

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go"

	"github.com/nimbus-serverless/nimbus/internal/stack"
)

// Options configures the providers: where the node's API is and how to
// reach and sign for it.
type Options struct {
	// Endpoint is the node's API URL (http://127.0.0.1:4566). The daemon
	// passes an HTTPClient that serves requests in-process, in which case
	// the host part only needs to be well formed.
	Endpoint string
	// HTTPClient sends the API requests; nil is http.DefaultClient.
	HTTPClient *http.Client
	// Credentials sign the requests; nil sends them unsigned (a node
	// started with --insecure-no-auth).
	Credentials       aws.CredentialsProvider
	Region, AccountID string
	// Artifacts holds the code `nimbus deploy` uploaded, which
	// Code {S3Bucket: nimbus-artifacts, S3Key: <sha256>} refers to.
	Artifacts *stack.Artifacts
	Logger    *slog.Logger
}

// clients are the API clients every provider shares.
type clients struct {
	opts   Options
	log    *slog.Logger
	lambda *lambda.Client
	apigw  *apigateway.Client
	apigw2 *apigatewayv2.Client
	logs   *cloudwatchlogs.Client
	events *eventbridge.Client
	// dynamodb is DynamoDB (dynamodb.go).
	dynamodb *dynamodb.Client
	sfn      *awssfn.Client
	s3       *s3.Client
	// iam is IAM (iam.go).
	iam *awsiam.Client
	sqs *sqs.Client
	sns *sns.Client
	// cloudwatch is CloudWatch (alarms and dashboards, cloudwatch.go).
	cloudwatch *cloudwatch.Client
	// secrets, ssm and kms serve secrets.go.
	secrets *secretsmanager.Client
	ssm     *ssm.Client
	kms     *kms.Client
	// cfn is CloudFormation itself (nested stacks, nested.go).
	cfn *cloudformation.Client
}

// Providers returns a provider for every supported resource type, keyed by
// type name (AWS::Lambda::Function, ...).
func Providers(opts Options) map[string]stack.Provider {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	cfg := aws.Config{
		Region:       opts.Region,
		BaseEndpoint: aws.String(opts.Endpoint),
		Credentials:  opts.Credentials,
	}
	if opts.HTTPClient != nil {
		cfg.HTTPClient = opts.HTTPClient
	}
	if cfg.Credentials == nil {
		cfg.Credentials = aws.AnonymousCredentials{}
	}
	c := &clients{
		opts:   opts,
		log:    opts.Logger.With("component", "resource"),
		lambda: lambda.NewFromConfig(cfg),
		apigw:  apigateway.NewFromConfig(cfg),
		apigw2: apigatewayv2.NewFromConfig(cfg),
		logs:   cloudwatchlogs.NewFromConfig(cfg),
		sfn:    awssfn.NewFromConfig(cfg),
		events: eventbridge.NewFromConfig(cfg),
		s3:     s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true }),
		iam:    awsiam.NewFromConfig(cfg),
		sqs:    sqs.NewFromConfig(cfg),
		sns:    sns.NewFromConfig(cfg),
	}
	c.dynamodb = dynamodb.NewFromConfig(cfg)
	c.cloudwatch = cloudwatch.NewFromConfig(cfg)
	c.secrets, c.ssm, c.kms = secretsmanager.NewFromConfig(cfg), ssm.NewFromConfig(cfg), kms.NewFromConfig(cfg)
	c.cfn = cloudformation.NewFromConfig(cfg)
	ps := map[string]stack.Provider{}
	for _, add := range []func(*clients, map[string]stack.Provider){
		addLambda, addLambdaVersions, addStepFunctions, addAPIGateway, addAPIGatewayExtra, addAPIGatewayDomains, addAPIGatewayV2, addIAM, addIAMUsers, addLogs, addEvents, addDynamoDB, addEventSourceMappings, addScheduler, addPipes, addS3,
		addQueues, addTopics,
		addCloudWatch, addSecrets, addNestedStacks,
	} {
		add(c, ps)
	}
	return ps
}

// handlerError is an API's refusal as CloudFormation reports it in a
// resource's status reason. It wraps the SDK's error.
type handlerError struct {
	msg string
	err error
}

func (e *handlerError) Error() string { return e.msg }
func (e *handlerError) Unwrap() error { return e.err }

// apiError turns an SDK error into the provider's error, worded as
// CloudFormation words a resource handler's failure:
//
//	Resource handler returned message: "Function not found: arn:... (Service: Lambda, Status Code: 404, Request ID: ...)" (HandlerErrorCode: NotFound)
func apiError(service string, err error) error {
	if err == nil {
		return nil
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return fmt.Errorf("call %s: %w", service, err)
	}
	status, reqID := 0, ""
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status, reqID = re.HTTPStatusCode(), re.ServiceRequestID()
	}
	msg := ae.ErrorMessage()
	if msg == "" {
		msg = ae.ErrorCode()
	}
	detail := fmt.Sprintf("Service: %s, Status Code: %d", service, status)
	if reqID != "" {
		detail += ", Request ID: " + reqID
	}
	return &handlerError{
		msg: fmt.Sprintf("Resource handler returned message: %q (HandlerErrorCode: %s)",
			msg+" ("+detail+")", handlerErrorCode(ae.ErrorCode(), status)),
		err: err,
	}
}

// handlerErrorCode is the CloudFormation handler error code of an API error.
func handlerErrorCode(code string, status int) string {
	switch {
	case status == http.StatusNotFound || strings.Contains(code, "NotFound"):
		return "NotFound"
	case strings.Contains(code, "AlreadyExists") || code == "ResourceConflictException" || code == "ConflictException":
		return "AlreadyExists"
	case status == http.StatusTooManyRequests || strings.Contains(code, "TooManyRequests") || strings.Contains(code, "Throttl"):
		return "Throttling"
	case strings.Contains(code, "LimitExceeded"):
		return "ServiceLimitExceeded"
	case status == http.StatusForbidden || strings.Contains(code, "AccessDenied"):
		return "AccessDenied"
	case status >= 400 && status < 500:
		return "InvalidRequest"
	}
	return "GeneralServiceException"
}

// notFound reports whether err says the resource does not exist (any
// API's 404: ResourceNotFoundException, NotFoundException, ...).
func notFound(err error) bool {
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound {
		return true
	}
	var ae smithy.APIError
	return errors.As(err, &ae) && strings.Contains(ae.ErrorCode(), "NotFound")
}

// ignoreNotFound is apiError, except that a resource already gone is no
// error (every Delete).
func ignoreNotFound(service string, err error) error {
	if err == nil || notFound(err) {
		return nil
	}
	return apiError(service, err)
}

// props decodes a request's properties into dst, and reports a schema
// violation as CloudFormation does.
func props(r *stack.Request, dst any) error {
	return propsOf(r.LogicalID, r.Properties, dst)
}

func propsOf(logicalID string, p map[string]any, dst any) error {
	if err := decode(p, dst); err != nil {
		if pe, ok := errors.AsType[*propError](err); ok {
			return fmt.Errorf("Properties validation failed for resource %s with message: %w", logicalID, pe) //nolint:staticcheck // CloudFormation's wording
		}
		return err
	}
	return nil
}

// requireProps fails with CloudFormation's message for the first missing
// required property.
func requireProps(logicalID string, p map[string]any, names ...string) error {
	var missing []string
	for _, n := range names {
		if v, ok := p[n]; !ok || v == nil {
			missing = append(missing, n)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	msgs := make([]string, len(missing))
	for i, n := range missing {
		msgs[i] = "#: required key [" + n + "] not found"
	}
	return fmt.Errorf("Properties validation failed for resource %s with message: %s", logicalID, strings.Join(msgs, ", ")) //nolint:staticcheck // CloudFormation's wording
}

// changed lists the properties whose values differ between two property
// maps (added, removed or changed).
func changed(prev, cur map[string]any) map[string]bool {
	out := map[string]bool{}
	for k, v := range cur {
		if pv, ok := prev[k]; !ok || !equalJSON(pv, v) {
			out[k] = true
		}
	}
	for k := range prev {
		if _, ok := cur[k]; !ok {
			out[k] = true
		}
	}
	return out
}

// anyChanged reports whether any of names is in ch.
func anyChanged(ch map[string]bool, names ...string) bool {
	for _, n := range names {
		if ch[n] {
			return true
		}
	}
	return false
}

// equalJSON compares two values of the JSON data model.
func equalJSON(a, b any) bool {
	switch a := a.(type) {
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, v := range a {
			bv, ok := b[k]
			if !ok || !equalJSON(v, bv) {
				return false
			}
		}
		return true
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !equalJSON(a[i], b[i]) {
				return false
			}
		}
		return true
	default:
		return a == b
	}
}

// replace is the error of an update that needs a new resource.
func replace(logicalID string, names ...string) error {
	return fmt.Errorf("%s: changing %s: %w", logicalID, strings.Join(names, ", "), stack.ErrReplace)
}

// physicalName is the name CloudFormation generates for a resource that
// has none (stack.PhysicalName).
func physicalName(stackName, logicalID string, maxLen int) string {
	return stack.PhysicalName(stackName, logicalID, maxLen)
}

// tag is one entry of a CloudFormation Tags list.
type tag struct{ Key, Value string }

func tagMap(ts []tag) map[string]string {
	if len(ts) == 0 {
		return nil
	}
	m := make(map[string]string, len(ts))
	for _, t := range ts {
		m[t.Key] = t.Value
	}
	return m
}

// poll calls check until it reports done or fails, waiting a little
// longer between calls each time, for at most five minutes or ctx.
func poll(ctx context.Context, what string, check func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	wait := 20 * time.Millisecond
	for {
		done, err := check(ctx)
		if err != nil || done {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("wait for %s: %w", what, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, time.Second)
	}
}

// i32 converts an optional integer property to the SDK's *int32.
func i32(p *int64) *int32 {
	if p == nil {
		return nil
	}
	v := int32(*p) //nolint:gosec // properties are range-checked by the API
	return &v
}

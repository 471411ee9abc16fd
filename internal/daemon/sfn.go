package daemon

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/smithy-go"

	"github.com/nimbus-serverless/nimbus/internal/auth"
	"github.com/nimbus-serverless/nimbus/internal/config"
	"github.com/nimbus-serverless/nimbus/internal/deliver"
	"github.com/nimbus-serverless/nimbus/internal/logstore"
	"github.com/nimbus-serverless/nimbus/internal/sfn"
)

// sfnTasks are the integrations Step Functions' Task states call: the
// node's own Lambda, SQS and EventBridge APIs, in-process, signed with a
// session of the state machine's role (sfnCredentials), so the front door
// evaluates each call against that role's policies as AWS does.
func (d *Daemon) sfnTasks() sfn.Tasks {
	hc, _ := d.providerClient()
	creds := sfnCredentials{d}
	cfg := aws.Config{Region: d.cfg.Region, BaseEndpoint: aws.String(functionEndpoint(d.ln.Addr())), Credentials: creds, HTTPClient: hc}
	return sfn.Tasks{
		Lambda: sfnLambda{c: lambda.NewFromConfig(cfg), creds: creds},
		Call: &sfnCaller{hc: hc, creds: creds, region: d.cfg.Region, endpoint: functionEndpoint(d.ln.Addr()),
			sns: sns.NewFromConfig(cfg), s3: s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })},
		Region: d.cfg.Region,
	}
}

// sfnSessionTTL bounds the credentials of one Task's call.
const sfnSessionTTL = 15 * time.Minute

// sfnCredentials signs a Task's call: with a session of the state
// machine's role (principal
// arn:aws:sts::<account>:assumed-role/<role>/<execution name>) when IAM is
// evaluated, else with the root credentials resource providers use. A
// role that does not exist, or whose trust policy does not let
// states.amazonaws.com assume it, yields a session that is allowed
// nothing.
type sfnCredentials struct{ d *Daemon }

// Retrieve implements aws.CredentialsProvider for the call on ctx.
func (c sfnCredentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	d := c.d
	caller, ok := sfn.CallerOf(ctx)
	if !ok || d.cfg.InsecureNoAuth || d.cfg.IAMMode() == config.IAMOff || d.iam == nil || d.issuer == nil {
		_, root := d.providerClient()
		return root.Retrieve(ctx)
	}
	if !d.iam.CanAssume(caller.RoleArn, "states.amazonaws.com") && d.cfg.IAMMode() == config.IAMEnforce {
		return aws.Credentials{}, &sfn.APIError{Code: "AccessDeniedException", Message: "Neither the global service principal " +
			"states.amazonaws.com, nor the regional one is authorized to assume the provided role " + caller.RoleArn}
	}
	session := sessionName(caller.ExecutionName)
	cr, err := d.issuer.IssueSession(auth.Grant{RoleArn: caller.RoleArn, SessionName: session}, sfnSessionTTL)
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("credentials for %s: %w", caller.RoleArn, err)
	}
	return aws.Credentials{AccessKeyID: cr.AccessKeyID, SecretAccessKey: cr.SecretAccessKey, SessionToken: cr.SessionToken,
		CanExpire: true, Expires: cr.Expiration, Source: "nimbus-states"}, nil
}

// sessionName is an STS role session name made of s: at most 64 of the
// characters [\w+=,.@-], "states" when none is left.
func sessionName(s string) string {
	b := make([]byte, 0, 64)
	for i := 0; i < len(s) && len(b) < 64; i++ {
		ch := s[i]
		if ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || strings.IndexByte("_+=,.@-", ch) >= 0 {
			b = append(b, ch)
		}
	}
	if len(b) == 0 {
		return "states"
	}
	return string(b)
}

// sfnLambda invokes functions through the Lambda API.
type sfnLambda struct {
	c     *lambda.Client
	creds aws.CredentialsProvider
}

func (l sfnLambda) Invoke(ctx context.Context, in *sfn.LambdaInput) (*sfn.LambdaOutput, error) {
	li := &lambda.InvokeInput{FunctionName: aws.String(in.Function), Payload: in.Payload}
	if in.Qualifier != "" {
		li.Qualifier = aws.String(in.Qualifier)
	}
	if in.Async {
		li.InvocationType = lambdatypes.InvocationTypeEvent
	}
	// Each call's own credentials (the SDK would cache the first role's).
	creds, err := l.creds.Retrieve(ctx)
	if err != nil {
		return nil, err
	}
	out, err := l.c.Invoke(ctx, li, func(o *lambda.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)
	})
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) {
			return nil, &sfn.APIError{Code: ae.ErrorCode(), Message: ae.ErrorMessage()}
		}
		return nil, err
	}
	res := &sfn.LambdaOutput{StatusCode: int(out.StatusCode), Payload: out.Payload, ExecutedVersion: aws.ToString(out.ExecutedVersion)}
	if out.FunctionError != nil {
		res.FunctionError = *out.FunctionError
	}
	return res, nil
}

// sfnCaller calls the services of this node a Task reaches, signed as
// the state machine's role (sfnCredentials): the JSON-protocol ones
// directly, SNS (query) and S3 (REST-XML) through their SDK clients
// (sfn_sdk.go).
type sfnCaller struct {
	hc       *http.Client
	creds    aws.CredentialsProvider
	region   string
	endpoint string
	sns      *sns.Client
	s3       *s3.Client
}

// sfnTargets are the X-Amz-Target prefix and content type of the
// JSON-protocol services a Task calls.
var sfnTargets = map[string][2]string{
	"sqs":            {"AmazonSQS.", "application/x-amz-json-1.0"},
	"events":         {"AWSEvents.", "application/x-amz-json-1.1"},
	"dynamodb":       {"DynamoDB_20120810.", "application/x-amz-json-1.0"},
	"states":         {"AWSStepFunctions.", "application/x-amz-json-1.0"},
	"kinesis":        {"Kinesis_20131202.", "application/x-amz-json-1.1"},
	"secretsmanager": {"secretsmanager.", "application/x-amz-json-1.1"},
	"ssm":            {"AmazonSSM.", "application/x-amz-json-1.1"},
	"kms":            {"TrentService.", "application/x-amz-json-1.1"},
	"logs":           {"Logs_20140328.", "application/x-amz-json-1.1"},
}

func (c *sfnCaller) Call(ctx context.Context, service, op string, body []byte) ([]byte, error) {
	switch service {
	case "sns":
		return c.callSNS(ctx, op, body)
	case "s3":
		return c.callS3(ctx, op, body)
	}
	t, ok := sfnTargets[service]
	if !ok {
		return nil, fmt.Errorf("no in-process client for %s", service)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint+"/", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-Amz-Target", t[0]+op)
	req.Header.Set("Content-Type", t[1])
	creds, err := c.creds.Retrieve(ctx)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), service, c.region, time.Now()); err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		_ = json.Unmarshal(rb, &e)
		if e.Type == "" {
			e.Type = resp.Header.Get("X-Amzn-ErrorType")
		}
		return nil, &sfn.APIError{Code: e.Type, Message: e.Message}
	}
	return rb, nil
}

// statesTargets starts executions for EventBridge rules and schedules
// whose target is a state machine (deliver.Deliverer for "states").
type statesTargets struct{ s *sfn.Service }

func (t statesTargets) Deliver(ctx context.Context, d *deliver.Delivery) error {
	_, err := t.s.Start(ctx, d.TargetArn, string(d.Body))
	if sfn.IsRefusal(err) {
		return deliver.Undeliverable("%s", err.Error())
	}
	return err
}

// putExecutionStatus puts a Standard execution's status event on the
// default event bus, as Step Functions does (source aws.states), where
// the account's rules match it.
func (d *Daemon) putExecutionStatus(ctx context.Context, executionArn, detail string) error {
	if d.events == nil {
		return nil
	}
	return d.events.PutEvent(ctx, "default", "aws.states", sfn.StatusDetailType, detail, []string{executionArn})
}

// putExecutionLogs stores an execution's log records (its machine's
// LoggingConfiguration) in the node's log store, where CloudWatch Logs'
// API reads them, and waits until they are stored.
func (d *Daemon) putExecutionLogs(ctx context.Context, group, stream string, records []sfn.LogRecord) error {
	if d.logw == nil {
		return nil
	}
	dropped := 0
	for _, r := range records {
		if !d.logw.Log(logstore.Line{Group: group, Stream: stream, Time: r.Time, Message: r.Message}) {
			dropped++
		}
	}
	if err := d.logw.Flush(ctx); err != nil {
		return err
	}
	if dropped > 0 {
		return fmt.Errorf("%d of %d log records dropped (the log writer is full)", dropped, len(records))
	}
	return nil
}

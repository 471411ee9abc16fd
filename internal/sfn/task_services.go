package sfn

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode"
)

// The optimized integrations beyond Lambda, SQS and EventBridge, and the
// AWS SDK integrations (arn:aws:states:::aws-sdk:<service>:<action>):
// each calls the node's own service API through Tasks.Call.
//
// An AWS SDK integration takes the action's request with its members
// in PascalCase, as AWS's SDK integrations do for every service, and
// answers with the API's response in PascalCase too: the services whose
// APIs name members in camelCase (sfn, cloudwatchlogs) have the names
// of the request turned to camelCase and those of the answer back (the
// keys inside a "Tags" object are user data and stay). A refusal becomes
// "<Service>.<Code>" with "Exception" appended when the code lacks it
// (DynamoDb.ConditionalCheckFailedException, S3.NoSuchKeyException), as
// AWS names the SDK's exceptions.

// sdkServices are the services the aws-sdk integration reaches: the
// name in the ARN, the name Tasks.Call knows, and the prefix of errors.
var sdkServices = map[string]struct {
	call, prefix string
	camel        bool
}{
	"dynamodb":       {"dynamodb", "DynamoDb", false},
	"sqs":            {"sqs", "Sqs", false},
	"eventbridge":    {"events", "EventBridge", false},
	"kinesis":        {"kinesis", "Kinesis", false},
	"secretsmanager": {"secretsmanager", "SecretsManager", false},
	"ssm":            {"ssm", "Ssm", false},
	"kms":            {"kms", "Kms", false},
	"sns":            {"sns", "Sns", false},
	"s3":             {"s3", "S3", false},
	"sfn":            {"states", "Sfn", true},
	"cloudwatchlogs": {"logs", "CloudWatchLogs", true},
}

// sdkS3Actions are the S3 actions the aws-sdk integration serves.
var sdkS3Actions = map[string]bool{"getObject": true, "putObject": true, "deleteObject": true, "headObject": true,
	"listObjectsV2": true, "copyObject": true}

// sdkSNSActions are the SNS actions the aws-sdk integration serves.
var sdkSNSActions = map[string]bool{"publish": true}

func sdkServiceList() string {
	names := make([]string, 0, len(sdkServices))
	for n := range sdkServices {
		names = append(names, n)
	}
	names = append(names, "lambda (invoke)")
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// sdkIntegration classifies aws-sdk:<service>:<action>.
func sdkIntegration(in integration, rest string) (integration, error) {
	svc, action, ok := strings.Cut(rest, ":")
	if svc == "lambda" && action == "invoke" {
		// Lambda's Invoke through the SDK integration: the optimized
		// call, answered as the API answers (callLambda).
		in.kind, in.rtype, in.action, in.sdkPrefix = "lambdasdk", "aws-sdk:lambda", action, "Lambda"
		return in, nil
	}
	s, known := sdkServices[svc]
	if svc == "lambda" {
		known = true // invoke only, above; the other actions are refused below
	}
	switch {
	case !ok || action == "" || !unicode.IsLower(rune(action[0])):
		return integration{}, refusal(fmt.Sprintf("The resource '%s' is not an AWS SDK integration: arn:aws:states:::aws-sdk:<service>:<action>, the action in camelCase", in.resource))
	case !known:
		return integration{}, refusal(fmt.Sprintf("Nimbus does not serve the service '%s' for the AWS SDK integration (%s); it serves %s", svc, in.resource, sdkServiceList()))
	case svc == "s3" && !sdkS3Actions[action], svc == "sns" && !sdkSNSActions[action], svc == "lambda":
		return integration{}, refusal(fmt.Sprintf("Nimbus does not support the AWS SDK integration action %s:%s (%s) yet", svc, action, in.resource))
	}
	in.kind, in.rtype, in.action = "sdk", "aws-sdk:"+svc, action
	in.sdkService, in.sdkPrefix, in.sdkCamel = s.call, s.prefix, s.camel
	return in, nil
}

func (r *run) callSDK(ctx context.Context, in integration, params any) (any, *Failure) {
	m, ok := params.(map[string]any)
	if !ok && params != nil {
		return nil, &Failure{Name: ErrRuntime, Cause: "The Parameters of " + in.resource + " must be an object"}
	}
	if m == nil {
		m = map[string]any{}
	}
	op := strings.ToUpper(in.action[:1]) + in.action[1:]
	var body any = m
	if in.sdkCamel {
		body = recase(m, unicode.ToLower)
	}
	res, f := r.callService(ctx, in.sdkService, op, in.sdkPrefix, body)
	if f != nil && !strings.HasSuffix(f.Name, "Exception") && strings.HasPrefix(f.Name, in.sdkPrefix+".") {
		f.Name += "Exception"
	}
	if f == nil && in.sdkCamel {
		res = recase(res, unicode.ToUpper)
	}
	return res, f
}

// recase changes the first letter of every member name in v (not the
// keys of a "Tags" object, which are data).
func recase(v any, to func(rune) rune) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			nk := k
			if k != "" {
				r := []rune(k)
				r[0] = to(r[0])
				nk = string(r)
			}
			if tags, ok := e.(map[string]any); ok && strings.EqualFold(k, "tags") {
				out[nk] = tags
				continue
			}
			out[nk] = recase(e, to)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = recase(e, to)
		}
		return out
	}
	return v
}

func (r *run) callSNS(ctx context.Context, params any) (any, *Failure) {
	m, ok := params.(map[string]any)
	if !ok {
		return nil, &Failure{Name: ErrRuntime, Cause: "The Parameters of arn:aws:states:::sns:publish must be an object"}
	}
	body := copyMap(m)
	stringify(body, "Message")
	return r.callService(ctx, "sns", "Publish", "SNS", body)
}

func (r *run) callDynamoDB(ctx context.Context, in integration, params any) (any, *Failure) {
	m, ok := params.(map[string]any)
	if !ok {
		return nil, &Failure{Name: ErrRuntime, Cause: "The Parameters of " + in.resource + " must be an object"}
	}
	op := strings.ToUpper(in.action[:1]) + in.action[1:]
	return r.callService(ctx, "dynamodb", op, "DynamoDB", m)
}

// callStartExecution starts another execution (request-response: the
// answer is the new execution's ARN and start date, as AWS's
// states:startExecution returns them).
func (r *run) callStartExecution(ctx context.Context, params any) (any, *Failure) {
	m, ok := params.(map[string]any)
	if !ok {
		return nil, &Failure{Name: ErrRuntime, Cause: "The Parameters of arn:aws:states:::states:startExecution must be an object"}
	}
	body := map[string]any{}
	for k, v := range m {
		switch k {
		case "StateMachineArn", "Name", "TraceHeader":
			body[strings.ToLower(k[:1])+k[1:]] = v
		case "Input":
			if _, isStr := v.(string); !isStr {
				v = encodeJSON(v)
			}
			body["input"] = v
		default:
			return nil, &Failure{Name: ErrRuntime, Cause: fmt.Sprintf("The field '%s' is not supported by arn:aws:states:::states:startExecution", k)}
		}
	}
	res, f := r.callService(ctx, "states", "StartExecution", "StepFunctions", body)
	if f != nil {
		return nil, f
	}
	out := map[string]any{}
	if rm, ok := res.(map[string]any); ok {
		out["ExecutionArn"] = rm["executionArn"]
		if sd, ok := rm["startDate"].(json.Number); ok {
			out["StartDate"] = sd
		}
	}
	return out, nil
}

func copyMap(m map[string]any) map[string]any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

package daemon

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
)

// awsService is an AWS API the front door recognises, from its service
// model's metadata (botocore's service-2.json): the SigV4 signing name,
// the protocol, and the X-Amz-Target prefix of the JSON protocols.
type awsService struct {
	// id is the model's name (boto3's client name).
	id string
	// name is the service's full name, as AWS writes it.
	name string
	// signing is the SigV4 service name of its credential scopes.
	signing  string
	protocol awsapi.Protocol
	// target is the X-Amz-Target prefix, dot included ("" for REST and
	// query services).
	target string
	// queryErrorPrefix, for a query-compatible JSON service (SQS), starts
	// the legacy error codes of x-amzn-query-error.
	queryErrorPrefix string
}

// servedServices are the AWS APIs this node serves (the route table's
// SigV4 entries); README.md lists the same.
var servedServices = []awsService{
	{id: "lambda", name: "AWS Lambda", signing: "lambda", protocol: awsapi.ProtocolRESTJSON},
	{id: "logs", name: "Amazon CloudWatch Logs", signing: "logs", protocol: awsapi.ProtocolJSON11, target: "Logs_20140328."},
	{id: "sqs", name: "Amazon Simple Queue Service", signing: "sqs", protocol: awsapi.ProtocolJSON10, target: "AmazonSQS.",
		queryErrorPrefix: "AWS.SimpleQueueService."},
	{id: "events", name: "Amazon EventBridge", signing: "events", protocol: awsapi.ProtocolJSON11, target: "AWSEvents."},
	{id: "kms", name: "AWS Key Management Service", signing: "kms", protocol: awsapi.ProtocolJSON11, target: "TrentService."},
	{id: "dynamodb", name: "Amazon DynamoDB", signing: "dynamodb", protocol: awsapi.ProtocolJSON10, target: "DynamoDB_20120810."},
	{id: "dynamodbstreams", name: "Amazon DynamoDB Streams", signing: "dynamodb", protocol: awsapi.ProtocolJSON10, target: "DynamoDBStreams_20120810."},
	{id: "kinesis", name: "Amazon Kinesis", signing: "kinesis", protocol: awsapi.ProtocolJSON11, target: "Kinesis_20131202."},
	{id: "stepfunctions", name: "AWS Step Functions", signing: "states", protocol: awsapi.ProtocolJSON10, target: "AWSStepFunctions."},
	{id: "scheduler", name: "Amazon EventBridge Scheduler", signing: "scheduler", protocol: awsapi.ProtocolRESTJSON},
	{id: "pipes", name: "Amazon EventBridge Pipes", signing: "pipes", protocol: awsapi.ProtocolRESTJSON},
	{id: "sns", name: "Amazon Simple Notification Service", signing: "sns", protocol: awsapi.ProtocolQuery},
	{id: "secretsmanager", name: "AWS Secrets Manager", signing: "secretsmanager", protocol: awsapi.ProtocolJSON11, target: "secretsmanager."},
	{id: "ssm", name: "AWS Systems Manager (Parameter Store)", signing: "ssm", protocol: awsapi.ProtocolJSON11, target: "AmazonSSM."},
	{id: "apigateway", name: "Amazon API Gateway (v1 and v2 management)", signing: "apigateway", protocol: awsapi.ProtocolRESTJSON},
	{id: "cloudformation", name: "AWS CloudFormation", signing: "cloudformation", protocol: awsapi.ProtocolQuery},
	{id: "cloudwatch", name: "Amazon CloudWatch (metrics, alarms, dashboards)", signing: "monitoring", protocol: awsapi.ProtocolRPCv2CBOR,
		target: "GraniteServiceVersion20100801."},
	{id: "s3", name: "Amazon Simple Storage Service", signing: "s3", protocol: awsapi.ProtocolRESTXML},
	{id: "iam", name: "AWS Identity and Access Management", signing: "iam", protocol: awsapi.ProtocolQuery},
	{id: "sts", name: "AWS Security Token Service", signing: "sts", protocol: awsapi.ProtocolQuery},
}

// unservedServices are AWS APIs Nimbus does not serve (yet): a request
// for one (by X-Amz-Target, or by its credential scope) is answered in the
// service's own protocol with an error that names it, instead of a
// signature error about another service.
var unservedServices = []awsService{
	{id: "firehose", name: "Amazon Data Firehose", signing: "firehose", protocol: awsapi.ProtocolJSON11, target: "Firehose_20150804."},
	{id: "xray", name: "AWS X-Ray", signing: "xray", protocol: awsapi.ProtocolRESTJSON},
	{id: "cognito-idp", name: "Amazon Cognito user pools", signing: "cognito-idp", protocol: awsapi.ProtocolJSON11, target: "AWSCognitoIdentityProviderService."},
	{id: "appsync", name: "AWS AppSync", signing: "appsync", protocol: awsapi.ProtocolRESTJSON},
	{id: "ecr", name: "Amazon Elastic Container Registry", signing: "ecr", protocol: awsapi.ProtocolJSON11, target: "AmazonEC2ContainerRegistry_V20150921."},
	{id: "ses", name: "Amazon Simple Email Service", signing: "ses", protocol: awsapi.ProtocolRESTJSON},
	{id: "athena", name: "Amazon Athena", signing: "athena", protocol: awsapi.ProtocolJSON11, target: "AmazonAthena."},
}

// unservedByTarget finds the unserved service an X-Amz-Target names.
func unservedByTarget(target string) (awsService, bool) {
	if target == "" {
		return awsService{}, false
	}
	for _, s := range unservedServices {
		if s.target != "" && strings.HasPrefix(target, s.target) {
			return s, true
		}
	}
	return awsService{}, false
}

// unservedByScope finds the unserved service a credential scope names
// (the first of the services sharing the name: DynamoDB for "dynamodb").
func unservedByScope(r *http.Request, f *reqFacts) (awsService, bool) {
	svc, ok := f.scope(r)
	if !ok {
		return awsService{}, false
	}
	for _, s := range servedServices {
		if s.signing == svc {
			return awsService{}, false
		}
	}
	if svc == "execute-api" {
		// IAM-signed calls of execute-api APIs route by host or /_aws/
		// (the @connections API of a WebSocket API too); a bare
		// /@connections path names no API.
		if !strings.HasPrefix(r.URL.Path, "/@connections") {
			return awsService{}, false
		}
		return awsService{id: "apigatewaymanagementapi", name: "Amazon API Gateway Management API (@connections)",
			signing: "execute-api", protocol: awsapi.ProtocolRESTJSON}, true
	}
	for _, s := range unservedServices {
		if s.signing == svc {
			return s, true
		}
	}
	// A service the table does not know at all: answer in the protocol
	// the request's shape suggests.
	s := awsService{id: svc, name: "the AWS service signed as " + strconvQuote(svc), signing: svc, protocol: awsapi.ProtocolRESTJSON}
	switch {
	case r.Header.Get("X-Amz-Target") != "":
		s.protocol = awsapi.ProtocolJSON11
	case strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") || r.URL.Query().Has("Action"):
		s.protocol = awsapi.ProtocolQuery
	}
	return s, true
}

func strconvQuote(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	return fmt.Sprintf("%q", s)
}

// isUnserved recognises requests for services Nimbus does not serve.
func isUnserved(r *http.Request, f *reqFacts) bool {
	if _, ok := unservedByTarget(r.Header.Get("X-Amz-Target")); ok {
		return true
	}
	_, ok := unservedByScope(r, f)
	return ok
}

// servedNames lists the served services for messages.
func servedNames() string {
	names := make([]string, len(servedServices))
	for i, s := range servedServices {
		names[i] = s.name
	}
	return strings.Join(names, ", ")
}

// unservedHandler answers a request for a service Nimbus does not serve,
// in that service's protocol: 501 (which SDKs do not retry), an error
// code the protocol's clients know, and a message naming the service.
// It reads nothing but the request's headers.
func unservedHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := unservedByTarget(r.Header.Get("X-Amz-Target"))
		if !ok {
			s, _ = unservedByScope(r, &reqFacts{})
		}
		code := "NotImplemented"
		e := awsapi.ProtocolError{Error: &awsapi.Error{Status: http.StatusNotImplemented, Code: code, Type: "User",
			Message: fmt.Sprintf("Nimbus does not serve %s (%s) yet. This node serves: %s.", s.name, s.signing, servedNames())}}
		if s.queryErrorPrefix != "" {
			e.QueryCode = s.queryErrorPrefix + "UnsupportedOperation"
		}
		awsapi.WriteProtocolError(w, protocolFor(s, r), e)
	})
}

// protocolFor is the protocol to answer r of s in: services whose clients
// moved between protocols (SQS from query to JSON, CloudWatch from query
// to JSON to CBOR) are answered in the one the request was sent in.
func protocolFor(s awsService, r *http.Request) awsapi.Protocol {
	switch {
	case strings.EqualFold(r.Header.Get("Smithy-Protocol"), "rpc-v2-cbor"):
		return awsapi.ProtocolRPCv2CBOR
	case s.protocol == awsapi.ProtocolRPCv2CBOR && r.Header.Get("X-Amz-Target") != "":
		return awsapi.ProtocolJSON10
	case (s.queryErrorPrefix != "" || s.protocol == awsapi.ProtocolRPCv2CBOR) && r.Header.Get("X-Amz-Target") == "":
		return awsapi.ProtocolQuery
	}
	return s.protocol
}

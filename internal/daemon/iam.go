package daemon

import "strings"

// The IAM action and resource of each operation, for the policy
// evaluation the access-control issue adds (nothing enforces them yet).
// Most actions are "<prefix>:<operation>"; iamRenames lists the
// operations AWS's Service Authorization Reference authorises under
// another action, and iamPrefixes the services whose action prefix is not
// their model id. A new service adds its renames here, and its resource
// shapes to iamResource.

// iamPrefixes maps a model id to its IAM action prefix where they differ.
var iamPrefixes = map[string]string{
	"cloudwatch":              "cloudwatch", // signs as monitoring
	"dynamodbstreams":         "dynamodb",
	"stepfunctions":           "states",
	"apigatewayv2":            "apigateway",
	"apigatewaymanagementapi": "execute-api",
}

// iamRenames maps "<model id>.<operation>" to the action that authorises
// it, where that is not "<prefix>:<operation>".
var iamRenames = map[string]string{
	// Lambda.
	"lambda.Invoke":                   "lambda:InvokeFunction",
	"lambda.InvokeWithResponseStream": "lambda:InvokeFunction",
	"lambda.InvokeAsync":              "lambda:InvokeFunction",
	"lambda.GetLayerVersionByArn":     "lambda:GetLayerVersion",
	"lambda.GetCostReport":            "", // Nimbus's own: no IAM action
	"lambda.GetCode":                  "", // its own HMAC link
	// S3.
	"s3.HeadObject":                         "s3:GetObject",
	"s3.HeadBucket":                         "s3:ListBucket",
	"s3.ListObjects":                        "s3:ListBucket",
	"s3.ListObjectsV2":                      "s3:ListBucket",
	"s3.ListObjectVersions":                 "s3:ListBucketVersions",
	"s3.ListBuckets":                        "s3:ListAllMyBuckets",
	"s3.CopyObject":                         "s3:PutObject",
	"s3.CreateMultipartUpload":              "s3:PutObject",
	"s3.UploadPart":                         "s3:PutObject",
	"s3.UploadPartCopy":                     "s3:PutObject",
	"s3.CompleteMultipartUpload":            "s3:PutObject",
	"s3.ListParts":                          "s3:ListMultipartUploadParts",
	"s3.ListMultipartUploads":               "s3:ListBucketMultipartUploads",
	"s3.DeleteObjects":                      "s3:DeleteObject",
	"s3.GetBucketNotificationConfiguration": "s3:GetBucketNotification",
	"s3.PutBucketNotificationConfiguration": "s3:PutBucketNotification",
	"s3.DeleteBucketTagging":                "s3:PutBucketTagging",
	"s3.GetPublicAccessBlock":               "s3:GetBucketPublicAccessBlock",
	"s3.PutPublicAccessBlock":               "s3:PutBucketPublicAccessBlock",
	"s3.DeletePublicAccessBlock":            "s3:PutBucketPublicAccessBlock",
	// SQS batches authorise as their single forms.
	"sqs.SendMessageBatch":             "sqs:SendMessage",
	"sqs.DeleteMessageBatch":           "sqs:DeleteMessage",
	"sqs.ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
	// DynamoDB's transactions authorise each of their items under the
	// item's own action (dynamodb:PutItem, UpdateItem, DeleteItem,
	// ConditionCheckItem, GetItem), and PartiQL each statement under
	// dynamodb:PartiQLSelect, PartiQLInsert, PartiQLUpdate or
	// PartiQLDelete, on the statement's table (or index): no one action
	// covers the request; the front door checks each (tableOperation).
	"dynamodb.TransactWriteItems":    "",
	"dynamodb.TransactGetItems":      "",
	"dynamodb.ExecuteStatement":      "",
	"dynamodb.BatchExecuteStatement": "",
	"dynamodb.ExecuteTransaction":    "",
	// SNS: a batch authorises as its single form.
	"sns.PublishBatch": "sns:Publish",
	// API Gateway's data plane.
	"execute-api.Invoke":                       "execute-api:Invoke",
	"apigatewaymanagementapi.PostToConnection": "execute-api:ManageConnections",
	"apigatewaymanagementapi.GetConnection":    "execute-api:ManageConnections",
	"apigatewaymanagementapi.DeleteConnection": "execute-api:ManageConnections",
}

// iamAction is the IAM action that authorises operation op of the service
// whose model id is service ("" for an operation no action covers).
// API Gateway's management APIs authorise by HTTP method
// ("apigateway:GET"): pass the method as op.
func iamAction(service, op string) string {
	if a, ok := iamRenames[service+"."+op]; ok {
		return a
	}
	prefix := service
	if p, ok := iamPrefixes[service]; ok {
		prefix = p
	}
	if prefix == "apigateway" {
		return "apigateway:" + strings.ToUpper(op)
	}
	return prefix + ":" + op
}

// iamResource is the ARN an action applies to, from the request's
// parameters, for the resource shapes of the served services and of the
// pinned mappings: "*" only where AWS's reference lists no resource type
// for the action (ListFunctions, ListQueues, ListAllMyBuckets, ...).
func iamResource(action, region, account string, p map[string]string) string {
	switch action {
	case "lambda:ListFunctions", "lambda:ListLayers", "lambda:GetAccountSettings", "lambda:ListEventSourceMappings",
		"sqs:ListQueues", "s3:ListAllMyBuckets", "logs:DescribeLogGroups", "cloudformation:ListStacks",
		"kms:CreateKey", "kms:ListKeys", "kms:ListAliases", "kms:GenerateRandom",
		"dynamodb:ListTables", "dynamodb:ListStreams", "dynamodb:DescribeLimits", "dynamodb:DescribeEndpoints",
		"kinesis:ListStreams",
		"states:ListStateMachines", "states:ValidateStateMachineDefinition", "states:SendTaskSuccess",
		"states:SendTaskFailure", "states:SendTaskHeartbeat",
		"events:ListEventBuses", "events:ListRules", "events:TestEventPattern", "events:ListArchives", "events:ListReplays",
		"scheduler:ListSchedules", "scheduler:ListScheduleGroups", "pipes:ListPipes",
		// CloudWatch's metric operations and listings have no resource type.
		"cloudwatch:PutMetricData", "cloudwatch:GetMetricData", "cloudwatch:GetMetricStatistics", "cloudwatch:ListMetrics",
		"cloudwatch:DescribeAlarms", "cloudwatch:DescribeAlarmsForMetric", "cloudwatch:DescribeAlarmHistory",
		"cloudwatch:ListDashboards",
		"sns:ListTopics", "sns:ListSubscriptions",
		"secretsmanager:ListSecrets", "secretsmanager:GetRandomPassword", "secretsmanager:BatchGetSecretValue",
		"ssm:DescribeParameters":
		return "*"
	case "s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:GetObjectTagging", "s3:PutObjectTagging", "s3:DeleteObjectTagging",
		"s3:GetObjectVersion", "s3:DeleteObjectVersion", "s3:GetObjectVersionTagging", "s3:PutObjectVersionTagging",
		"s3:DeleteObjectVersionTagging", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts",
		"s3:GetObjectAcl", "s3:PutObjectAcl", "s3:GetObjectVersionAcl", "s3:PutObjectVersionAcl",
		"s3:GetObjectAttributes", "s3:GetObjectVersionAttributes":
		return "arn:aws:s3:::" + p["bucket"] + "/" + p["key"]
	case "execute-api:Invoke":
		return "arn:aws:execute-api:" + region + ":" + account + ":" + p["api"] + "/" + p["stage"] + "/" + p["method"] + p["path"]
	case "execute-api:ManageConnections":
		return "arn:aws:execute-api:" + region + ":" + account + ":" + p["api"] + "/" + p["stage"] + "/POST/@connections/" + p["connection"]
	}
	service, _, _ := strings.Cut(action, ":")
	switch {
	case service == "lambda" && p["layer"] != "":
		arn := "arn:aws:lambda:" + region + ":" + account + ":layer:" + p["layer"]
		if v := p["version"]; v != "" {
			arn += ":" + v
		}
		return arn
	case service == "lambda":
		arn := "arn:aws:lambda:" + region + ":" + account + ":function:" + p["function"]
		if q := p["qualifier"]; q != "" {
			arn += ":" + q
		}
		return arn
	case service == "s3":
		return "arn:aws:s3:::" + p["bucket"]
	case service == "sqs":
		return "arn:aws:sqs:" + region + ":" + account + ":" + p["queue"]
	case service == "sns":
		// Subscription operations (Unsubscribe, Get/SetSubscriptionAttributes,
		// ConfirmSubscription) authorise on the subscription's topic: pass
		// the topic's name from the subscription ARN.
		return "arn:aws:sns:" + region + ":" + account + ":" + p["topic"]
	case service == "logs":
		return "arn:aws:logs:" + region + ":" + account + ":log-group:" + p["logGroup"] + ":*"
	case service == "dynamodb" && p["stream"] != "":
		return "arn:aws:dynamodb:" + region + ":" + account + ":table/" + p["table"] + "/stream/" + p["stream"]
	case service == "kinesis":
		return "arn:aws:kinesis:" + region + ":" + account + ":stream/" + p["stream"]
	case service == "dynamodb":
		return "arn:aws:dynamodb:" + region + ":" + account + ":table/" + p["table"]
	case service == "kms" && p["alias"] != "":
		// CreateAlias, UpdateAlias and DeleteAlias authorise on the alias
		// and on its key (p["key"]) both.
		return "arn:aws:kms:" + region + ":" + account + ":" + p["alias"]
	case service == "kms":
		return "arn:aws:kms:" + region + ":" + account + ":key/" + p["key"]
	case service == "states" && p["execution"] != "":
		// DescribeExecution, StopExecution, GetExecutionHistory,
		// DescribeStateMachineForExecution.
		return "arn:aws:states:" + region + ":" + account + ":execution:" + p["stateMachine"] + ":" + p["execution"]
	case service == "states":
		return "arn:aws:states:" + region + ":" + account + ":stateMachine:" + p["stateMachine"]
	case service == "ssm":
		// GetParametersByPath authorises on the path as a parameter ARN.
		n := p["parameter"]
		if !strings.HasPrefix(n, "/") {
			n = "/" + n
		}
		return "arn:aws:ssm:" + region + ":" + account + ":parameter" + n
	case service == "secretsmanager":
		return "arn:aws:secretsmanager:" + region + ":" + account + ":secret:" + p["secret"]
	case service == "cloudformation":
		return "arn:aws:cloudformation:" + region + ":" + account + ":stack/" + p["stack"] + "/*"
	case service == "cloudwatch" && p["dashboard"] != "":
		return "arn:aws:cloudwatch::" + account + ":dashboard/" + p["dashboard"]
	case service == "cloudwatch":
		return "arn:aws:cloudwatch:" + region + ":" + account + ":alarm:" + p["alarm"]
	case service == "apigateway":
		return "arn:aws:apigateway:" + region + "::" + p["path"]
	case service == "events" && p["rule"] != "":
		// A rule on the default bus is rule/<name>; on another rule/<bus>/<name>.
		if b := p["bus"]; b != "" && b != "default" {
			return "arn:aws:events:" + region + ":" + account + ":rule/" + b + "/" + p["rule"]
		}
		return "arn:aws:events:" + region + ":" + account + ":rule/" + p["rule"]
	case service == "events" && p["archive"] != "":
		return "arn:aws:events:" + region + ":" + account + ":archive/" + p["archive"]
	case service == "events" && p["replay"] != "":
		return "arn:aws:events:" + region + ":" + account + ":replay/" + p["replay"]
	case service == "events":
		b := p["bus"]
		if b == "" {
			b = "default"
		}
		return "arn:aws:events:" + region + ":" + account + ":event-bus/" + b
	case service == "scheduler" && p["schedule"] != "":
		g := p["group"]
		if g == "" {
			g = "default"
		}
		return "arn:aws:scheduler:" + region + ":" + account + ":schedule/" + g + "/" + p["schedule"]
	case service == "scheduler":
		return "arn:aws:scheduler:" + region + ":" + account + ":schedule-group/" + p["group"]
	case service == "pipes":
		return "arn:aws:pipes:" + region + ":" + account + ":pipe/" + p["pipe"]
	}
	return ""
}

package daemon

import "testing"

// TestIAMMappings pins the operations whose IAM action is not a rename of
// the operation (AWS's Service Authorization Reference), and their
// resources.
func TestIAMMappings(t *testing.T) {
	const region, account = "us-east-1", "000000000000"
	for _, c := range []struct {
		service, op string
		params      map[string]string
		action      string
		resource    string
	}{
		{"events", "PutRule", map[string]string{"bus": "app", "rule": "r"}, "events:PutRule", "arn:aws:events:us-east-1:000000000000:rule/app/r"},
		{"events", "PutTargets", map[string]string{"rule": "r"}, "events:PutTargets", "arn:aws:events:us-east-1:000000000000:rule/r"},
		{"events", "PutEvents", map[string]string{}, "events:PutEvents", "arn:aws:events:us-east-1:000000000000:event-bus/default"},
		{"events", "ListRules", map[string]string{}, "events:ListRules", "*"},
		{"scheduler", "CreateSchedule", map[string]string{"schedule": "s"}, "scheduler:CreateSchedule",
			"arn:aws:scheduler:us-east-1:000000000000:schedule/default/s"},
		{"scheduler", "GetScheduleGroup", map[string]string{"group": "g"}, "scheduler:GetScheduleGroup",
			"arn:aws:scheduler:us-east-1:000000000000:schedule-group/g"},
		{"scheduler", "ListSchedules", map[string]string{}, "scheduler:ListSchedules", "*"},
		{"pipes", "CreatePipe", map[string]string{"pipe": "p"}, "pipes:CreatePipe", "arn:aws:pipes:us-east-1:000000000000:pipe/p"},
		{"pipes", "ListPipes", map[string]string{}, "pipes:ListPipes", "*"},
		{"lambda", "Invoke", map[string]string{"function": "f", "qualifier": "live"}, "lambda:InvokeFunction",
			"arn:aws:lambda:us-east-1:000000000000:function:f:live"},
		{"lambda", "InvokeWithResponseStream", map[string]string{"function": "f"}, "lambda:InvokeFunction",
			"arn:aws:lambda:us-east-1:000000000000:function:f"},
		{"lambda", "GetLayerVersionByArn", map[string]string{"layer": "l", "version": "3"}, "lambda:GetLayerVersion",
			"arn:aws:lambda:us-east-1:000000000000:layer:l:3"},
		{"lambda", "CreateFunction", map[string]string{"function": "f"}, "lambda:CreateFunction",
			"arn:aws:lambda:us-east-1:000000000000:function:f"},
		{"lambda", "ListFunctions", nil, "lambda:ListFunctions", "*"},
		{"s3", "HeadObject", map[string]string{"bucket": "b", "key": "k/x"}, "s3:GetObject", "arn:aws:s3:::b/k/x"},
		{"s3", "ListObjectsV2", map[string]string{"bucket": "b"}, "s3:ListBucket", "arn:aws:s3:::b"},
		{"s3", "ListBuckets", nil, "s3:ListAllMyBuckets", "*"},
		{"s3", "DeleteBucketTagging", map[string]string{"bucket": "b"}, "s3:PutBucketTagging", "arn:aws:s3:::b"},
		{"s3", "GetPublicAccessBlock", map[string]string{"bucket": "b"}, "s3:GetBucketPublicAccessBlock", "arn:aws:s3:::b"},
		{"s3", "DeletePublicAccessBlock", map[string]string{"bucket": "b"}, "s3:PutBucketPublicAccessBlock", "arn:aws:s3:::b"},
		{"s3", "ListParts", map[string]string{"bucket": "b", "key": "k"}, "s3:ListMultipartUploadParts", "arn:aws:s3:::b/k"},
		{"s3", "AbortMultipartUpload", map[string]string{"bucket": "b", "key": "k"}, "s3:AbortMultipartUpload", "arn:aws:s3:::b/k"},
		// A version's actions apply to the object, not the bucket: a policy
		// on the bucket's ARN alone must not reach its objects' versions.
		{"s3", "GetObjectVersion", map[string]string{"bucket": "b", "key": "k"}, "s3:GetObjectVersion", "arn:aws:s3:::b/k"},
		{"s3", "DeleteObjectVersion", map[string]string{"bucket": "b", "key": "k"}, "s3:DeleteObjectVersion", "arn:aws:s3:::b/k"},
		{"s3", "CreateBucket", map[string]string{"bucket": "b"}, "s3:CreateBucket", "arn:aws:s3:::b"},
		{"dynamodbstreams", "GetRecords", map[string]string{"table": "t", "stream": "2026-01-01T00:00:00.000"}, "dynamodb:GetRecords",
			"arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/2026-01-01T00:00:00.000"},
		{"dynamodb", "PutItem", map[string]string{"table": "orders"}, "dynamodb:PutItem", "arn:aws:dynamodb:us-east-1:000000000000:table/orders"},
		{"dynamodb", "ListTables", nil, "dynamodb:ListTables", "*"},
		{"dynamodb", "TransactWriteItems", nil, "", ""},
		{"execute-api", "Invoke", map[string]string{"api": "a1b2c3", "stage": "prod", "method": "GET", "path": "/items/1"},
			"execute-api:Invoke", "arn:aws:execute-api:us-east-1:000000000000:a1b2c3/prod/GET/items/1"},
		{"apigatewaymanagementapi", "PostToConnection", map[string]string{"api": "a1b2c3", "stage": "prod", "connection": "c1"},
			"execute-api:ManageConnections", "arn:aws:execute-api:us-east-1:000000000000:a1b2c3/prod/POST/@connections/c1"},
		{"sqs", "SendMessageBatch", map[string]string{"queue": "q"}, "sqs:SendMessage", "arn:aws:sqs:us-east-1:000000000000:q"},
		{"kms", "Decrypt", map[string]string{"key": "1234abcd-12ab-34cd-56ef-1234567890ab"}, "kms:Decrypt",
			"arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab"},
		{"kms", "CreateAlias", map[string]string{"alias": "alias/app"}, "kms:CreateAlias", "arn:aws:kms:us-east-1:000000000000:alias/app"},
		{"kms", "ListKeys", nil, "kms:ListKeys", "*"},
		{"stepfunctions", "StartExecution", map[string]string{"stateMachine": "m"}, "states:StartExecution",
			"arn:aws:states:us-east-1:000000000000:stateMachine:m"},
		{"stepfunctions", "GetExecutionHistory", map[string]string{"stateMachine": "m", "execution": "e1"}, "states:GetExecutionHistory",
			"arn:aws:states:us-east-1:000000000000:execution:m:e1"},
		{"stepfunctions", "SendTaskSuccess", nil, "states:SendTaskSuccess", "*"},
		{"stepfunctions", "ListStateMachines", nil, "states:ListStateMachines", "*"},
		{"cloudwatch", "PutMetricData", nil, "cloudwatch:PutMetricData", "*"},
		{"cloudwatch", "GetMetricData", nil, "cloudwatch:GetMetricData", "*"},
		{"cloudwatch", "PutMetricAlarm", map[string]string{"alarm": "high-errors"}, "cloudwatch:PutMetricAlarm",
			"arn:aws:cloudwatch:us-east-1:000000000000:alarm:high-errors"},
		{"cloudwatch", "SetAlarmState", map[string]string{"alarm": "a"}, "cloudwatch:SetAlarmState",
			"arn:aws:cloudwatch:us-east-1:000000000000:alarm:a"},
		{"cloudwatch", "PutDashboard", map[string]string{"dashboard": "ops"}, "cloudwatch:PutDashboard",
			"arn:aws:cloudwatch::000000000000:dashboard/ops"},
		{"sns", "PublishBatch", map[string]string{"topic": "t.fifo"}, "sns:Publish", "arn:aws:sns:us-east-1:000000000000:t.fifo"},
		{"sns", "Unsubscribe", map[string]string{"topic": "t"}, "sns:Unsubscribe", "arn:aws:sns:us-east-1:000000000000:t"},
		{"sns", "ListTopics", nil, "sns:ListTopics", "*"},
		{"sns", "ListSubscriptions", nil, "sns:ListSubscriptions", "*"},
		{"secretsmanager", "GetSecretValue", map[string]string{"secret": "prod/db-AbCdEf"}, "secretsmanager:GetSecretValue",
			"arn:aws:secretsmanager:us-east-1:000000000000:secret:prod/db-AbCdEf"},
		{"secretsmanager", "ListSecrets", nil, "secretsmanager:ListSecrets", "*"},
		{"ssm", "GetParameter", map[string]string{"parameter": "/app/db/host"}, "ssm:GetParameter",
			"arn:aws:ssm:us-east-1:000000000000:parameter/app/db/host"},
		{"ssm", "GetParameter", map[string]string{"parameter": "top"}, "ssm:GetParameter", "arn:aws:ssm:us-east-1:000000000000:parameter/top"},
		{"cloudwatch", "PutMetricData", nil, "cloudwatch:PutMetricData", ""},
		{"apigateway", "get", map[string]string{"path": "/restapis/a1"}, "apigateway:GET", "arn:aws:apigateway:us-east-1::/restapis/a1"},
	} {
		a := iamAction(c.service, c.op)
		if a != c.action {
			t.Errorf("%s.%s: action %q, want %q", c.service, c.op, a, c.action)
			continue
		}
		if c.resource == "" {
			continue
		}
		if r := iamResource(a, region, account, c.params); r != c.resource {
			t.Errorf("%s.%s: resource %q, want %q", c.service, c.op, r, c.resource)
		}
	}
}

package daemon

import (
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	awssns "github.com/aws/aws-sdk-go-v2/service/sns"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// TestStepFunctionsServiceIntegrations: one JSONata workflow on a real
// node writes, updates and reads a DynamoDB item through the optimized
// integrations, publishes to an SNS topic whose SQS subscriber receives
// the message, puts and gets an S3 object and lists the bucket through
// aws-sdk:s3, catches DynamoDB's refusal as
// DynamoDb.ResourceNotFoundException through aws-sdk:dynamodb, and
// starts a child execution that runs to its end. Its status events
// reach a rule on the default bus, and its history events its log group.
func TestStepFunctionsServiceIntegrations(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	ctx := t.Context()
	cfg := n.awsConfig()
	ddb := dynamodb.NewFromConfig(cfg)
	if _, err := ddb.CreateTable(ctx, &dynamodb.CreateTableInput{TableName: aws.String("orders"), BillingMode: ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: ddbtypes.KeyTypeHash}}}); err != nil {
		t.Fatal(err)
	}
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("receipts")}); err != nil {
		t.Fatal(err)
	}
	sn := awssns.NewFromConfig(cfg)
	topic, err := sn.CreateTopic(ctx, &awssns.CreateTopicInput{Name: aws.String("shipped")})
	if err != nil {
		t.Fatal(err)
	}
	q := awssqs.NewFromConfig(cfg)
	qu, err := q.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String("shipping")})
	if err != nil {
		t.Fatal(err)
	}
	qa, err := q.GetQueueAttributes(ctx, &awssqs.GetQueueAttributesInput{QueueUrl: qu.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{"QueueArn"}})
	if err != nil {
		t.Fatal(err)
	}
	// SNS delivers as sns.amazonaws.com: the queue's policy allows the topic.
	allowService(t, n, *qu.QueueUrl, qa.Attributes["QueueArn"], "sns.amazonaws.com", *topic.TopicArn)
	if _, err := sn.Subscribe(ctx, &awssns.SubscribeInput{TopicArn: topic.TopicArn, Protocol: aws.String("sqs"), Endpoint: aws.String(qa.Attributes["QueueArn"]),
		Attributes: map[string]string{"RawMessageDelivery": "true"}}); err != nil {
		t.Fatal(err)
	}
	c := awssfn.NewFromConfig(cfg)
	// The Tasks call as the machine's role, which allows what they do.
	role := createServiceRole(t, n, "integrations-role", "states.amazonaws.com", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
	  "Action":["dynamodb:PutItem","dynamodb:UpdateItem","dynamodb:GetItem","sns:Publish","s3:PutObject","s3:GetObject","s3:ListBucket",
	    "states:StartExecution","logs:CreateLogGroup","logs:DescribeLogGroups"],"Resource":"*"}]}`)
	child, err := c.CreateStateMachine(ctx, &awssfn.CreateStateMachineInput{Name: aws.String("child"), RoleArn: aws.String(role),
		Definition: aws.String(`{"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "child done", "End": true}}}`)})
	if err != nil {
		t.Fatal(err)
	}
	def := `{"QueryLanguage": "JSONata", "StartAt": "Put", "States": {
	  "Put": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem",
	    "Arguments": {"TableName": "orders", "Item": {"id": {"S": "{% $states.input.id %}"}, "n": {"N": "1"}}}, "Assign": {"id": "{% $states.input.id %}"}, "Next": "Update"},
	  "Update": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:updateItem",
	    "Arguments": {"TableName": "orders", "Key": {"id": {"S": "{% $id %}"}}, "UpdateExpression": "SET n = n + :one",
	      "ExpressionAttributeValues": {":one": {"N": "1"}}, "ReturnValues": "UPDATED_NEW"},
	    "Next": "Get"},
	  "Get": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:getItem",
	    "Arguments": {"TableName": "orders", "Key": {"id": {"S": "{% $id %}"}}}, "Assign": {"n": "{% $states.result.Item.n.N %}"}, "Next": "Publish"},
	  "Publish": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish",
	    "Arguments": {"TopicArn": "` + *topic.TopicArn + `", "Message": {"order": "{% $id %}", "n": "{% $n %}"}},
	    "Assign": {"messageId": "{% $states.result.MessageId %}"}, "Next": "PutObject"},
	  "PutObject": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:putObject",
	    "Arguments": {"Bucket": "receipts", "Key": "{% $id & '.txt' %}", "Body": "{% 'order ' & $id %}"}, "Next": "GetObject"},
	  "GetObject": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
	    "Arguments": {"Bucket": "receipts", "Key": "{% $id & '.txt' %}"}, "Assign": {"body": "{% $states.result.Body %}"}, "Next": "List"},
	  "List": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:listObjectsV2",
	    "Arguments": {"Bucket": "receipts"}, "Assign": {"keys": "{% $states.result.Contents.Key %}"}, "Next": "Missing"},
	  "Missing": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:dynamodb:getItem",
	    "Arguments": {"TableName": "nope", "Key": {"id": {"S": "x"}}},
	    "Catch": [{"ErrorEquals": ["DynamoDb.ResourceNotFoundException"], "Assign": {"caught": "{% $states.errorOutput.Error %}"}, "Next": "LogGroup"}],
	    "Next": "LogGroup"},
	  "LogGroup": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:cloudwatchlogs:createLogGroup",
	    "Arguments": {"LogGroupName": "{% '/sfn/' & $id %}"}, "Next": "LogGroups"},
	  "LogGroups": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:cloudwatchlogs:describeLogGroups",
	    "Arguments": {"LogGroupNamePrefix": "/sfn/"}, "Assign": {"groups": "{% $states.result.LogGroups.LogGroupName %}"}, "Next": "Child"},
	  "Child": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution",
	    "Arguments": {"StateMachineArn": "` + *child.StateMachineArn + `", "Input": {"from": "{% $id %}"}},
	    "Output": {"n": "{% $n %}", "body": "{% $body %}", "keys": "{% $keys %}", "caught": "{% $caught %}", "groups": "{% $groups %}", "hasMessage": "{% $exists($messageId) %}",
	      "child": "{% $states.result.ExecutionArn %}"}, "End": true}}}`
	// Its executions log to a log group (the role may describe it).
	cwl := cloudwatchlogs.NewFromConfig(cfg)
	logGroup := "/aws/vendedlogs/states/integrations"
	if _, err := cwl.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(logGroup)}); err != nil {
		t.Fatal(err)
	}
	m, err := c.CreateStateMachine(ctx, &awssfn.CreateStateMachineInput{Name: aws.String("integrations"), Definition: aws.String(def), RoleArn: aws.String(role),
		LoggingConfiguration: &sfntypes.LoggingConfiguration{Level: sfntypes.LogLevelAll, IncludeExecutionData: true,
			Destinations: []sfntypes.LogDestination{{CloudWatchLogsLogGroup: &sfntypes.CloudWatchLogsLogGroup{
				LogGroupArn: aws.String("arn:aws:logs:" + n.d.cfg.Region + ":" + n.d.cfg.AccountID + ":log-group:" + logGroup + ":*")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	// A rule on the default bus hears the machine's executions succeed.
	eb := eventbridge.NewFromConfig(cfg)
	su, err := q.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String("sfn-status")})
	if err != nil {
		t.Fatal(err)
	}
	statusQueue := "arn:aws:sqs:" + n.d.cfg.Region + ":" + n.d.cfg.AccountID + ":sfn-status"
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("sfn-status"), EventPattern: aws.String(`{"source": ["aws.states"],
	  "detail-type": ["Step Functions Execution Status Change"], "detail": {"status": ["SUCCEEDED"], "stateMachineArn": ["` + *m.StateMachineArn + `"]}}`)}); err != nil {
		t.Fatal(err)
	}
	allowService(t, n, *su.QueueUrl, statusQueue, "events.amazonaws.com", "arn:aws:events:"+n.d.cfg.Region+":"+n.d.cfg.AccountID+":rule/sfn-status")
	if _, err := eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("sfn-status"),
		Targets: []ebtypes.Target{{Id: aws.String("q"), Arn: aws.String(statusQueue)}}}); err != nil {
		t.Fatal(err)
	}
	st, err := c.StartExecution(ctx, &awssfn.StartExecutionInput{StateMachineArn: m.StateMachineArn, Input: aws.String(`{"id": "o-1"}`)})
	if err != nil {
		t.Fatal(err)
	}
	d := waitExecution(ctx, t, c, *st.ExecutionArn)
	if d.Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("execution %s: %s %s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
	}
	out := aws.ToString(d.Output)
	for _, want := range []string{`"n":"2"`, `"body":"order o-1"`, `"keys":"o-1.txt"`, `"caught":"DynamoDb.ResourceNotFoundException"`, `"hasMessage":true`, `:execution:child:`, `"groups":"/sfn/o-1"`} {
		if !strings.Contains(out, want) {
			t.Errorf("output %s lacks %s", out, want)
		}
	}
	msg, err := q.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: qu.QueueUrl, WaitTimeSeconds: 20})
	if err != nil || len(msg.Messages) != 1 || aws.ToString(msg.Messages[0].Body) != `{"n":"2","order":"o-1"}` {
		t.Errorf("SNS message through SQS: %+v %v", msg, err)
	}
	// The status event: the envelope as EventBridge delivers it, the
	// detail as Step Functions writes it (the RUNNING event matched no rule).
	sm, err := q.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: su.QueueUrl, WaitTimeSeconds: 20})
	if err != nil || len(sm.Messages) != 1 {
		t.Fatalf("status event: %+v %v", sm, err)
	}
	var ev struct {
		Source     string   `json:"source"`
		DetailType string   `json:"detail-type"`
		Resources  []string `json:"resources"`
		Detail     struct {
			ExecutionArn, StateMachineArn, Status, Input, Output string
			StartDate, StopDate                                  int64
		} `json:"detail"`
	}
	if err := json.Unmarshal([]byte(aws.ToString(sm.Messages[0].Body)), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Source != "aws.states" || ev.DetailType != "Step Functions Execution Status Change" || len(ev.Resources) != 1 || ev.Resources[0] != *st.ExecutionArn ||
		ev.Detail.ExecutionArn != *st.ExecutionArn || ev.Detail.Status != "SUCCEEDED" || ev.Detail.Output != out || ev.Detail.Input != `{"id": "o-1"}` ||
		ev.Detail.StopDate != d.StopDate.UnixMilli() {
		t.Errorf("status event: %s", aws.ToString(sm.Messages[0].Body))
	}
	// The execution's history events are in its log group.
	lg, err := cwl.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(logGroup)})
	if err != nil {
		t.Fatal(err)
	}
	logged := map[string]bool{}
	for _, le := range lg.Events {
		var r struct{ Type, ExecutionArn string }
		var raw map[string]any
		_ = json.Unmarshal([]byte(aws.ToString(le.Message)), &raw)
		r.Type, _ = raw["type"].(string)
		r.ExecutionArn, _ = raw["execution_arn"].(string)
		if r.ExecutionArn == *st.ExecutionArn && strings.HasPrefix(aws.ToString(le.LogStreamName), "states/integrations/") {
			logged[r.Type] = true
		}
	}
	for _, typ := range []string{"ExecutionStarted", "TaskStateEntered", "TaskSucceeded", "ExecutionSucceeded"} {
		if !logged[typ] {
			t.Errorf("the log group lacks %s (has %v)", typ, logged)
		}
	}
	l, err := c.ListExecutions(ctx, &awssfn.ListExecutionsInput{StateMachineArn: child.StateMachineArn})
	if err != nil || len(l.Executions) != 1 {
		t.Fatalf("child executions: %+v %v", l, err)
	}
	cd := waitExecution(ctx, t, c, *l.Executions[0].ExecutionArn)
	if cd.Status != sfntypes.ExecutionStatusSucceeded || aws.ToString(cd.Output) != `"child done"` || aws.ToString(cd.Input) != `{"from":"o-1"}` {
		t.Errorf("child: %s %s %s", cd.Status, aws.ToString(cd.Input), aws.ToString(cd.Output))
	}
}

// TestStepFunctionsDistributedMap: a distributed Map reads a CSV object
// from the node's S3 (header row), batches two items per iteration,
// sums each batch and writes its results back to the bucket; a second
// Map lists the bucket's objects under a prefix.
func TestStepFunctionsDistributedMap(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	ctx := t.Context()
	cfg := n.awsConfig()
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("data")}); err != nil {
		t.Fatal(err)
	}
	for key, body := range map[string]string{"in/items.csv": "sku,qty\na,1\nb,2\nc,3\nd,4\ne,5\n", "in/x.json": "[]"} {
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("data"), Key: aws.String(key), Body: strings.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	c := awssfn.NewFromConfig(cfg)
	def := `{"StartAt": "Sum", "States": {
	  "Sum": {"Type": "Map", "Label": "sum",
	    "ItemReader": {"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW"},
	      "Parameters": {"Bucket": "data", "Key.$": "$.key"}},
	    "ItemBatcher": {"MaxItemsPerBatch": 2, "BatchInput": {"unit": "pcs"}},
	    "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"}, "StartAt": "Add", "States": {
	      "Add": {"Type": "Pass", "QueryLanguage": "JSONata", "Output": "{% $sum($states.input.Items.$number(qty)) & ' ' & $states.input.BatchInput.unit %}", "End": true}}},
	    "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "data", "Prefix": "out"}},
	    "ResultPath": "$.written", "Next": "List"},
	  "List": {"Type": "Map",
	    "ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": "data", "Prefix": "in/"}},
	    "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "K", "States": {
	      "K": {"Type": "Pass", "OutputPath": "$.Key", "End": true}}},
	    "ResultPath": "$.keys", "End": true}}}`
	// The ItemReader and ResultWriter read and write as the machine's role.
	role := createServiceRole(t, n, "dmap-role", "states.amazonaws.com",
		allow([]string{"s3:GetObject", "s3:PutObject", "s3:ListBucket"}, "arn:aws:s3:::data", "arn:aws:s3:::data/*"))
	m, err := c.CreateStateMachine(ctx, &awssfn.CreateStateMachineInput{Name: aws.String("dmap"), Definition: aws.String(def), RoleArn: aws.String(role)})
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.StartExecution(ctx, &awssfn.StartExecutionInput{StateMachineArn: m.StateMachineArn, Input: aws.String(`{"key": "in/items.csv"}`)})
	if err != nil {
		t.Fatal(err)
	}
	d := waitExecution(ctx, t, c, *st.ExecutionArn)
	if d.Status != sfntypes.ExecutionStatusSucceeded {
		t.Fatalf("execution %s: %s %s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
	}
	var out struct {
		Written struct {
			MapRunArn           string
			ResultWriterDetails struct{ Bucket, Key string }
		} `json:"written"`
		Keys []string `json:"keys"`
	}
	if err := json.Unmarshal([]byte(aws.ToString(d.Output)), &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.Written.MapRunArn, ":mapRun:dmap/sum:") || out.Written.ResultWriterDetails.Bucket != "data" ||
		!strings.HasSuffix(out.Written.ResultWriterDetails.Key, "/manifest.json") || strings.Join(out.Keys, ",") != "in/items.csv,in/x.json" {
		t.Fatalf("output %s", aws.ToString(d.Output))
	}
	get := func(key string) string {
		o, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("data"), Key: aws.String(key)})
		if err != nil {
			t.Fatalf("get %s: %v", key, err)
		}
		defer o.Body.Close()
		b, _ := io.ReadAll(o.Body)
		return string(b)
	}
	var manifest struct {
		MapRunArn   string
		ResultFiles map[string][]struct{ Key string }
	}
	if err := json.Unmarshal([]byte(get(out.Written.ResultWriterDetails.Key)), &manifest); err != nil || manifest.MapRunArn != out.Written.MapRunArn ||
		len(manifest.ResultFiles["SUCCEEDED"]) != 1 {
		t.Fatalf("manifest %+v %v", manifest, err)
	}
	var results []struct{ Output, Status string }
	if err := json.Unmarshal([]byte(get(manifest.ResultFiles["SUCCEEDED"][0].Key)), &results); err != nil {
		t.Fatal(err)
	}
	var outs []string
	for _, r := range results {
		outs = append(outs, r.Status+" "+r.Output)
	}
	if strings.Join(outs, ";") != `SUCCEEDED "3 pcs";SUCCEEDED "7 pcs";SUCCEEDED "5 pcs"` {
		t.Errorf("results %v", outs)
	}
}

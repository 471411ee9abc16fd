package daemon

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/nimbus-serverless/nimbus/internal/sigv4/sigv4test"
)

// consoleData is what seedConsole made for the console's pages to show.
type consoleData struct {
	machineArn, execArn string
}

// seedConsole gives every console page something real to show: a stack,
// an HTTP API with a route, a queue with two messages, a bus with a rule
// and a schedule, a bucket with two objects, a table with three items
// and a state machine with a failed execution (its path: Prepare, Check,
// then Broken, failed; Done never entered).
func seedConsole(t *testing.T, n *node) consoleData {
	t.Helper()
	ctx := context.Background()
	cfg := n.awsConfig()
	cf := cloudformation.NewFromConfig(cfg)
	if _, err := cf.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String("console-stack"),
		TemplateBody: aws.String(`{"Resources":{"Jobs":{"Type":"AWS::SQS::Queue","Properties":{"QueueName":"console-stack-jobs"}}},
		  "Outputs":{"JobsUrl":{"Value":{"Ref":"Jobs"}}}}`)}); err != nil {
		t.Fatal(err)
	}
	if err := cloudformation.NewStackCreateCompleteWaiter(cf).Wait(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("console-stack")}, 3*time.Minute); err != nil {
		t.Fatalf("stack: %v", err)
	}
	gw := apigatewayv2.NewFromConfig(cfg)
	api, err := gw.CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: aws.String("console-api"), ProtocolType: "HTTP"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gw.CreateRoute(ctx, &apigatewayv2.CreateRouteInput{ApiId: api.ApiId, RouteKey: aws.String("GET /console-route")}); err != nil {
		t.Fatal(err)
	}
	q := awssqs.NewFromConfig(cfg)
	qu, err := q.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String("console-queue")})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"one", "two"} {
		if _, err := q.SendMessage(ctx, &awssqs.SendMessageInput{QueueUrl: qu.QueueUrl, MessageBody: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	eb := eventbridge.NewFromConfig(cfg)
	if _, err := eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String("console-bus")}); err != nil {
		t.Fatal(err)
	}
	if _, err := eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("console-rule"), EventBusName: aws.String("console-bus"),
		EventPattern: aws.String(`{"source":["console.test"]}`)}); err != nil {
		t.Fatal(err)
	}
	schedRole := createServiceRole(t, n, "console-scheduler", "scheduler.amazonaws.com", allow([]string{"lambda:InvokeFunction"}, "*"))
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, n.endpoint()+"/schedules/console-schedule", strings.NewReader(
		`{"ScheduleExpression":"rate(1 hour)","FlexibleTimeWindow":{"Mode":"OFF"},"Target":{"Arn":"arn:aws:lambda:us-east-1:`+n.d.cfg.AccountID+`:function:hello","RoleArn":"`+schedRole+`"}}`))
	req.Header.Set("Content-Type", "application/json")
	if err := sigv4test.Sign(req, n.creds(), "us-east-1", "scheduler", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("CreateSchedule: %d %s", resp.StatusCode, b)
	}
	s3c := n.s3Client()
	if _, err := s3c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("console-bucket")}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"reports/a.txt", "reports/b.txt"} {
		if _, err := s3c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("console-bucket"), Key: aws.String(k), Body: strings.NewReader("data of " + k)}); err != nil {
			t.Fatal(err)
		}
	}
	dc := ddb.NewFromConfig(cfg)
	if _, err := dc.CreateTable(ctx, &ddb.CreateTableInput{TableName: aws.String("console-table"), BillingMode: ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash}}}); err != nil {
		t.Fatal(err)
	}
	if err := ddb.NewTableExistsWaiter(dc).Wait(ctx, &ddb.DescribeTableInput{TableName: aws.String("console-table")}, time.Minute); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"item-1", "item-2", "item-3"} {
		if _, err := dc.PutItem(ctx, &ddb.PutItemInput{TableName: aws.String("console-table"),
			Item: map[string]ddbtypes.AttributeValue{"pk": &ddbtypes.AttributeValueMemberS{Value: k}}}); err != nil {
			t.Fatal(err)
		}
	}
	sc := awssfn.NewFromConfig(cfg)
	role := createServiceRole(t, n, "console-states", "states.amazonaws.com", allow([]string{"lambda:InvokeFunction"}, "*"))
	m, err := sc.CreateStateMachine(ctx, &awssfn.CreateStateMachineInput{Name: aws.String("console-flow"), RoleArn: aws.String(role),
		Definition: aws.String(`{"StartAt":"Prepare","States":{
		  "Prepare":{"Type":"Pass","Next":"Check"},
		  "Check":{"Type":"Choice","Choices":[{"Variable":"$.ok","BooleanEquals":true,"Next":"Done"}],"Default":"Broken"},
		  "Done":{"Type":"Succeed"},
		  "Broken":{"Type":"Fail","Error":"Broken","Cause":"asked to fail"}}}`)})
	if err != nil {
		t.Fatal(err)
	}
	ex, err := sc.StartExecution(ctx, &awssfn.StartExecutionInput{StateMachineArn: m.StateMachineArn, Name: aws.String("console-run"), Input: aws.String(`{"ok":false}`)})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(2 * time.Minute); ; {
		d, err := sc.DescribeExecution(ctx, &awssfn.DescribeExecutionInput{ExecutionArn: ex.ExecutionArn})
		if err != nil {
			t.Fatal(err)
		}
		if d.Status == sfntypes.ExecutionStatusFailed {
			break
		}
		if d.Status != sfntypes.ExecutionStatusRunning || time.Now().After(deadline) {
			t.Fatalf("execution %s", d.Status)
		}
		time.Sleep(50 * time.Millisecond) // polling the API for the execution's end (a hang guard bounds it)
	}
	return consoleData{machineArn: aws.ToString(m.StateMachineArn), execArn: aws.ToString(ex.ExecutionArn)}
}

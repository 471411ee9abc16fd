package daemon

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwt "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	awsddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TestDynamoDBThroughTheFrontDoor: DynamoDB behind the node's SigV4 front
// door with aws-sdk-go-v2 (and its attributevalue package), boto3's
// resource and client APIs, and the AWS CLI; the table survives a restart.
func TestDynamoDBThroughTheFrontDoor(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, dir)
	c := awsddb.NewFromConfig(n.awsConfig())
	ctx := t.Context()
	if _, err := c.CreateTable(ctx, &awsddb.CreateTableInput{TableName: aws.String("orders"),
		AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
		KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: ddbtypes.KeyTypeHash}},
		BillingMode:          ddbtypes.BillingModePayPerRequest}); err != nil {
		t.Fatal(err)
	}
	type order struct {
		ID    string  `dynamodbav:"id"`
		Total float64 `dynamodbav:"total"`
		Items []string
	}
	item, err := attributevalue.MarshalMap(order{ID: "o-1", Total: 12.5, Items: []string{"a"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutItem(ctx, &awsddb.PutItemInput{TableName: aws.String("orders"), Item: item}); err != nil {
		t.Fatal(err)
	}

	// boto3's resource API (Decimal numbers, conditions built by boto3)
	// and its client's modeled exception.
	needTool(t, "python3", "-c", "import boto3")
	script := `
import boto3, json
from decimal import Decimal
from boto3.dynamodb.conditions import Key, Attr
t = boto3.resource("dynamodb").Table("orders")
got = t.get_item(Key={"id": "o-1"})["Item"]
t.put_item(Item={"id": "o-2", "total": Decimal("0.1"), "tags": {"x", "y"}})
t.update_item(Key={"id": "o-2"}, UpdateExpression="ADD #t :d", ExpressionAttributeNames={"#t": "total"},
              ExpressionAttributeValues={":d": Decimal("0.2")})
scan = t.scan(FilterExpression=Attr("total").between(Decimal("0.25"), Decimal("1")))["Items"]
c = boto3.client("dynamodb")
try:
    c.put_item(TableName="orders", Item={"id": {"S": "o-1"}}, ConditionExpression="attribute_not_exists(id)")
    failed = "no error"
except c.exceptions.ConditionalCheckFailedException as e:
    failed = e.response["Error"]["Code"]
print(json.dumps({"total": str(got["total"]), "o2": str(scan[0]["total"]), "n": len(scan), "failed": failed}))
`
	cmd := exec.Command("python3", "-c", script)
	cmd.Env = n.toolEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("boto3: %v\n%s", err, out)
	}
	var res map[string]any
	if err := json.Unmarshal(out, &res); err != nil || res["total"] != "12.5" || res["o2"] != "0.3" || res["n"] != 1.0 ||
		res["failed"] != "ConditionalCheckFailedException" {
		t.Fatalf("boto3 answered %s (%v)", out, err)
	}

	// The AWS CLI.
	needTool(t, "aws", "--version")
	cmd = exec.Command("aws", "dynamodb", "get-item", "--table-name", "orders", "--key", `{"id":{"S":"o-2"}}`, "--output", "json")
	cmd.Env = n.toolEnv()
	out, err = cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"N": "0.3"`) {
		t.Fatalf("aws cli: %v\n%s", err, out)
	}

	// The requests are in AWS/DynamoDB: the two PutItems that succeeded
	// by TableName and Operation, the conditional one that failed as a
	// user error and a failed condition check.
	cw := cloudwatchClient(n)
	table := []cwt.Dimension{{Name: aws.String("TableName"), Value: aws.String("orders")}}
	for metric, want := range map[string]float64{"UserErrors": 1, "ConditionalCheckFailedRequests": 1} {
		dims := table
		if metric == "UserErrors" {
			dims = nil
		}
		if got := sumOver(t, cw, "AWS/DynamoDB", metric, dims, want); got != want {
			t.Errorf("AWS/DynamoDB %s = %v, want %v", metric, got, want)
		}
	}
	lat, err := cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("AWS/DynamoDB"),
		MetricName: aws.String("SuccessfulRequestLatency"), Dimensions: append(table, cwt.Dimension{Name: aws.String("Operation"), Value: aws.String("PutItem")}),
		StartTime: aws.Time(time.Now().Add(-time.Hour)), EndTime: aws.Time(time.Now().Add(time.Minute)),
		Period: aws.Int32(3600), Statistics: []cwt.Statistic{cwt.StatisticSampleCount}})
	if err != nil || len(lat.Datapoints) != 1 || *lat.Datapoints[0].SampleCount != 2 {
		t.Errorf("PutItem SuccessfulRequestLatency: %v %+v", err, lat)
	}

	// A restart keeps the table and its items.
	n.stop()
	n = startNode(t, dir)
	c = awsddb.NewFromConfig(n.awsConfig())
	got, err := c.GetItem(ctx, &awsddb.GetItemInput{TableName: aws.String("orders"), Key: map[string]ddbtypes.AttributeValue{
		"id": &ddbtypes.AttributeValueMemberS{Value: "o-2"}}, ConsistentRead: aws.Bool(true)})
	if err != nil || got.Item == nil || got.Item["total"].(*ddbtypes.AttributeValueMemberN).Value != "0.3" {
		t.Fatalf("after restart: %v %v", err, got)
	}
}

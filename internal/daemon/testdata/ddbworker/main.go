// Command ddbworker is a test function for DynamoDB stream event source
// mappings: it stores every record it receives as an item of the table
// named by SEEN_TABLE (key: the record's sequence number), calling Nimbus
// with the AWS SDK as a function would call DynamoDB, and reports as
// failed every record whose new image's kind is "fail".
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	var out events.DynamoDBEventResponse
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return out, err
	}
	c := dynamodb.NewFromConfig(cfg)
	for _, r := range ev.Records {
		if k, ok := r.Change.NewImage["kind"]; ok && k.DataType() == events.DataTypeString && k.String() == "fail" {
			out.BatchItemFailures = append(out.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: r.Change.SequenceNumber})
			continue
		}
		id := ""
		if k, ok := r.Change.Keys["id"]; ok {
			id = k.String()
		}
		_, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(os.Getenv("SEEN_TABLE")), Item: map[string]types.AttributeValue{
			"seq": &types.AttributeValueMemberS{Value: r.Change.SequenceNumber}, "event": &types.AttributeValueMemberS{Value: r.EventName},
			"key": &types.AttributeValueMemberS{Value: id}, "source": &types.AttributeValueMemberS{Value: r.EventSourceArn},
			"view": &types.AttributeValueMemberS{Value: r.Change.StreamViewType},
		}})
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

func main() { lambda.Start(handle) }

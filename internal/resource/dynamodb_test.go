package resource_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// TestDynamoDBTableProvider: a table with a range key, a GSI, a stream
// and TTL (Ref is its name, GetAtt Arn and StreamArn); an update that
// adds an index, drops the stream and changes the tags in place; a
// refused property; deletion.
func TestDynamoDBTableProvider(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	c := dynamodb.NewFromConfig(e.awsConfig())
	props := map[string]any{
		"AttributeDefinitions": []any{map[string]any{"AttributeName": "pk", "AttributeType": "S"},
			map[string]any{"AttributeName": "sk", "AttributeType": "N"}, map[string]any{"AttributeName": "g", "AttributeType": "S"}},
		"KeySchema": []any{map[string]any{"AttributeName": "pk", "KeyType": "HASH"}, map[string]any{"AttributeName": "sk", "KeyType": "RANGE"}},
		"GlobalSecondaryIndexes": []any{map[string]any{"IndexName": "byG", "KeySchema": []any{map[string]any{"AttributeName": "g", "KeyType": "HASH"}},
			"Projection": map[string]any{"ProjectionType": "ALL"}}},
		"BillingMode":             "PAY_PER_REQUEST",
		"StreamSpecification":     map[string]any{"StreamViewType": "NEW_IMAGE"},
		"TimeToLiveSpecification": map[string]any{"AttributeName": "exp", "Enabled": true},
		"Tags":                    []any{map[string]any{"Key": "team", "Value": "a"}},
		"SSESpecification":        map[string]any{"SSEEnabled": true},
	}
	tab := e.create(t, "Orders", "AWS::DynamoDB::Table", props)
	name := tab.PhysicalID
	if !strings.HasPrefix(name, stackName+"-Orders-") || tab.Attrs["Arn"] != "arn:aws:dynamodb:us-east-1:000000000000:table/"+name ||
		!strings.HasPrefix(tab.Attrs["StreamArn"].(string), tab.Attrs["Arn"].(string)+"/stream/") {
		t.Fatalf("table = %+v", tab.Result)
	}
	ttl, err := c.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(name)})
	if err != nil || aws.ToString(ttl.TimeToLiveDescription.AttributeName) != "exp" {
		t.Fatalf("ttl = %+v %v", ttl, err)
	}
	props2 := map[string]any{}
	for k, v := range props {
		props2[k] = v
	}
	delete(props2, "StreamSpecification")
	props2["AttributeDefinitions"] = append(props["AttributeDefinitions"].([]any), map[string]any{"AttributeName": "h", "AttributeType": "S"})
	props2["GlobalSecondaryIndexes"] = append(props["GlobalSecondaryIndexes"].([]any), map[string]any{"IndexName": "byH",
		"KeySchema": []any{map[string]any{"AttributeName": "h", "KeyType": "HASH"}}, "Projection": map[string]any{"ProjectionType": "KEYS_ONLY"}})
	props2["Tags"] = []any{map[string]any{"Key": "team", "Value": "b"}}
	tab = e.update(t, tab, props2)
	d, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil || len(d.Table.GlobalSecondaryIndexes) != 2 || d.Table.StreamSpecification != nil || tab.PhysicalID != name {
		t.Fatalf("after update: %+v %v", d, err)
	}
	tags, err := c.ListTagsOfResource(ctx, &dynamodb.ListTagsOfResourceInput{ResourceArn: d.Table.TableArn})
	if err != nil || len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].Value) != "b" {
		t.Fatalf("tags = %+v %v", tags, err)
	}
	props3 := map[string]any{}
	for k, v := range props2 {
		props3[k] = v
	}
	props3["KinesisStreamSpecification"] = map[string]any{"StreamArn": "arn:aws:kinesis:us-east-1:000000000000:stream/x"}
	if _, err := e.ps["AWS::DynamoDB::Table"].Create(ctx, request("Bad", "AWS::DynamoDB::Table", props3)); err == nil {
		t.Fatal("KinesisStreamSpecification was accepted")
	}
	e.delete(t, tab)
	if _, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}); err == nil {
		t.Fatal("the table survived its deletion")
	}
}

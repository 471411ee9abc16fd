package dynamodb

import (
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TestIndexes: an LSI answers in sort order of its own key with INCLUDE
// projection; a GSI added later is backfilled (CREATING in UpdateTable's
// answer, ACTIVE after), is sparse, and follows updates and deletes.
func TestIndexes(t *testing.T) {
	_, c, _ := serve(t)
	ctx := t.Context()
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	n := func(v int) types.AttributeValue { return &types.AttributeValueMemberN{Value: fmt.Sprint(v)} }
	_, err := c.CreateTable(ctx, &ddb.CreateTableInput{TableName: aws.String("scores"),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("user"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("game"), AttributeType: types.ScalarAttributeTypeS}, {AttributeName: aws.String("score"), AttributeType: types.ScalarAttributeTypeN}},
		KeySchema: []types.KeySchemaElement{{AttributeName: aws.String("user"), KeyType: types.KeyTypeHash}, {AttributeName: aws.String("game"), KeyType: types.KeyTypeRange}},
		LocalSecondaryIndexes: []types.LocalSecondaryIndex{{IndexName: aws.String("byScore"),
			KeySchema:  []types.KeySchemaElement{{AttributeName: aws.String("user"), KeyType: types.KeyTypeHash}, {AttributeName: aws.String("score"), KeyType: types.KeyTypeRange}},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeInclude, NonKeyAttributes: []string{"level"}}}},
		ProvisionedThroughput: &types.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(5), WriteCapacityUnits: aws.Int64(5)}})
	if err != nil {
		t.Fatal(err)
	}
	for i, g := range []string{"chess", "go", "poker", "tetris"} {
		it := map[string]types.AttributeValue{"user": s("u1"), "game": s(g), "score": n(100 - i*i*10), "level": n(i), "extra": s("x")}
		if i%2 == 0 {
			it["region"] = s("eu")
		}
		if _, err := c.PutItem(ctx, &ddb.PutItemInput{TableName: aws.String("scores"), Item: it}); err != nil {
			t.Fatal(err)
		}
	}
	q, err := c.Query(ctx, &ddb.QueryInput{TableName: aws.String("scores"), IndexName: aws.String("byScore"),
		KeyConditionExpression: aws.String("#u = :u AND score >= :min"), ExpressionAttributeNames: map[string]string{"#u": "user"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":u": s("u1"), ":min": n(50)}})
	if err != nil || q.Count != 3 || q.Items[0]["game"].(*types.AttributeValueMemberS).Value != "poker" || q.Items[0]["extra"] != nil || q.Items[0]["level"] == nil {
		t.Fatalf("lsi query: %v %+v", err, q)
	}
	up, err := c.UpdateTable(ctx, &ddb.UpdateTableInput{TableName: aws.String("scores"),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("region"), AttributeType: types.ScalarAttributeTypeS}},
		GlobalSecondaryIndexUpdates: []types.GlobalSecondaryIndexUpdate{{Create: &types.CreateGlobalSecondaryIndexAction{IndexName: aws.String("byRegion"),
			KeySchema:             []types.KeySchemaElement{{AttributeName: aws.String("region"), KeyType: types.KeyTypeHash}, {AttributeName: aws.String("score"), KeyType: types.KeyTypeRange}},
			Projection:            &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
			ProvisionedThroughput: &types.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(1), WriteCapacityUnits: aws.Int64(1)}}}}})
	if err != nil || up.TableDescription.GlobalSecondaryIndexes[0].IndexStatus != types.IndexStatusCreating {
		t.Fatalf("add gsi: %v", err)
	}
	d, _ := c.DescribeTable(ctx, &ddb.DescribeTableInput{TableName: aws.String("scores")})
	if d.Table.GlobalSecondaryIndexes[0].IndexStatus != types.IndexStatusActive || *d.Table.ItemCount != 4 {
		t.Fatalf("describe after gsi: %+v", d.Table)
	}
	region := func() []string {
		q, err := c.Query(ctx, &ddb.QueryInput{TableName: aws.String("scores"), IndexName: aws.String("byRegion"),
			KeyConditionExpression: aws.String("#r = :r"), ExpressionAttributeNames: map[string]string{"#r": "region"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":r": s("eu")}, ScanIndexForward: aws.Bool(false)})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, it := range q.Items {
			out = append(out, it["game"].(*types.AttributeValueMemberS).Value)
		}
		return out
	}
	if got := fmt.Sprint(region()); got != "[chess poker]" {
		t.Fatalf("backfilled gsi: %s", got)
	}
	if _, err := c.UpdateItem(ctx, &ddb.UpdateItemInput{TableName: aws.String("scores"), Key: map[string]types.AttributeValue{"user": s("u1"), "game": s("go")},
		UpdateExpression: aws.String("SET #r = :r, score = :s"), ExpressionAttributeNames: map[string]string{"#r": "region"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":r": s("eu"), ":s": n(1000)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteItem(ctx, &ddb.DeleteItemInput{TableName: aws.String("scores"), Key: map[string]types.AttributeValue{"user": s("u1"), "game": s("chess")}}); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(region()); got != "[go poker]" {
		t.Fatalf("gsi after update and delete: %s", got)
	}
	// A GSI key of the wrong type is refused.
	_, err = c.PutItem(ctx, &ddb.PutItemInput{TableName: aws.String("scores"), Item: map[string]types.AttributeValue{"user": s("u2"), "game": s("x"), "region": n(1)}})
	if apiCode(err) == "" {
		t.Fatal("a region of type N was accepted")
	}
}

package dynamodb

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

const testAccount = "000000000000"

// serve runs the service on a real HTTP server and returns its Service
// and an aws-sdk-go-v2 client for it.
func serve(t testing.TB) (*Service, *ddb.Client, string) {
	t.Helper()
	st := storetest.Open(t)
	svc, err := New(t.Context(), Options{Dir: t.TempDir(), JetStream: st.JetStream(), Region: "us-east-1", AccountID: testAccount})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	srv := httptest.NewServer(NewHandler(svc))
	t.Cleanup(srv.Close)
	return svc, ddb.New(ddb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
	}), srv.URL
}

func createOrders(t testing.TB, c *ddb.Client, name string) {
	t.Helper()
	_, err := c.CreateTable(t.Context(), &ddb.CreateTableInput{
		TableName: aws.String(name),
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("sk"), AttributeType: types.ScalarAttributeTypeN},
			{AttributeName: aws.String("status"), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange},
		},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName:  aws.String("by-status"),
			KeySchema:  []types.KeySchemaElement{{AttributeName: aws.String("status"), KeyType: types.KeyTypeHash}, {AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange}},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
		}},
		BillingMode: types.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatalf("create table: %v", err)
	}
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode() + ": " + ae.ErrorMessage()
	}
	if err == nil {
		return ""
	}
	return err.Error()
}

type order struct {
	PK     string           `dynamodbav:"pk"`
	SK     int              `dynamodbav:"sk"`
	Status string           `dynamodbav:"status,omitempty"`
	Total  string           `dynamodbav:"total"`
	Tags   []string         `dynamodbav:"tags,stringset,omitempty"`
	Lines  []map[string]any `dynamodbav:"orderLines"`
}

func TestTablesAndItems(t *testing.T) {
	_, c, _ := serve(t)
	ctx := t.Context()
	createOrders(t, c, "orders")
	if _, err := c.CreateTable(ctx, &ddb.CreateTableInput{TableName: aws.String("orders"),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest}); !strings.HasPrefix(apiCode(err), "ResourceInUseException") {
		t.Fatalf("second create: %v", err)
	}
	d, err := c.DescribeTable(ctx, &ddb.DescribeTableInput{TableName: aws.String("orders")})
	if err != nil || d.Table.TableStatus != types.TableStatusActive || *d.Table.TableArn != "arn:aws:dynamodb:us-east-1:000000000000:table/orders" ||
		d.Table.BillingModeSummary.BillingMode != types.BillingModePayPerRequest || len(d.Table.GlobalSecondaryIndexes) != 1 {
		t.Fatalf("describe: %v %+v", err, d)
	}
	// Numbers keep 38 digits.
	big := "12345678901234567890.123456789012345678"
	for i := 1; i <= 5; i++ {
		item, err := attributevalue.MarshalMap(order{PK: "cust#1", SK: i, Status: map[bool]string{true: "open", false: "shipped"}[i%2 == 1],
			Total: big, Tags: []string{"a", "b"}, Lines: []map[string]any{{"sku": "x", "qty": i}}})
		if err != nil {
			t.Fatal(err)
		}
		item["total"] = &types.AttributeValueMemberN{Value: big}
		if _, err := c.PutItem(ctx, &ddb.PutItemInput{TableName: aws.String("orders"), Item: item}); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	got, err := c.GetItem(ctx, &ddb.GetItemInput{TableName: aws.String("orders"), Key: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: "cust#1"}, "sk": &types.AttributeValueMemberN{Value: "3"}}})
	if err != nil || got.Item == nil {
		t.Fatalf("get: %v", err)
	}
	if n := got.Item["total"].(*types.AttributeValueMemberN).Value; n != big {
		t.Fatalf("number %s, want %s", n, big)
	}
	// Conditional put fails with the old item when asked.
	_, err = c.PutItem(ctx, &ddb.PutItemInput{TableName: aws.String("orders"), Item: got.Item,
		ConditionExpression:                 aws.String("attribute_not_exists(pk)"),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld})
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) || ccf.Item["sk"].(*types.AttributeValueMemberN).Value != "3" {
		t.Fatalf("conditional put: %v", err)
	}
	// UpdateItem: arithmetic, if_not_exists, list_append, ADD, DELETE, REMOVE.
	up, err := c.UpdateItem(ctx, &ddb.UpdateItemInput{TableName: aws.String("orders"),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "cust#1"}, "sk": &types.AttributeValueMemberN{Value: "3"}},
		UpdateExpression: aws.String("SET #t = #t + :one, cnt = if_not_exists(cnt, :zero) - :one, orderLines = list_append(orderLines, :more) " +
			"ADD tags :c REMOVE #s"),
		ConditionExpression:      aws.String("size(tags) = :two AND contains(tags, :aa) AND begins_with(pk, :cust) AND (sk BETWEEN :one AND :three OR sk IN (:zero))"),
		ExpressionAttributeNames: map[string]string{"#t": "total", "#s": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":one": &types.AttributeValueMemberN{Value: "1"}, ":zero": &types.AttributeValueMemberN{Value: "0"},
			":two": &types.AttributeValueMemberN{Value: "2"}, ":three": &types.AttributeValueMemberN{Value: "3"},
			":more": &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberS{Value: "z"}}},
			":c":    &types.AttributeValueMemberSS{Value: []string{"c"}},
			":aa":   &types.AttributeValueMemberS{Value: "a"}, ":cust": &types.AttributeValueMemberS{Value: "cust#"},
		},
		ReturnValues: types.ReturnValueAllNew,
	})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	a := up.Attributes
	if a["total"].(*types.AttributeValueMemberN).Value != "12345678901234567891.123456789012345678" ||
		a["cnt"].(*types.AttributeValueMemberN).Value != "-1" || len(a["orderLines"].(*types.AttributeValueMemberL).Value) != 2 ||
		fmt.Sprint(a["tags"].(*types.AttributeValueMemberSS).Value) != "[a b c]" || a["status"] != nil {
		t.Fatalf("updated item %#v", a)
	}
	// Query: range conditions, order, limit and pages.
	q := func(in *ddb.QueryInput) *ddb.QueryOutput {
		t.Helper()
		in.TableName = aws.String("orders")
		out, err := c.Query(ctx, in)
		if err != nil {
			t.Fatalf("query %s: %v", *in.KeyConditionExpression, err)
		}
		return out
	}
	vals := func(kv ...any) map[string]types.AttributeValue {
		m := map[string]types.AttributeValue{}
		for i := 0; i < len(kv); i += 2 {
			switch v := kv[i+1].(type) {
			case string:
				m[kv[i].(string)] = &types.AttributeValueMemberS{Value: v}
			case int:
				m[kv[i].(string)] = &types.AttributeValueMemberN{Value: fmt.Sprint(v)}
			}
		}
		return m
	}
	out := q(&ddb.QueryInput{KeyConditionExpression: aws.String("pk = :p AND sk > :s"), ExpressionAttributeValues: vals(":p", "cust#1", ":s", 2),
		ScanIndexForward: aws.Bool(false)})
	if out.Count != 3 || out.Items[0]["sk"].(*types.AttributeValueMemberN).Value != "5" {
		t.Fatalf("query desc: %+v", out)
	}
	var seen []string
	var start map[string]types.AttributeValue
	for page := 0; page < 10; page++ {
		out = q(&ddb.QueryInput{KeyConditionExpression: aws.String("pk = :p AND sk BETWEEN :a AND :b"),
			ExpressionAttributeValues: vals(":p", "cust#1", ":a", 2, ":b", 5), Limit: aws.Int32(2), ExclusiveStartKey: start})
		for _, it := range out.Items {
			seen = append(seen, it["sk"].(*types.AttributeValueMemberN).Value)
		}
		if start = out.LastEvaluatedKey; start == nil {
			break
		}
	}
	if fmt.Sprint(seen) != "[2 3 4 5]" {
		t.Fatalf("pages: %v", seen)
	}
	out = q(&ddb.QueryInput{IndexName: aws.String("by-status"), KeyConditionExpression: aws.String("#s = :o"),
		ExpressionAttributeNames: map[string]string{"#s": "status"}, ExpressionAttributeValues: vals(":o", "open")})
	if out.Count != 2 || out.Items[0]["total"] != nil || out.Items[0]["pk"] == nil {
		t.Fatalf("index query (item 3 lost its status): %+v", out.Items)
	}
	out = q(&ddb.QueryInput{KeyConditionExpression: aws.String("pk = :p"), FilterExpression: aws.String("attribute_exists(cnt)"),
		ExpressionAttributeValues: vals(":p", "cust#1"), Select: types.SelectCount})
	if out.Count != 1 || out.ScannedCount != 5 || out.Items != nil {
		t.Fatalf("count: %+v", out)
	}
	// Scan in segments covers everything once.
	total := 0
	for seg := range 3 {
		s, err := c.Scan(ctx, &ddb.ScanInput{TableName: aws.String("orders"), Segment: aws.Int32(int32(seg)), TotalSegments: aws.Int32(3)})
		if err != nil {
			t.Fatal(err)
		}
		total += int(s.Count)
	}
	if total != 5 {
		t.Fatalf("segments saw %d items", total)
	}
	// Delete with ALL_OLD, then the table.
	del, err := c.DeleteItem(ctx, &ddb.DeleteItemInput{TableName: aws.String("orders"), Key: vals("pk", "cust#1", "sk", 1), ReturnValues: types.ReturnValueAllOld})
	if err != nil || del.Attributes["sk"] == nil {
		t.Fatalf("delete: %v %+v", err, del)
	}
	if _, err := c.DeleteTable(ctx, &ddb.DeleteTableInput{TableName: aws.String("orders")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetItem(ctx, &ddb.GetItemInput{TableName: aws.String("orders"), Key: vals("pk", "x", "sk", 1)}); !strings.HasPrefix(apiCode(err), "ResourceNotFoundException") {
		t.Fatalf("get after delete: %v", err)
	}
}

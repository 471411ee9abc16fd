package dynamodb

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TestAttacks: requests an attacker (or a careless client) sends are
// refused with AWS's ValidationException and change nothing.
func TestAttacks(t *testing.T) {
	_, c, url := serve(t)
	ctx := t.Context()
	createOrders(t, c, "tab1")
	key := func(pk string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberN{Value: "1"}}
	}
	put := func(extra map[string]types.AttributeValue) error {
		it := key("victim")
		for k, v := range extra {
			it[k] = v
		}
		_, err := c.PutItem(ctx, &ddb.PutItemInput{TableName: aws.String("tab1"), Item: it})
		return err
	}
	if err := put(map[string]types.AttributeValue{"secret": &types.AttributeValueMemberS{Value: "s"}}); err != nil {
		t.Fatal(err)
	}
	// Injection: expression text inside names and values stays data.
	_, err := c.UpdateItem(ctx, &ddb.UpdateItemInput{TableName: aws.String("tab1"), Key: key("victim"),
		UpdateExpression:          aws.String("SET #n = :v"),
		ExpressionAttributeNames:  map[string]string{"#n": "note REMOVE secret"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberS{Value: ":x OR attribute_exists(pk)"}}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.GetItem(ctx, &ddb.GetItemInput{TableName: aws.String("tab1"), Key: key("victim"), ConsistentRead: aws.Bool(true)})
	if err != nil || got.Item["secret"] == nil || got.Item["note REMOVE secret"] == nil {
		t.Fatalf("injection through a name changed the item: %v %v", err, got.Item)
	}
	_, err = c.DeleteItem(ctx, &ddb.DeleteItemInput{TableName: aws.String("tab1"), Key: key("victim"),
		ConditionExpression:       aws.String("secret = :v"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberS{Value: "x OR attribute_exists(pk)"}}})
	if !strings.HasPrefix(apiCode(err), "ConditionalCheckFailedException") {
		t.Fatalf("injection through a value: %v", err)
	}
	// Undefined and unused placeholders.
	for expr, want := range map[string]string{
		"SET a = :missing":          "An expression attribute value used in expression is not defined; attribute value: :missing",
		"SET #missing = :v":         "An expression attribute name used in the document path is not defined; attribute name: #missing",
		"SET a = :v, b = :v REMOVE": "Syntax error; token: \"<EOF>\"",
		"SET status = :v":           "Attribute name is a reserved keyword; reserved keyword: status",
	} {
		_, err := c.UpdateItem(ctx, &ddb.UpdateItemInput{TableName: aws.String("tab1"), Key: key("victim"), UpdateExpression: aws.String(expr),
			ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberS{Value: "x"}}})
		if !strings.Contains(apiCode(err), want) || !strings.HasPrefix(apiCode(err), "ValidationException") {
			t.Errorf("%s: %v, want %q", expr, err, want)
		}
	}
	_, err = c.UpdateItem(ctx, &ddb.UpdateItemInput{TableName: aws.String("tab1"), Key: key("victim"), UpdateExpression: aws.String("SET a = :v"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberS{Value: "x"}, ":unused": &types.AttributeValueMemberS{Value: "x"}}})
	if !strings.Contains(apiCode(err), "Value provided in ExpressionAttributeValues unused in expressions: keys: {:unused}") {
		t.Errorf("unused value: %v", err)
	}
	// Deep nesting: 32 levels are allowed, 33 are not.
	nest := func(n int) types.AttributeValue {
		var v types.AttributeValue = &types.AttributeValueMemberS{Value: "leaf"}
		for range n - 1 {
			v = &types.AttributeValueMemberL{Value: []types.AttributeValue{v}}
		}
		return v
	}
	if err := put(map[string]types.AttributeValue{"deep": nest(32)}); err != nil {
		t.Errorf("32 levels: %v", err)
	}
	if err := put(map[string]types.AttributeValue{"deep": nest(33)}); !strings.Contains(apiCode(err), "Nesting Levels have exceeded supported limits") {
		t.Errorf("33 levels: %v", err)
	}
	// A raw body nested far deeper than any limit is refused, not crashed on.
	body := `{"TableName":"tab1","Item":{"pk":{"S":"x"},"sk":{"N":"1"},"d":` + strings.Repeat(`{"L":[`, 5000) + `{"S":"x"}` + strings.Repeat(`]}`, 5000) + `}}`
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewBufferString(body))
	req.Header.Set("X-Amz-Target", "DynamoDB_20120810.PutItem")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Errorf("5000 levels: status %d", resp.StatusCode)
	}
	// Oversized items: at 400 KB refused, on put and on update.
	huge := strings.Repeat("x", 400*1024)
	if err := put(map[string]types.AttributeValue{"big": &types.AttributeValueMemberS{Value: huge}}); !strings.Contains(apiCode(err), "Item size has exceeded the maximum allowed size") {
		t.Errorf("oversized put: %v", err)
	}
	half := &types.AttributeValueMemberS{Value: huge[:250*1024]}
	if err := put(map[string]types.AttributeValue{"half": half}); err != nil {
		t.Fatal(err)
	}
	_, err = c.UpdateItem(ctx, &ddb.UpdateItemInput{TableName: aws.String("tab1"), Key: key("victim"), UpdateExpression: aws.String("SET extra = :h"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":h": half}})
	if !strings.Contains(apiCode(err), "Item size to update has exceeded the maximum allowed size") {
		t.Errorf("oversized update: %v", err)
	}
	// Key size limits.
	if _, err := c.PutItem(ctx, &ddb.PutItemInput{TableName: aws.String("tab1"), Item: key(strings.Repeat("k", 2049))}); !strings.Contains(apiCode(err), "Size of hashkey has exceeded the maximum size limit of2048 bytes") {
		t.Errorf("hash key 2049 bytes: %v", err)
	}
	// Limit 0 and negative.
	for _, l := range []int32{0, -1} {
		_, err := c.Query(ctx, &ddb.QueryInput{TableName: aws.String("tab1"), KeyConditionExpression: aws.String("pk = :p"), Limit: aws.Int32(l),
			ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: "victim"}}})
		if !strings.Contains(apiCode(err), "failed to satisfy constraint: Member must have value greater than or equal to 1") {
			t.Errorf("limit %d: %v", l, err)
		}
		if _, err := c.Scan(ctx, &ddb.ScanInput{TableName: aws.String("tab1"), Limit: aws.Int32(l)}); err == nil {
			t.Errorf("scan limit %d accepted", l)
		}
	}
	// Numbers beyond DynamoDB's range or precision.
	for _, n := range []string{"1e126", "1e-131", "123456789012345678901234567890123456789", "NaN", "Infinity", "0x10", " 1"} {
		if err := put(map[string]types.AttributeValue{"n": &types.AttributeValueMemberN{Value: n}}); !strings.HasPrefix(apiCode(err), "ValidationException") {
			t.Errorf("number %q: %v", n, err)
		}
	}
	// Nothing refused above was written.
	got, _ = c.GetItem(ctx, &ddb.GetItemInput{TableName: aws.String("tab1"), Key: key("victim"), ConsistentRead: aws.Bool(true)})
	if got.Item["extra"] != nil || got.Item["big"] != nil || got.Item["n"] != nil {
		t.Fatalf("a refused write changed the item: %v", got.Item["extra"] != nil)
	}
}

package dynamodb

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// BenchmarkPutItem: durable PutItem of a 1 KB item through the SDK and
// HTTP, from 16 clients (fsync per commit, commits shared).
func BenchmarkPutItem(b *testing.B) {
	_, c, _ := serve(b)
	benchPuts(b, c)
}

// BenchmarkPutItemChangeLog is BenchmarkPutItem on the table node of a
// cluster (one node, R1): every group commit is appended to the change
// log before it commits. Compare with BenchmarkPutItem in the same run.
func BenchmarkPutItemChangeLog(b *testing.B) {
	n := startNode(b, storetest.Open(b), "a")
	waitHolder(b, n)
	benchPuts(b, n.c)
}

// benchPuts puts 1 KB items into a new table from 16 clients.
func benchPuts(b *testing.B, c *ddb.Client) {
	createOrders(b, c, "bench")
	payload := &types.AttributeValueMemberS{Value: strings.Repeat("x", 1000)}
	var seq atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := seq.Add(1)
			_, err := c.PutItem(b.Context(), &ddb.PutItemInput{TableName: aws.String("bench"), Item: map[string]types.AttributeValue{
				"pk": &types.AttributeValueMemberS{Value: fmt.Sprint("p", i%100)}, "sk": &types.AttributeValueMemberN{Value: fmt.Sprint(i)}, "d": payload}})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkGetItem: GetItem of a 1 KB item from 16 clients.
func BenchmarkGetItem(b *testing.B) {
	_, c, _ := serve(b)
	createOrders(b, c, "bench")
	payload := &types.AttributeValueMemberS{Value: strings.Repeat("x", 1000)}
	for i := range 100 {
		if _, err := c.PutItem(b.Context(), &ddb.PutItemInput{TableName: aws.String("bench"), Item: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "p"}, "sk": &types.AttributeValueMemberN{Value: fmt.Sprint(i)}, "d": payload}}); err != nil {
			b.Fatal(err)
		}
	}
	var n atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			_, err := c.GetItem(b.Context(), &ddb.GetItemInput{TableName: aws.String("bench"), Key: map[string]types.AttributeValue{
				"pk": &types.AttributeValueMemberS{Value: "p"}, "sk": &types.AttributeValueMemberN{Value: fmt.Sprint(i % 100)}}})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkQuery100: a Query returning 100 items of one partition among
// 20,000 items.
func BenchmarkQuery100(b *testing.B) {
	svc, c, _ := serve(b)
	createOrders(b, c, "bench")
	for p := range 200 {
		err := svc.e.write(b.Context(), func(w *wtx) error {
			t, err := w.table("bench")
			if err != nil {
				return err
			}
			for i := range 100 {
				it := Item{"pk": {K: KindS, S: fmt.Sprint("p", p)}, "sk": {K: KindN, S: fmt.Sprint(i)}, "d": {K: KindS, S: "some data"}}
				k, _ := itemKey(t.schema(), it)
				if err := w.apply(t, change{key: k, new: it}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		out, err := c.Query(b.Context(), &ddb.QueryInput{TableName: aws.String("bench"), KeyConditionExpression: aws.String("pk = :p"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: fmt.Sprint("p", i%200)}}})
		if err != nil || out.Count != 100 {
			b.Fatal(err)
		}
	}
}

// BenchmarkHandlerPutItem and BenchmarkHandlerGetItem drive the handler's
// serve path directly (no HTTP, no client), 16 goroutines, a 1 KB item
// in a hash-key table: the server's own CPU per request.
func BenchmarkHandlerPutItem(b *testing.B) { benchHandler(b, "PutItem") }

func BenchmarkHandlerGetItem(b *testing.B) { benchHandler(b, "GetItem") }

func benchHandler(b *testing.B, op string) {
	svc, c, _ := serve(b)
	if _, err := c.CreateTable(b.Context(), &ddb.CreateTableInput{TableName: aws.String("bench"), BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}}}); err != nil {
		b.Fatal(err)
	}
	data := strings.Repeat("x", 1000)
	put := func(i int64) []byte {
		return []byte(`{"TableName":"bench","Item":{"pk":{"S":"k` + fmt.Sprint(i) + `"},"d":{"S":"` + data + `"}}}`)
	}
	const n = 1000
	for i := range int64(n) {
		if a := svc.h.serve(b.Context(), TargetPrefix+"PutItem", "", put(i)); a.status != 200 {
			b.Fatalf("%d %s", a.status, a.body)
		}
	}
	var seq atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := seq.Add(1)
			body := put(i)
			if op == "GetItem" {
				body = []byte(`{"TableName":"bench","Key":{"pk":{"S":"k` + fmt.Sprint(i%n) + `"}}}`)
			}
			a := svc.h.serve(b.Context(), TargetPrefix+op, "", body)
			if a.status != 200 || (op == "GetItem" && len(a.body) < 1000) {
				b.Fatalf("%d %s", a.status, a.body)
			}
		}
	})
}

package dynamodb

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	stypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

func streamsClient(url string) *dynamodbstreams.Client {
	return dynamodbstreams.New(dynamodbstreams.Options{Region: "us-east-1", BaseEndpoint: aws.String(url),
		Credentials: aws.AnonymousCredentials{}})
}

// readAll reads a stream from TRIM_HORIZON until it has n records.
func readAll(t *testing.T, sc *dynamodbstreams.Client, arn string, n int) []stypes.Record {
	t.Helper()
	ctx := t.Context()
	d, err := sc.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(arn)})
	if err != nil || len(d.StreamDescription.Shards) != 1 {
		t.Fatalf("describe stream: %v", err)
	}
	it, err := sc.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(arn),
		ShardId: d.StreamDescription.Shards[0].ShardId, ShardIteratorType: stypes.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	var out []stypes.Record
	next := it.ShardIterator
	deadline := time.Now().Add(20 * time.Second)
	for len(out) < n && time.Now().Before(deadline) {
		r, err := sc.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: next})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r.Records...)
		next = r.NextShardIterator
		if len(r.Records) == 0 {
			time.Sleep(20 * time.Millisecond) // polling, as a reader does
		}
	}
	return out
}

func TestStreamsAndTTL(t *testing.T) {
	svc, c, url := serve(t)
	ctx := t.Context()
	out, err := c.CreateTable(ctx, &ddb.CreateTableInput{TableName: aws.String("events"),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
		StreamSpecification:  &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewAndOldImages}})
	if err != nil {
		t.Fatal(err)
	}
	arn := *out.TableDescription.LatestStreamArn
	if !strings.HasPrefix(arn, "arn:aws:dynamodb:us-east-1:000000000000:table/events/stream/") {
		t.Fatalf("stream arn %s", arn)
	}
	key := map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "a"}}
	put := func(v string) {
		t.Helper()
		if _, err := c.PutItem(ctx, &ddb.PutItemInput{TableName: aws.String("events"), Item: map[string]types.AttributeValue{
			"id": &types.AttributeValueMemberS{Value: "a"}, "v": &types.AttributeValueMemberS{Value: v}, "exp": &types.AttributeValueMemberN{Value: strconv.FormatInt(time.Now().Unix()-60, 10)}}}); err != nil {
			t.Fatal(err)
		}
	}
	put("1")
	put("1") // no change: no record
	put("2")
	if _, err := c.DeleteItem(ctx, &ddb.DeleteItemInput{TableName: aws.String("events"), Key: key}); err != nil {
		t.Fatal(err)
	}
	// A failed condition writes nothing and streams nothing.
	_, _ = c.DeleteItem(ctx, &ddb.DeleteItemInput{TableName: aws.String("events"), Key: key, ConditionExpression: aws.String("attribute_exists(id)")})
	// TTL: an expired item is deleted by the service.
	put("3")
	if _, err := c.UpdateTimeToLive(ctx, &ddb.UpdateTimeToLiveInput{TableName: aws.String("events"),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{Enabled: aws.Bool(true), AttributeName: aws.String("exp")}}); err != nil {
		t.Fatal(err)
	}
	d, err := c.DescribeTimeToLive(ctx, &ddb.DescribeTimeToLiveInput{TableName: aws.String("events")})
	if err != nil || d.TimeToLiveDescription.TimeToLiveStatus != types.TimeToLiveStatusEnabled {
		t.Fatalf("ttl: %v", err)
	}
	svc.SweepTTL(ctx)
	sc := streamsClient(url)
	recs := readAll(t, sc, arn, 5)
	var names []string
	for _, r := range recs {
		names = append(names, string(r.EventName))
	}
	if strings.Join(names, ",") != "INSERT,MODIFY,REMOVE,INSERT,REMOVE" {
		t.Fatalf("events %v", names)
	}
	m := recs[1].Dynamodb
	if m.OldImage["v"].(*stypes.AttributeValueMemberS).Value != "1" || m.NewImage["v"].(*stypes.AttributeValueMemberS).Value != "2" ||
		m.Keys["id"] == nil || m.StreamViewType != stypes.StreamViewTypeNewAndOldImages || *m.SizeBytes <= 0 || *m.SequenceNumber <= *recs[0].Dynamodb.SequenceNumber {
		t.Fatalf("modify record %+v", m)
	}
	last := recs[4]
	if last.UserIdentity == nil || *last.UserIdentity.PrincipalId != "dynamodb.amazonaws.com" || *last.UserIdentity.Type != "Service" {
		t.Fatalf("ttl record identity %+v", last.UserIdentity)
	}
	if recs[2].UserIdentity != nil {
		t.Fatal("a user's delete carries the service identity")
	}
	// LATEST sees only what follows.
	ls, err := sc.ListStreams(ctx, &dynamodbstreams.ListStreamsInput{TableName: aws.String("events")})
	if err != nil || len(ls.Streams) != 1 || *ls.Streams[0].StreamArn != arn {
		t.Fatalf("list streams: %v %+v", err, ls)
	}
	_, err = sc.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: aws.String("garbage")})
	var ve *stypes.ResourceNotFoundException
	if err == nil || errors.As(err, &ve) {
		t.Fatalf("bad iterator: %v", err)
	}
}

func TestTransactions(t *testing.T) {
	_, c, _ := serve(t)
	ctx := t.Context()
	createOrders(t, c, "bank")
	acct := func(id string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: id}, "sk": &types.AttributeValueMemberN{Value: "0"}}
	}
	for _, id := range []string{"alice", "bob"} {
		it := acct(id)
		it["bal"] = &types.AttributeValueMemberN{Value: "100"}
		if _, err := c.PutItem(ctx, &ddb.PutItemInput{TableName: aws.String("bank"), Item: it}); err != nil {
			t.Fatal(err)
		}
	}
	transfer := func(amount, token string) error {
		v := map[string]types.AttributeValue{":a": &types.AttributeValueMemberN{Value: amount}}
		_, err := c.TransactWriteItems(ctx, &ddb.TransactWriteItemsInput{ClientRequestToken: aws.String(token), TransactItems: []types.TransactWriteItem{
			{Update: &types.Update{TableName: aws.String("bank"), Key: acct("alice"), UpdateExpression: aws.String("SET bal = bal - :a"),
				ConditionExpression: aws.String("bal >= :a"), ExpressionAttributeValues: v, ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld}},
			{Update: &types.Update{TableName: aws.String("bank"), Key: acct("bob"), UpdateExpression: aws.String("SET bal = bal + :a"), ExpressionAttributeValues: v}},
		}})
		return err
	}
	if err := transfer("30", "t1"); err != nil {
		t.Fatal(err)
	}
	if err := transfer("30", "t1"); err != nil { // the same token: applied once
		t.Fatal(err)
	}
	if err := transfer("31", "t1"); !strings.HasPrefix(apiCode(err), "IdempotentParameterMismatchException") {
		t.Fatalf("token reuse: %v", err)
	}
	err := transfer("500", "t2")
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) || len(tce.CancellationReasons) != 2 || *tce.CancellationReasons[0].Code != "ConditionalCheckFailed" ||
		*tce.CancellationReasons[1].Code != "None" || tce.CancellationReasons[0].Item["bal"] == nil {
		t.Fatalf("overdraft: %v", err)
	}
	g, err := c.TransactGetItems(ctx, &ddb.TransactGetItemsInput{TransactItems: []types.TransactGetItem{
		{Get: &types.Get{TableName: aws.String("bank"), Key: acct("alice")}}, {Get: &types.Get{TableName: aws.String("bank"), Key: acct("bob")}},
		{Get: &types.Get{TableName: aws.String("bank"), Key: acct("carol")}}}})
	if err != nil || g.Responses[0].Item["bal"].(*types.AttributeValueMemberN).Value != "70" ||
		g.Responses[1].Item["bal"].(*types.AttributeValueMemberN).Value != "130" || g.Responses[2].Item != nil {
		t.Fatalf("balances: %v %+v", err, g)
	}
	// Two operations on one item are refused.
	_, err = c.TransactWriteItems(ctx, &ddb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Delete: &types.Delete{TableName: aws.String("bank"), Key: acct("alice")}},
		{ConditionCheck: &types.ConditionCheck{TableName: aws.String("bank"), Key: acct("alice"), ConditionExpression: aws.String("attribute_exists(pk)")}}}})
	if !strings.Contains(apiCode(err), "Transaction request cannot include multiple operations on one item") {
		t.Fatalf("same item twice: %v", err)
	}
	// Batches: 25 writes at most, and BatchGetItem with a missing key.
	var reqs []types.WriteRequest
	for i := range 26 {
		it := acct("batch")
		it["sk"] = &types.AttributeValueMemberN{Value: strings.Repeat("1", i+1)}
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: it}})
	}
	if _, err := c.BatchWriteItem(ctx, &ddb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{"bank": reqs}}); !strings.HasPrefix(apiCode(err), "ValidationException") {
		t.Fatalf("26 writes: %v", err)
	}
	bw, err := c.BatchWriteItem(ctx, &ddb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{"bank": reqs[:25]}})
	if err != nil || len(bw.UnprocessedItems) != 0 {
		t.Fatalf("25 writes: %v", err)
	}
	bg, err := c.BatchGetItem(ctx, &ddb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{"bank": {
		Keys: []map[string]types.AttributeValue{acct("alice"), acct("nobody")}, ProjectionExpression: aws.String("bal")}}})
	if err != nil || len(bg.Responses["bank"]) != 1 || len(bg.Responses["bank"][0]) != 1 {
		t.Fatalf("batch get: %v %+v", err, bg)
	}
}

// TestStreamIteratorForgery: IAM judges Streams' GetRecords on the stream
// its ShardIterator names (Accesses), so an iterator must be one
// GetShardIterator issued: one rewritten to name another stream, or
// stripped of its signature, is refused; and the front door's view of an
// iterator is the stream it names.
func TestStreamIteratorForgery(t *testing.T) {
	_, c, url := serve(t)
	ctx := t.Context()
	arns := map[string]string{}
	for _, name := range []string{"public", "secret"} {
		out, err := c.CreateTable(ctx, &ddb.CreateTableInput{TableName: aws.String(name),
			AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
			KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
			BillingMode:          types.BillingModePayPerRequest,
			StreamSpecification:  &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeNewImage}})
		if err != nil {
			t.Fatal(err)
		}
		arns[name] = *out.TableDescription.LatestStreamArn
		if _, err := c.PutItem(ctx, &ddb.PutItemInput{TableName: aws.String(name),
			Item: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: name}}}); err != nil {
			t.Fatal(err)
		}
	}
	sc := streamsClient(url)
	if recs := readAll(t, sc, arns["public"], 1); len(recs) != 1 {
		t.Fatalf("public's records: %d", len(recs))
	}
	it, err := sc.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(arns["public"]),
		ShardId: aws.String(ShardID(arns["public"])), ShardIteratorType: stypes.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	acc, ok := Accesses("GetRecords", []byte(`{"ShardIterator":"`+*it.ShardIterator+`"}`))
	if !ok || len(acc) != 1 || acc[0].ARN != arns["public"] || acc[0].Action != "dynamodb:GetRecords" {
		t.Fatalf("Accesses of public's iterator: %+v", acc)
	}
	if acc, _ := Accesses("GetRecords", []byte(`{"ShardIterator":"junk"}`)); len(acc) != 1 || acc[0].ARN != "" || acc[0].Table != "*" {
		t.Fatalf("Accesses of an unreadable iterator: %+v, want every table", acc)
	}
	payload, sig, _ := strings.Cut(*it.ShardIterator, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(payload)
	forged := base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(raw), "table/public/", "table/secret/", 1)))
	if forged == payload {
		t.Fatalf("iterator %s names no table", raw)
	}
	for what, tok := range map[string]string{"forged, old signature": forged + "." + sig, "forged, unsigned": forged, "unsigned": payload} {
		if _, err := sc.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: aws.String(tok)}); !strings.Contains(fmt.Sprint(err), "ValidationException") {
			t.Errorf("%s: %v, want ValidationException", what, err)
		}
	}
}

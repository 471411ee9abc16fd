package clustertest

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// The stream function prints the order number of every record it gets.
const streamPy = `def handler(event, context):
    for r in event["Records"]:
        img = r["dynamodb"].get("NewImage", {})
        print("NIMBUS-DDB", r["eventName"], img.get("n", {}).get("N", "-"), flush=True)
    return {}
`

// streamLines collects the stream function's records, in the order they
// were printed (one mapping reader, one batch at a time).
type streamLines struct {
	mu sync.Mutex
	ns []string // guarded by mu
}

func (s *streamLines) line(_ *Node, l string) {
	i := strings.Index(l, "NIMBUS-DDB ")
	if i < 0 {
		return
	}
	if f := strings.Fields(l[i:]); len(f) >= 3 {
		s.mu.Lock()
		s.ns = append(s.ns, f[1]+" "+f[2])
		s.mu.Unlock()
	}
}

func (s *streamLines) get() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ns...)
}

// tables: every node serves the same tables with DynamoDB's
// semantics (docs/design/tables.md, "Several nodes"): a write acknowledged
// by one node is seen by a strongly consistent read on another; two nodes
// racing the same conditional write have exactly one winner; a
// transaction sent to a third node is all-or-nothing against writes made
// through the others; and a stream-triggered function sees the changes
// made through all three nodes in the order they were made.
func tables(t *testing.T, c *Cluster) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not installed")
	}
	lines := &streamLines{}
	c.OnStdout(lines.line)
	creds := c.Credentials(t)
	provider := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil })
	ddb := func(n *Node) *dynamodb.Client {
		return dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String(n.Endpoint), Credentials: provider,
			RetryMaxAttempts: 1})
	}
	ctx := t.Context()
	n0, n1, n2 := c.Nodes[0], c.Nodes[1], c.Nodes[2]
	s := func(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: v} }
	num := func(v int) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberN{Value: strconv.Itoa(v)} }

	var streamArn string
	Eventually(t, 2*time.Minute, "node0 creates a table", func() bool {
		out, err := ddb(n0).CreateTable(ctx, &dynamodb.CreateTableInput{
			TableName:            aws.String("orders"),
			AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
			KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash}},
			BillingMode:          ddbtypes.BillingModePayPerRequest,
			StreamSpecification:  &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: ddbtypes.StreamViewTypeNewImage},
		})
		var inUse *ddbtypes.ResourceInUseException
		if errors.As(err, &inUse) { // an earlier try's answer was lost
			d, err := ddb(n0).DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("orders")})
			if err != nil {
				return false
			}
			streamArn = aws.ToString(d.Table.LatestStreamArn)
			return true
		}
		if err != nil {
			t.Logf("create table: %v", err)
			return false
		}
		streamArn = aws.ToString(out.TableDescription.LatestStreamArn)
		return true
	})

	// A write through node0, read strongly consistently through node1.
	if _, err := ddb(n0).PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("orders"),
		Item: map[string]ddbtypes.AttributeValue{"pk": s("order-1"), "amount": num(42)}}); err != nil {
		t.Fatal(err)
	}
	got, err := ddb(n1).GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("orders"), ConsistentRead: aws.Bool(true),
		Key: map[string]ddbtypes.AttributeValue{"pk": s("order-1")}})
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := got.Item["amount"].(*ddbtypes.AttributeValueMemberN); !ok || v.Value != "42" {
		t.Errorf("node1 reads %v, want node0's write", got.Item)
	}

	// Conditional writes raced from node1 and node2: one winner per key.
	for k := range 10 {
		key := fmt.Sprintf("race-%d", k)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, n := range []*Node{n1, n2} {
			wg.Go(func() {
				_, errs[i] = ddb(n).PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("orders"),
					Item:                map[string]ddbtypes.AttributeValue{"pk": s(key), "by": s(n.Name)},
					ConditionExpression: aws.String("attribute_not_exists(pk)")})
			})
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			var ccf *ddbtypes.ConditionalCheckFailedException
			switch {
			case err == nil:
				won++
			case !errors.As(err, &ccf):
				t.Errorf("%s: a racer failed otherwise: %v", key, err)
			}
		}
		if won != 1 {
			t.Errorf("%s: %d conditional writes won, want exactly 1", key, won)
		}
	}

	// A transaction through node2 that depends on node0's write commits;
	// one whose condition node1's write broke changes nothing.
	cond := func(total int) ddbtypes.TransactWriteItem {
		return ddbtypes.TransactWriteItem{ConditionCheck: &ddbtypes.ConditionCheck{TableName: aws.String("orders"),
			Key: map[string]ddbtypes.AttributeValue{"pk": s("order-1")}, ConditionExpression: aws.String("amount = :t"),
			ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":t": num(total)}}}
	}
	put := func(pk string) ddbtypes.TransactWriteItem {
		return ddbtypes.TransactWriteItem{Put: &ddbtypes.Put{TableName: aws.String("orders"),
			Item: map[string]ddbtypes.AttributeValue{"pk": s(pk)}}}
	}
	if _, err := ddb(n2).TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
		TransactItems: []ddbtypes.TransactWriteItem{cond(42), put("tx-1")}}); err != nil {
		t.Fatalf("transaction through node2: %v", err)
	}
	if _, err := ddb(n1).UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String("orders"),
		Key: map[string]ddbtypes.AttributeValue{"pk": s("order-1")}, UpdateExpression: aws.String("SET amount = :t"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{":t": num(43)}}); err != nil {
		t.Fatal(err)
	}
	_, err = ddb(n2).TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{
		TransactItems: []ddbtypes.TransactWriteItem{cond(42), put("tx-2")}})
	var tce *ddbtypes.TransactionCanceledException
	if !errors.As(err, &tce) {
		t.Errorf("a transaction whose condition node1's write broke: %v, want TransactionCanceledException", err)
	}
	for pk, want := range map[string]bool{"tx-1": true, "tx-2": false} {
		got, err := ddb(n0).GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("orders"), ConsistentRead: aws.Bool(true),
			Key: map[string]ddbtypes.AttributeValue{"pk": s(pk)}})
		if err != nil {
			t.Fatal(err)
		}
		if (got.Item != nil) != want {
			t.Errorf("%s present = %v, want %v", pk, got.Item != nil, want)
		}
	}

	// A stream mapping created through node1; changes to one item made
	// through all three nodes reach the function in order.
	// The function's role may read the stream: Lambda's poller reads as
	// the role under the default --iam enforce.
	ic := awsiam.New(awsiam.Options{Region: "us-east-1", BaseEndpoint: aws.String(n1.Endpoint), Credentials: provider})
	if _, err := ic.CreateRole(ctx, &awsiam.CreateRoleInput{RoleName: aws.String("on-order"), AssumeRolePolicyDocument: aws.String(
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := ic.PutRolePolicy(ctx, &awsiam.PutRolePolicyInput{RoleName: aws.String("on-order"), PolicyName: aws.String("stream"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["dynamodb:GetRecords",` +
			`"dynamodb:GetShardIterator","dynamodb:DescribeStream","dynamodb:ListStreams"],"Resource":"*"}]}`)}); err != nil {
		t.Fatal(err)
	}
	lc := lambda.New(lambda.Options{Region: "us-east-1", BaseEndpoint: aws.String(n1.Endpoint), Credentials: provider})
	if _, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("on-order"), Runtime: types.RuntimePython312, Handler: aws.String("app.handler"),
		Role: aws.String("arn:aws:iam::000000000000:role/on-order"), Timeout: aws.Int32(30),
		Code: &types.FunctionCode{ZipFile: pyZip(t, streamPy)},
	}); err != nil {
		t.Fatal(err)
	}
	// The role's policy reaches node1's watch-fed cache shortly after the
	// write: until then the mapping is refused for want of permission.
	for deadline := time.Now().Add(2 * time.Minute); ; {
		_, err := lc.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{
			FunctionName: aws.String("on-order"), EventSourceArn: aws.String(streamArn),
			StartingPosition: types.EventSourcePositionTrimHorizon, BatchSize: aws.Int32(3),
		})
		if err == nil {
			break
		}
		if time.Now().After(deadline) || !strings.Contains(err.Error(), "InvalidParameterValueException") {
			t.Fatalf("stream mapping through node1: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	const changes = 12
	for i := 1; i <= changes; i++ {
		if _, err := ddb(c.Nodes[i%3]).PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("orders"),
			Item: map[string]ddbtypes.AttributeValue{"pk": s("seq"), "n": num(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	var seen []string
	Eventually(t, 3*time.Minute, "the stream function sees every change to seq", func() bool {
		seen = nil
		for _, l := range lines.get() {
			if !strings.HasSuffix(l, " -") {
				seen = append(seen, l)
			}
		}
		return len(seen) >= changes
	})
	want := []string{"INSERT 1"}
	for i := 2; i <= changes; i++ {
		want = append(want, "MODIFY "+strconv.Itoa(i))
	}
	t.Logf("the stream function saw %d changes made through three nodes", len(seen))
	if strings.Join(seen, ",") != strings.Join(want, ",") {
		t.Errorf("the stream function saw %v, want %v (each once, in order)", seen, want)
	}
}

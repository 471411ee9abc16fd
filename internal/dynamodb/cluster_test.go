package dynamodb

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// TestTwoNodesShareTables runs two Services on one backbone, as two nodes
// of a cluster: the first to hold the tables' lease is the table node,
// the other forwards every request to it (and follows its change log), so
// both see one set of tables, items and streams
// (internal/clustertest's TestCluster/Independent/Tables does the same with three
// processes).
func TestTwoNodesShareTables(t *testing.T) {
	st := storetest.Open(t)
	node := func(name string) (*Service, *ddb.Client, string) {
		svc, err := New(t.Context(), Options{Dir: t.TempDir(), JetStream: st.JetStream(), Region: "us-east-1", AccountID: testAccount,
			Cluster: true, Conn: st.Conn(), Node: name})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(NewHandler(svc))
		t.Cleanup(func() { srv.Close(); _ = svc.Close() })
		return svc, ddb.New(ddb.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
			Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")}), srv.URL
	}
	home, c0, _ := node("a")
	for end := time.Now().Add(time.Minute); !home.peer.isHome() && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
	}
	other, c1, url1 := node("b")
	if !home.peer.isHome() || other.peer.isHome() {
		t.Fatalf("table node: a holds %v, b holds %v", home.peer.isHome(), other.peer.isHome())
	}
	ctx := t.Context()
	out, err := c1.CreateTable(ctx, &ddb.CreateTableInput{TableName: aws.String("tbl"),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
		StreamSpecification:  &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: types.StreamViewTypeKeysOnly}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := home.e.table("tbl"); !ok {
		t.Fatal("a table created through b is not in a's store")
	}
	// b follows a's change log into its own copy.
	for end := time.Now().Add(time.Minute); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if _, ok := other.e.table("tbl"); ok {
			break
		}
	}
	if _, ok := other.e.table("tbl"); !ok {
		t.Fatal("b's copy lacks the table")
	}
	key := map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "x"}}
	if _, err := c0.PutItem(ctx, &ddb.PutItemInput{TableName: aws.String("tbl"), Item: key}); err != nil {
		t.Fatal(err)
	}
	got, err := c1.GetItem(ctx, &ddb.GetItemInput{TableName: aws.String("tbl"), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil || got.Item == nil {
		t.Fatalf("b reads a's write: %v %v", got, err)
	}
	_, err = c1.PutItem(ctx, &ddb.PutItemInput{TableName: aws.String("tbl"), Item: key, ConditionExpression: aws.String("attribute_not_exists(id)")})
	if !strings.HasPrefix(apiCode(err), "ConditionalCheckFailedException:") {
		t.Errorf("a conditional write through b: %v", err)
	}
	_, err = c1.DescribeTable(ctx, &ddb.DescribeTableInput{TableName: aws.String("nope")})
	if !strings.HasPrefix(apiCode(err), "ResourceNotFoundException:") {
		t.Errorf("an error through b: %v", err)
	}
	arn := *out.TableDescription.LatestStreamArn
	if !other.StreamExists(arn) || other.StreamExists(arn+"x") {
		t.Error("b's StreamExists does not ask a")
	}
	if recs := readAll(t, streamsClient(url1), arn, 1); len(recs) != 1 {
		t.Errorf("b's Streams API: %d records", len(recs))
	}
	sc := dynamodbstreams.New(dynamodbstreams.Options{Region: "us-east-1", BaseEndpoint: aws.String(url1), Credentials: aws.AnonymousCredentials{}})
	if l, err := sc.ListStreams(ctx, &dynamodbstreams.ListStreamsInput{}); err != nil || len(l.Streams) != 1 {
		t.Errorf("b lists streams: %v %v", l, err)
	}
}

package daemon

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	awsddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streamtypes "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	kinesistypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"

	"github.com/nimbus-serverless/nimbus/internal/config"
)

// TestPartiQLAndTransactionsAuthorisePerTable is the attack on requests
// that name their tables in the body: a caller allowed dynamodb:
// PartiQLSelect on "public" only cannot read "secret" through a SELECT, a
// batch that hides it behind an allowed statement, an index of it, or
// write it through INSERT, a transaction (in either case of its members)
// or a batch write; its own table still answers.
func TestPartiQLAndTransactionsAuthorisePerTable(t *testing.T) {
	t.Parallel()
	n, roleArn := iamNode(t, config.IAMEnforce, `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Action":["dynamodb:PartiQLSelect","dynamodb:PutItem"],"Resource":"arn:aws:dynamodb:us-east-1:*:table/public"},
	 {"Effect":"Allow","Action":["dynamodb:GetShardIterator","dynamodb:GetRecords"],"Resource":"arn:aws:dynamodb:us-east-1:*:table/public/stream/*"},
	 {"Effect":"Allow","Action":["kinesis:PutRecord","kinesis:GetShardIterator","kinesis:GetRecords"],"Resource":"arn:aws:kinesis:us-east-1:*:stream/public"},
	 {"Effect":"Allow","Action":"ssm:GetParameter","Resource":"arn:aws:ssm:us-east-1:*:parameter/public"}]}`)
	ctx := context.Background()
	root := awsddb.NewFromConfig(n.awsConfig())
	for _, name := range []string{"public", "secret"} {
		if _, err := root.CreateTable(ctx, &awsddb.CreateTableInput{TableName: aws.String(name),
			AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String("k"), AttributeType: ddbtypes.ScalarAttributeTypeS}},
			KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String("k"), KeyType: ddbtypes.KeyTypeHash}},
			BillingMode:          ddbtypes.BillingModePayPerRequest,
			StreamSpecification:  &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: ddbtypes.StreamViewTypeKeysOnly}}); err != nil {
			t.Fatal(err)
		}
		if _, err := root.ExecuteStatement(ctx, &awsddb.ExecuteStatementInput{
			Statement: aws.String(`INSERT INTO "` + name + `" VALUE {'k': 'a', 'v': 'data of ` + name + `'}`)}); err != nil {
			t.Fatal(err)
		}
	}
	fc := awsddb.NewFromConfig(functionConfig(t, n, roleArn, "mine"))
	out, err := fc.ExecuteStatement(ctx, &awsddb.ExecuteStatementInput{Statement: aws.String(`SELECT * FROM public WHERE k = 'a'`)})
	if err != nil || len(out.Items) != 1 {
		t.Fatalf("SELECT on the allowed table: %v", err)
	}
	stmt := func(s string) *string { return aws.String(s) }
	_, err = fc.ExecuteStatement(ctx, &awsddb.ExecuteStatementInput{Statement: stmt(`SELECT * FROM secret WHERE k = 'a'`)})
	wantDenied(t, "SELECT on secret", err, "AccessDeniedException", 400, "")
	_, err = fc.ExecuteStatement(ctx, &awsddb.ExecuteStatementInput{Statement: stmt(`select * from "secret"."idx"`)})
	wantDenied(t, "SELECT on an index of secret", err, "AccessDeniedException", 400, "")
	_, err = fc.ExecuteStatement(ctx, &awsddb.ExecuteStatementInput{Statement: stmt(`INSERT INTO public VALUE {'k': 'b'}`)})
	wantDenied(t, "INSERT without PartiQLInsert", err, "AccessDeniedException", 400, "")
	_, err = fc.BatchExecuteStatement(ctx, &awsddb.BatchExecuteStatementInput{Statements: []ddbtypes.BatchStatementRequest{
		{Statement: stmt(`SELECT * FROM public WHERE k = 'a'`)}, {Statement: stmt(`SELECT * FROM secret WHERE k = 'a'`)}}})
	wantDenied(t, "a batch hiding secret", err, "AccessDeniedException", 400, "")
	_, err = fc.ExecuteTransaction(ctx, &awsddb.ExecuteTransactionInput{TransactStatements: []ddbtypes.ParameterizedStatement{
		{Statement: stmt(`SELECT * FROM public WHERE k = 'a'`)}, {Statement: stmt(`SELECT * FROM secret WHERE k = 'a'`)}}})
	wantDenied(t, "a transaction hiding secret", err, "AccessDeniedException", 400, "")
	put := func(table string) ddbtypes.TransactWriteItem {
		return ddbtypes.TransactWriteItem{Put: &ddbtypes.Put{TableName: aws.String(table),
			Item: map[string]ddbtypes.AttributeValue{"k": &ddbtypes.AttributeValueMemberS{Value: "x"}}}}
	}
	_, err = fc.TransactWriteItems(ctx, &awsddb.TransactWriteItemsInput{TransactItems: []ddbtypes.TransactWriteItem{put("public"), put("secret")}})
	wantDenied(t, "TransactWriteItems into secret", err, "AccessDeniedException", 400, "")
	_, err = fc.BatchWriteItem(ctx, &awsddb.BatchWriteItemInput{RequestItems: map[string][]ddbtypes.WriteRequest{
		"secret": {{PutRequest: &ddbtypes.PutRequest{Item: map[string]ddbtypes.AttributeValue{"k": &ddbtypes.AttributeValueMemberS{Value: "x"}}}}}}})
	wantDenied(t, "BatchWriteItem into secret", err, "AccessDeniedException", 400, "")
	// Streams' GetRecords is judged on the stream its (signed) iterator
	// names: public's reads, secret's (issued to root) is denied.
	streamIter := func(cfg aws.Config, table string) string {
		d, err := root.DescribeTable(ctx, &awsddb.DescribeTableInput{TableName: aws.String(table)})
		if err != nil {
			t.Fatal(err)
		}
		sc := dynamodbstreams.NewFromConfig(cfg)
		ds, err := sc.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: d.Table.LatestStreamArn})
		if err != nil {
			t.Fatalf("DescribeStream %s: %v", table, err)
		}
		it, err := sc.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: d.Table.LatestStreamArn,
			ShardId: ds.StreamDescription.Shards[0].ShardId, ShardIteratorType: streamtypes.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatalf("GetShardIterator %s: %v", table, err)
		}
		return *it.ShardIterator
	}
	fsc := dynamodbstreams.NewFromConfig(functionConfig(t, n, roleArn, "mine"))
	if _, err := fsc.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: aws.String(streamIter(n.awsConfig(), "public"))}); err != nil {
		t.Errorf("GetRecords of public's stream: %v", err)
	}
	_, err = fsc.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: aws.String(streamIter(n.awsConfig(), "secret"))})
	wantDenied(t, "GetRecords with secret's iterator", err, "AccessDeniedException", 400, "")
	// DynamoDB Streams and Kinesis answer a denial 400 too, as AWS does.
	_, err = dynamodbstreams.NewFromConfig(functionConfig(t, n, roleArn, "mine")).ListStreams(ctx, &dynamodbstreams.ListStreamsInput{})
	wantDenied(t, "ListStreams", err, "AccessDeniedException", 400, "")
	kc := kinesis.NewFromConfig(functionConfig(t, n, roleArn, "mine"))
	_, err = kc.ListStreams(ctx, &kinesis.ListStreamsInput{})
	wantDenied(t, "Kinesis ListStreams", err, "AccessDeniedException", 400, "")
	// Kinesis is judged on the stream the operation uses: the one its
	// StreamName names, not an added StreamArn member.
	rootK := kinesis.NewFromConfig(n.awsConfig())
	for _, name := range []string{"public", "secret"} {
		if _, err := rootK.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(1)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := kc.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("public"), PartitionKey: aws.String("k"), Data: []byte("x")}); err != nil {
		t.Errorf("PutRecord to the allowed stream: %v", err)
	}
	_, err = kc.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("secret"), PartitionKey: aws.String("k"), Data: []byte("x")})
	wantDenied(t, "PutRecord to secret", err, "AccessDeniedException", 400, "")
	// GetRecords is judged on the stream its (signed) ShardIterator was
	// issued for: public's reads, secret's (issued to root) or one
	// rewritten to name secret is denied.
	iter := func(c *kinesis.Client, name string) string {
		it, err := c.GetShardIterator(ctx, &kinesis.GetShardIteratorInput{StreamName: aws.String(name), ShardId: aws.String("shardId-000000000000"),
			ShardIteratorType: kinesistypes.ShardIteratorTypeTrimHorizon})
		if err != nil {
			t.Fatalf("GetShardIterator %s: %v", name, err)
		}
		return *it.ShardIterator
	}
	if got, err := kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(iter(kc, "public"))}); err != nil || len(got.Records) != 1 {
		t.Errorf("GetRecords of public: %v", err)
	}
	_, err = kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(iter(rootK, "secret"))})
	wantDenied(t, "GetRecords with secret's iterator", err, "AccessDeniedException", 400, "")
	payload, sig, _ := strings.Cut(iter(kc, "public"), ".")
	raw, _ := base64.RawURLEncoding.DecodeString(payload)
	forged := base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(raw), `"public"`, `"secret"`, 1))) + "." + sig
	_, err = kc.GetRecords(ctx, &kinesis.GetRecordsInput{ShardIterator: aws.String(forged)})
	wantDenied(t, "GetRecords with an iterator rewritten to secret", err, "AccessDeniedException", 400, "")
	kcfg := functionConfig(t, n, roleArn, "mine")
	publicStream := "arn:aws:kinesis:us-east-1:" + n.d.cfg.AccountID + ":stream/public"
	if status, resp := signedTargetAs(t, n, kcfg, "kinesis", "Kinesis_20131202.PutRecord",
		`{"StreamName":"secret","StreamArn":"`+publicStream+`","PartitionKey":"k","Data":"eA=="}`); status != http.StatusBadRequest ||
		!strings.Contains(resp, "AccessDeniedException") {
		t.Errorf("PutRecord to secret with a StreamArn member of public: %d %s", status, resp)
	}

	// The same, by hand: lower-case members and a body padded past what
	// the front door reads.
	cfg := functionConfig(t, n, roleArn, "mine")
	publicArn := "arn:aws:dynamodb:us-east-1:" + n.d.cfg.AccountID + ":table/public"
	for what, body := range map[string]string{
		"lower-case put": `{"TransactItems":[{"put":{"TableName":"secret","Item":{"k":{"S":"y"}}}}]}`,
		"padded":         `{"Statement":"SELECT * FROM secret"` + strings.Repeat(" ", 9<<20) + `}`,
		// One table for IAM, another for the operation: a second member
		// differing in case (the operation's decoding matches members
		// case-insensitively, the last one winning), or an ARN member
		// PutItem does not have.
		"case twin":  `{"TableName":"public","tablename":"secret","Item":{"k":{"S":"y"}}}`,
		"arn member": `{"TableName":"secret","TableArn":"` + publicArn + `","ResourceArn":"` + publicArn + `","Item":{"k":{"S":"y"}}}`,
	} {
		op := "TransactWriteItems"
		switch what {
		case "padded":
			op = "ExecuteStatement"
		case "case twin", "arn member":
			op = "PutItem"
		}
		status, resp := signedTarget(t, n, cfg, "DynamoDB_20120810."+op, body)
		// A pair of members differing in case is refused before IAM looks.
		if status != http.StatusBadRequest || !strings.Contains(resp, "AccessDeniedException") &&
			(what != "case twin" || !strings.Contains(resp, "SerializationException")) {
			t.Errorf("%s: %d %s", what, status, resp)
		}
	}
	// A member the operation does not read (an ARN beside the name it
	// uses) is judged too, so it cannot stand in for the real resource.
	for _, name := range []string{"public", "secret"} {
		if status, resp := signedTargetAs(t, n, n.awsConfig(), "ssm", "AmazonSSM.PutParameter",
			`{"Name":"`+name+`","Value":"value of `+name+`","Type":"String"}`); status != http.StatusOK {
			t.Fatalf("PutParameter %s: %d %s", name, status, resp)
		}
	}
	if status, resp := signedTargetAs(t, n, cfg, "ssm", "AmazonSSM.GetParameter", `{"Name":"public"}`); status != http.StatusOK {
		t.Errorf("GetParameter public: %d %s", status, resp)
	}
	publicParam := "arn:aws:ssm:us-east-1:" + n.d.cfg.AccountID + ":parameter/public"
	if status, resp := signedTargetAs(t, n, cfg, "ssm", "AmazonSSM.GetParameter", `{"Name":"secret","ResourceArn":"`+publicParam+`"}`); status == http.StatusOK ||
		strings.Contains(resp, "value of secret") || !strings.Contains(resp, "AccessDenied") {
		t.Errorf("GetParameter secret with a ResourceArn member of public: %d %s", status, resp)
	}
	// Every JSON-protocol service: members equal but for case (Unicode
	// simple folding, as encoding/json matches them) never reach IAM or
	// the operation.
	for _, c := range [][3]string{
		{"ssm", "AmazonSSM.GetParameter", `{"Name":"public","name":"secret"}`},
		{"kinesis", "Kinesis_20131202.PutRecord", `{"StreamName":"public","ſtreamName":"secret","PartitionKey":"k","Data":"eA=="}`},
		{"kms", "TrentService.Decrypt", `{"KeyId":"alias/public","KeyId":"alias/secret","CiphertextBlob":"eA=="}`},
	} {
		if status, resp := signedTargetAs(t, n, cfg, c[0], c[1], c[2]); status != http.StatusBadRequest || !strings.Contains(resp, "SerializationException") {
			t.Errorf("%s with a case twin: %d %s", c[1], status, resp)
		}
	}
	got, err := root.GetItem(ctx, &awsddb.GetItemInput{TableName: aws.String("secret"), ConsistentRead: aws.Bool(true),
		Key: map[string]ddbtypes.AttributeValue{"k": &ddbtypes.AttributeValueMemberS{Value: "y"}}})
	if err != nil || got.Item != nil {
		t.Errorf("secret was written: %v %v", got.Item, err)
	}
}

// signedTarget posts a DynamoDB JSON body for target, signed with cfg's
// credentials, and returns the status and body of the answer.
func signedTarget(t *testing.T, n *node, cfg aws.Config, target, body string) (int, string) {
	t.Helper()
	return signedTargetAs(t, n, cfg, "dynamodb", target, body)
}

// signedTargetAs is signedTarget signed for service.
func signedTargetAs(t *testing.T, n *node, cfg aws.Config, service, target, body string) (int, string) {
	t.Helper()
	ctx := t.Context()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.endpoint()+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Target", target)
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), service, "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestCustomDomainNamesAreRootOnly: a custom domain name takes over every
// request to its host on the node (AWS API calls of clients reaching the
// node by that name included), so a user allowed all of API Gateway still
// cannot create or map one; root can.
func TestCustomDomainNamesAreRootOnly(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir(), func(c *config.Config) { c.IAM = config.IAMEnforce })
	ucfg := createUserWithKey(t, n, "apis", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"apigateway:*","Resource":"*"}]}`)
	ctx := t.Context()
	user := apigatewayv2.NewFromConfig(ucfg)
	if _, err := user.GetDomainNames(ctx, &apigatewayv2.GetDomainNamesInput{}); err != nil {
		t.Fatalf("listing domain names: %v", err)
	}
	_, err := user.CreateDomainName(ctx, &apigatewayv2.CreateDomainNameInput{DomainName: aws.String("node.example.com")})
	wantDenied(t, "CreateDomainName as a user", err, "AccessDeniedException", 403, "")
	if _, err := apigatewayv2.NewFromConfig(n.awsConfig()).CreateDomainName(ctx, &apigatewayv2.CreateDomainNameInput{
		DomainName: aws.String("api.example.com")}); err != nil {
		t.Fatalf("CreateDomainName as root: %v", err)
	}
	_, err = user.DeleteDomainName(ctx, &apigatewayv2.DeleteDomainNameInput{DomainName: aws.String("api.example.com")})
	wantDenied(t, "DeleteDomainName as a user", err, "AccessDeniedException", 403, "")
}

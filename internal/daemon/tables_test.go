package daemon

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwt "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	awsddb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
)

// TestDynamoDBStreamEventSourceMapping: a table's stream triggers a
// function in order; records the filter rejects are skipped; a record
// the function keeps failing goes, after its retries, to the SQS
// on-failure destination as Lambda's failure record.
func TestDynamoDBStreamEventSourceMapping(t *testing.T) {
	n := startNode(t, t.TempDir())
	ctx := t.Context()
	dc := awsddb.NewFromConfig(n.awsConfig())
	q := awssqs.NewFromConfig(n.awsConfig())
	lc := lambda.NewFromConfig(n.awsConfig())
	mk := func(name string, stream bool) string {
		in := &awsddb.CreateTableInput{TableName: aws.String(name), BillingMode: ddbtypes.BillingModePayPerRequest,
			AttributeDefinitions: []ddbtypes.AttributeDefinition{{AttributeName: aws.String(map[bool]string{true: "id", false: "seq"}[stream]), AttributeType: ddbtypes.ScalarAttributeTypeS}},
			KeySchema:            []ddbtypes.KeySchemaElement{{AttributeName: aws.String(map[bool]string{true: "id", false: "seq"}[stream]), KeyType: ddbtypes.KeyTypeHash}}}
		if stream {
			in.StreamSpecification = &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: ddbtypes.StreamViewTypeNewAndOldImages}
		}
		out, err := dc.CreateTable(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.TableDescription.LatestStreamArn)
	}
	streamArn := mk("src", true)
	mk("seen", false)
	dlq, err := q.CreateQueue(ctx, &awssqs.CreateQueueInput{QueueName: aws.String("ddb-failures")})
	if err != nil {
		t.Fatal(err)
	}
	create(t, n, &lambda.CreateFunctionInput{
		FunctionName: aws.String("ddbworker"), Runtime: types.RuntimeProvidedal2023, Handler: aws.String("bootstrap"),
		// The poller reads the stream as the function's role, and sends
		// failures to the destination as it.
		Role: aws.String(createRole(t, n, "ddbworker", `{"Version":"2012-10-17","Statement":[
		  {"Effect":"Allow","Action":"dynamodb:PutItem","Resource":"arn:aws:dynamodb:*:*:table/seen"},
		  {"Effect":"Allow","Action":["dynamodb:GetRecords","dynamodb:GetShardIterator","dynamodb:DescribeStream","dynamodb:ListStreams"],
		   "Resource":"*"},
		  {"Effect":"Allow","Action":"sqs:SendMessage","Resource":"arn:aws:sqs:*:*:ddb-failures"}]}`)),
		Code:        &types.FunctionCode{ZipFile: goZip(t, "./internal/daemon/testdata/ddbworker")},
		Environment: &types.Environment{Variables: map[string]string{"SEEN_TABLE": "seen"}},
	})
	if _, err := lc.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("ddbworker"),
		EventSourceArn: aws.String(streamArn)}); err == nil || !strings.Contains(err.Error(), "startingPosition") {
		t.Fatalf("a stream mapping without StartingPosition: %v", err)
	}
	if _, err := lc.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("ddbworker"),
		EventSourceArn: aws.String(streamArn + "x"), StartingPosition: types.EventSourcePositionTrimHorizon}); err == nil {
		t.Fatal("a missing stream was accepted")
	}
	put := func(id, kind string) {
		t.Helper()
		if _, err := dc.PutItem(ctx, &awsddb.PutItemInput{TableName: aws.String("src"), Item: map[string]ddbtypes.AttributeValue{
			"id": &ddbtypes.AttributeValueMemberS{Value: id}, "kind": &ddbtypes.AttributeValueMemberS{Value: kind}}}); err != nil {
			t.Fatal(err)
		}
	}
	// Written before the mapping: TRIM_HORIZON sees it.
	put("a", "new")
	if _, err := lc.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{
		FunctionName: aws.String("ddbworker"), EventSourceArn: aws.String(streamArn), StartingPosition: types.EventSourcePositionTrimHorizon,
		BatchSize: aws.Int32(10), FunctionResponseTypes: []types.FunctionResponseType{types.FunctionResponseTypeReportBatchItemFailures},
		MaximumRetryAttempts: aws.Int32(1), BisectBatchOnFunctionError: aws.Bool(true),
		DestinationConfig: &types.DestinationConfig{OnFailure: &types.OnFailure{Destination: aws.String("arn:aws:sqs:us-east-1:000000000000:ddb-failures")}},
		FilterCriteria:    &types.FilterCriteria{Filters: []types.Filter{{Pattern: aws.String(`{"dynamodb":{"Keys":{"id":{"S":[{"anything-but":"ignored"}]}}}}`)}}},
	}); err != nil {
		t.Fatal(err)
	}
	put("a", "changed")
	put("b", "new")
	put("ignored", "new")
	if _, err := dc.DeleteItem(ctx, &awsddb.DeleteItemInput{TableName: aws.String("src"), Key: map[string]ddbtypes.AttributeValue{
		"id": &ddbtypes.AttributeValueMemberS{Value: "b"}}}); err != nil {
		t.Fatal(err)
	}
	put("c", "fail")

	want := "INSERT a,MODIFY a,INSERT b,REMOVE b"
	var got string
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		s, err := dc.Scan(ctx, &awsddb.ScanInput{TableName: aws.String("seen"), ConsistentRead: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		sort.Slice(s.Items, func(i, j int) bool {
			return s.Items[i]["seq"].(*ddbtypes.AttributeValueMemberS).Value < s.Items[j]["seq"].(*ddbtypes.AttributeValueMemberS).Value
		})
		var ev []string
		for _, it := range s.Items {
			ev = append(ev, it["event"].(*ddbtypes.AttributeValueMemberS).Value+" "+it["key"].(*ddbtypes.AttributeValueMemberS).Value)
			if it["source"].(*ddbtypes.AttributeValueMemberS).Value != streamArn || it["view"].(*ddbtypes.AttributeValueMemberS).Value != "NEW_AND_OLD_IMAGES" {
				t.Fatalf("record %v", it)
			}
		}
		if got = strings.Join(ev, ","); got == want {
			break
		}
		time.Sleep(100 * time.Millisecond) // polling a table the function writes to
	}
	if got != want {
		t.Fatalf("the function saw %q, want %q", got, want)
	}
	msg, err := q.ReceiveMessage(ctx, &awssqs.ReceiveMessageInput{QueueUrl: dlq.QueueUrl, WaitTimeSeconds: 20})
	if err != nil || len(msg.Messages) != 1 {
		t.Fatalf("failure record: %v %+v", err, msg)
	}
	var rec struct {
		RequestContext struct {
			Condition              string `json:"condition"`
			ApproximateInvokeCount int    `json:"approximateInvokeCount"`
		} `json:"requestContext"`
		Info struct {
			BatchSize int    `json:"batchSize"`
			StreamArn string `json:"streamArn"`
			Start     string `json:"startSequenceNumber"`
		} `json:"DDBStreamBatchInfo"`
	}
	if err := json.Unmarshal([]byte(*msg.Messages[0].Body), &rec); err != nil || rec.RequestContext.Condition != "RetryAttemptsExhausted" ||
		rec.RequestContext.ApproximateInvokeCount != 2 || rec.Info.BatchSize != 1 || rec.Info.StreamArn != streamArn || rec.Info.Start == "" {
		t.Fatalf("failure record %s (%v)", *msg.Messages[0].Body, err)
	}
	// Each batch sent records the age of its last record as AWS/Lambda
	// IteratorAge: the record written before the mapping existed is older
	// than nothing.
	cw := cloudwatchClient(n)
	for range 300 { // a hang guard, not a timing assertion
		st, err := cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{
			Namespace: aws.String("AWS/Lambda"), MetricName: aws.String("IteratorAge"),
			Dimensions: []cwt.Dimension{{Name: aws.String("FunctionName"), Value: aws.String("ddbworker")}},
			StartTime:  aws.Time(time.Now().Add(-time.Hour)), EndTime: aws.Time(time.Now().Add(time.Minute)),
			Period: aws.Int32(3600), Statistics: []cwt.Statistic{cwt.StatisticSampleCount, cwt.StatisticMaximum},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Datapoints) == 1 && *st.Datapoints[0].SampleCount >= 3 {
			if dp := st.Datapoints[0]; *dp.Maximum <= 0 || dp.Unit != cwt.StandardUnitMilliseconds {
				t.Errorf("IteratorAge %+v", dp)
			}
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("AWS/Lambda IteratorAge of ddbworker never showed its batches")
}

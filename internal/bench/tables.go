package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	ktypes "github.com/aws/aws-sdk-go-v2/service/kinesis/types"
)

// Tables is DynamoDB's figures: durable PutItem and GetItem of a 1 KB item
// from 16 clients, beside the echo server at 16 clients in the same run
// and two floors measured with the same signing client: the echo of the
// PutItem's 1 KB body, and DescribeLimits (the front door's SigV4 check,
// IAM and routing to the DynamoDB handler, no store). Then Query of one
// partition of 100 items from a table of QueryItems items, from one
// client, its calls interleaved with DescribeLimits' (the floor). And a
// table write to the start of the handler its stream record invoked, and
// Kinesis PutRecords from 16 clients.
type Tables struct {
	Clients        int     `json:"clients"`
	EchoRPS        float64 `json:"echo_rps"`
	EchoKBRPS      float64 `json:"echo_1kb_rps"`
	DescribeLimits float64 `json:"describe_limits_per_s"`
	PutItem        float64 `json:"put_items_per_s"`
	GetItem        float64 `json:"get_items_per_s"`
	PutRatio       float64 `json:"ratio_put_to_echo"`
	GetRatio       float64 `json:"ratio_get_to_echo"`
	Errors         int     `json:"errors"`
	// QueryItems were loaded (BatchWriteItem, 16 clients) in QueryLoad
	// seconds; Query is one partition's 100 items, QueryFloor
	// DescribeLimits, both from one client.
	QueryItems int     `json:"query_table_items"`
	QueryLoad  float64 `json:"query_load_s"`
	Query      Latency `json:"query_100_items"`
	QueryFloor Latency `json:"describe_limits_one_client"`
	// StreamToHandler is from a PutItem's send to the start of the
	// handler its stream record invoked: a table with a NEW_IMAGE stream
	// mapped to the Go no-op (BatchSize 1, LATEST), which logs how long
	// ago the item's "bench_sent" was (the same machine's clock); one
	// write at a time, each waited for, warm. It includes the PutItem's
	// own round trip.
	StreamToHandler Latency `json:"put_item_to_stream_handler"`
	// Kinesis is PutRecords of KinesisBatch records of 1,000 bytes from
	// KinesisClients clients to an on-demand stream: records and MB
	// (10^6 bytes of data) per second, durable.
	KinesisClients int     `json:"kinesis_clients"`
	KinesisBatch   int     `json:"kinesis_batch"`
	KinesisRecords float64 `json:"kinesis_put_records_per_s"`
	KinesisMB      float64 `json:"kinesis_put_mb_per_s"`
	KinesisErrors  int     `json:"kinesis_errors"`
}

const (
	tableClients = 16
	// queryItems is the Query table's size: queryItems/100 partitions
	// of 100 items.
	queryItems = 1_000_000
)

// ddb calls one DynamoDB operation.
func (r *runner) ddb(ctx context.Context, op string, in any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encode %s: %w", op, err)
	}
	return r.ddbBody(ctx, op, b)
}

// ddbBody calls one DynamoDB operation with an encoded body (the load
// loops build theirs by hand: the load generator shares the server's
// cores, so its CPU per request is kept small).
func (r *runner) ddbBody(ctx context.Context, op string, b []byte) error {
	_, err := r.signed(ctx, "dynamodb", b, map[string]string{"X-Amz-Target": "DynamoDB_20120810." + op, "Content-Type": "application/x-amz-json-1.0"})
	return err
}

// measureLoad is a warm-up of d/5, then d at tableClients: answers per
// second and errors.
func (r *runner) measureLoad(ctx context.Context, d time.Duration, do func(context.Context) error) (float64, int, error) {
	if _, err := r.load(ctx, tableClients, d/5, do); err != nil {
		return 0, 0, err
	}
	n, err := r.load(ctx, tableClients, d, do)
	if err != nil {
		return 0, 0, err
	}
	return math.Round(float64(n.ok) / d.Seconds()), n.errs, nil
}

// tables measures PutItem and GetItem against the echo server.
func (r *runner) tables(ctx context.Context, rep *Report, echo string) error {
	d := r.opts.Duration
	ts := &Tables{Clients: tableClients}
	rep.Tables = ts
	r.logf("tables: echo at %d clients for %s", tableClients, d)
	var err error
	if ts.EchoRPS, _, err = r.measureLoad(ctx, d, r.post(echo)); err != nil {
		return err
	}
	const table = "bench-items"
	if err := r.ddb(ctx, "CreateTable", map[string]any{"TableName": table, "BillingMode": "PAY_PER_REQUEST",
		"AttributeDefinitions": []map[string]string{{"AttributeName": "pk", "AttributeType": "S"}},
		"KeySchema":            []map[string]string{{"AttributeName": "pk", "KeyType": "HASH"}}}); err != nil {
		return fmt.Errorf("create table: %w", err)
	}
	data := strings.Repeat("x", 1000)
	putBody := func(i int64) []byte {
		return []byte(`{"TableName":"` + table + `","Item":{"pk":{"S":"k` + strconv.FormatInt(i, 10) + `"},"d":{"S":"` + data + `"}}}`)
	}
	r.logf("tables: echo of a signed 1 KB body at %d clients for %s", tableClients, d)
	kb := putBody(1)
	if ts.EchoKBRPS, _, err = r.measureLoad(ctx, d, func(ctx context.Context) error {
		_, _, _, err := r.callAs(ctx, "dynamodb", echo, kb, map[string]string{"Content-Type": "application/x-amz-json-1.0"})
		return err
	}); err != nil {
		return err
	}
	r.logf("tables: DescribeLimits at %d clients for %s", tableClients, d)
	if ts.DescribeLimits, _, err = r.measureLoad(ctx, d, func(ctx context.Context) error {
		return r.ddbBody(ctx, "DescribeLimits", []byte(`{}`))
	}); err != nil {
		return err
	}
	var seq atomic.Int64
	put := func(ctx context.Context) error { return r.ddbBody(ctx, "PutItem", putBody(seq.Add(1))) }
	r.logf("tables: PutItem (1 KB, durable) from %d clients for %s", tableClients, d)
	var errs int
	if ts.PutItem, errs, err = r.measureLoad(ctx, d, put); err != nil {
		return err
	}
	ts.Errors += errs
	written := seq.Load()
	var rd atomic.Int64
	get := func(ctx context.Context) error {
		i := rd.Add(1)%written + 1
		return r.ddbBody(ctx, "GetItem", []byte(`{"TableName":"`+table+`","Key":{"pk":{"S":"k`+strconv.FormatInt(i, 10)+`"}}}`))
	}
	r.logf("tables: GetItem (1 KB) from %d clients for %s", tableClients, d)
	if ts.GetItem, errs, err = r.measureLoad(ctx, d, get); err != nil {
		return err
	}
	ts.Errors += errs
	ts.PutRatio, ts.GetRatio = ratio(ts.PutItem, ts.EchoRPS), ratio(ts.GetItem, ts.EchoRPS)
	if err := r.streamToHandler(ctx, ts); err != nil {
		return err
	}
	if err := r.kinesisPut(ctx, ts); err != nil {
		return err
	}
	return r.queryTable(ctx, ts, queryItems)
}

// streamToHandler times table writes to their stream-triggered handler's
// start (see Tables.StreamToHandler): one write warms the environment,
// then 50 writes (Requests/40, 20 at least), each once the one before
// reached the handler.
func (r *runner) streamToHandler(ctx context.Context, ts *Tables) error {
	const table, fn = "bench-stream", "ddb-latency"
	out, err := r.signed(ctx, "dynamodb", []byte(`{"TableName":"`+table+`","BillingMode":"PAY_PER_REQUEST",`+
		`"AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}],"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],`+
		`"StreamSpecification":{"StreamEnabled":true,"StreamViewType":"NEW_IMAGE"}}`),
		map[string]string{"X-Amz-Target": "DynamoDB_20120810.CreateTable", "Content-Type": "application/x-amz-json-1.0"})
	if err != nil {
		return fmt.Errorf("create the stream table: %w", err)
	}
	var created struct {
		TableDescription struct{ LatestStreamArn string }
	}
	if err := json.Unmarshal(out, &created); err != nil || created.TableDescription.LatestStreamArn == "" {
		return fmt.Errorf("create the stream table: no stream ARN in %s", out)
	}
	if err := r.deploy(ctx, fn, "go"); err != nil {
		return err
	}
	if err := r.benchRoleMay(ctx, "read-streams", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:DescribeStream", "dynamodb:ListStreams"); err != nil {
		return err
	}
	if _, err := r.signedLambda(ctx, "/2015-03-31/event-source-mappings/", map[string]any{
		"EventSourceArn": created.TableDescription.LatestStreamArn, "FunctionName": fn, "BatchSize": 1, "StartingPosition": "LATEST"}); err != nil {
		return fmt.Errorf("map the stream to %s: %w", fn, err)
	}
	put := func(i int) error {
		return r.ddbBody(ctx, "PutItem", []byte(`{"TableName":"`+table+`","Item":{"pk":{"S":"k`+strconv.Itoa(i)+
			`"},"bench_sent":{"N":"`+strconv.FormatInt(time.Now().UnixNano(), 10)+`"}}}`))
	}
	n := max(20, r.opts.Requests/40)
	r.logf("tables: %d PutItems one at a time to a stream mapped to the Go no-op", n)
	if err := put(0); err != nil { // the cold start, not counted
		return err
	}
	if _, err := r.latencyLines(ctx, fn, 1); err != nil {
		return err
	}
	var samples []time.Duration
	for i := 1; i <= n; i++ {
		if err := put(i); err != nil {
			return err
		}
		if samples, err = r.latencyLines(ctx, fn, 1+i); err != nil {
			return err
		}
	}
	ts.StreamToHandler = latencyOf(samples[1:])
	return nil
}

const (
	kinesisClients = 16
	kinesisBatch   = 100
)

// kinesisPut measures PutRecords (see Tables.Kinesis*) with
// aws-sdk-go-v2's Kinesis client.
func (r *runner) kinesisPut(ctx context.Context, ts *Tables) error {
	const stream = "bench-records"
	kc := kinesis.New(kinesis.Options{Region: r.region, BaseEndpoint: aws.String(r.api),
		Credentials: credentials.StaticCredentialsProvider{Value: r.creds}, HTTPClient: r.hc})
	if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(stream),
		StreamModeDetails: &ktypes.StreamModeDetails{StreamMode: ktypes.StreamModeOnDemand}}); err != nil {
		return fmt.Errorf("create the Kinesis stream: %w", err)
	}
	data := []byte(strings.Repeat("r", 1000))
	var seq atomic.Int64
	do := func(ctx context.Context) error {
		n := seq.Add(1)
		recs := make([]ktypes.PutRecordsRequestEntry, kinesisBatch)
		for i := range recs {
			recs[i] = ktypes.PutRecordsRequestEntry{Data: data, PartitionKey: aws.String("k" + strconv.FormatInt(n, 10) + "-" + strconv.Itoa(i))}
		}
		out, err := kc.PutRecords(ctx, &kinesis.PutRecordsInput{StreamName: aws.String(stream), Records: recs})
		if err == nil && aws.ToInt32(out.FailedRecordCount) > 0 {
			err = fmt.Errorf("PutRecords: %d of %d records failed", aws.ToInt32(out.FailedRecordCount), kinesisBatch)
		}
		return err
	}
	d := r.opts.Duration
	r.logf("tables: Kinesis PutRecords of %d × 1,000 bytes from %d clients for %s", kinesisBatch, kinesisClients, d)
	if _, err := r.load(ctx, kinesisClients, d/5, do); err != nil {
		return fmt.Errorf("kinesis: %w", err)
	}
	n, err := r.load(ctx, kinesisClients, d, do)
	if err != nil {
		return fmt.Errorf("kinesis: %w", err)
	}
	recs := float64(n.ok*kinesisBatch) / d.Seconds()
	ts.KinesisClients, ts.KinesisBatch, ts.KinesisErrors = kinesisClients, kinesisBatch, n.errs
	ts.KinesisRecords = math.Round(recs)
	ts.KinesisMB = math.Round(recs*float64(len(data))/1e6*100) / 100
	return nil
}

// queryTable loads n small items, n/100 partitions of 100 (sort key 0 to
// 99), with BatchWriteItem of 25 from 16 clients, then times Query of a
// whole partition from one client, interleaved with DescribeLimits.
func (r *runner) queryTable(ctx context.Context, ts *Tables, n int) error {
	const table = "bench-query"
	if err := r.ddb(ctx, "CreateTable", map[string]any{"TableName": table, "BillingMode": "PAY_PER_REQUEST",
		"AttributeDefinitions": []map[string]string{{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}},
		"KeySchema":            []map[string]string{{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}}}); err != nil {
		return fmt.Errorf("create table: %w", err)
	}
	r.logf("tables: loading %d items (%d partitions of 100) with BatchWriteItem from %d clients", n, n/100, tableClients)
	var next atomic.Int64
	batches := int64(n / 25)
	start := time.Now()
	var wg sync.WaitGroup
	var loadErr atomic.Value
	for range tableClients {
		wg.Go(func() {
			var b strings.Builder
			for ctx.Err() == nil {
				k := next.Add(1) - 1
				if k >= batches {
					return
				}
				b.Reset()
				b.WriteString(`{"RequestItems":{"` + table + `":[`)
				for i := k * 25; i < k*25+25; i++ {
					if i > k*25 {
						b.WriteByte(',')
					}
					fmt.Fprintf(&b, `{"PutRequest":{"Item":{"pk":{"S":"p%d"},"sk":{"N":"%d"},"v":{"S":"value-%d"}}}}`, i/100, i%100, i)
				}
				b.WriteString(`]}}`)
				_, body, _, err := r.callAs(ctx, "dynamodb", r.api+"/", []byte(b.String()), map[string]string{
					"X-Amz-Target": "DynamoDB_20120810.BatchWriteItem", "Content-Type": "application/x-amz-json-1.0"})
				if err == nil && strings.Contains(string(body), `"UnprocessedItems":{"`) {
					err = fmt.Errorf("batch %d: items left unprocessed", k)
				}
				if err != nil {
					loadErr.CompareAndSwap(nil, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err, _ := loadErr.Load().(error); err != nil {
		return fmt.Errorf("load the query table: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	ts.QueryItems, ts.QueryLoad = n, math.Round(time.Since(start).Seconds()*10)/10
	r.logf("tables: Query of 100 items beside DescribeLimits, one client, for %s", 2*r.opts.Duration)
	var q, floor []time.Duration
	hdr := func(op string) map[string]string {
		return map[string]string{"X-Amz-Target": "DynamoDB_20120810." + op, "Content-Type": "application/x-amz-json-1.0"}
	}
	parts := int64(n / 100)
	for i, end := int64(0), time.Now().Add(2*r.opts.Duration); time.Now().Before(end) || len(q) < 100; i++ {
		body := `{"TableName":"` + table + `","KeyConditionExpression":"pk = :p","ExpressionAttributeValues":{":p":{"S":"p` +
			strconv.FormatInt(i*7919%parts, 10) + `"}}}`
		lat, out, _, err := r.callAs(ctx, "dynamodb", r.api+"/", []byte(body), hdr("Query"))
		if err != nil {
			return fmt.Errorf("query: %w", err)
		}
		if !strings.Contains(string(out), `"Count":100`) {
			return fmt.Errorf("query of partition p%d: not 100 items", i*7919%parts)
		}
		q = append(q, lat)
		lat, _, _, err = r.callAs(ctx, "dynamodb", r.api+"/", []byte(`{}`), hdr("DescribeLimits"))
		if err != nil {
			return fmt.Errorf("describe limits: %w", err)
		}
		floor = append(floor, lat)
	}
	ts.Query, ts.QueryFloor = latencyOf(q), latencyOf(floor)
	return nil
}

func writeTables(p func(string, ...any), t *Tables) {
	p("TABLES (DynamoDB, 1 KB items)\tclients\tper s\tof echo\terrors")
	p("PutItem (durable)\t%d\t%.0f\t%.0f%%\t%d", t.Clients, t.PutItem, t.PutRatio*100, t.Errors)
	p("GetItem\t%d\t%.0f\t%.0f%%\t", t.Clients, t.GetItem, t.GetRatio*100)
	p("Go HTTP echo (baseline)\t%d\t%.0f\t\t", t.Clients, t.EchoRPS)
	p("echo of the 1 KB PutItem body (floor)\t%d\t%.0f\t%.0f%%\t", t.Clients, t.EchoKBRPS, ratio(t.EchoKBRPS, t.EchoRPS)*100)
	p("DescribeLimits (front door floor)\t%d\t%.0f\t%.0f%%\t", t.Clients, t.DescribeLimits, ratio(t.DescribeLimits, t.EchoRPS)*100)
	if t.KinesisClients > 0 {
		p("")
		p("KINESIS PutRecords (%d records of 1,000 bytes a call)\tclients\trecords/s\tMB/s\terrors", t.KinesisBatch)
		p("PutRecords, durable\t%d\t%.0f\t%.2f\t%d", t.KinesisClients, t.KinesisRecords, t.KinesisMB, t.KinesisErrors)
	}
	if t.StreamToHandler.N > 0 {
		p("")
		p("TABLE STREAM TO FUNCTION (NEW_IMAGE, BatchSize 1)\tn\tp50 ms\tp99 ms\t")
		p("PutItem sent → Go no-op handler start, warm\t%d\t%.2f\t%.2f\t", t.StreamToHandler.N, t.StreamToHandler.P50, t.StreamToHandler.P99)
	}
	if t.QueryItems > 0 {
		p("")
		p("QUERY (100 items of a %d-item table, loaded in %.1f s)\tclients\tp50 ms\tp99 ms\t", t.QueryItems, t.QueryLoad)
		p("Query\t1\t%.2f\t%.2f\t", t.Query.P50, t.Query.P99)
		p("DescribeLimits (front door floor)\t1\t%.2f\t%.2f\t", t.QueryFloor.P50, t.QueryFloor.P99)
	}
}

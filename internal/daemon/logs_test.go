package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// logsClient is a CloudWatch Logs client with the node's Lambda client's
// endpoint, region and credentials.
func logsClient(n *node) *cloudwatchlogs.Client {
	o := n.client.Options()
	return cloudwatchlogs.New(cloudwatchlogs.Options{
		Region: o.Region, BaseEndpoint: aws.String("http://" + n.d.Addr()), Credentials: o.Credentials,
	})
}

var lambdaStreamRE = regexp.MustCompile(`^\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}$`)

// A Go function's text lines and the platform lines come back through the
// CloudWatch Logs API with their request ids, in a group and stream named
// as Lambda names them.
func TestFunctionLogsThroughCloudWatchAPI(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	cw := logsClient(n)
	ctx := context.Background()
	createGoFunction(t, n, "logged", nil)
	_, m1 := invoke(t, n, "logged", "", map[string]any{"action": "echo"})
	_, m2 := invoke(t, n, "logged", "", map[string]any{"action": "echo"})
	rid1, rid2 := m1["requestId"].(string), m2["requestId"].(string)

	groups, err := cw.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String("/aws/lambda/")})
	if err != nil {
		t.Fatal(err)
	}
	if len(groups.LogGroups) != 1 || aws.ToString(groups.LogGroups[0].LogGroupName) != "/aws/lambda/logged" ||
		!strings.HasSuffix(aws.ToString(groups.LogGroups[0].Arn), ":log-group:/aws/lambda/logged:*") {
		t.Fatalf("log groups = %+v", groups.LogGroups)
	}
	streams, err := cw.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String("/aws/lambda/logged")})
	if err != nil {
		t.Fatal(err)
	}
	if len(streams.LogStreams) != 1 || !lambdaStreamRE.MatchString(aws.ToString(streams.LogStreams[0].LogStreamName)) ||
		aws.ToInt64(streams.LogStreams[0].LastEventTimestamp) < aws.ToInt64(streams.LogStreams[0].FirstEventTimestamp) {
		t.Fatalf("log streams = %+v", streams.LogStreams)
	}
	stream := streams.LogStreams[0].LogStreamName

	// Everything of the second invocation, found by its request id.
	f, err := cw.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{
		LogGroupName: aws.String("/aws/lambda/logged"), FilterPattern: aws.String(`"` + rid2 + `"`)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range f.Events {
		got = append(got, aws.ToString(e.Message))
		if aws.ToString(e.LogStreamName) != aws.ToString(stream) || aws.ToString(e.EventId) == "" || aws.ToInt64(e.IngestionTime) < aws.ToInt64(e.Timestamp) {
			t.Errorf("event %+v", e)
		}
	}
	if len(got) != 3 || got[0] != "START RequestId: "+rid2+" Version: $LATEST" || got[1] != "END RequestId: "+rid2 ||
		!strings.HasPrefix(got[2], "REPORT RequestId: "+rid2+"\tDuration: ") {
		t.Errorf("events of %s:\n%s", rid2, strings.Join(got, "\n"))
	}
	// Terms, exclusions and ORs.
	f, err = cw.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{
		LogGroupName: aws.String("/aws/lambda/logged"), FilterPattern: aws.String(`?action=echo ?REPORT -count=2`)})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Events) != 3 { // action=echo count=1 and two REPORTs
		t.Errorf("OR filter returned %d events", len(f.Events))
	}

	// GetLogEvents from the head, then forward until the token repeats.
	ge, err := cw.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("/aws/lambda/logged"),
		LogStreamName: stream, StartFromHead: aws.Bool(true), Limit: aws.Int32(4)})
	if err != nil {
		t.Fatal(err)
	}
	all := len(ge.Events)
	if all != 4 || !strings.HasPrefix(aws.ToString(ge.Events[0].Message), "INIT_START Runtime Version: provided:al2023.nimbus\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:") ||
		aws.ToString(ge.Events[1].Message) != "START RequestId: "+rid1+" Version: $LATEST" {
		t.Fatalf("first page: %+v", ge.Events)
	}
	tok := ge.NextForwardToken
	for i := 0; ; i++ {
		ge, err = cw.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("/aws/lambda/logged"),
			LogStreamName: stream, NextToken: tok, Limit: aws.Int32(4)})
		if err != nil {
			t.Fatal(err)
		}
		all += len(ge.Events)
		if aws.ToString(ge.NextForwardToken) == aws.ToString(tok) {
			break
		}
		if i > 10 {
			t.Fatal("forward token never repeats")
		}
		tok = ge.NextForwardToken
	}
	if all != 9 { // INIT_START, 2 x (START, action line, END, REPORT)
		t.Errorf("paged through %d events, want 9", all)
	}
	// The newest events by default; backward from there.
	ge, err = cw.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("/aws/lambda/logged"),
		LogStreamName: stream, Limit: aws.Int32(2)})
	if err != nil || len(ge.Events) != 2 || !strings.HasPrefix(aws.ToString(ge.Events[1].Message), "REPORT RequestId: "+rid2) {
		t.Fatalf("newest events: %+v, %v", ge, err)
	}
	ge, err = cw.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("/aws/lambda/logged"),
		LogStreamName: stream, Limit: aws.Int32(2), NextToken: ge.NextBackwardToken})
	if err != nil || len(ge.Events) != 2 || aws.ToString(ge.Events[0].Message) != "START RequestId: "+rid2+" Version: $LATEST" {
		for _, e := range ge.Events {
			t.Log(aws.ToString(e.Message))
		}
		t.Fatalf("backward page: %v", err)
	}

	// The writer's counters are on /metrics (the reads above flushed it).
	fams := scrapeMetrics(t, n)
	if stored := sample(fams, "nimbus_function_log_lines_stored_total", nil); stored < 8 {
		t.Errorf("nimbus_function_log_lines_stored_total = %v, want at least the 8 lines above", stored)
	}
	if _, ok := fams["nimbus_function_log_lines_dropped_total"]; !ok {
		t.Error("no nimbus_function_log_lines_dropped_total on /metrics")
	}

	// Errors as CloudWatch Logs answers them.
	_, err = cw.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("/aws/lambda/none"), LogStreamName: stream})
	var nf *cwtypes.ResourceNotFoundException
	if !errors.As(err, &nf) {
		t.Errorf("missing group: %v", err)
	}
	_, err = cw.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String("/aws/lambda/logged"), FilterPattern: aws.String(`{ $.a = `)})
	var ip *cwtypes.InvalidParameterException
	if !errors.As(err, &ip) {
		t.Errorf("bad pattern: %v", err)
	}
	_, err = cw.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("/aws/lambda/logged")})
	var ae *cwtypes.ResourceAlreadyExistsException
	if !errors.As(err, &ae) {
		t.Errorf("create existing group: %v", err)
	}
	_, err = cw.PutRetentionPolicy(ctx, &cloudwatchlogs.PutRetentionPolicyInput{LogGroupName: aws.String("/aws/lambda/logged"), RetentionInDays: aws.Int32(2)})
	if !errors.As(err, &ip) {
		t.Errorf("retention of 2 days: %v", err)
	}
	if _, err = cw.PutRetentionPolicy(ctx, &cloudwatchlogs.PutRetentionPolicyInput{LogGroupName: aws.String("/aws/lambda/logged"), RetentionInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	groups, _ = cw.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String("/aws/lambda/logged")})
	if len(groups.LogGroups) != 1 || aws.ToInt32(groups.LogGroups[0].RetentionInDays) != 7 {
		t.Errorf("retention not shown: %+v", groups.LogGroups)
	}
	if _, err := cw.DeleteLogGroup(ctx, &cloudwatchlogs.DeleteLogGroupInput{LogGroupName: aws.String("/aws/lambda/logged")}); err != nil {
		t.Fatal(err)
	}
	_, err = cw.DeleteLogGroup(ctx, &cloudwatchlogs.DeleteLogGroupInput{LogGroupName: aws.String("/aws/lambda/logged")})
	if !errors.As(err, &nf) {
		t.Errorf("delete a deleted group: %v", err)
	}
}

// A Python function in the JSON log format: its logging calls arrive as
// JSON with the request id, the platform records as JSON, and JSON filter
// patterns select them.
func TestJSONLogFormat(t *testing.T) {
	t.Parallel()
	n := startNode(t, t.TempDir())
	cw := logsClient(n)
	ctx := context.Background()
	create(t, n, &lambda.CreateFunctionInput{
		FunctionName: aws.String("pyjson"), Runtime: types.RuntimePython312, Handler: aws.String("app.handler"),
		Role: aws.String(testRole), Code: &types.FunctionCode{ZipFile: dirZip(t, "examples/hello-python")},
		LoggingConfig: &types.LoggingConfig{LogFormat: types.LogFormatJson, LogGroup: aws.String("/nimbus/pyjson")},
	})
	out, m := invoke(t, n, "pyjson", "", map[string]any{"name": "json"})
	if out.FunctionError != nil {
		t.Fatalf("invoke: %s", out.Payload)
	}
	rid := m["requestId"].(string)
	f, err := cw.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{
		LogGroupName: aws.String("/nimbus/pyjson"), FilterPattern: aws.String(`{ $.requestId = "` + rid + `" && $.level = "INFO" }`)})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Events) != 1 {
		t.Fatalf("JSON app lines of %s: %+v", rid, f.Events)
	}
	var line map[string]any
	if err := json.Unmarshal([]byte(aws.ToString(f.Events[0].Message)), &line); err != nil || line["message"] != "greeting json" {
		t.Errorf("app line %q: %v", aws.ToString(f.Events[0].Message), err)
	}
	f, err = cw.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{
		LogGroupName: aws.String("/nimbus/pyjson"), FilterPattern: aws.String(`{ $.type = "platform.report" && $.record.requestId = "` + rid + `" }`)})
	if err != nil || len(f.Events) != 1 {
		t.Fatalf("platform.report of %s: %+v %v", rid, f, err)
	}
	var rep struct {
		Record struct {
			Status  string             `json:"status"`
			Metrics map[string]float64 `json:"metrics"`
		} `json:"record"`
	}
	if err := json.Unmarshal([]byte(aws.ToString(f.Events[0].Message)), &rep); err != nil || rep.Record.Status != "success" ||
		rep.Record.Metrics["memorySizeMB"] != 128 || rep.Record.Metrics["billedDurationMs"] < 1 {
		t.Errorf("platform.report = %s", aws.ToString(f.Events[0].Message))
	}
	if _, err := cw.DescribeLogGroups(ctx, &cloudwatchlogs.DescribeLogGroupsInput{LogGroupNamePrefix: aws.String("/aws/lambda/pyjson")}); err != nil {
		t.Fatal(err)
	}
}

package logsapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/nimbus-serverless/nimbus/internal/logstore"
)

// liveTailClient is aws-sdk-go-v2's CloudWatch Logs client for srv. The
// SDK prefixes StartLiveTail's host with "stream-" (the operation's
// endpoint host prefix), which a node's address cannot take: a client of
// Nimbus turns that off (botocore: inject_host_prefix=False).
func liveTailClient(srv *httptest.Server) *cloudwatchlogs.Client {
	return cloudwatchlogs.New(cloudwatchlogs.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		APIOptions: []func(*middleware.Stack) error{func(s *middleware.Stack) error {
			return s.Initialize.Add(middleware.InitializeMiddlewareFunc("NoHostPrefix", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				return next.HandleInitialize(smithyhttp.DisableEndpointHostPrefix(ctx, true), in)
			}), middleware.Before)
		}},
	})
}

// A live tail session through the SDK: the session starts, lines written
// after it arrive in sessionUpdate events (only the tailed group's, only
// those matching the pattern), lines written before it do not.
func TestStartLiveTail(t *testing.T) {
	h, w := newTestAPI(t)
	now := time.Now()
	w.Log(logstore.Line{Group: "/aws/lambda/fn", Stream: "s1", Time: now, Message: "before the session ERROR"})
	w.Log(logstore.Line{Group: "/aws/lambda/other", Stream: "s1", Time: now, Message: "other group"})
	if err := w.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	c := liveTailClient(srv)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	out, err := c.StartLiveTail(ctx, &cloudwatchlogs.StartLiveTailInput{
		LogGroupIdentifiers:   []string{"arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/fn"},
		LogEventFilterPattern: aws.String("ERROR"),
	})
	if err != nil {
		t.Fatal(err)
	}
	st := out.GetStream()
	defer st.Close()
	ev, ok := <-st.Events()
	start, isStart := ev.(*types.StartLiveTailResponseStreamMemberSessionStart)
	if !ok || !isStart {
		t.Fatalf("first event %T (%v), want sessionStart", ev, st.Err())
	}
	if start.Value.SessionId == nil || aws.ToString(start.Value.LogEventFilterPattern) != "ERROR" || len(start.Value.LogGroupIdentifiers) != 1 {
		t.Errorf("sessionStart %+v", start.Value)
	}
	w.Log(logstore.Line{Group: "/aws/lambda/fn", Stream: "s2", Time: time.Now(), Message: "after: ERROR one"})
	w.Log(logstore.Line{Group: "/aws/lambda/fn", Stream: "s2", Time: time.Now(), Message: "after: fine"})
	w.Log(logstore.Line{Group: "/aws/lambda/other", Stream: "s1", Time: time.Now(), Message: "other group ERROR"})
	var got []types.LiveTailSessionLogEvent
	updates := 0
	for ev := range st.Events() {
		up, ok := ev.(*types.StartLiveTailResponseStreamMemberSessionUpdate)
		if !ok {
			t.Fatalf("event %T", ev)
		}
		updates++
		got = append(got, up.Value.SessionResults...)
		if len(got) > 0 {
			break
		}
	}
	if err := st.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || aws.ToString(got[0].Message) != "after: ERROR one" || aws.ToString(got[0].LogStreamName) != "s2" ||
		!strings.HasSuffix(aws.ToString(got[0].LogGroupIdentifier), ":log-group:/aws/lambda/fn") || aws.ToInt64(got[0].Timestamp) == 0 {
		t.Errorf("events %+v after %d updates", got, updates)
	}
	// The next update is empty: nothing new (an update comes every second
	// all the same).
	ev = <-st.Events()
	if up, ok := ev.(*types.StartLiveTailResponseStreamMemberSessionUpdate); !ok || up.Value.SessionResults == nil || len(up.Value.SessionResults) != 0 {
		t.Errorf("second update %+v", ev)
	}
}

// A session ends with SessionTimeoutException when its time is up.
func TestStartLiveTailTimeout(t *testing.T) {
	h, w := newTestAPI(t)
	h.tailLength = 1500 * time.Millisecond
	w.Log(logstore.Line{Group: "/g", Stream: "s", Time: time.Now(), Message: "x"})
	srv := httptest.NewServer(h)
	defer srv.Close()
	out, err := liveTailClient(srv).StartLiveTail(t.Context(), &cloudwatchlogs.StartLiveTailInput{LogGroupIdentifiers: []string{"/g"}})
	if err != nil {
		t.Fatal(err)
	}
	st := out.GetStream()
	defer st.Close()
	for range st.Events() {
	}
	var te *types.SessionTimeoutException
	if err := st.Err(); !errors.As(err, &te) {
		t.Errorf("stream ended with %v, want SessionTimeoutException", err)
	}
}

// Requests CloudWatch Logs refuses are refused, as JSON 1.1 errors.
func TestStartLiveTailRefusals(t *testing.T) {
	h, w := newTestAPI(t)
	w.Log(logstore.Line{Group: "/g", Stream: "s", Time: time.Now(), Message: "x"})
	srv := httptest.NewServer(h)
	defer srv.Close()
	c := liveTailClient(srv)
	eleven := make([]string, 11)
	for i := range eleven {
		eleven[i] = "/g" + strings.Repeat("x", i)
	}
	for _, tc := range []struct {
		name string
		in   cloudwatchlogs.StartLiveTailInput
		code string
	}{
		{"eleven groups", cloudwatchlogs.StartLiveTailInput{LogGroupIdentifiers: eleven}, "InvalidParameterException"},
		{"missing group", cloudwatchlogs.StartLiveTailInput{LogGroupIdentifiers: []string{"/none"}}, "ResourceNotFoundException"},
		{"ARN with *", cloudwatchlogs.StartLiveTailInput{LogGroupIdentifiers: []string{"arn:aws:logs:us-east-1:000000000000:log-group:/g:*"}}, "InvalidParameterException"},
		{"names and prefixes", cloudwatchlogs.StartLiveTailInput{LogGroupIdentifiers: []string{"/g"}, LogStreamNames: []string{"s"}, LogStreamNamePrefixes: []string{"s"}}, "InvalidParameterException"},
		{"names with two groups", cloudwatchlogs.StartLiveTailInput{LogGroupIdentifiers: []string{"/g", "/h"}, LogStreamNames: []string{"s"}}, "InvalidParameterException"},
		{"bad pattern", cloudwatchlogs.StartLiveTailInput{LogGroupIdentifiers: []string{"/g"}, LogEventFilterPattern: aws.String("{ $.a = ")}, "InvalidParameterException"},
	} {
		_, err := c.StartLiveTail(t.Context(), &tc.in)
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
	}
	h.liveTails.Store(liveTailMaxSessions)
	_, err := c.StartLiveTail(t.Context(), &cloudwatchlogs.StartLiveTailInput{LogGroupIdentifiers: []string{"/g"}})
	var le *types.LimitExceededException
	if !errors.As(err, &le) {
		t.Errorf("a 16th session: %v, want LimitExceededException", err)
	}
}

func FuzzParseLiveTail(f *testing.F) {
	for _, s := range []string{
		`{"logGroupIdentifiers":["/aws/lambda/fn"]}`,
		`{"logGroupIdentifiers":["arn:aws:logs:us-east-1:1:log-group:/a"],"logStreamNames":["s"],"logEventFilterPattern":"ERROR"}`,
		`{"logGroupIdentifiers":["/a","/b"],"logStreamNamePrefixes":["x"]}`,
		`{"logGroupIdentifiers":[],"logEventFilterPattern":"{ $.a = 1 }"}`,
		`{"logGroupIdentifiers":"x"}`, `[]`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		lt, err := parseLiveTail(body)
		if err != nil {
			return
		}
		if len(lt.groups) < 1 || len(lt.groups) > liveTailMaxGroups || len(lt.groups) != len(lt.in.LogGroupIdentifiers) {
			t.Fatalf("accepted %d groups", len(lt.groups))
		}
		for _, g := range lt.groups {
			if checkGroupName("g", g) != nil {
				t.Fatalf("accepted group %q", g)
			}
		}
		if lt.in.LogStreamNames != nil && lt.in.LogStreamNamePrefixes != nil || (lt.in.LogStreamNames != nil || lt.in.LogStreamNamePrefixes != nil) && len(lt.groups) != 1 {
			t.Fatalf("accepted stream selection %+v", lt.in)
		}
		if lt.match != nil {
			lt.match(string(body))
		}
	})
}

// boto3's reading of the same stream: it skips the initial-response,
// yields sessionStart, then sessionUpdates, an empty one as an empty list.
const boto3LiveTail = `
import sys, json, boto3
from botocore.config import Config
c = boto3.client("logs", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="AKID", aws_secret_access_key="SECRET",
                 config=Config(inject_host_prefix=False))
st = c.start_live_tail(logGroupIdentifiers=["/boto"])["responseStream"]
for ev in st:
    if "sessionStart" in ev:
        print("started", flush=True)
    elif ev["sessionUpdate"]["sessionResults"]:
        print(json.dumps(ev["sessionUpdate"]["sessionResults"]), flush=True)
        break
`

func TestStartLiveTailBoto3(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil || exec.Command("python3", "-c", "import boto3").Run() != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("python3 with boto3 is required in CI")
		}
		t.Skip("python3 with boto3 is not installed")
	}
	h, w := newTestAPI(t)
	w.Log(logstore.Line{Group: "/boto", Stream: "s", Time: time.Now(), Message: "before"})
	srv := httptest.NewServer(h)
	defer srv.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "python3", "-c", boto3LiveTail, srv.URL)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	if !sc.Scan() || sc.Text() != "started" {
		t.Fatalf("boto3: %q %s", sc.Text(), stderr.String())
	}
	w.Log(logstore.Line{Group: "/boto", Stream: "s", Time: time.Now(), Message: "from boto3's session"})
	if !sc.Scan() {
		t.Fatalf("boto3 read no events: %s", stderr.String())
	}
	var evs []struct{ Message, LogStreamName, LogGroupIdentifier string }
	if err := json.Unmarshal(sc.Bytes(), &evs); err != nil || len(evs) != 1 || evs[0].Message != "from boto3's session" || evs[0].LogGroupIdentifier != "/boto" {
		t.Errorf("boto3 events %s: %v", sc.Text(), err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("boto3: %v %s", err, stderr.String())
	}
}

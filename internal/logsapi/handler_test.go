package logsapi

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/logstore"
	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func newTestAPI(t *testing.T) (*Handler, *logstore.Writer) {
	t.Helper()
	ls, err := logstore.Open(t.Context(), storetest.Open(t).JetStream(), logstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// A long linger: the lines logged before a Flush form one batch, so
	// event ids are the same on every run.
	w := logstore.NewWriter(ls, logstore.WriterOptions{Linger: time.Hour})
	t.Cleanup(w.Close)
	fixed := time.UnixMilli(1_790_000_000_000)
	return New(Options{Store: ls, Flush: w.Flush, Region: "us-east-1", AccountID: "000000000000",
		Now: func() time.Time { return fixed }}), w
}

func call(t *testing.T, h http.Handler, op, body string) (int, http.Header, string) {
	t.Helper()
	req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/", strings.NewReader(body))
	req.Header.Set("X-Amz-Target", TargetPrefix+op)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, rec.Header(), string(b)
}

// The wire shapes: success bodies and JSON 1.1 errors ({"__type",
// "message"}, HTTP 400), compared with golden files (-update rewrites).
func TestWireShapes(t *testing.T) {
	h, w := newTestAPI(t)
	base := time.UnixMilli(1_790_000_000_000)
	for i, m := range []string{"START RequestId: r1 Version: $LATEST", "hello", "END RequestId: r1"} {
		w.Log(logstore.Line{Group: "/aws/lambda/fn", Stream: "2026/09/21/[$LATEST]abc", Time: base.Add(time.Duration(i) * time.Millisecond), Message: m})
	}
	ingest := regexp.MustCompile(`"(ingestionTime|lastIngestionTime|creationTime)":\d+`)
	var out bytes.Buffer
	for _, c := range []struct{ op, body string }{
		{"CreateLogGroup", `{"logGroupName":"/app/x"}`},
		{"CreateLogGroup", `{"logGroupName":"/app/x"}`},
		{"CreateLogGroup", `{"logGroupName":"bad name"}`},
		{"PutRetentionPolicy", `{"logGroupName":"/app/x","retentionInDays":5}`},
		{"PutRetentionPolicy", `{"logGroupName":"/app/x","retentionInDays":4}`},
		{"DescribeLogGroups", `{"logGroupNamePrefix":"/app/"}`},
		{"DescribeLogStreams", `{"logGroupName":"/aws/lambda/fn"}`},
		{"GetLogEvents", `{"logGroupName":"/aws/lambda/fn","logStreamName":"2026/09/21/[$LATEST]abc","startFromHead":true,"limit":2}`},
		{"FilterLogEvents", `{"logGroupName":"/aws/lambda/fn","filterPattern":"?hello ?END","limit":1}`},
		{"FilterLogEvents", `{"logGroupName":"/aws/lambda/fn","filterPattern":"{ $.a = "}`},
		{"GetLogEvents", `{"logGroupName":"/aws/lambda/none","logStreamName":"s"}`},
		{"GetLogEvents", `{"logGroupName":"/aws/lambda/fn","logStreamName":"none"}`},
		{"GetLogEvents", `{"logGroupName":"/aws/lambda/fn","logStreamName":"2026/09/21/[$LATEST]abc","nextToken":"zz"}`},
		{"DeleteLogGroup", `{"logGroupName":"/app/x"}`},
		{"DeleteLogGroup", `{"logGroupName":"/app/x"}`},
		{"DescribeLogGroups", `{"limit":100}`},
		{"DescribeLogGroups", `not json`},
		{"StartQuery", `{}`},
	} {
		code, hdr, body := call(t, h, c.op, c.body)
		if ct := hdr.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
			t.Errorf("%s: Content-Type %q", c.op, ct)
		}
		if hdr.Get("x-amzn-RequestId") == "" {
			t.Errorf("%s: no request id", c.op)
		}
		if code != http.StatusOK {
			var e map[string]string
			if err := json.Unmarshal([]byte(body), &e); err != nil || e["__type"] == "" || e["message"] == "" || hdr.Get("X-Amzn-ErrorType") != e["__type"] {
				t.Errorf("%s: error body %s", c.op, body)
			}
		}
		body = ingest.ReplaceAllString(body, `"$1":0`)
		out.WriteString(c.op + " " + c.body + "\n" + http.StatusText(code) + " " + body + "\n\n")
	}
	golden := filepath.Join("testdata", "wire.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if !bytes.Equal(out.Bytes(), want) {
		t.Errorf("wire shapes differ from %s:\n%s", golden, out.String())
	}
}

package pool

import (
	"encoding/json"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/function"
)

// recordSink keeps every record.
type recordSink struct {
	mu   sync.Mutex
	recs []LogRecord
}

func (s *recordSink) Log(r LogRecord) {
	s.mu.Lock()
	s.recs = append(s.recs, r)
	s.mu.Unlock()
}

func (s *recordSink) all() []LogRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]LogRecord(nil), s.recs...)
}

var streamRE = regexp.MustCompile(`^\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}$`)

func TestLogSinkText(t *testing.T) {
	t.Parallel()
	sink := &recordSink{}
	h := newHarness(t, func(o *Options) { o.LogSink = sink })
	fn := h.fn("sinktext", nil)
	res, out := h.call(t, fn, map[string]any{"action": "echo"})
	wantOK(t, res)
	rid := out["request_id"].(string)
	recs := sink.all()
	var msgs []string
	for _, r := range recs {
		msgs = append(msgs, r.Message)
		if r.LogGroup != "/aws/lambda/sinktext" || !streamRE.MatchString(r.LogStream) || r.Function != "sinktext" ||
			r.Version != "$LATEST" || r.EnvironmentID == "" || r.Time.IsZero() {
			t.Errorf("record %+v lacks its origin", r)
		}
		if r.LogStream != recs[0].LogStream {
			t.Errorf("one environment wrote to two streams: %s, %s", r.LogStream, recs[0].LogStream)
		}
	}
	want := []struct {
		msg, rid, typ string
	}{
		{"INIT_START Runtime Version: provided:al2023.nimbus\tRuntime Version ARN: ", "", "platform.initStart"},
		{"init done", "", ""},
		{"START RequestId: " + rid + " Version: $LATEST", rid, "platform.start"},
		{"action=echo count=1", rid, ""},
		{"END RequestId: " + rid, rid, "platform.runtimeDone"},
		{"REPORT RequestId: " + rid, rid, "platform.report"},
	}
	if len(recs) != len(want) {
		t.Fatalf("records:\n%s", strings.Join(msgs, "\n"))
	}
	for i, w := range want {
		r := recs[i]
		if !strings.HasPrefix(r.Message, w.msg) || r.RequestID != w.rid || r.Type != w.typ || r.Platform != (w.typ != "") {
			t.Errorf("record %d = %+v, want %q rid=%q type=%q", i, r, w.msg, w.rid, w.typ)
		}
	}
}

func TestLogSinkJSONFormatAndLevels(t *testing.T) {
	t.Parallel()
	sink := &recordSink{}
	h := newHarness(t, func(o *Options) { o.LogSink = sink })
	fn := h.fn("sinkjson", nil)
	fn.LoggingConfig = &function.LoggingConfig{LogFormat: "JSON", ApplicationLogLevel: "WARN", SystemLogLevel: "INFO", LogGroup: "/custom/group"}
	res, _ := h.call(t, fn, map[string]any{"action": "jsonlog"})
	wantOK(t, res)
	var app []string
	platform := map[string]map[string]any{}
	for _, r := range sink.all() {
		if r.LogGroup != "/custom/group" {
			t.Errorf("record in group %q, want the configured one", r.LogGroup)
		}
		if !r.Platform {
			app = append(app, r.Message)
			continue
		}
		var ev struct {
			Time   string         `json:"time"`
			Type   string         `json:"type"`
			Record map[string]any `json:"record"`
		}
		if err := json.Unmarshal([]byte(r.Message), &ev); err != nil || ev.Type != r.Type || ev.Time == "" {
			t.Fatalf("platform record %q is not a JSON platform event: %v", r.Message, err)
		}
		if ev.Type != "platform.initStart" && ev.Record["requestId"] != r.RequestID {
			t.Errorf("%s record names request %v, want %s", ev.Type, ev.Record["requestId"], r.RequestID)
		}
		platform[ev.Type] = ev.Record
	}
	for _, r := range sink.all() {
		// The function's own RFC 3339 timestamp is the event's time.
		if strings.Contains(r.Message, "something bad") && !r.Time.Equal(time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)) {
			t.Errorf("JSON line's timestamp not used: %v", r.Time)
		}
	}
	if got := strings.Join(app, "\n"); strings.Contains(got, "debug detail") || !strings.Contains(got, "something bad") ||
		!strings.Contains(got, "plain text line") {
		t.Errorf("application lines at WARN:\n%s", got)
	}
	if is := platform["platform.initStart"]; is["functionName"] != "sinkjson" || is["phase"] != "init" || is["initializationType"] != "on-demand" {
		t.Errorf("platform.initStart = %v", is)
	}
	if platform["platform.start"]["version"] != "$LATEST" {
		t.Errorf("platform.start = %v", platform["platform.start"])
	}
	rep := platform["platform.report"]
	m, _ := rep["metrics"].(map[string]any)
	if rep["status"] != "success" || m["memorySizeMB"] != 128.0 || m["billedDurationMs"] == nil || m["initDurationMs"] == nil {
		t.Errorf("platform.report = %v", rep)
	}
	if platform["platform.runtimeDone"]["status"] != "success" {
		t.Errorf("platform.runtimeDone = %v", platform["platform.runtimeDone"])
	}
	// The tail carries the same JSON records.
	if !strings.Contains(string(res.LogTail), `"type":"platform.report"`) {
		t.Errorf("tail:\n%s", res.LogTail)
	}

	// SystemLogLevel WARN keeps only failures' platform records.
	sink2 := &recordSink{}
	h2 := newHarness(t, func(o *Options) { o.LogSink = sink2 })
	fn2 := h2.fn("sinkwarn", nil)
	fn2.LoggingConfig = &function.LoggingConfig{LogFormat: "JSON", ApplicationLogLevel: "INFO", SystemLogLevel: "WARN"}
	res, _ = h2.call(t, fn2, map[string]any{"action": "echo"})
	wantOK(t, res)
	res, _ = h2.call(t, fn2, map[string]any{"action": "crash"})
	wantError(t, res, "Runtime.ExitError", "")
	var types []string
	for _, r := range sink2.all() {
		if r.Platform {
			types = append(types, r.Type)
		}
	}
	if got := strings.Join(types, ","); strings.Contains(got, "platform.start") || !strings.Contains(got, "platform.report") {
		t.Errorf("platform records at WARN: %s", got)
	}
}

func FuzzAppLineLevel(f *testing.F) {
	f.Add([]byte(`{"level":"debug","msg":"x"}`))
	f.Add([]byte(`{"level":5}`))
	f.Add([]byte(`plain`))
	f.Fuzz(func(t *testing.T, line []byte) {
		if l, _ := appLine(line); l < 0 || l > levelFatal {
			t.Fatalf("level %d out of range", l)
		}
	})
}

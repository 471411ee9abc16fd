package pool

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/invoke"
)

// maxLine is where an unterminated line is cut (CloudWatch's event limit).
const maxLine = 256 * 1024

// logCapture reads one environment's output (stdout and stderr share one
// pipe, so their order is kept) and files each line under the current
// invocation's tail and into the function log.
//
// Attribution: lines written during init belong to the first invocation;
// lines written during an invocation belong to it. Output that arrives
// after an invocation's response (background work) is attributed to that
// invocation until the next one starts: it reaches the function log, but
// the tail was already returned, so no tail shows it.
//
// The reader reads and files under mu, and sync reads whatever is left in
// the pipe under mu too, so once sync returns, every byte the runtime wrote
// before posting its response has been filed.
type logCapture struct {
	f      *os.File
	fd     int
	rc     syscall.RawConn
	prefix []byte
	fnLog  *lockedWriter // nil: no function log
	sink   LogSink       // nil: no log store
	meta   logMeta
	done   chan struct{} // closed when the reader has seen EOF

	mu        sync.Mutex
	closed    bool   // guarded by mu: fd is closed
	buf       []byte // guarded by mu: read buffer
	partial   []byte // guarded by mu: an unterminated line
	tail      []byte // guarded by mu: the current invocation's log, capped
	requestID string // guarded by mu: the invocation the output belongs to
	// publish, when set, hands each function line and platform record to
	// the environment's Telemetry API subscribers; it never blocks. Set
	// before run.
	publish   func(typ string, record any)
	netHint   string // the network line (nethint.go); "" for none
	netHinted bool   // guarded by mu: netHint has been written
}

// logMeta is what every record of one environment carries, and its
// LoggingConfig.
type logMeta struct {
	function, version, envID string
	group, stream            string
	json                     bool // LogFormat JSON
	appLevel, sysLevel       int  // minimum levels kept (JSON format only)
}

func newLogMeta(fn *function.Config, envID, stream string) logMeta {
	lm := logMeta{function: fn.FunctionName, version: fn.Version, envID: envID,
		group: "/aws/lambda/" + fn.FunctionName, stream: stream}
	if lc := fn.LoggingConfig; lc != nil {
		if lc.LogGroup != "" {
			lm.group = lc.LogGroup
		}
		if lc.LogFormat == "JSON" {
			lm.json = true
			lm.appLevel = levelOf(lc.ApplicationLogLevel)
			lm.sysLevel = levelOf(lc.SystemLogLevel)
		}
	}
	return lm
}

// Log levels, least to most severe.
const (
	levelTrace = iota + 1
	levelDebug
	levelInfo
	levelWarn
	levelError
	levelFatal
)

// levelOf reads a level name; unknown or empty names are INFO, as Lambda
// assigns them.
func levelOf(s string) int {
	switch strings.ToUpper(s) {
	case "TRACE":
		return levelTrace
	case "DEBUG":
		return levelDebug
	case "WARN", "WARNING":
		return levelWarn
	case "ERROR":
		return levelError
	case "FATAL", "CRITICAL":
		return levelFatal
	}
	return levelInfo
}

// appLine reads a function's JSON log line ({"level": ..., "timestamp":
// ...}): its level (0 when the line is not a JSON object with a "level",
// never filtered) and its RFC 3339 timestamp (zero when absent or
// invalid), which Lambda uses as the event's time.
func appLine(line []byte) (int, time.Time) {
	if len(line) < 2 || line[0] != '{' ||
		!bytes.Contains(line, []byte(`"level"`)) && !bytes.Contains(line, []byte(`"timestamp"`)) {
		return 0, time.Time{}
	}
	var v struct {
		Level     json.RawMessage `json:"level"`
		Timestamp json.RawMessage `json:"timestamp"`
	}
	if json.Unmarshal(line, &v) != nil {
		return 0, time.Time{}
	}
	lvl := 0
	if v.Level != nil {
		var name string
		_ = json.Unmarshal(v.Level, &name)
		lvl = levelOf(name)
	}
	var ts time.Time
	var s string
	if json.Unmarshal(v.Timestamp, &s) == nil {
		ts, _ = time.Parse(time.RFC3339Nano, s)
	}
	return lvl, ts
}

// newLogCapture returns the capture and the pipe's write end, to be given
// to the environment's process (and closed by the caller after the start).
func newLogCapture(meta logMeta, fnLog *lockedWriter, sink LogSink) (*logCapture, *os.File, error) {
	r, w, fd, err := openLogPipe()
	if err != nil {
		return nil, nil, fmt.Errorf("create log pipe: %w", err)
	}
	rc, err := r.SyscallConn()
	if err != nil {
		_ = r.Close()
		_ = w.Close()
		return nil, nil, fmt.Errorf("create log pipe: %w", err)
	}
	c := &logCapture{
		f: r, fd: fd, rc: rc, fnLog: fnLog, sink: sink, meta: meta,
		prefix: []byte("[" + meta.function + "] "),
		done:   make(chan struct{}),
		buf:    make([]byte, 32*1024),
	}
	return c, w, nil
}

// run reads until every writer is gone. The caller owns the goroutine.
func (c *logCapture) run() {
	defer close(c.done)
	for {
		eof := false
		err := c.rc.Read(func(uintptr) bool {
			c.mu.Lock()
			defer c.mu.Unlock()
			n, err := c.readLocked()
			if errors.Is(err, syscall.EAGAIN) {
				return false // wait for more
			}
			eof = n == 0 || err != nil
			return true
		})
		if err != nil || eof {
			break
		}
	}
	c.mu.Lock()
	c.flushPartialLocked()
	c.closed = true
	c.mu.Unlock()
	_ = c.f.Close()
}

// readLocked reads once from the pipe and files what it got.
func (c *logCapture) readLocked() (int, error) {
	for {
		n, err := readPipe(c.fd, c.buf)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if n > 0 {
			c.consumeLocked(c.buf[:n])
		}
		return max(n, 0), err
	}
}

// sync files everything already in the pipe, plus an unterminated last
// line.
func (c *logCapture) sync() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.syncLocked()
}

func (c *logCapture) syncLocked() {
	if !c.closed {
		for {
			n, err := c.readLocked()
			if n == 0 || err != nil {
				break
			}
		}
	}
	c.flushPartialLocked()
}

func (c *logCapture) consumeLocked(p []byte) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			c.partial = append(c.partial, p...)
			if len(c.partial) >= maxLine {
				c.flushPartialLocked()
			}
			return
		}
		if len(c.partial) > 0 {
			c.partial = append(c.partial, p[:i]...)
			c.lineLocked(c.partial, nil)
			c.partial = c.partial[:0]
		} else {
			c.lineLocked(p[:i], nil)
		}
		p = p[i+1:]
	}
}

func (c *logCapture) flushPartialLocked() {
	if len(c.partial) > 0 {
		c.lineLocked(c.partial, nil)
		c.partial = c.partial[:0]
	}
}

// lineLocked files one line: a function's (ev nil) or a platform event.
// In the JSON format, platform events are written as JSON records and
// both kinds are filtered by their level.
func (c *logCapture) lineLocked(line []byte, ev *platformEvent) {
	now := time.Now()
	typ := ""
	if ev != nil {
		typ = ev.typ
		if c.meta.json {
			if c.meta.sysLevel > levelInfo && !ev.failure {
				return // SystemLogLevel WARN keeps only failures
			}
			if ev.record != nil {
				line = ev.jsonLine(now)
			}
		}
	} else if c.meta.json {
		lvl, ts := appLine(line)
		if lvl != 0 && lvl < c.meta.appLevel {
			return
		}
		if !ts.IsZero() && ts.Before(now) {
			// The line's own time (never later than now: an event is
			// never stored before it happened, which reads rely on).
			now = ts
		}
	}
	if ev == nil || !ev.noTail {
		c.tail = append(c.tail, line...)
		c.tail = append(c.tail, '\n')
		if len(c.tail) > 2*function.MaxLogTail {
			c.tail = append(c.tail[:0], c.tail[len(c.tail)-function.MaxLogTail:]...)
		}
	}
	if c.fnLog != nil {
		c.fnLog.writeLine(c.prefix, line)
	}
	if c.publish != nil {
		switch {
		case ev == nil:
			c.publish("function", string(line))
		case ev.record != nil:
			c.publish(ev.typ, ev.record)
		}
	}
	if c.sink != nil {
		c.sink.Log(LogRecord{
			Time: now, Function: c.meta.function, Version: c.meta.version, EnvironmentID: c.meta.envID,
			LogGroup: c.meta.group, LogStream: c.meta.stream, RequestID: c.requestID,
			Message: string(line), Platform: ev != nil, Type: typ,
		})
	}
	if ev == nil {
		c.noteNetFailureLocked(line)
	}
}

// begin starts a new invocation's log with its START line; with keep (the
// first invocation) the lines of init stay in front of it. Output still in
// the pipe is filed first: it was written before the runtime asked for
// this invocation, so it belongs to init or to the previous invocation.
func (c *logCapture) begin(keep bool, requestID string, start *platformEvent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.syncLocked()
	if !keep {
		c.tail = c.tail[:0]
	}
	c.requestID = requestID // init's lines, filed before, carry none
	c.lineLocked([]byte(start.text), start)
}

// finish files what the runtime wrote, then the platform lines, and
// returns the last 4 KB of the invocation's log.
func (c *logCapture) finish(evs ...*platformEvent) []byte {
	c.sync()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ev := range evs {
		c.lineLocked([]byte(ev.text), ev)
	}
	t := c.tail
	if len(t) > function.MaxLogTail {
		t = t[len(t)-function.MaxLogTail:]
	}
	return bytes.Clone(t)
}

// lockedWriter serialises whole lines from many environments.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) writeLine(prefix, line []byte) {
	b := make([]byte, 0, len(prefix)+len(line)+1)
	b = append(append(append(b, prefix...), line...), '\n')
	l.mu.Lock()
	_, _ = l.w.Write(b)
	l.mu.Unlock()
}

// Platform lines, as Lambda writes them: text in the Text format, and
// {"time","type","record"} objects in the JSON format (the Telemetry API's
// shapes).

// platformEvent is one platform line in both formats.
type platformEvent struct {
	typ     string // "platform.start", ...; "platform" for text-only lines
	text    string
	record  any  // the JSON format's record; nil: the text is used as is
	failure bool // an error or timeout (kept at SystemLogLevel WARN)
	noTail  bool // stored, not part of an invocation's tail
}

// platform files a platform line outside an invocation (INIT_START).
func (c *logCapture) platform(ev *platformEvent) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lineLocked([]byte(ev.text), ev)
}

// initStartEvent is INIT_START (Text) or platform.initStart (JSON), at the
// start of an environment's init. It goes to the stored log only: the
// invocation tails keep starting with the init's own output, then START.
func initStartEvent(fn *function.Config, interpreterVersion string) *platformEvent {
	// "provided.al2023" -> "provided:al2023"; "python3.12" -> "python:3.11.7"
	// and "nodejs20.x" -> "nodejs:20.20.2", the version of the interpreter
	// that really runs it (see runtimes.Runtime.Interpreter); the build is
	// Nimbus's.
	rt := fn.Runtime
	if i := strings.IndexAny(rt, "0123456789."); i > 0 {
		if interpreterVersion != "" {
			rt = rt[:i] + ":" + interpreterVersion
		} else {
			rt = rt[:i] + ":" + strings.TrimPrefix(rt[i:], ".")
		}
	}
	version := rt + ".nimbus"
	arn := ""
	if fn.RuntimeVersionConfig != nil {
		arn = fn.RuntimeVersionConfig.RuntimeVersionArn
	}
	return &platformEvent{
		typ:  "platform.initStart",
		text: "INIT_START Runtime Version: " + version + "\tRuntime Version ARN: " + arn,
		record: map[string]any{"initializationType": "on-demand", "phase": "init", "runtimeVersion": version,
			"runtimeVersionArn": arn, "functionName": fn.FunctionName, "functionVersion": fn.Version},
		noTail: true,
	}
}

func (ev *platformEvent) jsonLine(now time.Time) []byte {
	b, _ := json.Marshal(struct {
		Time   string `json:"time"`
		Type   string `json:"type"`
		Record any    `json:"record"`
	}{now.UTC().Format("2006-01-02T15:04:05.000Z"), ev.typ, ev.record})
	return b
}

// textEvent is a platform line without a JSON form (timeout and exit
// messages).
func textEvent(text string) *platformEvent {
	return &platformEvent{typ: "platform", text: text, failure: true}
}

func startEvent(requestID, version string) *platformEvent {
	return &platformEvent{typ: "platform.start", text: startLine(requestID, version),
		record: map[string]any{"requestId": requestID, "version": version}}
}

func startLine(requestID, version string) string {
	return "START RequestId: " + requestID + " Version: " + version
}

func endLine(requestID string) string { return "END RequestId: " + requestID }

// endEvent is END in text and platform.runtimeDone in JSON.
func endEvent(r *report) *platformEvent {
	status := r.status
	if status == "" {
		status = "success"
	}
	rec := map[string]any{"requestId": r.requestID, "status": status,
		"metrics": map[string]any{"durationMs": roundMs(r.duration), "producedBytes": r.producedBytes}}
	if r.errorType != "" {
		rec["errorType"] = r.errorType
	}
	return &platformEvent{typ: "platform.runtimeDone", text: endLine(r.requestID), record: rec, failure: r.status != ""}
}

// reportEvent is REPORT in text and platform.report in JSON.
func reportEvent(r *report) *platformEvent {
	status := r.status
	if status == "" {
		status = "success"
	}
	m := map[string]any{"durationMs": roundMs(r.duration), "billedDurationMs": r.billed().Milliseconds(),
		"memorySizeMB": r.memoryMB, "maxMemoryUsedMB": r.usedMB()}
	if r.initDuration > 0 {
		m["initDurationMs"] = roundMs(r.initDuration)
	}
	rec := map[string]any{"requestId": r.requestID, "metrics": m, "status": status}
	if r.errorType != "" {
		rec["errorType"] = r.errorType
	}
	return &platformEvent{typ: "platform.report", text: r.String(), record: rec, failure: r.status != ""}
}

func roundMs(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Millisecond)*1000) / 1000
}

// report is the data of one REPORT line.
type report struct {
	requestID    string
	duration     time.Duration
	memoryMB     int
	maxMemory    uint64 // bytes; 0 when unknown
	initDuration time.Duration
	status       string // "", "timeout" or "error"
	errorType    string
	// producedBytes is the response's size (platform.runtimeDone).
	producedBytes int
}

// usedMB is Max Memory Used in MB. Charge batching can put the cgroup's
// peak a few pages over the limit; Lambda never reports more than the
// memory size.
func (r *report) usedMB() int {
	return int(min((r.maxMemory+(1<<20)-1)>>20, uint64(r.memoryMB))) // #nosec G115 -- MemorySize is 128..10240
}

// billed is Billed Duration: the invoke and init phases, rounded up to the
// millisecond, as Lambda bills them.
func (r *report) billed() time.Duration { return invoke.Billed(r.duration, r.initDuration) }

func (r *report) String() string {
	ms := float64(r.duration) / float64(time.Millisecond)
	s := fmt.Sprintf("REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %d ms\tMemory Size: %d MB\tMax Memory Used: %d MB\t",
		r.requestID, ms, r.billed().Milliseconds(), r.memoryMB, r.usedMB())
	if r.initDuration > 0 {
		s += fmt.Sprintf("Init Duration: %.2f ms\t", float64(r.initDuration)/float64(time.Millisecond))
	}
	if r.status != "" {
		s += "Status: " + r.status + "\t"
		if r.errorType != "" {
			s += "Error Type: " + r.errorType + "\t"
		}
	}
	return s
}

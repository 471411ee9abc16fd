package pool

import "time"

// LogSink receives the log lines of every environment: each line a
// function writes (stdout and stderr of every process of the environment)
// and Lambda's platform lines, in the function's LogFormat. Implementations
// must return at once (queue, drop and count rather than wait): Log is
// called on the invoke path, under the environment's log lock. The daemon
// fans one sink out to several consumers (the log store, metrics).
type LogSink interface {
	Log(rec LogRecord)
}

// LogRecord is one log line with where it comes from.
type LogRecord struct {
	Time          time.Time // when Nimbus read the line
	Function      string    // function name
	Version       string    // "$LATEST" or a version number
	EnvironmentID string
	LogGroup      string // LoggingConfig.LogGroup, default /aws/lambda/<function>
	LogStream     string // YYYY/MM/DD/[version]<environment id>
	// RequestID is the invocation the line belongs to; empty for output of
	// init before the first invocation began.
	RequestID string
	// Message is the line without its newline (JSON for platform events in
	// the JSON format).
	Message string
	// Platform is set for lines Nimbus writes (START, END, REPORT, timeout
	// and exit messages); Type then names the event: "platform.start",
	// "platform.runtimeDone", "platform.report", or "platform" for the
	// text-only lines. Type is empty for function lines.
	Platform bool
	Type     string
}

package sfn

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// A state machine's LoggingConfiguration sends its executions' history
// events to a CloudWatch Logs log group, as AWS does for Express and
// Standard workflows: one log event per history event, in AWS's format
//
//	{"id": "3", "type": "TaskStateEntered", "details": {...},
//	 "previous_event_id": "2", "event_timestamp": "1592307170873",
//	 "execution_arn": "...", "redrive_count": "0"}
//
// (ids and times as strings, details the history event's details, with
// input, output and parameters left out unless includeExecutionData),
// filtered by level: ALL every event, ERROR the failures (types ending
// Failed, TimedOut or Aborted), FATAL the execution's own failure
// (ExecutionFailed, ExecutionTimedOut, ExecutionAborted), OFF none.
// An execution's events go to one stream, states/<machine>/<its start,
// yyyy-mm-dd-hh-mm>/<a hash of its ARN>. The events go to the node's
// log store (Options.Logs: the store CloudWatch Logs' API reads), as the
// service itself (AWS delivers them as vended logs, not as the role);
// CreateStateMachine and UpdateStateMachine check, as the machine's role,
// that the role may describe the log group and that it exists, as AWS
// checks the role's
// access to the destination. Delivery is best effort: a refusal is
// logged by the node, never the execution's failure.

// loggingConfig is a LoggingConfiguration.
type loggingConfig struct {
	Level                string `json:"level"`
	IncludeExecutionData bool   `json:"includeExecutionData"`
	Destinations         []struct {
		CloudWatchLogsLogGroup *struct {
			LogGroupArn string `json:"logGroupArn"`
		} `json:"cloudWatchLogsLogGroup"`
	} `json:"destinations"`
	group string // the log group's name
}

// parseLogging reads and checks a LoggingConfiguration (nil: logging
// off).
func parseLogging(raw json.RawMessage) (*loggingConfig, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var c loggingConfig
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, validation("Invalid loggingConfiguration: %v", err)
	}
	switch c.Level {
	case "":
		c.Level = "OFF"
	case "ALL", "ERROR", "FATAL", "OFF":
	default:
		return nil, validation("1 validation error detected: Value '%s' at 'loggingConfiguration.level' failed to satisfy constraint: Member must satisfy enum value set: [ALL, ERROR, FATAL, OFF]", truncate(c.Level, 64))
	}
	if c.Level == "OFF" && len(c.Destinations) == 0 {
		return nil, nil
	}
	if len(c.Destinations) != 1 || c.Destinations[0].CloudWatchLogsLogGroup == nil {
		return nil, bad("InvalidLoggingConfiguration", "Invalid Logging Configuration: Must specify exactly one Log Destination.")
	}
	arn := c.Destinations[0].CloudWatchLogsLogGroup.LogGroupArn
	rest, ok := strings.CutPrefix(arn, "arn:aws:logs:")
	i := strings.Index(rest, ":log-group:")
	if !ok || i < 0 || !strings.HasSuffix(rest, ":*") || len(rest) < i+len(":log-group:")+3 {
		return nil, bad("InvalidLoggingConfiguration", "Invalid Logging Configuration: The CloudWatch Logs Resource ARN must be of the form arn:aws:logs:<region>:<account>:log-group:<name>:* ('%s').", truncate(arn, 256))
	}
	c.group = rest[i+len(":log-group:") : len(rest)-2]
	if c.Level == "OFF" {
		return nil, nil
	}
	return &c, nil
}

// checkLogging checks, as the machine's role, that the role may see the
// log group and that it exists.
func (s *Service) checkLogging(ctx context.Context, c *loggingConfig, roleARN string) error {
	if c == nil || s.tasks.Call == nil {
		return nil
	}
	body, _ := json.Marshal(map[string]any{"logGroupNamePrefix": c.group})
	out, err := s.tasks.Call.Call(withCaller(ctx, &Execution{RoleARN: roleARN, Name: "logging-check"}), "logs", "DescribeLogGroups", body)
	var ae *APIError
	switch {
	case errors.As(err, &ae) && (ae.Code == "AccessDeniedException" || ae.Code == "AccessDenied"):
		return bad("InvalidLoggingConfiguration", "Invalid Logging Configuration: The state machine IAM Role is not authorized to access the Log Destination")
	case err != nil:
		return fmt.Errorf("check the log group %s: %w", c.group, err)
	}
	var groups struct {
		LogGroups []struct{ LogGroupName string }
	}
	_ = json.Unmarshal(out, &groups)
	for _, g := range groups.LogGroups {
		if g.LogGroupName == c.group {
			return nil
		}
	}
	return bad("InvalidLoggingConfiguration", "Invalid Logging Configuration: Log Destination not found: log group %s does not exist.", c.group)
}

// logged reports whether level logs events of type typ.
func logged(level, typ string) bool {
	switch level {
	case "ALL":
		return true
	case "ERROR":
		return strings.HasSuffix(typ, "Failed") || strings.HasSuffix(typ, "TimedOut") || strings.HasSuffix(typ, "Aborted")
	case "FATAL":
		return typ == "ExecutionFailed" || typ == "ExecutionTimedOut" || typ == "ExecutionAborted"
	}
	return false
}

// logRecord is one history event as AWS logs it.
func logRecord(e *Event, execARN string, redrives int, include bool) string {
	m := map[string]any{
		"id": strconv.FormatInt(e.ID, 10), "type": e.Type, "previous_event_id": strconv.FormatInt(e.Prev, 10),
		"event_timestamp": strconv.FormatInt(e.Time.UnixMilli(), 10), "execution_arn": execARN,
		"redrive_count": strconv.Itoa(redrives),
	}
	d := map[string]any{}
	for k, v := range e.Details {
		if !include && (k == "input" || k == "output" || k == "parameters") {
			continue
		}
		d[k] = v
	}
	m["details"] = d
	b, _ := json.Marshal(m)
	return string(b)
}

// maxLogEventBytes bounds one log event (CloudWatch Logs: 256 KiB with
// 26 bytes of overhead); a record past it is logged without the data.
const maxLogEventBytes = 256*1024 - 26

// LogRecord is one log event of an execution's log.
type LogRecord struct {
	Time    time.Time
	Message string
}

// logEvents writes an execution's history events to the machine's log
// group, if its LoggingConfiguration asks.
func (s *Service) logEvents(ctx context.Context, machineRaw json.RawMessage, machine, execARN string, start time.Time, redrives int, evs []*Event) {
	c, err := parseLogging(machineRaw)
	if c == nil || err != nil || s.logs == nil || len(evs) == 0 {
		return
	}
	var recs []LogRecord
	sorted := append([]*Event(nil), evs...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].ID < sorted[j].ID })
	for _, e := range sorted {
		if e.hidden() || !logged(c.Level, e.Type) {
			continue
		}
		rec := logRecord(e, execARN, redrives, c.IncludeExecutionData)
		if len(rec) > maxLogEventBytes {
			rec = logRecord(e, execARN, redrives, false)
		}
		recs = append(recs, LogRecord{Time: e.Time, Message: rec})
	}
	if len(recs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	id := sha256.Sum256([]byte(execARN))
	stream := "states/" + machine + "/" + start.UTC().Format("2006-01-02-15-04") + "/" + hex.EncodeToString(id[:8])
	if len(stream) > 512 {
		stream = stream[:512]
	}
	if err := s.logs(ctx, c.group, stream, recs); err != nil {
		s.log.Warn("execution log events", "execution", execARN, "group", c.group, "err", err)
	}
}

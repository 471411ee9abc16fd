package sfn

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
)

// syncTimeout is how long an Express execution may run (AWS: 5 minutes).
const syncTimeout = 5 * time.Minute

type startInput struct {
	StateMachineArn string  `json:"stateMachineArn"`
	Name            string  `json:"name"`
	Input           *string `json:"input"`
	TraceHeader     string  `json:"traceHeader"`
}

// checkInput validates an execution's input: JSON of at most 256 KB.
func checkInput(in *string) (string, error) {
	if in == nil {
		return "{}", nil
	}
	if len(*in) > MaxPayloadBytes {
		return "", validation("1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have length less than or equal to 262144")
	}
	if _, err := decodeJSON([]byte(*in)); err != nil {
		return "", bad("InvalidExecutionInput", "Invalid State Machine Execution Input: 'The input is not valid JSON'")
	}
	return *in, nil
}

func (s *Service) startExecution(ctx context.Context, body []byte) (any, error) {
	var in startInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	input, err := checkInput(in.Input)
	if err != nil {
		return nil, err
	}
	if in.Name == "" {
		in.Name = awsapi.NewRequestID()
	}
	if err := checkName("name", in.Name); err != nil {
		return nil, err
	}
	m, _, err := s.getMachine(ctx, in.StateMachineArn)
	if err != nil {
		return nil, err
	}
	def, err := s.defs.parse(m.Definition, m.Type == "EXPRESS")
	if err != nil {
		return nil, definitionError(err)
	}
	now := s.now().UTC()
	if m.Type == "EXPRESS" {
		arn := "arn:aws:states:" + s.region + ":" + s.account + ":express:" + m.Name + ":" + in.Name + ":" + awsapi.NewRequestID()
		x := &Execution{ARN: arn, Name: in.Name, StateMachineARN: m.ARN, StateMachineName: m.Name, RoleARN: m.RoleARN,
			Input: input, StartTime: now, Def: def, Seed: newSecret(), logging: m.Logging}
		s.bg.Add(1)
		go func() {
			defer s.bg.Done()
			ctx, cancel := context.WithTimeout(s.bgCtx, syncTimeout)
			defer cancel()
			oc, _, err := s.runInMemory(ctx, x)
			if err != nil {
				s.log.Warn("express execution ended early", "execution", arn, "err", err)
				return
			}
			s.observed(m.ARN, statusOf(oc), s.now().Sub(now))
		}()
		s.observed(m.ARN, "STARTED", 0)
		return map[string]any{"executionArn": arn, "startDate": epoch(now)}, nil
	}
	rec := &execRecord{ARN: s.executionARN(m.Name, in.Name), Name: in.Name, StateMachineARN: m.ARN, StateMachineName: m.Name,
		RoleARN: m.RoleARN, Status: StatusRunning, Input: input, Start: now, Definition: m.Definition, Seed: newSecret()}
	b, _ := json.Marshal(rec)
	key := execKey(m.Name, in.Name)
	if _, err := s.kv.Create(ctx, key, b); err != nil {
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, err
		}
		old, _, gerr := getJSON[execRecord](ctx, s.kv, key)
		if gerr != nil {
			return nil, gerr
		}
		// Idempotent while running with the same input.
		if old.Status == StatusRunning && old.Input == input {
			return map[string]any{"executionArn": old.ARN, "startDate": epoch(old.Start)}, nil
		}
		return nil, bad("ExecutionAlreadyExists", "Execution Already Exists: '%s'", rec.ARN)
	}
	s.statusChanged(ctx, rec)
	if err := s.schedule(ctx, rec.ARN, now, rec.ARN+"#start"); err != nil {
		return nil, err
	}
	s.observed(m.ARN, "STARTED", 0)
	return map[string]any{"executionArn": rec.ARN, "startDate": epoch(now)}, nil
}

func (s *Service) startSyncExecution(ctx context.Context, body []byte) (any, error) {
	var in startInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	input, err := checkInput(in.Input)
	if err != nil {
		return nil, err
	}
	if in.Name == "" {
		in.Name = awsapi.NewRequestID()
	}
	if err := checkName("name", in.Name); err != nil {
		return nil, err
	}
	m, _, err := s.getMachine(ctx, in.StateMachineArn)
	if err != nil {
		return nil, err
	}
	if m.Type != "EXPRESS" {
		return nil, bad("StateMachineTypeNotSupported", "This operation is not supported by this type of state machine")
	}
	def, err := s.defs.parse(m.Definition, true)
	if err != nil {
		return nil, definitionError(err)
	}
	now := s.now().UTC()
	arn := "arn:aws:states:" + s.region + ":" + s.account + ":express:" + m.Name + ":" + in.Name + ":" + awsapi.NewRequestID()
	x := &Execution{ARN: arn, Name: in.Name, StateMachineARN: m.ARN, StateMachineName: m.Name, RoleARN: m.RoleARN,
		Input: input, StartTime: now, Def: def, Seed: newSecret(), logging: m.Logging}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), syncTimeout)
	defer cancel()
	s.observed(m.ARN, "STARTED", 0)
	oc, _, err := s.runInMemory(rctx, x)
	if err != nil {
		return nil, err
	}
	s.observed(m.ARN, statusOf(oc), s.now().Sub(now))
	out := map[string]any{
		"executionArn": arn, "stateMachineArn": m.ARN, "name": in.Name, "startDate": epoch(now), "stopDate": epoch(s.now()),
		"input": input, "inputDetails": map[string]any{"included": true},
		"billingDetails": map[string]any{"billedMemoryUsedInMB": 64, "billedDurationInMilliseconds": max(100, s.now().Sub(now).Milliseconds())},
	}
	switch {
	case oc.failure == nil:
		out["status"], out["output"], out["outputDetails"] = StatusSucceeded, oc.output, map[string]any{"included": true}
	case oc.failure.Name == ErrTimeout && oc.failure.Cause == "The execution timed out.":
		out["status"], out["error"], out["cause"] = StatusTimedOut, oc.failure.Name, oc.failure.Cause
	default:
		out["status"], out["error"], out["cause"] = StatusFailed, oc.failure.Name, oc.failure.Cause
	}
	return out, nil
}

func (s *Service) getExecution(ctx context.Context, arn string) (*execRecord, uint64, error) {
	if err := s.checkARN(arn); err != nil {
		return nil, 0, err
	}
	machine, name, ok := parseExecutionARN(arn)
	if !ok {
		return nil, 0, bad("InvalidArn", "Invalid Arn: 'Resource type not valid in this context: %s'", truncate(arn, 256))
	}
	rec, rev, err := getJSON[execRecord](ctx, s.kv, execKey(machine, name))
	if errors.Is(err, jetstream.ErrKeyNotFound) || (err == nil && rec.ARN != arn) {
		return nil, 0, bad("ExecutionDoesNotExist", "Execution Does Not Exist: '%s'", arn)
	}
	return rec, rev, err
}

func (rec *execRecord) describe(now time.Time) map[string]any {
	out := map[string]any{
		"executionArn": rec.ARN, "stateMachineArn": rec.StateMachineARN, "name": rec.Name, "status": rec.Status,
		"startDate": epoch(rec.Start), "input": rec.Input, "inputDetails": map[string]any{"included": true},
		"redriveCount": rec.RedriveCount,
	}
	out["redriveStatus"], out["redriveStatusReason"] = rec.redriveStatus(now)
	if out["redriveStatusReason"] == "" {
		delete(out, "redriveStatusReason")
	}
	if rec.RedriveCount > 0 {
		out["redriveDate"] = epoch(rec.RedriveDate)
	}
	if rec.Status != StatusRunning {
		out["stopDate"] = epoch(rec.Stop)
	}
	if rec.Status == StatusSucceeded {
		out["output"], out["outputDetails"] = rec.Output, map[string]any{"included": true}
	}
	if rec.Error != "" || rec.Cause != "" {
		out["error"], out["cause"] = rec.Error, rec.Cause
	}
	if rec.MapRunARN != "" {
		out["mapRunArn"] = rec.MapRunARN
	}
	return out
}

func (s *Service) describeExecution(ctx context.Context, body []byte) (any, error) {
	var in arnInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	rec, _, err := s.getExecution(ctx, in.ExecutionArn)
	if err != nil {
		return nil, err
	}
	return rec.describe(s.now()), nil
}

func (s *Service) describeStateMachineForExecution(ctx context.Context, body []byte) (any, error) {
	var in arnInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	rec, _, err := s.getExecution(ctx, in.ExecutionArn)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"stateMachineArn": rec.StateMachineARN, "name": rec.StateMachineName, "definition": rec.Definition,
		"roleArn": rec.RoleARN, "updateDate": epoch(rec.Start)}
	if rec.MapRunARN != "" {
		// A Map Run's child: its machine is the Map's ItemProcessor.
		out["mapRunArn"], out["label"] = rec.MapRunARN, rec.StateMachineName[strings.LastIndexByte(rec.StateMachineName, '/')+1:]
	}
	return out, nil
}

func (s *Service) listExecutions(ctx context.Context, body []byte) (any, error) {
	var in pageInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	var prefix string
	if in.MapRunArn != "" {
		if in.StateMachineArn != "" {
			return nil, validation("Only one of stateMachineArn and mapRunArn may be given")
		}
		run, err := s.getMapRun(ctx, in.MapRunArn)
		if err != nil {
			return nil, err
		}
		machine := run.StateMachineARN[strings.Index(run.StateMachineARN, ":stateMachine:")+len(":stateMachine:"):]
		prefix = execKey(machine, "")
	} else {
		m, _, err := s.getMachine(ctx, in.StateMachineArn)
		if err != nil {
			return nil, err
		}
		if m.Type == "EXPRESS" {
			return nil, bad("StateMachineTypeNotSupported", "This operation is not supported by this type of state machine")
		}
		prefix = execKey(m.Name, "")
	}
	switch in.StatusFilter {
	case "", StatusRunning, StatusSucceeded, StatusFailed, StatusTimedOut, StatusAborted, "PENDING_REDRIVE":
	default:
		return nil, validation("1 validation error detected: Value '%s' at 'statusFilter' failed to satisfy constraint: Member must satisfy enum value set: [RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE]", in.StatusFilter)
	}
	switch in.RedriveFilter {
	case "", "REDRIVEN", "NOT_REDRIVEN":
	default:
		return nil, validation("1 validation error detected: Value '%s' at 'redriveFilter' failed to satisfy constraint: Member must satisfy enum value set: [REDRIVEN, NOT_REDRIVEN]", in.RedriveFilter)
	}
	keys, err := s.keys(ctx, prefix+"*")
	if err != nil && !errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, err
	}
	var recs []*execRecord
	for _, k := range keys {
		r, _, err := getJSON[execRecord](ctx, s.kv, k)
		if err != nil || (in.StatusFilter != "" && r.Status != in.StatusFilter) || r.MapRunARN != in.MapRunArn ||
			(in.RedriveFilter == "REDRIVEN" && r.RedriveCount == 0) || (in.RedriveFilter == "NOT_REDRIVEN" && r.RedriveCount > 0) {
			continue
		}
		recs = append(recs, r)
	}
	sort.Slice(recs, func(i, j int) bool {
		if !recs[i].Start.Equal(recs[j].Start) {
			return recs[i].Start.After(recs[j].Start)
		}
		return recs[i].Name < recs[j].Name
	})
	from, to, next, err := page(len(recs), in)
	if err != nil {
		return nil, err
	}
	items := []any{}
	for _, r := range recs[from:to] {
		it := map[string]any{"executionArn": r.ARN, "stateMachineArn": r.StateMachineARN, "name": r.Name, "status": r.Status,
			"startDate": epoch(r.Start), "redriveCount": r.RedriveCount}
		if r.RedriveCount > 0 {
			it["redriveDate"] = epoch(r.RedriveDate)
		}
		if r.MapRunARN != "" {
			it["mapRunArn"] = r.MapRunARN
		}
		if r.Status != StatusRunning {
			it["stopDate"] = epoch(r.Stop)
		}
		items = append(items, it)
	}
	out := map[string]any{"executions": items}
	if next != "" {
		out["nextToken"] = next
	}
	return out, nil
}

func (s *Service) stopExecution(ctx context.Context, body []byte) (any, error) {
	var in struct {
		ExecutionArn string `json:"executionArn"`
		Error        string `json:"error"`
		Cause        string `json:"cause"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	for {
		rec, rev, err := s.getExecution(ctx, in.ExecutionArn)
		if err != nil {
			return nil, err
		}
		if rec.Status != StatusRunning {
			return map[string]any{"stopDate": epoch(rec.Stop)}, nil
		}
		rec.Status, rec.Stop, rec.Error, rec.Cause = StatusAborted, s.now().UTC(), in.Error, in.Cause
		b, _ := json.Marshal(rec)
		if _, err := s.kv.Update(ctx, execKey(rec.StateMachineName, rec.Name), b, rev); err != nil {
			if errors.Is(err, jetstream.ErrKeyExists) {
				continue
			}
			return nil, err
		}
		s.observedEnd(rec)
		s.statusChanged(ctx, rec)
		d := map[string]any{}
		if in.Error != "" {
			d["error"] = in.Error
		}
		if in.Cause != "" {
			d["cause"] = in.Cause
		}
		if err := s.appendEvent(ctx, rec, &Event{Key: abortKey, Type: "ExecutionAborted", Details: d}); err != nil {
			return nil, err
		}
		s.countChildEnd(ctx, rec)
		s.answerWatch(ctx, rec)
		s.abortMapRuns(ctx, rec)
		s.mu.Lock()
		if a, ok := s.active[rec.ARN]; ok {
			a.cancel()
		}
		s.mu.Unlock()
		return map[string]any{"stopDate": epoch(rec.Stop)}, nil
	}
}

// appendEvent appends one event from outside a run (StopExecution,
// SendTaskSuccess): numbered after the journal's last, compare-and-set.
// It reports false (and appends nothing) when the key is recorded.
func (s *Service) appendEvent(ctx context.Context, rec *execRecord, ev *Event) error {
	st := s.journalStore(rec.StateMachineName, rec.Name)
	for {
		evs, pos, err := st.load(ctx)
		if err != nil {
			return err
		}
		var last int64
		once := ev.Type != "" && (ev.Type[0] != '_' || strings.HasPrefix(ev.Type, "_Child"))
		// Keys a redrive voided: an answer to one comes too late (its
		// token was issued before the redrive); StopExecution's lands on
		// the abort key in force.
		var rd redirects
		for _, e := range evs {
			rd.add(e)
		}
		if ev.Key == abortKey {
			ev.Key = rd.resolve(abortKey)
		}
		if ev.Type != "ExecutionRedriven" && !rd.inForce(strings.TrimPrefix(ev.Key, "hb:")) {
			return errRecorded
		}
		for _, e := range evs {
			if e.Key == ev.Key && once {
				return errRecorded
			}
			last = max(last, e.ID)
		}
		if ev.Type != "" && ev.Type[0] != '_' {
			ev.ID = last + 1
		}
		ev.Time = s.now().UTC()
		if _, err := st.append(ctx, []*Event{ev}, pos); err != nil {
			if errors.Is(err, errConflict) {
				continue
			}
			return err
		}
		if !ev.hidden() {
			if m, _, merr := s.getMachine(ctx, rec.StateMachineARN); merr == nil {
				s.logEvents(ctx, m.Logging, m.Name, rec.ARN, rec.Start, rec.RedriveCount, []*Event{ev})
			}
		}
		return nil
	}
}

var errRecorded = errors.New("event already recorded")

type historyInput struct {
	ExecutionArn         string `json:"executionArn"`
	MaxResults           int    `json:"maxResults"`
	NextToken            string `json:"nextToken"`
	ReverseOrder         bool   `json:"reverseOrder"`
	IncludeExecutionData *bool  `json:"includeExecutionData"`
}

func (s *Service) getExecutionHistory(ctx context.Context, body []byte) (any, error) {
	var in historyInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	rec, _, err := s.getExecution(ctx, in.ExecutionArn)
	if err != nil {
		return nil, err
	}
	evs, _, err := s.journalStore(rec.StateMachineName, rec.Name).load(ctx)
	if err != nil {
		return nil, err
	}
	var shown []*Event
	for _, e := range evs {
		if !e.hidden() {
			shown = append(shown, e)
		}
	}
	sort.Slice(shown, func(i, j int) bool { return shown[i].ID < shown[j].ID })
	if in.ReverseOrder {
		for i, j := 0, len(shown)-1; i < j; i, j = i+1, j-1 {
			shown[i], shown[j] = shown[j], shown[i]
		}
	}
	from, to, next, err := page(len(shown), pageInput{MaxResults: in.MaxResults, NextToken: in.NextToken})
	if err != nil {
		return nil, err
	}
	include := in.IncludeExecutionData == nil || *in.IncludeExecutionData
	items := []any{}
	for _, e := range shown[from:to] {
		items = append(items, renderEvent(e, include))
	}
	out := map[string]any{"events": items}
	if next != "" {
		out["nextToken"] = next
	}
	return out, nil
}

// renderEvent is a HistoryEvent as the API shows it.
func renderEvent(e *Event, include bool) map[string]any {
	m := map[string]any{"timestamp": epoch(e.Time), "type": e.Type, "id": e.ID}
	if e.Prev > 0 {
		m["previousEventId"] = e.Prev
	}
	if len(e.Details) == 0 {
		return m
	}
	d := map[string]any{}
	for k, v := range e.Details {
		if !include && (k == "input" || k == "output" || k == "parameters") {
			continue
		}
		d[k] = v
	}
	m[detailsField(e.Type)] = d
	return m
}

// detailsField names the details member of an event type.
func detailsField(typ string) string {
	switch {
	case len(typ) > len("StateEntered") && typ[len(typ)-len("StateEntered"):] == "StateEntered":
		return "stateEnteredEventDetails"
	case len(typ) > len("StateExited") && typ[len(typ)-len("StateExited"):] == "StateExited":
		return "stateExitedEventDetails"
	}
	return string(typ[0]+('a'-'A')) + typ[1:] + "EventDetails"
}

// Start starts an execution of the state machine arn with input, as
// StartExecution does with a generated name: for EventBridge rules and
// schedules whose target is a state machine. A refusal is an error whose
// text is the API's.
func (s *Service) Start(ctx context.Context, arn, input string) (string, error) {
	body, _ := json.Marshal(map[string]any{"stateMachineArn": arn, "input": input})
	out, err := s.startExecution(ctx, body)
	if err != nil {
		return "", err
	}
	return out.(map[string]any)["executionArn"].(string), nil
}

// IsRefusal reports whether err is the API's refusal (the state machine
// does not exist, the input is not JSON, ...), which no retry changes.
func IsRefusal(err error) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.status < 500
}

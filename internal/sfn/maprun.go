package sfn

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// A distributed Map with ExecutionType STANDARD runs each item (or
// batch) as a child execution of a Map Run, as AWS does:
//
//	parent Map ──► Map Run record (KV "mr.<id>": settings and counts)
//	   │ starts ≤ MaxConcurrency children (their records name the run
//	   │ and carry a watch: the parent's token for that item)
//	   ▼ suspends; each child's end writes its result into the parent's
//	     journal (a hidden event, so the 25,000-event cap counts only the
//	     parent's own states) and wakes it; the parent starts more
//	   └─► all answered: MapRunSucceeded (or MapRunFailed past the
//	       tolerated failures, the children still running stopped)
//
// ARNs as AWS forms them: the run
// arn:aws:states:<region>:<account>:mapRun:<machine>/<label>:<id>, its
// children arn:...:execution:<machine>/<label>:<uuid> of the state
// machine arn:...:stateMachine:<machine>/<label> (label: the Map's Label
// or name). ListMapRuns, DescribeMapRun and UpdateMapRun (MaxConcurrency
// and the tolerated failures, read again at each of the parent's steps)
// serve the record; ListExecutions with mapRunArn lists the children.
// ExecutionType EXPRESS runs its iterations in the parent's runner, in
// memory, as Express executions run (counted in the record at the end;
// UpdateMapRun does not change a run under way).

// mapRunRecord is a Map Run.
type mapRunRecord struct {
	ARN, ExecutionARN, StateMachineARN string
	Status                             string
	Start, Stop                        time.Time
	MaxConcurrency                     int
	TolCount                           int64
	TolPct                             float64
	Total, Started                     int
	Succeeded, Failed, TimedOut        int
	Aborted                            int
	ExecutionType                      string
	// RedriveCount and RedriveDate: the parent's redrives that redrove
	// this run.
	RedriveCount int       `json:",omitempty"`
	RedriveDate  time.Time `json:",omitzero"`
}

func mapRunKey(arn string) string {
	return "mr." + hex.EncodeToString([]byte(arn[strings.LastIndexByte(arn, ':')+1:]))
}

// childDefinition is a distributed Map's ItemProcessor as a state
// machine definition: ProcessorConfig dropped, the query language the
// Map state has made explicit.
func childDefinition(proc map[string]json.RawMessage, jsonata bool) string {
	m := map[string]json.RawMessage{}
	for k, v := range proc {
		if k != "ProcessorConfig" {
			m[k] = v
		}
	}
	if _, ok := m["QueryLanguage"]; !ok && jsonata {
		m["QueryLanguage"] = json.RawMessage(`"JSONata"`)
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// mapRuns is what a durable run needs of the Service for a Map Run.
type mapRuns interface {
	openMapRun(ctx context.Context, rec *mapRunRecord) (*mapRunRecord, error)
	startChild(ctx context.Context, run *mapRunRecord, parent *Execution, def, name, input string, w syncWatch) error
	closeMapRun(ctx context.Context, arn, status string) error
	countStarted(ctx context.Context, arn string, n int) error
	closeExpress(ctx context.Context, arn, status string, succeeded, failed, aborted int) error
}

// openMapRun creates the run's record, or reads it when a replay finds
// it made.
func (s *Service) openMapRun(ctx context.Context, rec *mapRunRecord) (*mapRunRecord, error) {
	b, _ := json.Marshal(rec)
	if _, err := s.kv.Create(ctx, mapRunKey(rec.ARN), b); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return nil, err
	}
	// A redriven run runs again; its unsuccessful children are counted
	// anew as they are redriven.
	return s.updateMapRunRecord(ctx, rec.ARN, func(r *mapRunRecord) bool {
		if rec.RedriveCount <= r.RedriveCount {
			return false
		}
		unsuccessful := r.Failed + r.TimedOut + r.Aborted
		r.Status, r.Stop, r.RedriveCount, r.RedriveDate = StatusRunning, time.Time{}, rec.RedriveCount, s.now().UTC()
		r.Started -= unsuccessful
		if r.ExecutionType == "EXPRESS" {
			r.Started = r.Total // its iterations run in the parent, all at once
		}
		r.Failed, r.TimedOut, r.Aborted = 0, 0, 0
		return true
	})
}

// updateMapRun changes a run's record by compare-and-set.
func (s *Service) updateMapRunRecord(ctx context.Context, arn string, f func(*mapRunRecord) bool) (*mapRunRecord, error) {
	for {
		cur, rev, err := getJSON[mapRunRecord](ctx, s.kv, mapRunKey(arn))
		if err != nil {
			return nil, err
		}
		if cur.ARN != arn {
			return nil, jetstream.ErrKeyNotFound
		}
		if !f(cur) {
			return cur, nil
		}
		b, _ := json.Marshal(cur)
		if _, err := s.kv.Update(ctx, mapRunKey(arn), b, rev); err != nil {
			if errors.Is(err, jetstream.ErrKeyExists) {
				continue
			}
			return nil, err
		}
		return cur, nil
	}
}

func (s *Service) countStarted(ctx context.Context, arn string, n int) error {
	_, err := s.updateMapRunRecord(ctx, arn, func(r *mapRunRecord) bool { r.Started += n; return n != 0 })
	return err
}

// closeMapRun records a run's end; a failed run stops its children
// still running.
func (s *Service) closeMapRun(ctx context.Context, arn, status string) error {
	rec, err := s.updateMapRunRecord(ctx, arn, func(r *mapRunRecord) bool {
		if r.Status != StatusRunning {
			return false
		}
		r.Status, r.Stop = status, s.now().UTC()
		return true
	})
	if err != nil || status == StatusSucceeded {
		return err
	}
	machine := rec.StateMachineARN[strings.Index(rec.StateMachineARN, ":stateMachine:")+len(":stateMachine:"):]
	keys, err := s.keys(ctx, execKey(machine, "")+"*")
	if err != nil {
		return nil
	}
	for _, k := range keys {
		c, _, err := getJSON[execRecord](ctx, s.kv, k)
		if err == nil && c.MapRunARN == arn && c.Status == StatusRunning {
			body, _ := json.Marshal(map[string]string{"executionArn": c.ARN})
			_, _ = s.stopExecution(ctx, body)
		}
	}
	return nil
}

// abortMapRuns ends the running Map Runs of an execution that ended
// without them (stopped, failed, timed out), stopping their children.
func (s *Service) abortMapRuns(ctx context.Context, rec *execRecord) {
	if !strings.Contains(rec.Definition, "DISTRIBUTED") {
		return
	}
	keys, err := s.keys(ctx, "mr.*")
	if err != nil {
		return
	}
	for _, k := range keys {
		r, _, err := getJSON[mapRunRecord](ctx, s.kv, k)
		if err == nil && r.ExecutionARN == rec.ARN && r.Status == StatusRunning {
			if err := s.closeMapRun(ctx, r.ARN, StatusAborted); err != nil {
				s.log.Warn("abort a map run", "map_run", r.ARN, "err", err)
			}
		}
	}
}

// childName is the name of a run's i-th child: a UUID derived from the
// run and the index, so a replay names the same child.
func childName(runARN string, i int) string {
	h := sha256.Sum256([]byte(fmt.Sprintf("%s#%d", runARN, i)))
	h[6] = h[6]&0x0f | 0x40
	h[8] = h[8]&0x3f | 0x80
	x := hex.EncodeToString(h[:16])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// startChild creates a child execution (or finds it made) and schedules
// it.
func (s *Service) startChild(ctx context.Context, run *mapRunRecord, parent *Execution, def, name, input string, w syncWatch) error {
	machine := run.StateMachineARN[strings.Index(run.StateMachineARN, ":stateMachine:")+len(":stateMachine:"):]
	now := s.now().UTC()
	rec := &execRecord{ARN: s.executionARN(machine, name), Name: name, StateMachineARN: run.StateMachineARN, StateMachineName: machine,
		RoleARN: parent.RoleARN, Status: StatusRunning, Input: input, Start: now, Definition: def, Seed: newSecret(), Watch: &w, MapRunARN: run.ARN}
	b, _ := json.Marshal(rec)
	if _, err := s.kv.Create(ctx, execKey(machine, name), b); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			// A replay (nothing to do) or a redriven run's child.
			return s.redriveChild(ctx, execKey(machine, name), w)
		}
		return err
	}
	s.statusChanged(ctx, rec)
	return s.schedule(ctx, rec.ARN, now, rec.ARN+"#start")
}

// countChildEnd counts an ended child in its run.
func (s *Service) countChildEnd(ctx context.Context, child *execRecord) {
	if child.MapRunARN == "" {
		return
	}
	_, err := s.updateMapRunRecord(ctx, child.MapRunARN, func(r *mapRunRecord) bool {
		switch child.Status {
		case StatusSucceeded:
			r.Succeeded++
		case StatusTimedOut:
			r.TimedOut++
		case StatusAborted:
			r.Aborted++
		default:
			r.Failed++
		}
		return true
	})
	if err != nil {
		s.log.Warn("count a map run's child", "execution", child.ARN, "err", err)
	}
}

// childRuns runs a STANDARD distributed Map's items as child
// executions; outs and failedAt get each item's output or error.
func (r *run) childRuns(ctx context.Context, b *branch, st *State, items []any, limit int, tolCount int64, tolPct float64,
	runARN string, outs []any, failedAt []bool) error {
	if r.mapRuns == nil {
		return &Failure{Name: ErrRuntime, Cause: "a distributed Map's child executions need a durable execution"}
	}
	label := st.Label
	if label == "" {
		label = st.Name
	}
	smARN := r.x.StateMachineARN + "/" + label
	// A redrive that voided this run's start redrives the run.
	redriven := r.j.voided(b.peekKey())
	typ, d := "MapRunStarted", map[string]any{"mapRunArn": runARN}
	if redriven {
		typ, d = "MapRunRedriven", map[string]any{"mapRunArn": runARN, "redriveCount": r.x.RedriveCount}
	}
	if _, err := r.j.emit(b, typ, d); err != nil {
		return err
	}
	if err := r.j.flush(ctx); err != nil {
		return err
	}
	rc := 0
	if redriven {
		rc = r.x.RedriveCount
	}
	run, err := r.mapRuns.openMapRun(ctx, &mapRunRecord{ARN: runARN, ExecutionARN: r.x.ARN, StateMachineARN: smARN, Status: StatusRunning,
		Start: r.now().UTC(), MaxConcurrency: limit, TolCount: tolCount, TolPct: tolPct, Total: len(items), ExecutionType: "STANDARD",
		RedriveCount: rc})
	if err != nil {
		return err
	}
	// The settings UpdateMapRun may have changed.
	limit, tolCount, tolPct = run.MaxConcurrency, run.TolCount, run.TolPct
	if limit <= 0 || limit > maxDistributedConcurrency {
		limit = maxDistributedConcurrency
	}
	base := b.child("m", 0).path
	base = base[:strings.LastIndexByte(base, 'm')]
	running, failed, done := 0, 0, 0
	var toStart []int
	for i := range items {
		if ev, ok := r.j.get(fmt.Sprintf("%sm%d/r", base, i)); ok {
			done++
			if ev.Type == "_ChildSucceeded" {
				out, _ := ev.Details["output"].(string)
				v, err := decodeJSON([]byte(out))
				if err != nil {
					v = nil
				}
				outs[i] = v
				continue
			}
			e, _ := ev.Details["error"].(string)
			c, _ := ev.Details["cause"].(string)
			outs[i], failedAt[i] = map[string]any{"Error": e, "Cause": c}, true
			failed++
			continue
		}
		if _, ok := r.j.get(fmt.Sprintf("%sm%d/s", base, i)); ok {
			running++
			continue
		}
		toStart = append(toStart, i)
	}
	b.n++ // the children's keys hang off this position
	tolerated := func() bool {
		return failed == 0 || int64(failed) <= tolCount || float64(failed)*100 <= tolPct*float64(len(items))
	}
	if !tolerated() {
		if _, err := r.j.emit(b, "MapRunFailed", map[string]any{"error": ErrExceedToleratedFailure, "cause": "The specified tolerated failure threshold was exceeded"}); err != nil {
			return err
		}
		if err := r.j.flush(ctx); err != nil {
			return err
		}
		if err := r.mapRuns.closeMapRun(ctx, runARN, StatusFailed); err != nil {
			return err
		}
		return &Failure{Name: ErrExceedToleratedFailure, Cause: "The specified tolerated failure threshold was exceeded"}
	}
	if done == len(items) {
		if _, err := r.j.emit(b, "MapRunSucceeded", nil); err != nil {
			return err
		}
		if err := r.j.flush(ctx); err != nil {
			return err
		}
		return r.mapRuns.closeMapRun(ctx, runARN, StatusSucceeded)
	}
	started := 0
	for _, i := range toStart {
		if running >= limit {
			break
		}
		w := syncWatch{Token: r.x.token(r.j.resolve(fmt.Sprintf("%sm%d/r", base, i))), Resource: "mapRun"}
		if err := r.mapRuns.startChild(ctx, run, r.x, st.ChildDef, childName(runARN, i), encodeJSON(items[i]), w); err != nil {
			return err
		}
		r.j.hide(fmt.Sprintf("%sm%d/s", base, i), "_ChildStarted")
		running++
		started++
	}
	if err := r.j.flush(ctx); err != nil {
		return err
	}
	if err := r.mapRuns.countStarted(ctx, runARN, started); err != nil {
		return err
	}
	return &suspended{until: r.now().Add(syncPoll)}
}

// openExpressRun records the Map Run of a distributed Map whose
// iterations run in the parent's runner (ExecutionType EXPRESS).
func (r *run) openExpressRun(ctx context.Context, b *branch, st *State, runARN string, limit int, tolCount int64, tolPct float64, n int) error {
	label := st.Label
	if label == "" {
		label = st.Name
	}
	redriven := r.j.voided(b.peekKey())
	typ, d, rc := "MapRunStarted", map[string]any{"mapRunArn": runARN}, 0
	if redriven {
		typ, d, rc = "MapRunRedriven", map[string]any{"mapRunArn": runARN, "redriveCount": r.x.RedriveCount}, r.x.RedriveCount
	}
	if _, err := r.j.emit(b, typ, d); err != nil {
		return err
	}
	if err := r.j.flush(ctx); err != nil {
		return err
	}
	_, err := r.mapRuns.openMapRun(ctx, &mapRunRecord{ARN: runARN, ExecutionARN: r.x.ARN, StateMachineARN: r.x.StateMachineARN + "/" + label,
		Status: StatusRunning, Start: r.now().UTC(), MaxConcurrency: limit, TolCount: tolCount, TolPct: tolPct, Total: n, Started: n,
		ExecutionType: "EXPRESS", RedriveCount: rc})
	return err
}

// closeExpressRun records the end of an EXPRESS run (nothing while the
// iterations are suspended).
func (r *run) closeExpressRun(ctx context.Context, b *branch, runARN string, n, succeeded, failed int, err error) error {
	var f *Failure
	switch {
	case err == nil:
	case errors.As(err, &f):
		if failed == 0 {
			failed = 1
		}
	default:
		return nil
	}
	typ, status := "MapRunSucceeded", StatusSucceeded
	if f != nil {
		typ, status = "MapRunFailed", StatusFailed
	}
	if _, err := r.j.emit(b, typ, nil); err != nil {
		return err
	}
	if err := r.j.flush(ctx); err != nil {
		return err
	}
	return r.mapRuns.closeExpress(ctx, runARN, status, succeeded, failed, n-succeeded-failed)
}

// closeExpress records an EXPRESS run's counts and end.
func (s *Service) closeExpress(ctx context.Context, arn, status string, succeeded, failed, aborted int) error {
	_, err := s.updateMapRunRecord(ctx, arn, func(r *mapRunRecord) bool {
		if r.Status != StatusRunning {
			return false
		}
		r.Status, r.Stop = status, s.now().UTC()
		r.Succeeded, r.Failed, r.Aborted = succeeded, failed, max(aborted, 0)
		return true
	})
	return err
}

// Map Run API.

type mapRunInput struct {
	MapRunArn                  string   `json:"mapRunArn"`
	ExecutionArn               string   `json:"executionArn"`
	MaxResults                 int      `json:"maxResults"`
	NextToken                  string   `json:"nextToken"`
	MaxConcurrency             *int     `json:"maxConcurrency"`
	ToleratedFailurePercentage *float64 `json:"toleratedFailurePercentage"`
	ToleratedFailureCount      *int64   `json:"toleratedFailureCount"`
}

func (s *Service) getMapRun(ctx context.Context, arn string) (*mapRunRecord, error) {
	if !strings.HasPrefix(arn, "arn:aws:states:") || !strings.Contains(arn, ":mapRun:") {
		return nil, bad("InvalidArn", "Invalid Arn: 'Resource type not valid in this context: %s'", truncate(arn, 256))
	}
	rec, _, err := getJSON[mapRunRecord](ctx, s.kv, mapRunKey(arn))
	if errors.Is(err, jetstream.ErrKeyNotFound) || (err == nil && rec.ARN != arn) {
		return nil, bad("ResourceNotFound", "Map Run Does Not Exist: '%s'", arn)
	}
	return rec, err
}

func (rec *mapRunRecord) describe() map[string]any {
	ended := rec.Succeeded + rec.Failed + rec.TimedOut + rec.Aborted
	running := max(rec.Started-ended, 0)
	counts := map[string]any{"pending": max(rec.Total-rec.Started, 0), "running": running, "succeeded": rec.Succeeded,
		"failed": rec.Failed, "timedOut": rec.TimedOut, "aborted": rec.Aborted, "total": rec.Total, "resultsWritten": ended,
		"failuresNotRedrivable": 0, "pendingRedrive": 0}
	out := map[string]any{"mapRunArn": rec.ARN, "executionArn": rec.ExecutionARN, "status": rec.Status, "startDate": epoch(rec.Start),
		"maxConcurrency": rec.MaxConcurrency, "toleratedFailurePercentage": rec.TolPct, "toleratedFailureCount": rec.TolCount,
		"itemCounts": counts, "executionCounts": counts, "redriveCount": rec.RedriveCount}
	if rec.Status != StatusRunning {
		out["stopDate"] = epoch(rec.Stop)
	}
	if rec.RedriveCount > 0 {
		out["redriveDate"] = epoch(rec.RedriveDate)
	}
	return out
}

func (s *Service) describeMapRun(ctx context.Context, body []byte) (any, error) {
	var in mapRunInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	rec, err := s.getMapRun(ctx, in.MapRunArn)
	if err != nil {
		return nil, err
	}
	return rec.describe(), nil
}

func (s *Service) listMapRuns(ctx context.Context, body []byte) (any, error) {
	var in mapRunInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if _, _, err := s.getExecution(ctx, in.ExecutionArn); err != nil {
		return nil, err
	}
	keys, err := s.keys(ctx, "mr.*")
	if err != nil && !errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, err
	}
	var recs []*mapRunRecord
	for _, k := range keys {
		r, _, err := getJSON[mapRunRecord](ctx, s.kv, k)
		if err == nil && r.ExecutionARN == in.ExecutionArn {
			recs = append(recs, r)
		}
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].Start.After(recs[j].Start) })
	from, to, next, err := page(len(recs), pageInput{MaxResults: in.MaxResults, NextToken: in.NextToken})
	if err != nil {
		return nil, err
	}
	items := []any{}
	for _, r := range recs[from:to] {
		it := map[string]any{"executionArn": r.ExecutionARN, "mapRunArn": r.ARN, "stateMachineArn": r.StateMachineARN, "startDate": epoch(r.Start)}
		if r.Status != StatusRunning {
			it["stopDate"] = epoch(r.Stop)
		}
		items = append(items, it)
	}
	out := map[string]any{"mapRuns": items}
	if next != "" {
		out["nextToken"] = next
	}
	return out, nil
}

func (s *Service) updateMapRun(ctx context.Context, body []byte) (any, error) {
	var in mapRunInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.MaxConcurrency == nil && in.ToleratedFailurePercentage == nil && in.ToleratedFailureCount == nil {
		return nil, validation("At least one of maxConcurrency, toleratedFailurePercentage and toleratedFailureCount must be given")
	}
	if (in.MaxConcurrency != nil && *in.MaxConcurrency < 0) || (in.ToleratedFailureCount != nil && *in.ToleratedFailureCount < 0) ||
		(in.ToleratedFailurePercentage != nil && (*in.ToleratedFailurePercentage < 0 || *in.ToleratedFailurePercentage > 100)) {
		return nil, validation("1 validation error detected: a value is out of range")
	}
	if _, err := s.getMapRun(ctx, in.MapRunArn); err != nil {
		return nil, err
	}
	rec, err := s.updateMapRunRecord(ctx, in.MapRunArn, func(r *mapRunRecord) bool {
		if in.MaxConcurrency != nil {
			r.MaxConcurrency = *in.MaxConcurrency
		}
		if in.ToleratedFailurePercentage != nil {
			r.TolPct = *in.ToleratedFailurePercentage
		}
		if in.ToleratedFailureCount != nil {
			r.TolCount = *in.ToleratedFailureCount
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	// The parent applies the new settings at its next step.
	_ = s.schedule(ctx, rec.ExecutionARN, time.Time{}, "")
	return map[string]any{}, nil
}

package sfn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// RedriveExecution restarts a FAILED, TIMED_OUT or ABORTED Standard
// execution from the states that did not finish, as AWS does: what
// succeeded keeps its recorded results and is not run again.
//
// A run replays its journal by key (journal.go), so a redrive does not
// rewrite history; it appends one ExecutionRedriven event that names the
// keys it voids. Replaying, a voided key resolves to a new one (key~n
// for the n-th redrive), which nothing has recorded: from there the
// branch runs anew and its events follow ExecutionRedriven in the
// history. What is voided, in each branch (the top level, a Parallel
// branch, a Map iteration) whose last entered state did not exit:
// that state's events and every later one of the branch, and, inside
// it, the same in each of its branches that did not finish (branches
// that finished keep theirs, so a Parallel reruns only its unsuccessful
// branches and a Map only its unsuccessful iterations). The
// execution's end (ExecutionFailed, ExecutionTimedOut, ExecutionAborted)
// is voided too. For a distributed Map, the results of its failed child
// executions are voided: the Map Run is redriven (MapRunRedriven, the
// same Map Run ARN) and each failed child is redriven in turn; children
// that succeeded keep their results.
//
// Task tokens name the resolved key, so a token issued before a redrive
// is refused after it (TaskTimedOut), and the new attempt's is another.

// redriveWindow is how long after its end an execution may be redriven.
const redriveWindow = 14 * 24 * time.Hour

// maxOpen is an execution's longest life (AWS: one year).
const maxOpen = 365 * 24 * time.Hour

// redirects are the positions redrives voided: exact keys (an abort, a
// Map Run child's result) and ranges ("r/7p1/3+": position 3 of branch
// r/7p1 and every later one).
type redirects struct {
	exact  map[string]string
	ranges map[string][]voidRange // by branch path, in redrive order
}

type voidRange struct{ from, gen int }

// add takes in an ExecutionRedriven event's voids.
func (rd *redirects) add(e *Event) {
	for _, k := range e.Void {
		if p, ok := strings.CutSuffix(k, "+"); ok {
			i := strings.LastIndexByte(p, '/')
			n, err := strconv.Atoi(p[i+1:])
			if i < 0 || err != nil {
				continue
			}
			if rd.ranges == nil {
				rd.ranges = map[string][]voidRange{}
			}
			rd.ranges[p[:i]] = append(rd.ranges[p[:i]], voidRange{n, e.Gen})
			continue
		}
		if rd.exact == nil {
			rd.exact = map[string]string{}
		}
		rd.exact[k] = redrivenKey(k, e.Gen)
	}
}

// resolve is the key position key has now: key itself, or the key the
// last redrive that voided it gave it.
func (rd *redirects) resolve(key string) string {
	if a, ok := rd.exact[key]; ok {
		return a
	}
	if len(rd.ranges) == 0 {
		return key
	}
	i := strings.LastIndexByte(key, '/')
	if i < 0 {
		return key
	}
	rs := rd.ranges[key[:i]]
	if len(rs) == 0 {
		return key
	}
	n, err := strconv.Atoi(key[i+1:])
	if err != nil {
		return key
	}
	for j := len(rs) - 1; j >= 0; j-- {
		if n >= rs[j].from {
			return redrivenKey(key, rs[j].gen)
		}
	}
	return key
}

// inForce reports whether an event's key is the one its position has
// now (not voided by a later redrive).
func (rd *redirects) inForce(key string) bool { return rd.resolve(baseKey(key)) == key }

// redrivenKey is the key a position voided by the gen-th redrive has.
func redrivenKey(key string, gen int) string { return key + "~" + strconv.Itoa(gen) }

// baseKey is the position a key stands for (the key without its redrive
// suffix).
func baseKey(key string) string {
	if i := strings.IndexByte(key, '~'); i >= 0 {
		return key[:i]
	}
	return key
}

// notRedrivable is why rec cannot be redriven now, as DescribeExecution's
// redriveStatusReason words it ("" when it can).
func (rec *execRecord) notRedrivable(now time.Time) string {
	switch {
	case rec.Status == StatusRunning:
		return "Execution is RUNNING and cannot be redriven"
	case rec.Status == StatusSucceeded:
		return "Execution is SUCCEEDED and cannot be redriven"
	case now.Sub(rec.Start) > maxOpen:
		return "Execution has exceeded the max execution time"
	case now.Sub(rec.Stop) > redriveWindow:
		return "Execution redrivable period exceeded"
	case rec.Events >= MaxHistoryEvents-1:
		return "Execution history event limit exceeded"
	}
	return ""
}

// redriveStatus is DescribeExecution's redriveStatus and reason.
func (rec *execRecord) redriveStatus(now time.Time) (string, string) {
	if rec.MapRunARN != "" && rec.Status != StatusRunning && rec.Status != StatusSucceeded {
		return "REDRIVABLE_BY_MAP_RUN", ""
	}
	if why := rec.notRedrivable(now); why != "" {
		return "NOT_REDRIVABLE", why
	}
	return "REDRIVABLE", ""
}

func (s *Service) redriveExecution(ctx context.Context, body []byte) (any, error) {
	var in struct {
		ExecutionArn string `json:"executionArn"`
		ClientToken  string `json:"clientToken"`
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if len(in.ClientToken) > 64 {
		return nil, validation("1 validation error detected: Value at 'clientToken' failed to satisfy constraint: Member must have length less than or equal to 64")
	}
	if strings.Contains(in.ExecutionArn, ":express:") {
		return nil, bad("ExecutionNotRedrivable", "Execution cannot be redriven: 'This operation is not supported by EXPRESS state machines'")
	}
	rec, _, err := s.getExecution(ctx, in.ExecutionArn)
	if err != nil {
		return nil, err
	}
	if in.ClientToken != "" && rec.RedriveToken == in.ClientToken && rec.RedriveCount > 0 {
		return map[string]any{"redriveDate": epoch(rec.RedriveDate)}, nil
	}
	if rec.MapRunARN != "" {
		return nil, bad("ExecutionNotRedrivable", "Execution cannot be redriven: 'A Map Run's child execution is redriven by redriving its parent execution'")
	}
	if why := rec.notRedrivable(s.now()); why != "" {
		return nil, bad("ExecutionNotRedrivable", "Execution cannot be redriven: '%s'", why)
	}
	date, err := s.redrive(ctx, rec, nil, in.ClientToken)
	if err != nil {
		return nil, err
	}
	return map[string]any{"redriveDate": epoch(date)}, nil
}

// redrive appends rec's ExecutionRedriven event, marks it running again
// (with watch, when a Map Run redrives its child) and schedules a run.
func (s *Service) redrive(ctx context.Context, rec *execRecord, watch *syncWatch, clientToken string) (time.Time, error) {
	gen := rec.RedriveCount + 1
	evs, _, err := s.journalStore(rec.StateMachineName, rec.Name).load(ctx)
	if err != nil {
		return time.Time{}, err
	}
	void := redriveVoids(evs)
	ev := &Event{Key: "redrive/" + strconv.Itoa(gen), Type: "ExecutionRedriven", Gen: gen, Void: void,
		Details: map[string]any{"redriveCount": gen}}
	if err := s.appendEvent(ctx, rec, ev); err != nil && !errors.Is(err, errRecorded) {
		return time.Time{}, err
	}
	key := execKey(rec.StateMachineName, rec.Name)
	var now time.Time
	for {
		cur, rev, err := getJSON[execRecord](ctx, s.kv, key)
		if err != nil {
			return time.Time{}, err
		}
		if cur.RedriveCount >= gen || cur.Status == StatusRunning || cur.Status == StatusSucceeded {
			// Another redrive (or a StartExecution) came first.
			return time.Time{}, bad("ExecutionNotRedrivable", "Execution cannot be redriven: 'Execution is %s and cannot be redriven'", cur.Status)
		}
		now = s.now().UTC()
		cur.Status, cur.Stop, cur.Output, cur.Error, cur.Cause = StatusRunning, time.Time{}, "", "", ""
		cur.RedriveCount, cur.RedriveDate, cur.RedriveToken = gen, now, clientToken
		if watch != nil {
			cur.Watch = watch
		}
		b, _ := json.Marshal(cur)
		if _, err := s.kv.Update(ctx, key, b, rev); err != nil {
			if errors.Is(err, jetstream.ErrKeyExists) {
				continue
			}
			return time.Time{}, err
		}
		s.statusChanged(ctx, cur)
		break
	}
	s.observed(rec.StateMachineARN, "REDRIVEN", 0)
	if err := s.schedule(ctx, rec.ARN, now, fmt.Sprintf("%s#redrive%d", rec.ARN, gen)); err != nil {
		return time.Time{}, err
	}
	return now, nil
}

// redriveVoids is the positions (base keys) a redrive of a journal
// voids: see the comment at the top of this file.
func redriveVoids(evs []*Event) []string {
	// The events in force: a key a redrive voided is superseded.
	var rd redirects
	for _, e := range evs {
		rd.add(e)
	}
	type posEvent struct {
		pos int
		typ string
	}
	branches := map[string][]posEvent{} // path -> its positional events
	children := map[string][]string{}   // path -> its branches' paths
	hidden := map[string]map[string]string{}
	var void []string
	for _, e := range evs {
		base := baseKey(e.Key)
		if !rd.inForce(e.Key) {
			continue
		}
		if base == abortKey {
			void = append(void, base)
			continue
		}
		i := strings.LastIndexByte(base, '/')
		if i < 0 || strings.HasPrefix(base, "hb:") || strings.HasPrefix(base, "redrive/") {
			continue
		}
		path, last := base[:i], base[i+1:]
		if _, ok := branches[path]; !ok {
			branches[path] = nil
			if j := strings.LastIndexByte(path, '/'); j >= 0 {
				children[path[:j]] = append(children[path[:j]], path)
			}
		}
		if last == "r" || last == "s" { // a distributed Map's child
			if hidden[path] == nil {
				hidden[path] = map[string]string{}
			}
			hidden[path][last] = e.Type
			continue
		}
		n, err := strconv.Atoi(last)
		if err != nil {
			continue
		}
		branches[path] = append(branches[path], posEvent{n, e.Type})
	}
	// parentPos is the position in its parent a branch's path hangs off:
	// ".../7p1" -> 7.
	parentPos := func(path string) int {
		seg := path[strings.LastIndexByte(path, '/')+1:]
		end := strings.IndexAny(seg, "pm")
		if end < 0 {
			return -1
		}
		n, err := strconv.Atoi(seg[:end])
		if err != nil {
			return -1
		}
		return n
	}
	var visit func(path string)
	visit = func(path string) {
		if h, ok := hidden[path]; ok {
			if h["r"] != "_ChildSucceeded" {
				for _, k := range []string{"r", "s"} {
					if _, ok := h[k]; ok {
						void = append(void, path+"/"+k)
					}
				}
			}
			return
		}
		pe := branches[path]
		sort.Slice(pe, func(a, b int) bool { return pe[a].pos < pe[b].pos })
		from := -1
		for i := len(pe) - 1; i >= 0; i-- {
			if strings.HasSuffix(pe[i].typ, "StateExited") {
				break
			}
			if strings.HasSuffix(pe[i].typ, "StateEntered") {
				from = pe[i].pos
				break
			}
		}
		if from < 0 {
			// Nothing unfinished: only the execution's end is voided.
			for _, p := range pe {
				if p.typ == "ExecutionFailed" || p.typ == "ExecutionTimedOut" || p.typ == "ExecutionAborted" {
					void = append(void, path+"/"+strconv.Itoa(p.pos)+"+")
				}
			}
			return
		}
		void = append(void, path+"/"+strconv.Itoa(from)+"+")
		for _, c := range children[path] {
			if parentPos(c) >= from {
				visit(c)
			}
		}
	}
	visit("r")
	sort.Strings(void)
	return void
}

// redriveChild redrives (or re-watches) the existing child of a Map Run
// a redriven parent starts again: a failed child is redriven with the
// parent's new token; one that succeeded, or still runs, answers it.
func (s *Service) redriveChild(ctx context.Context, key string, w syncWatch) error {
	for {
		cur, rev, err := getJSON[execRecord](ctx, s.kv, key)
		if err != nil {
			return err
		}
		if cur.Watch != nil && cur.Watch.Token == w.Token {
			return nil // a replay: started already
		}
		if cur.Status != StatusRunning && cur.Status != StatusSucceeded {
			_, err := s.redrive(ctx, cur, &w, "")
			return err
		}
		cur.Watch = &w
		b, _ := json.Marshal(cur)
		if _, err := s.kv.Update(ctx, key, b, rev); err != nil {
			if errors.Is(err, jetstream.ErrKeyExists) {
				continue
			}
			return err
		}
		s.answerWatch(ctx, cur)
		return nil
	}
}

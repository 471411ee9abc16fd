package sfn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MaxPayloadBytes is AWS's limit on a state's input or output, and on an
// execution's input (256 KB).
const MaxPayloadBytes = 256 * 1024

// suspended stops a run until a due time (a Wait, a Retry's interval, a
// task's timeout) or, with a zero until, until something outside the
// execution (SendTaskSuccess) wakes it.
type suspended struct{ until time.Time }

func (s *suspended) Error() string { return "execution suspended until " + s.until.String() }

// run is one pass of an execution over its journal.
type run struct {
	x       *Execution
	j       *journal
	tasks   *Tasks
	durable bool // suspend long waits instead of sleeping
	// inlineWait is the longest wait a durable run sleeps through rather
	// than suspending.
	inlineWait time.Duration
	now        func() time.Time
	// after is the clock's timer.
	after func(time.Duration) <-chan time.Time

	// children serves .sync Tasks (nil in memory: Express refuses them).
	children children
	// mapRuns serves distributed Maps' child executions (maprun.go).
	mapRuns mapRuns

	inputOnce sync.Once
	input     any // the execution's input, decoded once for $$.Execution.Input
	// execCtx and machineCtx are $$.Execution and $$.StateMachine, built
	// with input.
	execCtx, machineCtx map[string]any
}

// Execution is what a run needs to know about its execution.
type Execution struct {
	ARN, Name, StateMachineARN, StateMachineName, RoleARN string
	Input                                                 string
	StartTime                                             time.Time
	// RedriveCount and RedriveDate: how often and when it was last
	// redriven (redrive.go).
	RedriveCount int
	RedriveDate  time.Time
	Def          *Definition
	// Seed keys the execution's task tokens and seeds its random numbers.
	Seed []byte
	seed uint64
	// logging is the machine's LoggingConfiguration (logging.go).
	logging json.RawMessage
}

// outcome is how a run ended: output, a failure, or suspended.
type outcome struct {
	output  string
	failure *Failure
	suspend *suspended
}

// exec runs the execution from its start (replaying what the journal
// holds) to its end or its next suspension.
func (r *run) exec(ctx context.Context) (outcome, error) {
	x := r.x
	if len(x.Seed) >= 8 {
		for _, c := range x.Seed[:8] {
			x.seed = x.seed<<8 | uint64(c)
		}
	}
	input, err := decodeJSON([]byte(x.Input))
	if err != nil {
		input = map[string]any{}
	}
	root := &branch{path: "r"}
	if _, err := r.j.emit(root, "ExecutionStarted", map[string]any{
		"input": x.Input, "inputDetails": map[string]any{"truncated": false}, "roleArn": x.RoleARN,
	}); err != nil {
		return outcome{}, err
	}
	var deadline time.Time
	if x.Def.TimeoutSeconds > 0 {
		// A redriven execution's timeout runs from its redrive.
		from := x.StartTime
		if !x.RedriveDate.IsZero() {
			from = x.RedriveDate
		}
		deadline = from.Add(time.Duration(x.Def.TimeoutSeconds) * time.Second)
	}
	rctx := ctx
	if !deadline.IsZero() && !r.durable {
		var cancel context.CancelFunc
		rctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	out, err := r.machine(rctx, root, x.Def, input, &scope{})
	var sus *suspended
	var fail *Failure
	switch {
	case errors.As(err, &sus):
		if !deadline.IsZero() && (sus.until.IsZero() || deadline.Before(sus.until)) {
			sus.until = deadline
		}
		if !deadline.IsZero() && !r.now().Before(deadline) {
			return r.finish(ctx, root, "ExecutionTimedOut", nil, &Failure{Name: ErrTimeout, Cause: "The execution timed out."})
		}
		if ferr := r.j.flush(ctx); ferr != nil {
			return outcome{}, ferr
		}
		return outcome{suspend: sus}, nil
	case ctx.Err() == nil && rctx.Err() != nil:
		return r.finish(ctx, root, "ExecutionTimedOut", nil, &Failure{Name: ErrTimeout, Cause: "The execution timed out."})
	case errors.As(err, &fail):
		return r.finish(ctx, root, "ExecutionFailed", nil, fail)
	case err != nil:
		return outcome{}, err
	}
	return r.finish(ctx, root, "ExecutionSucceeded", out, nil)
}

func (r *run) finish(ctx context.Context, root *branch, typ string, out any, fail *Failure) (outcome, error) {
	var oc outcome
	d := map[string]any{}
	if fail != nil {
		d["error"], d["cause"] = fail.Name, fail.Cause
		oc.failure = fail
	} else {
		oc.output = encodeJSON(out)
		d["output"], d["outputDetails"] = oc.output, map[string]any{"truncated": false}
	}
	ev, err := r.j.emit(root, typ, d)
	if err != nil {
		return outcome{}, err
	}
	// A replayed end keeps what was recorded.
	if s, ok := ev.Details["output"].(string); ok && fail == nil {
		oc.output = s
	}
	if err := r.j.flush(ctx); err != nil {
		return outcome{}, err
	}
	return oc, nil
}

// machine runs a definition (the top level, a branch, an iteration).
func (r *run) machine(ctx context.Context, b *branch, d *Definition, input any, sc *scope) (any, error) {
	cur := d.StartAt
	inText := "" // the input's JSON when the state before encoded it
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		st := d.States[cur]
		out, outText, next, err := r.state(ctx, b, st, input, inText, sc)
		if err != nil {
			return nil, err
		}
		if next == "" {
			return out, nil
		}
		cur, input, inText = next, out, outText
	}
}

// ctxObject is the context object ($$) of a state.
func (r *run) ctxObject(st *State, entered time.Time, retry int, extra map[string]any) map[string]any {
	// $$.Execution and $$.StateMachine are the same in every state:
	// built once, shared (values are never changed in place).
	r.inputOnce.Do(func() {
		x := r.x
		r.input, _ = decodeJSON([]byte(x.Input))
		r.execCtx = map[string]any{
			"Id": x.ARN, "Input": r.input, "Name": x.Name, "RoleArn": x.RoleARN,
			"StartTime": x.StartTime.UTC().Format("2006-01-02T15:04:05.000Z"), "RedriveCount": json.Number(strconv.Itoa(x.RedriveCount)),
		}
		if !x.RedriveDate.IsZero() {
			r.execCtx["RedriveTime"] = x.RedriveDate.UTC().Format("2006-01-02T15:04:05.000Z")
		}
		r.machineCtx = map[string]any{"Id": x.StateMachineARN, "Name": x.StateMachineName}
	})
	c := make(map[string]any, 3+len(extra))
	c["Execution"], c["StateMachine"] = r.execCtx, r.machineCtx
	c["State"] = map[string]any{
		"Name": st.Name, "EnteredTime": entered.UTC().Format("2006-01-02T15:04:05.000Z"),
		"RetryCount": json.Number(strconv.Itoa(retry)),
	}
	for k, v := range extra {
		c[k] = v
	}
	return c
}

// rng is a branch-local deterministic random source: the same on every
// replay of the same event.
func (r *run) rng(b *branch) func() uint64 {
	h := r.x.seed
	for _, c := range []byte(b.peekKey()) {
		h = splitmix(h ^ uint64(c))
	}
	return func() uint64 { h = splitmix(h); return h }
}

func checkSize(v string, what string) error {
	if len(v) > MaxPayloadBytes {
		return &Failure{Name: ErrDataLimitExceeded, Cause: fmt.Sprintf("The state/task '%s' returned a result with a size exceeding the maximum number of bytes service limit.", what)}
	}
	return nil
}

// state runs one state and returns its output, the output's JSON and the
// next state's name ("" when the branch ends). inText is rawInput's JSON
// when the caller has it (the state before's output), else "". What it
// assigns is set in sc as it leaves.
func (r *run) state(ctx context.Context, b *branch, st *State, rawInput any, inText string, sc *scope) (any, string, string, error) {
	if inText == "" {
		inText = encodeJSON(rawInput)
	}
	if err := checkSize(inText, st.Name); err != nil {
		return nil, "", "", err
	}
	enteredType := st.Type + "StateEntered"
	entered, err := r.j.emit(b, enteredType, map[string]any{"name": st.Name, "input": inText, "inputDetails": map[string]any{"truncated": false}})
	if err != nil {
		return nil, "", "", err
	}
	ctxObj := r.ctxObject(st, entered.Time, 0, nil)
	env := &intrinsicEnv{ctx: ctxObj, rand: r.rng(b), vars: sc}
	if st.JSONata {
		env.j = &jenv{input: rawInput, ctx: ctxObj, vars: sc, rand: env.rand, now: entered.Time}
	}
	var out any
	var next string
	var assigned map[string]any
	if st.JSONata {
		out, next, assigned, err = r.jsonataState(ctx, b, st, rawInput, env, entered)
	} else {
		out, next, assigned, err = r.jsonPathState(ctx, b, st, rawInput, env, entered)
	}
	if err != nil {
		return nil, "", "", err
	}
	outText := encodeJSON(out)
	if err := checkSize(outText, st.Name); err != nil {
		return nil, "", "", err
	}
	if err := sc.checkTotal(assigned); err != nil {
		return nil, "", "", err
	}
	if _, err := r.j.emit(b, st.Type+"StateExited", map[string]any{"name": st.Name, "output": outText, "outputDetails": map[string]any{"truncated": false}}); err != nil {
		return nil, "", "", err
	}
	sc.set(assigned)
	return out, outText, next, nil
}

// jsonPathState does a JSONPath state's work: InputPath, the state's
// own processing, OutputPath, and its Assign.
func (r *run) jsonPathState(ctx context.Context, b *branch, st *State, rawInput any, env *intrinsicEnv, entered *Event) (any, string, map[string]any, error) {
	ctxObj := env.ctx.(map[string]any)
	sc := env.vars
	// InputPath.
	effective := rawInput
	var err error
	if st.Type != "Fail" {
		effective, err = applyOptPath(st.InputPath, rawInput, ctxObj, sc, "InputPath")
		if err != nil {
			return nil, "", nil, err
		}
	}
	var out any
	var assigned map[string]any
	next := st.Next
	if st.End {
		next = ""
	}
	switch st.Type {
	case "Pass":
		res := effective
		if st.Parameters != nil {
			env.input = effective
			if res, err = st.Parameters.eval(env); err != nil {
				return nil, "", nil, err
			}
		}
		if st.HasResult {
			res = st.Result
		}
		if assigned, err = st.Assign.eval(res, env, nil); err != nil {
			return nil, "", nil, err
		}
		if out, err = applyResultPath(st.ResultPath, rawInput, res); err != nil {
			return nil, "", nil, err
		}
	case "Succeed":
		out = effective
		next = ""
	case "Fail":
		f := &Failure{Name: st.Error, Cause: st.Cause}
		env.input = rawInput
		if st.ErrorPath != nil {
			v, err := st.ErrorPath.eval(env)
			if err != nil {
				return nil, "", nil, err
			}
			f.Name, _ = v.(string)
		}
		if st.CausePath != nil {
			v, err := st.CausePath.eval(env)
			if err != nil {
				return nil, "", nil, err
			}
			f.Cause, _ = v.(string)
		}
		return nil, "", nil, f
	case "Choice":
		next = ""
		as := st.Assign
		for _, c := range st.Choices {
			ok, err := c.eval(effective, ctxObj, sc)
			if err != nil {
				return nil, "", nil, err
			}
			if ok {
				next, as = c.Next, c.Assign
				break
			}
		}
		if next == "" {
			next = st.Default
		}
		if next == "" {
			return nil, "", nil, &Failure{Name: ErrNoChoiceMatched, Cause: "No Choice Rules matched and no Default was specified."}
		}
		if assigned, err = as.eval(effective, env, nil); err != nil {
			return nil, "", nil, err
		}
		out = effective
	case "Wait":
		until, err := waitUntil(st, entered.Time, effective, ctxObj, sc)
		if err != nil {
			return nil, "", nil, err
		}
		if err := r.waitUntil(ctx, until); err != nil {
			return nil, "", nil, err
		}
		if assigned, err = st.Assign.eval(effective, env, nil); err != nil {
			return nil, "", nil, err
		}
		out = effective
	case "Task", "Parallel", "Map":
		var caught bool
		var to string
		out, to, caught, assigned, err = r.withRetry(ctx, b, st, rawInput, effective, env, entered)
		if err != nil {
			return nil, "", nil, err
		}
		if caught {
			next = to
		}
	}
	// OutputPath.
	if st.Type != "Fail" {
		if out, err = applyOptPath(st.OutputPath, out, ctxObj, sc, "OutputPath"); err != nil {
			return nil, "", nil, err
		}
	}
	return out, next, assigned, nil
}

func applyOptPath(op optPath, v, ctxObj any, vars *scope, field string) (any, error) {
	switch {
	case op.null:
		return map[string]any{}, nil
	case op.p == nil:
		return v, nil
	}
	res, err := op.p.eval(v, ctxObj, vars)
	if err != nil {
		return nil, &Failure{Name: ErrRuntime, Cause: fmt.Sprintf("An error occurred while executing the state. Invalid path '%s' : No results for path: %s", op.p.src, op.p.src)}
	}
	return res, nil
}

func applyResultPath(rp optRef, input, result any) (any, error) {
	switch {
	case rp.null:
		return input, nil
	case rp.p == nil:
		return result, nil
	}
	out, err := rp.p.set(input, result)
	if err != nil {
		return nil, &Failure{Name: ErrResultPathMatchFailure, Cause: err.Error()}
	}
	return out, nil
}

// waitUntil is when a Wait state entered at entered ends.
func waitUntil(st *State, entered time.Time, input, ctxObj any, vars *scope) (time.Time, error) {
	switch {
	case st.HasSeconds:
		return entered.Add(time.Duration(st.Seconds) * time.Second), nil
	case st.HasTimestamp:
		return st.Timestamp, nil
	case st.SecondsPath != nil:
		v, err := st.SecondsPath.eval(input, ctxObj, vars)
		n, ok := intArg(v)
		if err != nil || !ok || n < 0 || n > 99999999 {
			return time.Time{}, &Failure{Name: ErrRuntime, Cause: fmt.Sprintf("The SecondsPath parameter does not reference a valid integer: %s", st.SecondsPath.src)}
		}
		return entered.Add(time.Duration(n) * time.Second), nil
	}
	v, err := st.TimestampPath.eval(input, ctxObj, vars)
	s, ok := v.(string)
	if err != nil || !ok {
		return time.Time{}, &Failure{Name: ErrRuntime, Cause: fmt.Sprintf("The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: %s", st.TimestampPath.src)}
	}
	t, perr := parseTimestamp(s)
	if perr != nil {
		return time.Time{}, &Failure{Name: ErrRuntime, Cause: fmt.Sprintf("The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: %s", st.TimestampPath.src)}
	}
	return t, nil
}

// waitUntil waits until t: sleeping, or (durable runs, long waits)
// suspending the run so no goroutine holds it.
func (r *run) waitUntil(ctx context.Context, t time.Time) error {
	d := t.Sub(r.now())
	if d <= 0 {
		return nil
	}
	if r.durable && d > r.inlineWait {
		return &suspended{until: t}
	}
	select {
	case <-r.after(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// withRetry runs a Task, Parallel or Map state's work with its Retry and
// Catch: it returns the state's output (ResultSelector and ResultPath
// applied) and next state, or, when a Catcher took the error, the
// catcher's output and Next with caught set.
func (r *run) withRetry(ctx context.Context, b *branch, st *State, rawInput, effective any, base *intrinsicEnv, entered *Event) (any, string, bool, map[string]any, error) {
	ctxObj := base.ctx.(map[string]any)
	je := base.j
	attempts := make([]int64, len(st.Retry))
	retries := 0
	for {
		ctxObj["State"].(map[string]any)["RetryCount"] = json.Number(strconv.Itoa(retries))
		env := &intrinsicEnv{input: effective, ctx: ctxObj, rand: r.rng(b), vars: base.vars, j: je}
		if je != nil {
			je.rand, je.bound, je.hasResult, je.hasErrorOut = env.rand, nil, false, false
		}
		res, failedAt, err := r.work(ctx, b, st, effective, env)
		var f *Failure
		if err == nil {
			if je != nil {
				je.setResult(res)
				out := res
				if st.Output != nil {
					if out, err = st.Output.eval(je, "Output"); err != nil {
						return nil, "", false, nil, err
					}
				}
				assigned, err := st.Assign.eval(nil, nil, je)
				if err != nil {
					return nil, "", false, nil, err
				}
				return out, st.Next, false, assigned, nil
			}
			if st.ResultSelector != nil {
				env.input = res
				if res, err = st.ResultSelector.eval(env); err != nil {
					return nil, "", false, nil, err
				}
			}
			assigned, err := st.Assign.eval(res, env, nil)
			if err != nil {
				return nil, "", false, nil, err
			}
			out, err := applyResultPath(st.ResultPath, rawInput, res)
			if err != nil {
				return nil, "", false, nil, err
			}
			return out, st.Next, false, assigned, nil
		}
		if !errors.As(err, &f) {
			return nil, "", false, nil, err
		}
		// Retry.
		if i, ok := matchRetrier(st.Retry, f); ok && attempts[i] < st.Retry[i].MaxAttempts {
			rt := st.Retry[i]
			delay := float64(rt.IntervalSeconds) * math.Pow(rt.BackoffRate, float64(attempts[i]))
			if rt.MaxDelaySeconds > 0 {
				delay = math.Min(delay, float64(rt.MaxDelaySeconds))
			}
			if rt.JitterFull {
				delay *= float64(r.rng(b)()>>11) / float64(1<<53)
			}
			attempts[i]++
			retries++
			from := entered.Time
			if failedAt != nil {
				from = failedAt.Time
			}
			if err := r.waitUntil(ctx, from.Add(time.Duration(delay*float64(time.Second)))); err != nil {
				return nil, "", false, nil, err
			}
			continue
		}
		// Catch.
		for _, c := range st.Catch {
			if !matchAny(c.ErrorEquals, f) {
				continue
			}
			errOut := map[string]any{"Error": f.Name, "Cause": f.Cause}
			if je != nil {
				je.setError(f)
				var out any = errOut
				if c.Output != nil {
					if out, err = c.Output.eval(je, "Output"); err != nil {
						return nil, "", false, nil, err
					}
				}
				assigned, err := c.Assign.eval(nil, nil, je)
				if err != nil {
					return nil, "", false, nil, err
				}
				return out, c.Next, true, assigned, nil
			}
			assigned, err := c.Assign.eval(errOut, env, nil)
			if err != nil {
				return nil, "", false, nil, err
			}
			out, err := applyResultPath(c.ResultPath, rawInput, errOut)
			if err != nil {
				return nil, "", false, nil, err
			}
			return out, c.Next, true, assigned, nil
		}
		return nil, "", false, nil, f
	}
}

func matchAny(names []string, f *Failure) bool {
	for _, n := range names {
		if f.matches(n) {
			return true
		}
	}
	return false
}

func matchRetrier(rs []*Retrier, f *Failure) (int, bool) {
	for i, rt := range rs {
		if matchAny(rt.ErrorEquals, f) {
			return i, true
		}
	}
	return 0, false
}

// work does a Task, Parallel or Map state's work once; failedAt is the
// event that recorded a failure (a Retry's interval runs from it).
func (r *run) work(ctx context.Context, b *branch, st *State, effective any, env *intrinsicEnv) (any, *Event, error) {
	switch st.Type {
	case "Parallel":
		return r.parallel(ctx, b, st, effective, env)
	case "Map":
		return r.mapState(ctx, b, st, effective, env)
	}
	if strings.HasSuffix(st.Resource, ".waitForTaskToken") {
		// The token names the result event: after TaskScheduled,
		// TaskStarted and TaskSubmitted.
		env.ctx.(map[string]any)["Task"] = map[string]any{"Token": r.x.token(r.j.resolve(b.path + "/" + strconv.Itoa(b.n+3)))}
	}
	params, err := payload(st, env, effective)
	if err != nil {
		return nil, nil, err
	}
	return r.task(ctx, b, st, params, env)
}

// payload is what a Task sends or a Parallel's branches start with:
// Parameters (JSONPath) or Arguments (JSONata) built from the input,
// or the (effective) input itself.
func payload(st *State, env *intrinsicEnv, effective any) (any, error) {
	switch {
	case env.j != nil && st.Arguments != nil:
		return st.Arguments.eval(env.j, "Arguments")
	case st.Parameters != nil:
		return st.Parameters.eval(env)
	}
	return effective, nil
}

// parallel runs every branch on the state's input; the result is their
// outputs in order. A failing branch stops the others.
func (r *run) parallel(ctx context.Context, b *branch, st *State, effective any, env *intrinsicEnv) (any, *Event, error) {
	input, err := payload(st, env, effective)
	if err != nil {
		return nil, nil, err
	}
	if _, err := r.j.emit(b, "ParallelStateStarted", nil); err != nil {
		return nil, nil, err
	}
	outs := make([]any, len(st.Branches))
	err = r.fanOut(ctx, b, "p", len(st.Branches), 0, func(ctx context.Context, cb *branch, i int) error {
		o, err := r.machine(ctx, cb, st.Branches[i], input, env.vars.child())
		outs[i] = o
		return err
	})
	var f *Failure
	if errors.As(err, &f) {
		ev, eerr := r.j.emit(b, "ParallelStateFailed", map[string]any{"error": f.Name, "cause": f.Cause})
		if eerr != nil {
			return nil, nil, eerr
		}
		return nil, ev, f
	}
	if err != nil {
		return nil, nil, err
	}
	if _, err := r.j.emit(b, "ParallelStateSucceeded", nil); err != nil {
		return nil, nil, err
	}
	return outs, nil, nil
}

// fanOut runs n children of b at most limit at once (0: all). The first
// failure cancels the rest and is returned; if none failed but some
// suspended, the earliest suspension is; a context end is returned as it
// is.
func (r *run) fanOut(ctx context.Context, b *branch, kind string, n, limit int, f func(context.Context, *branch, int) error) error {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if limit <= 0 || limit > n {
		limit = n
	}
	sem := make(chan struct{}, max(limit, 1))
	var mu sync.Mutex
	var firstFail error
	var sus *suspended
	var other error
	var wg sync.WaitGroup
	children := make([]*branch, n)
	for i := range n {
		children[i] = b.child(kind, i)
	}
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-cctx.Done():
		}
		if cctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			err := f(cctx, children[i], i)
			if err == nil {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			var fl *Failure
			var s *suspended
			switch {
			case errors.As(err, &fl):
				if firstFail == nil {
					firstFail = fl
					cancel()
				}
			case errors.As(err, &s):
				if sus == nil || (!s.until.IsZero() && (sus.until.IsZero() || s.until.Before(sus.until))) {
					sus = s
				}
			case cctx.Err() != nil && ctx.Err() == nil:
				// cancelled by a sibling's failure
			default:
				if other == nil {
					other = err
				}
			}
		})
	}
	wg.Wait()
	b.n++ // the children's keys hang off this position
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case firstFail != nil:
		return firstFail
	case other != nil:
		return other
	case sus != nil:
		return sus
	}
	return nil
}

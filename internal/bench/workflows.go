package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Workflows is Step Functions' figures, each against the goal issue 20
// names and, where it has one, a baseline measured in the same run:
//
//   - Express: state transitions/s of StartSyncExecution on a chain of
//     Pass states, one client (one execution at a time: about one core),
//     JSONPath Parameters in every state; the same chain with a JSONata
//     Output and Assign in every state beside it. Goal ≥ 50,000/s. Per
//     second of wall time, and per second of this process's CPU time
//     (what one core of its own does, on a machine whose load varies).
//   - Standard: durable state transitions/s, 16 clients each starting a
//     Standard execution of a chain of Pass states and waiting for its end
//     (DescribeExecution), so 16 executions run at once. Goal ≥ 2,000/s.
//   - StartSyncExecution of an Express machine of three Lambda tasks (the
//     Go no-op, lambda:invoke) against the same three synchronous invokes
//     sent in a row by this client, interleaved. Goal p50 ≤ 1.2×.
type Workflows struct {
	ExpressStates      int     `json:"express_states"`
	ExpressExecutions  int     `json:"express_executions"`
	ExpressTransitions float64 `json:"express_transitions_per_s"`
	ExpressGoalRatio   float64 `json:"express_ratio_to_goal"`
	// ExpressPerCPUSecond is the transitions per second of this process's
	// CPU time (node and client, all threads) in the same measurement:
	// what one core of its own would do, whatever the machine's load.
	ExpressPerCPUSecond float64 `json:"express_transitions_per_cpu_s"`
	ExpressCPUGoalRatio float64 `json:"express_cpu_ratio_to_goal"`
	JSONataExecutions   int     `json:"jsonata_executions"`
	JSONataTransitions  float64 `json:"jsonata_transitions_per_s"`
	JSONataRatio        float64 `json:"jsonata_ratio_to_jsonpath"`
	StandardClients     int     `json:"standard_clients"`
	StandardStates      int     `json:"standard_states"`
	StandardExecutions  int     `json:"standard_executions"`
	StandardTransitions float64 `json:"standard_transitions_per_s"`
	StandardGoalRatio   float64 `json:"standard_ratio_to_goal"`
	// StandardPerCPUSecond: as ExpressPerCPUSecond (the fsyncs' waits
	// are not CPU time).
	StandardPerCPUSecond float64 `json:"standard_transitions_per_cpu_s"`
	// StandardRun is each Standard execution's StartExecution to the
	// client seeing it SUCCEEDED.
	StandardRun Latency `json:"standard_start_to_end"`
	Sync        Latency `json:"sync_three_lambdas"`
	Invokes     Latency `json:"three_invokes"`
	SyncRatio   float64 `json:"ratio_sync_to_invokes_p50"`
	// SyncFloor is StartSyncExecution of one Succeed state: the request's
	// own cost, without Tasks.
	SyncFloor Latency `json:"sync_one_pass"`
	Errors    int     `json:"errors"`
}

// The goals of issue 20.
const (
	expressGoal    = 50000.0
	standardGoal   = 2000.0
	syncGoal       = 1.2
	expressStates  = 1000 // a chain long enough that the request's own cost is small
	standardStates = 20
	workflowCalls  = 16
)

// sfnCall calls one Step Functions operation and decodes its answer.
func (r *runner) sfnCall(ctx context.Context, op string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encode %s: %w", op, err)
	}
	body, err := r.signed(ctx, "states", b, map[string]string{"X-Amz-Target": "AWSStepFunctions." + op, "Content-Type": "application/x-amz-json-1.0"})
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(body, out)
}

// passChain is a definition of n Pass states and a Succeed: each state is
// one of the Go benchmark's (internal/sfn BenchmarkExpressPassChain).
func passChain(n int, jsonata bool) string {
	var sb strings.Builder
	if jsonata {
		sb.WriteString(`{"QueryLanguage":"JSONata","StartAt":"S0","States":{`)
	} else {
		sb.WriteString(`{"StartAt":"S0","States":{`)
	}
	for i := range n {
		if jsonata {
			fmt.Fprintf(&sb, `"S%d":{"Type":"Pass","Output":{"n":"{%% $states.input.n %%}","i":%d},"Assign":{"last":"{%% $states.input.n + 1 %%}"},"Next":"S%d"},`, i, i, i+1)
		} else {
			fmt.Fprintf(&sb, `"S%d":{"Type":"Pass","Parameters":{"n.$":"$.n","i":%d},"Next":"S%d"},`, i, i, i+1)
		}
	}
	fmt.Fprintf(&sb, `"S%d":{"Type":"Succeed"}}}`, n)
	return sb.String()
}

// createMachine creates a state machine of type typ and returns its ARN.
func (r *runner) createMachine(ctx context.Context, name, typ, def string) (string, error) {
	var out struct {
		ARN string `json:"stateMachineArn"`
	}
	if err := r.sfnCall(ctx, "CreateStateMachine", map[string]any{"name": name, "type": typ, "definition": def,
		"roleArn": "arn:aws:iam::000000000000:role/bench-states"}, &out); err != nil {
		return "", fmt.Errorf("create state machine %s: %w", name, err)
	}
	return out.ARN, nil
}

// createStatesRole is the machines' role: Step Functions may assume it,
// and it may invoke functions.
func (r *runner) createStatesRole(ctx context.Context) error {
	err := r.iamCall(ctx, url.Values{"Action": {"CreateRole"}, "RoleName": {"bench-states"},
		"AssumeRolePolicyDocument": {`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"states.amazonaws.com"},"Action":"sts:AssumeRole"}]}`}})
	if err != nil && !strings.Contains(err.Error(), "EntityAlreadyExists") {
		return fmt.Errorf("create the states role: %w", err)
	}
	if err := r.iamCall(ctx, url.Values{"Action": {"PutRolePolicy"}, "RoleName": {"bench-states"}, "PolicyName": {"invoke"},
		"PolicyDocument": {`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"*"}]}`}}); err != nil {
		return fmt.Errorf("let the states role invoke functions: %w", err)
	}
	return nil
}

// syncRun is one StartSyncExecution; it fails unless the execution
// succeeded.
func (r *runner) syncRun(ctx context.Context, machine, input string) error {
	var out struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Cause  string `json:"cause"`
	}
	if err := r.sfnCall(ctx, "StartSyncExecution", map[string]string{"stateMachineArn": machine, "input": input}, &out); err != nil {
		return err
	}
	if out.Status != "SUCCEEDED" {
		return fmt.Errorf("sync execution %s: %s %s", out.Status, out.Error, out.Cause)
	}
	return nil
}

// workflows measures the three figures.
func (r *runner) workflows(ctx context.Context, rep *Report, _ string) error {
	wf := &Workflows{ExpressStates: expressStates, StandardClients: workflowCalls, StandardStates: standardStates}
	rep.Workflows = wf
	if err := r.createStatesRole(ctx); err != nil {
		return err
	}
	if err := r.expressChains(ctx, wf); err != nil {
		return err
	}
	if err := r.standardChains(ctx, wf); err != nil {
		return err
	}
	return r.syncLambdas(ctx, wf)
}

// expressChains runs the Pass chains one execution at a time for
// Duration each (after a fifth of it as warm-up).
func (r *runner) expressChains(ctx context.Context, wf *Workflows) error {
	d := r.opts.Duration
	for _, jsonata := range []bool{false, true} {
		name := map[bool]string{false: "bench-pass-chain", true: "bench-jsonata-chain"}[jsonata]
		arn, err := r.createMachine(ctx, name, "EXPRESS", passChain(expressStates, jsonata))
		if err != nil {
			return err
		}
		r.logf("workflows: Express chain of %d Pass states (%s), one client for %s", expressStates, map[bool]string{false: "JSONPath", true: "JSONata"}[jsonata], d)
		run := func(ctx context.Context) error { return r.syncRun(ctx, arn, `{"n":1}`) }
		if _, err := r.load(ctx, 1, d/5, run); err != nil {
			return err
		}
		cpu0 := processCPU()
		n, err := r.load(ctx, 1, d, run)
		if err != nil {
			return err
		}
		cpu := processCPU() - cpu0
		wf.Errors += n.errs
		rate := math.Round(float64(n.ok*(expressStates+1)) / d.Seconds())
		if jsonata {
			wf.JSONataExecutions, wf.JSONataTransitions = n.ok, rate
		} else {
			wf.ExpressExecutions, wf.ExpressTransitions = n.ok, rate
			if cpu > 0 {
				wf.ExpressPerCPUSecond = math.Round(float64(n.ok*(expressStates+1)) / cpu.Seconds())
			}
		}
	}
	wf.ExpressGoalRatio = ratio(wf.ExpressTransitions, expressGoal)
	wf.ExpressCPUGoalRatio = ratio(wf.ExpressPerCPUSecond, expressGoal)
	wf.JSONataRatio = ratio(wf.JSONataTransitions, wf.ExpressTransitions)
	return nil
}

// standardChains runs workflowCalls clients for Duration, each starting a
// Standard execution and polling DescribeExecution until it ends, then
// the next. A transition counts when its execution has ended within
// Duration.
func (r *runner) standardChains(ctx context.Context, wf *Workflows) error {
	d := r.opts.Duration
	arn, err := r.createMachine(ctx, "bench-standard-chain", "STANDARD", passChain(standardStates, false))
	if err != nil {
		return err
	}
	var seq atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	one := func(ctx context.Context) error {
		t0 := time.Now()
		var st struct {
			ARN string `json:"executionArn"`
		}
		if err := r.sfnCall(ctx, "StartExecution", map[string]string{"stateMachineArn": arn, "input": `{"n":1}`,
			"name": "e" + strconv.FormatInt(seq.Add(1), 10)}, &st); err != nil {
			return err
		}
		for wait := time.Millisecond; ; wait = min(2*wait, 16*time.Millisecond) {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
			var ds struct {
				Status string `json:"status"`
			}
			if err := r.sfnCall(ctx, "DescribeExecution", map[string]string{"executionArn": st.ARN}, &ds); err != nil {
				return err
			}
			switch ds.Status {
			case "RUNNING":
				continue
			case "SUCCEEDED":
				mu.Lock()
				lat = append(lat, time.Since(t0))
				mu.Unlock()
				return nil
			default:
				return fmt.Errorf("standard execution %s: %s", st.ARN, ds.Status)
			}
		}
	}
	r.logf("workflows: Standard chains of %d Pass states from %d clients for %s", standardStates, workflowCalls, d)
	if _, err := r.load(ctx, workflowCalls, d/5, one); err != nil {
		return err
	}
	mu.Lock()
	lat = lat[:0]
	mu.Unlock()
	cpu0 := processCPU()
	n, err := r.load(ctx, workflowCalls, d, one)
	if err != nil {
		return err
	}
	if cpu := processCPU() - cpu0; cpu > 0 {
		wf.StandardPerCPUSecond = math.Round(float64(n.ok*(standardStates+1)) / cpu.Seconds())
	}
	wf.Errors += n.errs
	wf.StandardExecutions = n.ok
	wf.StandardTransitions = math.Round(float64(n.ok*(standardStates+1)) / d.Seconds())
	wf.StandardGoalRatio = ratio(wf.StandardTransitions, standardGoal)
	mu.Lock()
	wf.StandardRun = latencyOf(lat)
	mu.Unlock()
	return nil
}

// syncLambdas compares StartSyncExecution of three Lambda tasks with the
// three invokes sent by the client, in two interleaved halves.
func (r *runner) syncLambdas(ctx context.Context, wf *Workflows) error {
	task := func(name, next string) string {
		end := `"End":true`
		if next != "" {
			end = `"Next":"` + next + `"`
		}
		return `"` + name + `":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"noop-go","Payload":{}},"ResultPath":null,` + end + `}`
	}
	arn, err := r.createMachine(ctx, "bench-three-lambdas", "EXPRESS",
		`{"StartAt":"A","States":{`+task("A", "B")+`,`+task("B", "C")+`,`+task("C", "")+`}}`)
	if err != nil {
		return err
	}
	floor, err := r.createMachine(ctx, "bench-one-pass", "EXPRESS", passChain(0, false))
	if err != nil {
		return err
	}
	n := max(r.opts.Requests/4, 10)
	r.logf("workflows: %d StartSyncExecution of three Lambda tasks beside %d rounds of three invokes", n, n)
	invURL := r.invokeURL("noop-go")
	three := func(ctx context.Context) error {
		for range 3 {
			if _, _, _, err := r.call(ctx, invURL, []byte(`{}`), nil); err != nil {
				return err
			}
		}
		return nil
	}
	oneSync := func(ctx context.Context) error { return r.syncRun(ctx, arn, `{}`) }
	measure := func(do func(context.Context) error, n int) ([]time.Duration, error) {
		for range max(n/10, 1) { // warm-up
			if err := do(ctx); err != nil {
				return nil, err
			}
		}
		out := make([]time.Duration, 0, n)
		for range n {
			t0 := time.Now()
			if err := do(ctx); err != nil {
				return nil, err
			}
			out = append(out, time.Since(t0))
		}
		return out, nil
	}
	onePass := func(ctx context.Context) error { return r.syncRun(ctx, floor, `{}`) }
	var s, c, f []time.Duration
	for _, h := range []int{n / 2, n - n/2} {
		a, err := measure(oneSync, h)
		if err != nil {
			return fmt.Errorf("three-lambda chain: %w", err)
		}
		b, err := measure(three, h)
		if err != nil {
			return err
		}
		p, err := measure(onePass, h)
		if err != nil {
			return err
		}
		s, c, f = append(s, a...), append(c, b...), append(f, p...)
	}
	wf.Sync, wf.Invokes, wf.SyncFloor = latencyOf(s), latencyOf(c), latencyOf(f)
	wf.SyncRatio = ratio(wf.Sync.P50, wf.Invokes.P50)
	if wf.Sync.N == 0 {
		return errors.New("three-lambda chain: no samples")
	}
	return nil
}

func writeWorkflows(p func(string, ...any), w *Workflows) {
	p("WORKFLOWS (Step Functions), state transitions\tper s\tgoal\tof goal\tper CPU-s\tof goal")
	p("Express, chain of %d Pass states (JSONPath), 1 client\t%.0f\t≥ %.0f\t%.0f%%\t%.0f\t%.0f%%", w.ExpressStates, w.ExpressTransitions, expressGoal, w.ExpressGoalRatio*100,
		w.ExpressPerCPUSecond, w.ExpressCPUGoalRatio*100)
	p("Express, same chain in JSONata (Output, Assign)\t%.0f\t\t%.2f× of JSONPath\t\t", w.JSONataTransitions, w.JSONataRatio)
	p("Standard, durable, chains of %d Pass states, %d at once\t%.0f\t≥ %.0f\t%.0f%%\t%.0f\t", w.StandardStates, w.StandardClients, w.StandardTransitions, standardGoal, w.StandardGoalRatio*100,
		w.StandardPerCPUSecond)
	p("  Standard executions\t%d\t\t\t\t", w.StandardExecutions)
	if w.Errors > 0 {
		p("errors\t%d\t\t\t", w.Errors)
	}
	p("")
	p("WORKFLOW LATENCY\tn\tp50 ms\tp99 ms\t")
	p("Standard execution, start → seen SUCCEEDED\t%d\t%.2f\t%.2f\t", w.StandardRun.N, w.StandardRun.P50, w.StandardRun.P99)
	p("StartSyncExecution, three Lambda tasks\t%d\t%.2f\t%.2f\t", w.Sync.N, w.Sync.P50, w.Sync.P99)
	p("three invokes in a row (baseline)\t%d\t%.2f\t%.2f\t", w.Invokes.N, w.Invokes.P50, w.Invokes.P99)
	p("StartSyncExecution, one Succeed state (floor)\t%d\t%.2f\t%.2f\t", w.SyncFloor.N, w.SyncFloor.P50, w.SyncFloor.P99)
	p("ratio (goal ≤ %.1f×)\t\t%.2f×\t\t", syncGoal, w.SyncRatio)
}

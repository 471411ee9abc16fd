package sfn_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// nestedParallel is a definition of depth Parallel states, each the one
// state of its parent's only branch.
func nestedParallel(depth int) string {
	inner := `{"StartAt": "L", "States": {"L": {"Type": "Pass", "End": true}}}`
	for range depth {
		inner = `{"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [` + inner + `]}}}`
	}
	return inner
}

// TestDefinitionBombs: deep nesting, a definition over 1 MB, and a
// request over the body limit are refused before anything is stored or
// run; a nesting AWS accepts still runs.
func TestDefinitionBombs(t *testing.T) {
	t.Parallel()
	e := start(t, storetest.Open(t), nil)
	create := func(name, def string) error {
		_, err := e.client.CreateStateMachine(t.Context(), &awssfn.CreateStateMachineInput{Name: aws.String(name),
			Definition: aws.String(def), RoleArn: aws.String("arn:aws:iam::123456789012:role/r")})
		return err
	}
	if err := create("deep", nestedParallel(100)); apiCode(err) != "InvalidDefinition" || !strings.Contains(err.Error(), "nest at most") {
		t.Errorf("100 nested Parallels: %v", err)
	}
	if err := create("deeper", nestedParallel(5000)); apiCode(err) != "InvalidDefinition" {
		t.Errorf("5,000 nested Parallels: %v", err)
	}
	var sb strings.Builder
	sb.WriteString(`{"StartAt": "S0", "States": {`)
	for i := 0; sb.Len() < 1<<20; i++ {
		fmt.Fprintf(&sb, `"S%d": {"Type": "Pass", "Next": "S%d"}, `, i, i+1)
	}
	sb.WriteString(`"End": {"Type": "Succeed"}}}`)
	if err := create("huge", sb.String()); apiCode(err) != "InvalidDefinition" || !strings.Contains(err.Error(), "bytes allowed") {
		t.Errorf("a definition over 1 MB: %v", err)
	}
	if err := create("huger", strings.Repeat(" ", 5<<20)+"{}"); apiCode(err) != "RequestEntityTooLargeException" {
		t.Errorf("a 5 MB request: %v", err)
	}
	// Intrinsics nested past the bound.
	call := "$.a"
	for range 50 {
		call = "States.Array(" + call + ")"
	}
	if err := create("calls", `{"StartAt": "A", "States": {"A": {"Type": "Pass", "Parameters": {"x.$": "`+call+`"}, "End": true}}}`); apiCode(err) != "InvalidDefinition" {
		t.Errorf("50 nested intrinsics: %v", err)
	}
	l, err := e.client.ListStateMachines(t.Context(), &awssfn.ListStateMachinesInput{})
	if err != nil || len(l.StateMachines) != 0 {
		t.Fatalf("refused definitions were stored: %+v %v", l, err)
	}
	arn := e.machine(t, "deep-ok", nestedParallel(20))
	d := e.run(t, arn, `{"k": 1}`)
	if d.Status != types.ExecutionStatusSucceeded {
		t.Errorf("20 nested Parallels: %s %s", d.Status, aws.ToString(d.Cause))
	}
}

// TestMapWithUnboundedItems: a Map over as many items as 256 KB of input
// holds ends (the history's 25,000-event cap fails it, as on AWS) instead
// of running every item at once; an input over 256 KB is refused.
func TestMapWithUnboundedItems(t *testing.T) {
	t.Parallel()
	e := start(t, storetest.Open(t), nil)
	arn := e.machine(t, "many", `{"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items",
	  "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}, "End": true}}}`)
	items := strings.TrimSuffix(strings.Repeat("0,", 10000), ",")
	input := `{"items": [` + items + `]}`
	d := e.run(t, arn, input)
	if d.Status != types.ExecutionStatusFailed || aws.ToString(d.Error) != "States.Runtime" || !strings.Contains(aws.ToString(d.Cause), "25000") {
		t.Errorf("10,000 items: %s %s %s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
	}
	_, err := e.client.StartExecution(t.Context(), &awssfn.StartExecutionInput{StateMachineArn: aws.String(arn),
		Input: aws.String(`{"items": [` + strings.Repeat(`"xxxxxxxx",`, 30000) + `0]}`)})
	if apiCode(err) != "ValidationException" {
		t.Errorf("an input over 256 KB: %v", err)
	}
}

// TestLargePayloadsThroughManyStates: 20 states each passing on 200 KB (8 MB of history)
// are journaled in several messages (one would pass the stream's message
// limit) and the execution ends.
func TestLargePayloadsThroughManyStates(t *testing.T) {
	t.Parallel()
	e := start(t, storetest.Open(t), nil)
	var sb strings.Builder
	sb.WriteString(`{"StartAt": "S0", "States": {`)
	for i := range 20 {
		fmt.Fprintf(&sb, `"S%d": {"Type": "Pass", "Next": "S%d"}, `, i, i+1)
	}
	sb.WriteString(`"S20": {"Type": "Succeed"}}}`)
	arn := e.machine(t, "big", sb.String())
	d := e.run(t, arn, `{"blob": "`+strings.Repeat("x", 200<<10)+`"}`)
	if d.Status != types.ExecutionStatusSucceeded || len(aws.ToString(d.Output)) < 200<<10 {
		t.Fatalf("status %s %s", d.Status, aws.ToString(d.Cause))
	}
	h, err := e.client.GetExecutionHistory(t.Context(), &awssfn.GetExecutionHistoryInput{ExecutionArn: d.ExecutionArn, MaxResults: 1000,
		IncludeExecutionData: aws.Bool(false)})
	if err != nil {
		t.Fatalf("history: %v", err)
	}
	if len(h.Events) != 1+2*20+2+1 {
		t.Fatalf("history: %d events", len(h.Events))
	}
}

// TestJSONataMemoryBombs: a state machine whose JSONata asks for
// gigabytes in one built-in call, or spells out one value shared many
// times, fails with States.QueryEvaluationError instead of exhausting
// the node.
func TestJSONataMemoryBombs(t *testing.T) {
	t.Parallel()
	e := start(t, storetest.Open(t), nil)
	for i, expr := range []string{
		`$pad('', 1e9)`,
		`($a := $map([1..100], function() { $pad('', 1000, 'x') }); $join($map([1..100], function() { $join($a) })))`,
		`($a := [1..1000]; $b := $map([1..1000], function() { $a }); $string($map([1..1000], function() { $b })))`,
		`($a := [1..1000]; $b := $map([1..1000], function() { $a }); $count($map([1..1000], function() { $b }).$.$))`,
		`($f := function($s, $n) { $n = 0 ? $s : $f($s & $s, $n - 1) }; $length($f('x', 40)))`,
		`$replace($pad('', 100000, 'a'), 'a', $pad('', 1000, 'b'))`,
	} {
		def := `{"QueryLanguage": "JSONata", "StartAt": "B", "States": {
		  "B": {"Type": "Pass", "Output": "{% ` + expr + ` %}", "End": true}}}`
		out, err := e.client.CreateStateMachine(t.Context(), &awssfn.CreateStateMachineInput{Name: aws.String(fmt.Sprintf("bomb%d", i)),
			Type: types.StateMachineTypeExpress, Definition: aws.String(def), RoleArn: aws.String("arn:aws:iam::123456789012:role/r")})
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		s, err := e.client.StartSyncExecution(t.Context(), &awssfn.StartSyncExecutionInput{StateMachineArn: out.StateMachineArn})
		if err != nil || s.Status != types.SyncExecutionStatusFailed || aws.ToString(s.Error) != "States.QueryEvaluationError" ||
			!strings.Contains(aws.ToString(s.Cause), "than") {
			t.Errorf("%s: %v %+v", expr, err, s)
		}
	}
}

// TestVariablesTotalLimit: states that each assign 250 KB to a new
// variable fail the execution with States.DataLimitExceeded once the
// variables pass AWS's 10 MiB.
func TestVariablesTotalLimit(t *testing.T) {
	t.Parallel()
	e := start(t, storetest.Open(t), nil)
	var sb strings.Builder
	sb.WriteString(`{"QueryLanguage": "JSONata", "StartAt": "S0", "States": {`)
	for i := range 44 {
		fmt.Fprintf(&sb, `"S%d": {"Type": "Pass", "Assign": {"v%d": "{%% $pad('', 250000, 'x') %%}"}, "Next": "S%d"}, `, i, i, i+1)
	}
	sb.WriteString(`"S44": {"Type": "Succeed"}}}`)
	arn := e.machine(t, "vars", sb.String())
	d := e.run(t, arn, `{}`)
	if d.Status != types.ExecutionStatusFailed || aws.ToString(d.Error) != "States.DataLimitExceeded" {
		t.Errorf("%s %s %s", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause))
	}
}

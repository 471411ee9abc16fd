package sfn_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssfn "github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// TestJSONataAndVariables runs JSONata states and workflow variables
// (the Step Functions developer guide's examples among them) as EXPRESS
// machines through StartSyncExecution with the real SDK client.
func TestJSONataAndVariables(t *testing.T) {
	t.Parallel()
	e := start(t, storetest.Open(t), nil)
	e.lambda.fns["echo"] = func(in map[string]any, _ int) (any, string) { return map[string]any{"got": in}, "" }
	cases := []struct {
		name, def, input string
		want             string // output JSON, or "!Error: cause part" for a failure
	}{
		{name: "guide conversion example", input: `{"title": "Doctor"}`, def: `{"QueryLanguage": "JSONata", "StartAt": "Set", "States": {
			"Set": {"Type": "Pass", "Assign": {"customerName": "María"}, "Next": "Use"},
			"Use": {"Type": "Pass", "Output": {"static": "Hello", "title": "{% $states.input.title %}", "name": "{% $customerName %}", "not-evaluated": "$customerName"}, "End": true}}}`,
			want: `{"static":"Hello","title":"Doctor","name":"María","not-evaluated":"$customerName"}`},
		{name: "Step Functions functions", input: `{"s": "{\"a\": [1, 2]}"}`, def: `{"QueryLanguage": "JSONata", "StartAt": "F", "States": {
			"F": {"Type": "Pass", "Output": {"partition": "{% $partition([1,2,3,4,5,6,7,8,9], 3) %}", "range": "{% $range(0, 10, 2) %}",
			  "hash": "{% $hash('input data', 'SHA-1') %}", "parsed": "{% $parse($states.input.s).a[1] %}",
			  "sameSeed": "{% $random(7) = $random(7) %}", "unit": "{% $random() < 1 and $random() >= 0 %}",
			  "sum": "{% $sum([1.5, 2.5]) %}", "upper": "{% $uppercase('abc') %}", "big": 12345678901234567890}, "End": true}}}`,
			want: `{"partition":[[1,2,3],[4,5,6],[7,8,9]],"range":[0,2,4,6,8,10],"hash":"aaff4a450a104cd177d28d18d74485e8cae074b7","parsed":2,"sameSeed":true,"unit":true,"sum":4,"upper":"ABC","big":12345678901234567890}`},
		{name: "JSONata 2.0 functions the library lacks, through a variable", input: `{}`, def: `{"QueryLanguage": "JSONata", "StartAt": "F", "States": {
			"F": {"Type": "Pass", "Assign": {"words": "{% $formatInteger(21, 'w;o') %}"}, "Next": "G"},
			"G": {"Type": "Pass", "Output": {"words": "{% $words %}", "back": "{% $parseInteger($words, 'w;o') %}"}, "End": true}}}`,
			want: `{"words":"twenty-first","back":21}`},
		{name: "JSONata 2.0 functions' outputs", input: `{"n": 1234567, "b": "aGk="}`, def: `{"QueryLanguage": "JSONata", "StartAt": "F", "States": {
			"F": {"Type": "Pass", "Output": {"grouped": "{% $formatInteger($states.input.n, '#,##0') %}",
			  "roman": "{% $formatInteger(1984, 'I') %}", "parsed": "{% $parseInteger('twelve', 'w') %}", "decoded": "{% $base64decode($states.input.b) %}",
			  "encoded": "{% $base64encode('hi') %}", "clone": "{% $clone($states.input).n %}"}, "End": true}}}`,
			want: `{"grouped":"1,234,567","roman":"MCMLXXXIV","parsed":12,"decoded":"hi","encoded":"aGk=","clone":1234567}`},
		{name: "a picture jsonata-js cannot format fails the state", input: `{}`, def: `{"QueryLanguage": "JSONata", "StartAt": "F", "States": {
			"F": {"Type": "Pass", "Output": "{% $formatInteger(3, '#') %}", "End": true}}}`,
			want: `!States.QueryEvaluationError: as a sequence`},
		{name: "Assign sees the values from state entry", input: `{}`, def: `{"QueryLanguage": "JSONata", "StartAt": "A", "States": {
			"A": {"Type": "Pass", "Assign": {"x": 1}, "Next": "B"},
			"B": {"Type": "Pass", "Assign": {"x": "{% $x + 1 %}", "y": "{% $x %}"}, "Output": {"x": "{% $x %}"}, "Next": "C"},
			"C": {"Type": "Pass", "Output": {"x": "{% $x %}", "y": "{% $y %}", "prev": "{% $states.input %}"}, "End": true}}}`,
			want: `{"x":2,"y":1,"prev":{"x":1}}`},
		{name: "Choice Condition and rule Assign", input: `{"n": 7}`, def: `{"QueryLanguage": "JSONata", "StartAt": "C", "States": {
			"C": {"Type": "Choice", "Choices": [
			    {"Condition": "{% $states.input.n > 10 %}", "Next": "Big"},
			    {"Condition": "{% $states.input.n > 5 %}", "Assign": {"size": "medium"}, "Output": {"m": "{% $states.input.n * 2 %}"}, "Next": "Done"}],
			  "Default": "Done"},
			"Big": {"Type": "Fail", "Error": "Big"},
			"Done": {"Type": "Succeed", "Output": {"size": "{% $size %}", "in": "{% $states.input %}"}}}}`,
			want: `{"size":"medium","in":{"m":14}}`},
		{name: "Task Arguments and Output over $states.result", input: `{"who": "ana"}`, def: `{"QueryLanguage": "JSONata", "StartAt": "T", "States": {
			"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
			  "Arguments": {"FunctionName": "echo", "Payload": {"name": "{% $states.input.who %}", "exec": "{% $states.context.Execution.Name %}"}},
			  "Output": "{% $states.result.Payload.got.name %}", "Assign": {"code": "{% $states.result.StatusCode %}"}, "Next": "U"},
			"U": {"Type": "Pass", "Output": {"name": "{% $states.input %}", "code": "{% $code %}"}, "End": true}}}`,
			want: `{"name":"ana","code":200}`},
		{name: "Catch with errorOutput; variables from a branch stay in it", input: `{}`, def: `{"QueryLanguage": "JSONata", "StartAt": "Init", "States": {
			"Init": {"Type": "Pass", "Assign": {"outer": "o"}, "Next": "P"},
			"P": {"Type": "Parallel", "Branches": [{"StartAt": "B1", "States": {
			    "B1": {"Type": "Pass", "Assign": {"inner": "{% $outer & '-i' %}"}, "Next": "B2"},
			    "B2": {"Type": "Fail", "Error": "Boom", "Cause": "{% 'inner was ' & $inner %}"}}}],
			  "Catch": [{"ErrorEquals": ["Boom"], "Output": {"caught": "{% $states.errorOutput %}"}, "Assign": {"err": "{% $states.errorOutput.Error %}"}, "Next": "After"}],
			  "Next": "After"},
			"After": {"Type": "Pass", "Output": {"in": "{% $states.input %}", "err": "{% $err %}", "innerGone": "{% $exists($inner) = false %}"}, "End": true}}}`,
			want: `{"in":{"caught":{"Error":"Boom","Cause":"inner was o-i"}},"err":"Boom","innerGone":true}`},
		{name: "Map Items and ItemSelector", input: `{"xs": [1, 2, 3]}`, def: `{"QueryLanguage": "JSONata", "StartAt": "M", "States": {
			"M": {"Type": "Map", "Items": "{% $states.input.xs %}", "MaxConcurrency": "{% 2 %}",
			  "ItemSelector": {"v": "{% $states.context.Map.Item.Value %}", "i": "{% $states.context.Map.Item.Index %}"},
			  "ItemProcessor": {"StartAt": "D", "States": {"D": {"Type": "Pass", "Output": "{% $states.input.v * 10 + $states.input.i %}", "End": true}}},
			  "Output": {"r": "{% $states.result %}"}, "End": true}}}`,
			want: `{"r":[10,21,32]}`},
		{name: "Wait with an expression", input: `{"s": 0}`, def: `{"QueryLanguage": "JSONata", "StartAt": "W", "States": {
			"W": {"Type": "Wait", "Seconds": "{% $states.input.s %}", "End": true}}}`,
			want: `{"s":0}`},
		{name: "JSONPath machine with one JSONata state and JSONPath variables", input: `{"a": {"b": 5}}`, def: `{"StartAt": "A", "States": {
			"A": {"Type": "Pass", "Parameters": {"v.$": "$.a.b"}, "Assign": {"saved.$": "$.v", "lit": "x"}, "ResultPath": "$.r", "Next": "B"},
			"B": {"Type": "Pass", "Parameters": {"s.$": "$saved", "l.$": "$lit", "sum.$": "States.MathAdd($saved, 1)"}, "Next": "C"},
			"C": {"Type": "Choice", "Choices": [{"Variable": "$saved", "NumericEquals": 5, "Next": "D"}], "Default": "X"},
			"X": {"Type": "Fail", "Error": "NoMatch"},
			"D": {"QueryLanguage": "JSONata", "Type": "Pass", "Output": {"prev": "{% $states.input %}", "saved": "{% $saved %}"}, "End": true}}}`,
			want: `{"prev":{"s":5,"l":"x","sum":6},"saved":5}`},
		{name: "undefined result", input: `{}`, def: `{"QueryLanguage": "JSONata", "StartAt": "A", "States": {
			"A": {"Type": "Pass", "Output": "{% $states.input.missing %}", "End": true}}}`,
			want: `!States.QueryEvaluationError: returned nothing`},
		{name: "non-boolean Condition", input: `{}`, def: `{"QueryLanguage": "JSONata", "StartAt": "C", "States": {
			"C": {"Type": "Choice", "Choices": [{"Condition": "{% 'yes' %}", "Next": "D"}], "Default": "D"},
			"D": {"Type": "Succeed"}}}`,
			want: `!States.QueryEvaluationError: must evaluate to a boolean`},
		{name: "QueryEvaluationError is caught", input: `{}`, def: `{"QueryLanguage": "JSONata", "StartAt": "T", "States": {
			"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Arguments": {"FunctionName": "echo", "Payload": "{% $number('x') %}"},
			  "Catch": [{"ErrorEquals": ["States.QueryEvaluationError"], "Next": "D"}], "End": true},
			"D": {"Type": "Pass", "Output": "{% $states.input.Error %}", "End": true}}}`,
			want: `"States.QueryEvaluationError"`},
		{name: "Fail with expressions", input: `{"code": "E42"}`, def: `{"QueryLanguage": "JSONata", "StartAt": "F", "States": {
			"F": {"Type": "Fail", "Error": "{% $states.input.code %}", "Cause": "{% 'because ' & $states.input.code %}"}}}`,
			want: `!E42: because E42`},
	}
	for i, c := range cases {
		out, err := e.client.CreateStateMachine(t.Context(), &awssfn.CreateStateMachineInput{
			Name: aws.String(fmt.Sprintf("jsonata%d", i)), Type: types.StateMachineTypeExpress,
			RoleArn: aws.String("arn:aws:iam::123456789012:role/r"), Definition: aws.String(c.def)})
		if err != nil {
			t.Errorf("%s: create: %v", c.name, err)
			continue
		}
		s, err := e.client.StartSyncExecution(t.Context(), &awssfn.StartSyncExecutionInput{StateMachineArn: out.StateMachineArn, Input: aws.String(c.input)})
		if err != nil {
			t.Errorf("%s: start: %v", c.name, err)
			continue
		}
		if want, ok := strings.CutPrefix(c.want, "!"); ok {
			name, cause, _ := strings.Cut(want, ": ")
			if s.Status != types.SyncExecutionStatusFailed || aws.ToString(s.Error) != name || !strings.Contains(aws.ToString(s.Cause), cause) {
				t.Errorf("%s: %s %s %s %s, want failure %s", c.name, s.Status, aws.ToString(s.Output), aws.ToString(s.Error), aws.ToString(s.Cause), want)
			}
			continue
		}
		if s.Status != types.SyncExecutionStatusSucceeded {
			t.Errorf("%s: %s %s %s", c.name, s.Status, aws.ToString(s.Error), aws.ToString(s.Cause))
			continue
		}
		t.Run(c.name, func(t *testing.T) { jsonEq(t, aws.ToString(s.Output), c.want) })
	}
}

// TestJSONataUUIDAndNow: $uuid() is a version 4 UUID, $now() the state's
// entered time in ISO 8601, $millis() the same instant.
func TestJSONataUUIDAndNow(t *testing.T) {
	t.Parallel()
	e := start(t, storetest.Open(t), nil)
	out, err := e.client.CreateStateMachine(t.Context(), &awssfn.CreateStateMachineInput{
		Name: aws.String("ids"), Type: types.StateMachineTypeExpress, RoleArn: aws.String("arn:aws:iam::123456789012:role/r"),
		Definition: aws.String(`{"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {"Type": "Pass",
		  "Output": {"id": "{% $uuid() %}", "now": "{% $now() %}", "same": "{% $toMillis($now()) = $millis() %}", "entered": "{% $states.context.State.EnteredTime %}"}, "End": true}}}`)})
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.client.StartSyncExecution(t.Context(), &awssfn.StartSyncExecutionInput{StateMachineArn: out.StateMachineArn})
	if err != nil || s.Status != types.SyncExecutionStatusSucceeded {
		t.Fatalf("%v %+v", err, s)
	}
	o := aws.ToString(s.Output)
	var got struct {
		ID, Now, Entered string
		Same             bool
	}
	if err := json.Unmarshal([]byte(o), &got); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(got.ID) || !got.Same ||
		!regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`).MatchString(got.Now) || got.Now != got.Entered {
		t.Errorf("output %s", o)
	}
}

// TestJSONataInvalidDefinitions: what CreateStateMachine refuses.
func TestJSONataInvalidDefinitions(t *testing.T) {
	t.Parallel()
	e := start(t, storetest.Open(t), nil)
	cases := []struct{ def, want string }{
		{`{"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {"Type": "Pass", "Parameters": {"a": 1}, "End": true}}}`,
			"Field 'Parameters' is not supported when QueryLanguage is JSONata"},
		{`{"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {"QueryLanguage": "JSONPath", "Type": "Pass", "End": true}}}`,
			"cannot use JSONPath when the state machine's QueryLanguage is JSONata"},
		{`{"StartAt": "A", "States": {"A": {"Type": "Pass", "Output": {"a": 1}, "End": true}}}`,
			"Field 'Output' is only supported when QueryLanguage is JSONata"},
		{`{"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {"Type": "Pass", "Output": "{% $states.input. %}", "End": true}}}`,
			"invalid JSONata expression"},
		{`{"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {"Type": "Pass", "Assign": {"9lives": 1}, "End": true}}}`,
			"The variable name '9lives' is not valid"},
		{`{"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {"Type": "Pass", "Assign": {"states": 1}, "End": true}}}`,
			"The variable name 'states' is not valid"},
		{`{"QueryLanguage": "JSONata", "StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [{"Variable": "$.a", "BooleanEquals": true, "Next": "D"}]}, "D": {"Type": "Succeed"}}}`,
			"Field 'BooleanEquals' is not supported when QueryLanguage is JSONata"},
		{`{"QueryLanguage": "JSONata", "StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [{"Condition": "true", "Next": "D"}]}, "D": {"Type": "Succeed"}}}`,
			"must be a JSONata expression"},
		{`{"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {"Type": "Pass", "Output": "{% ` + strings.Repeat("(", 200) + `1` + strings.Repeat(")", 200) + ` %}", "End": true}}}`,
			"nests more than"},
	}
	for _, c := range cases {
		_, err := e.client.CreateStateMachine(t.Context(), &awssfn.CreateStateMachineInput{
			Name: aws.String("bad"), Definition: aws.String(c.def), RoleArn: aws.String("arn:aws:iam::123456789012:role/r")})
		if apiCode(err) != "InvalidDefinition" || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want InvalidDefinition with %q", c.def, err, c.want)
		}
	}
}

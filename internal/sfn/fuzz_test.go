package sfn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzParse: no definition text panics the parser or yields a machine
// that fails to run (every valid definition runs to an end or a failure
// on any input, without tasks: they are refused by the empty Tasks).
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}`,
		`{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.x","NumericEquals":1,"Next":"A"}],"Default":"A"},"A":{"Type":"Succeed"}}}`,
		`{"StartAt":"P","States":{"P":{"Type":"Parallel","Branches":[{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}],"End":true}}}`,
		`{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.i","ItemProcessor":{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}},"End":true}}}`,
		`{"StartAt":"F","States":{"F":{"Type":"Fail","ErrorPath":"States.Format('{}', $.a)"}}}`,
		`{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"a.$":"States.ArrayRange(1, 9, 2)"},"ResultPath":"$.r[0]","End":true}}}`,
		strings.Repeat(`{"StartAt":"P","States":{"P":{"Type":"Parallel","End":true,"Branches":[`, 40),
		`{"QueryLanguage":"JSONata","StartAt":"A","States":{"A":{"Type":"Pass","Assign":{"v":"{% $states.input.x %}"},"Output":{"o":"{% $v %}"},"Next":"C"},` +
			`"C":{"Type":"Choice","Choices":[{"Condition":"{% $v > 0 %}","Next":"W"}],"Default":"W"},"W":{"Type":"Wait","Seconds":"{% 0 %}","End":true}}}`,
		`{"StartAt":"A","States":{"A":{"Type":"Pass","Assign":{"v.$":"$.x"},"Next":"B"},"B":{"Type":"Pass","Parameters":{"a.$":"$v"},"End":true}}}`,
		`{"QueryLanguage":"JSONata","StartAt":"M","States":{"M":{"Type":"Map","Items":"{% $states.input.i %}","ItemProcessor":{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}},"Output":"{% $states.result %}","End":true}}}`,
	} {
		f.Add(s, `{"x":1,"i":[1,2],"a":"b"}`)
	}
	f.Fuzz(func(t *testing.T, def, input string) {
		d, err := Parse(def, false)
		if err != nil {
			var de *DefinitionError
			if !errors.As(err, &de) {
				t.Fatalf("Parse error is %T", err)
			}
			return
		}
		if _, err := decodeJSON([]byte(input)); err != nil {
			input = "{}"
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		j, _ := openJournal(ctx, &memJournal{}, time.Now)
		r := &run{x: &Execution{ARN: "arn:aws:states:us-east-1:1:execution:m:e", Input: input, Def: d, Seed: []byte("01234567")},
			j: j, tasks: &Tasks{}, now: time.Now, after: func(time.Duration) <-chan time.Time { return time.After(0) }}
		if _, err := r.exec(ctx); err != nil && ctx.Err() == nil {
			t.Fatalf("run of a valid definition: %v", err)
		}
	})
}

// FuzzIntrinsic: parsing and evaluating any call neither panics nor
// returns anything but a value or a States.* failure.
func FuzzIntrinsic(f *testing.F) {
	for _, s := range []string{
		"States.Format('a {} b \\{ {}', $.a, 3)", "States.StringToJson($.s)", "States.JsonToString($)",
		"States.Array(1, 'x', true, null, $.a)", "States.ArrayPartition($.l, 2)", "States.ArrayContains($.l, 3)",
		"States.ArrayRange(1, 10, 3)", "States.ArrayGetItem($.l, 1)", "States.ArrayLength($.l)", "States.ArrayUnique($.l)",
		"States.Base64Encode('abc')", "States.Base64Decode('YWJj')", "States.Hash($.a, 'SHA-256')",
		"States.JsonMerge($.o, $.o, false)", "States.MathRandom(1, 10)", "States.MathAdd(1, -3)",
		"States.StringSplit('a,b', ',')", "States.UUID()", "States.Format(States.Format('{}', 1))",
	} {
		f.Add(s)
	}
	input := map[string]any{"a": "x", "s": `{"k":1}`, "l": []any{json.Number("1"), json.Number("3"), json.Number("3")}, "o": map[string]any{"k": "v"}}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := parseIntrinsic(s)
		if err != nil {
			return
		}
		n := uint64(0)
		v, err := c.eval(&intrinsicEnv{input: input, ctx: map[string]any{}, rand: func() uint64 { n++; return splitmix(n) }})
		if err != nil {
			var f *Failure
			if !errors.As(err, &f) || !strings.HasPrefix(f.Name, "States.") {
				t.Fatalf("%q: error %v", s, err)
			}
			return
		}
		_ = encodeJSON(v)
	})
}

// FuzzPaths: compiling and applying any path or reference path does not
// panic, and a reference path writes where a query then finds it.
func FuzzPaths(f *testing.F) {
	for _, s := range []string{"$", "$.a", "$.a.b[0]", "$['a b']", "$..x", "$.a[*]", "$.l[?(@ > 1)]", "$$.Execution.Id", "$.a[1:2]"} {
		f.Add(s)
	}
	doc := map[string]any{"a": map[string]any{"b": []any{json.Number("1")}}, "l": []any{json.Number("1"), json.Number("2")}}
	f.Fuzz(func(t *testing.T, s string) {
		if p, err := compilePath(s); err == nil {
			_, _ = p.eval(doc, doc, nil)
		}
		rp, err := parseRefPath(s)
		if err != nil {
			return
		}
		out, err := rp.set(doc, "v")
		if err != nil {
			return
		}
		if len(rp.steps) == 0 {
			if out != "v" {
				t.Fatalf("%q: set gave %v", s, out)
			}
			return
		}
		// Read back through the same steps.
		cur := out
		for _, st := range rp.steps {
			switch c := cur.(type) {
			case map[string]any:
				cur = c[st.name]
			case []any:
				cur = c[st.index]
			default:
				t.Fatalf("%q: path broken at %v in %v", s, st, out)
			}
		}
		if cur != "v" {
			t.Fatalf("%q: wrote %v, read %v", s, "v", cur)
		}
	})
}

// FuzzJSONata: no "{% ... %}" string panics the compiler or an
// evaluation; an evaluation ends in a JSON value or a
// States.QueryEvaluationError.
func FuzzJSONata(f *testing.F) {
	for _, s := range []string{"{% $states.input.a %}", "{% $partition([1,2,3], 2) %}", "{% $range(1, 5, 1) %}",
		"{% $hash('x', 'MD5') %}", "{% $random(1) %}", "{% $uuid() %}", "{% $parse('[1]') %}", "{% $v.b[0] %}",
		"{% ($x := 3; $x * $x) %}", "{% $map([1,2], function($i) { $i * 2 }) %}", "{% $now('[Y0001]') %}",
		"{% $assert(false, 'no') %}", "{% $states.context.Execution.Id %}", "{% {'a': $states.input} %}", "{% %}", "{%%}",
		"{% $pad('', 1e9) %}", "{% $join($map([1..100], function() { 'x' })) %}", "{% $string([[1,2],[3]]) %}",
		"{% $replace('aaa', /a/, 'bb') %}", "{% $split('a,b', ',') %}", "{% $append([1], [2]) %}", "{% $lookup($v, 'b') %}",
		"{% ($a := [1..10]; $a.$a) %}", "{% 'a' & 'b' %}", "{% $spread({'a': 1}) %}", "{% $zip([1], [2]) %}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !isJSONataString(s) {
			if strings.HasPrefix(s, "{%") && strings.HasSuffix(s, "%}") && len(s) >= 4 {
				t.Fatalf("%q is an expression", s)
			}
			return
		}
		x, err := compileJSONata(s)
		if err != nil {
			return
		}
		sc := &scope{}
		sc.set(map[string]any{"v": map[string]any{"b": []any{json.Number("1")}}})
		var n uint64
		env := &jenv{input: map[string]any{"a": json.Number("2")}, ctx: map[string]any{"Execution": map[string]any{"Id": "x"}}, vars: sc,
			rand: func() uint64 { n++; return splitmix(n) }, now: time.Unix(1700000000, 0)}
		v, err := x.eval(env, "Output")
		checkBudgeted(t, s, env, v, err)
	})
}

// checkBudgeted: an evaluation fails as Step Functions names it or
// returns JSON within the limit, having built no more than its budget
// (plus the one string or array that passed it).
func checkBudgeted(t *testing.T, s string, env *jenv, v any, err error) {
	t.Helper()
	var fl *Failure
	switch {
	case errors.As(err, &fl):
		if fl.Name != ErrQueryEvaluationError && fl.Name != ErrDataLimitExceeded {
			t.Fatalf("%q failed with %s", s, fl.Name)
		}
	case err != nil:
		t.Fatalf("%q: %v", s, err)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("%q returned %T", s, v)
		}
		if len(b) > maxJSONataString {
			t.Fatalf("%q returned %d bytes", s, len(b))
		}
	}
	if env.budget.bytes > maxJSONataBytes+2*maxJSONataString {
		t.Fatalf("%q built %d bytes", s, env.budget.bytes)
	}
}

// FuzzJSONataBuiltins calls the built-ins whose output can outgrow
// their input with fuzzed arguments: each stays within its budget.
func FuzzJSONataBuiltins(f *testing.F) {
	f.Add(uint8(0), "ab", "c", 5.0, 3)
	f.Add(uint8(1), "", "x", 1e9, 1000)
	f.Add(uint8(3), "aaaa", "a", 2.0, 100)
	f.Add(uint8(6), "a,b", ",", -1.0, 10)
	f.Add(uint8(10), "#,##0;o", "", 1234567.0, 0)
	f.Add(uint8(11), "0", "9", 1e300, 2000)
	f.Add(uint8(12), "four million, and one", "w", 0.0, 0)
	f.Add(uint8(13), "", "Ww;o", 1e308, 0)
	f.Add(uint8(13), "", "I", 1e9, 0)
	f.Add(uint8(14), "é", "\u0100", 0.0, 50)
	f.Add(uint8(15), "xy", "", 0.0, 2000)
	f.Fuzz(func(t *testing.T, fn uint8, a, b string, n float64, k int) {
		k %= 3000
		q := func(s string) string { return strconv.Quote(s) }
		args := fmt.Sprintf("$pad(%s, %g, %s)", q(a), n, q(b))
		switch fn % 16 {
		case 1:
			args = fmt.Sprintf("$join($map([1..%d], function() { %s }), %s)", k, q(a), q(b))
		case 2:
			args = fmt.Sprintf("($x := $map([1..%d], function() { %s }); $string($map([1..%d], function() { $x })))", k, q(a), k)
		case 3:
			if b != "" {
				args = fmt.Sprintf("$replace(%s, %s, $pad(%s, %d, 'z'))", q(strings.Repeat(a, max(k, 0)%200)), q(b), q(a), k)
			}
		case 4:
			args = fmt.Sprintf("$split($pad(%s, %d, 'a'), %s)", q(a), k*k, q(b))
		case 5:
			args = fmt.Sprintf("($x := $map([1..%d], function() { [1..%d] }); $count($x.$x))", k, k)
		case 6:
			args = fmt.Sprintf("($f := function($s, $n) { $n <= 0 ? $s : $f($s & $s, $n - 1) }; $length($f(%s, %d)))", q(a), k%64)
		case 7:
			args = fmt.Sprintf("($f := function($a, $n) { $n <= 0 ? $count($a) : $f($append($a, $a), $n - 1) }; $f([%s], %d))", q(a), k%64)
		case 8:
			args = fmt.Sprintf("($o := {%s: [1..%d]}; $lookup($map([1..%d], function() { $o }), %s))", q(a), k, k, q(a))
		case 9:
			args = fmt.Sprintf("$replace(%s, /%s/, %s)", q(strings.Repeat(a, max(k, 0)%500)), regexp.QuoteMeta(strings.ReplaceAll(b, "/", "")), q(strings.Repeat(b, 10)))
		case 10:
			args = fmt.Sprintf("$formatInteger(%g, %s)", n, q(a))
		case 11:
			args = fmt.Sprintf("$formatInteger(%g, $pad(%s, %d, %s))", n, q(a), k, q(b))
		case 12:
			args = fmt.Sprintf("$parseInteger(%s, %s)", q(a), q(b))
		case 13:
			args = fmt.Sprintf("$parseInteger($formatInteger(%g, %s), %s)", n, q(b), q(b))
		case 14:
			args = fmt.Sprintf("$base64decode($base64encode($pad(%s, %d, %s)))", q(a), k*k, q(b))
		case 15:
			args = fmt.Sprintf("($x := $map([1..%d], function() { %s }); $clone($map([1..%d], function() { $x })))", k, q(a), k)
		}
		x, err := compileJSONata("{% " + args + " %}")
		if err != nil {
			return
		}
		env := &jenv{vars: &scope{}, rand: func() uint64 { return 1 }, now: time.Unix(1700000000, 0)}
		v, err := x.eval(env, "Output")
		checkBudgeted(t, args, env, v, err)
	})
}

// FuzzItemReader: no object panics the ItemReader's parsers; a CSV's
// items are objects with one string per header.
func FuzzItemReader(f *testing.F) {
	for _, s := range []string{"a,b\n1,2\n3,4\n", "a;b\n\"x;y\",2\n", "[1, {\"a\": 2}]", "{\"a\":1}\n{\"a\":2}\n", "a\n\"unterminated", "a,b\n1,2,3\n", ""} {
		f.Add([]byte(s), uint8(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, kind uint8) {
		rd := &itemReader{delimiter: ','}
		switch kind % 4 {
		case 0:
			rd.inputType, rd.headerFirst = "CSV", true
		case 1:
			rd.inputType, rd.headers, rd.delimiter = "CSV", []string{"x", "y"}, ';'
		case 2:
			rd.inputType = "JSON"
		case 3:
			rd.inputType = "JSONL"
		}
		items, err := parseItems(data, rd)
		if err != nil || rd.inputType != "CSV" {
			return
		}
		for _, it := range items {
			m, ok := it.(map[string]any)
			if !ok {
				t.Fatalf("a CSV item is %T", it)
			}
			for k, v := range m {
				if _, ok := v.(string); !ok {
					t.Fatalf("field %q is %T", k, v)
				}
			}
		}
	})
}

// FuzzLoggingConfiguration: no LoggingConfiguration panics its parser;
// one it accepts names a log group and a level, and its records are
// JSON.
func FuzzLoggingConfiguration(f *testing.F) {
	for _, s := range []string{
		`{"level":"ALL","includeExecutionData":true,"destinations":[{"cloudWatchLogsLogGroup":{"logGroupArn":"arn:aws:logs:us-east-1:1:log-group:/g:*"}}]}`,
		`{"level":"OFF"}`, `{"level":"ERROR","destinations":[]}`, `null`, `[]`,
		`{"level":"FATAL","destinations":[{"cloudWatchLogsLogGroup":{"logGroupArn":"arn:aws:logs:x:1:log-group::*"}}]}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := parseLogging(json.RawMessage(raw))
		if err != nil || c == nil {
			return
		}
		if c.group == "" || (c.Level != "ALL" && c.Level != "ERROR" && c.Level != "FATAL") {
			t.Fatalf("accepted %q as group %q level %q", raw, c.group, c.Level)
		}
		rec := logRecord(&Event{ID: 1, Type: "ExecutionFailed", Details: map[string]any{"input": raw}}, "arn", 0, c.IncludeExecutionData)
		if !json.Valid([]byte(rec)) {
			t.Fatalf("record %q is not JSON", rec)
		}
	})
}

// FuzzRedriveVoids: no journal (any keys and types, redrives among
// them) panics the computation of what a redrive voids, and every
// position it voids resolves, after the redrive, to a key of its own.
func FuzzRedriveVoids(f *testing.F) {
	f.Add("r/0 ExecutionStarted\nr/1 TaskStateEntered\nr/2 TaskFailed\nr/3 ExecutionFailed")
	f.Add("r/0 ExecutionStarted\nr/1 ParallelStateEntered\nr/3p0/0 PassStateEntered\nr/3p1/0 TaskStateEntered\nabort ExecutionAborted")
	f.Add("r/1 MapStateEntered\nr/3m0/r _ChildFailed\nr/3m0/s _ChildStarted\nr/3m1/r _ChildSucceeded\n/5p ~\nr/1~1 X")
	f.Fuzz(func(t *testing.T, journal string) {
		var evs []*Event
		for i, line := range strings.Split(journal, "\n") {
			key, typ, _ := strings.Cut(line, " ")
			evs = append(evs, &Event{Key: key, Type: typ, ID: int64(i + 1)})
		}
		void := redriveVoids(evs)
		evs = append(evs, &Event{Key: "redrive/1", Type: "ExecutionRedriven", Gen: 1, Void: void})
		var rd redirects
		for _, e := range evs {
			rd.add(e)
		}
		for _, k := range void {
			base := strings.TrimSuffix(k, "+")
			if got := rd.resolve(base); got == base {
				t.Fatalf("voided %q still resolves to itself", k)
			}
		}
	})
}

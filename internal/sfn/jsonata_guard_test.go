package sfn

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	jsonata "github.com/blues/jsonata-go"
)

// TestGuardKeepsMeaning: a guarded expression (functions and ranges
// rewritten) evaluates as the original does.
func TestGuardKeepsMeaning(t *testing.T) {
	input := map[string]any{"items": []any{map[string]any{"n": "a\"b", "p": 2.0}, map[string]any{"n": "c'd", "p": 1.0}}, "s": "x/y"}
	for _, src := range []string{
		`$map($in.items, function($i, $k) { {"name": $i.n & "\"" & 'q', "k": $k, "r": [1..3]} })`,
		`$reduce([1..10], function($a, $b) { $a + $b })`,
		`$filter($in.items, λ($v) { $v.p > 1 })`,
		`$in.items^(>p).n`,
		`$in.items{n: $sum(p)}`,
		`$sort($in.items, function($l, $r) { $l.p > $r.p }).n`,
		`($f := function($n) { $n <= 1 ? 1 : $n * $f($n - 1) }; $f(10))`,
		`$match($in.s, /[a-z]\/y/i).match`,
		`$in.items[p > 1 and $contains(n, 'a')].n`,
		`$sift({"a": 1, "b": 2}, function($v, $k) { $k = "b" })`,
		`$in.items ~> $map(function($i) { $i.p * 2 }) ~> $sum()`,
		`$each({"a": 1}, function($v, $k) { $k & $string($v) })`,
		`[1..3].($ * 2)`,
		`function($x)<n:n>{ $x * 2 }(21)`,
	} {
		orig, err := jsonata.Compile(src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if err := orig.RegisterVars(map[string]any{"in": input}); err != nil {
			t.Fatal(err)
		}
		want, werr := orig.Eval(nil)
		g, _, err := guard(src)
		if err != nil {
			t.Fatalf("guard %s: %v", src, err)
		}
		if g == src && (strings.Contains(src, "function") || strings.Contains(src, "..")) {
			t.Errorf("%s was not rewritten", src)
		}
		x, err := compileJSONata("{% " + src + " %}")
		if err != nil {
			t.Fatalf("%s -> %s: %v", src, g, err)
		}
		got, gerr := x.eval(&jenv{vars: &scope{vals: map[string]any{"in": input}}, rand: func() uint64 { return 1 }, now: time.Now()}, "Output")
		if werr != nil {
			if gerr == nil {
				t.Errorf("%s: guarded gave %v, original failed with %v", src, got, werr)
			}
			continue
		}
		wj, _ := json.Marshal(want)
		gj, _ := json.Marshal(got)
		if gerr != nil || !reflect.DeepEqual(normalize(wj), normalize(gj)) {
			t.Errorf("%s (guarded %s): %s %v, want %s", src, g, gj, gerr, wj)
		}
	}
}

func normalize(b []byte) any {
	var v any
	_ = json.Unmarshal(b, &v)
	return v
}

// TestGuardStopsRunaways: unbounded recursion, too many calls and huge
// ranges end in States.QueryEvaluationError instead of killing the node.
func TestGuardStopsRunaways(t *testing.T) {
	for _, src := range []string{
		`($f := function($n) { $f($n + 1) }; $f(0))`,
		`($y := function($g) { $g($g) }; $y($y))`,
		`$map([1..1000], function($i) { $map([1..1000], function($j) { $j }) })`,
		`$count([1..9999999].([1..9999999]))`,
	} {
		x, err := compileJSONata("{% " + src + " %}")
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		_, err = x.eval(&jenv{vars: &scope{}, rand: func() uint64 { return 1 }, now: time.Now()}, "Output")
		var f *Failure
		if !errors.As(err, &f) || f.Name != ErrQueryEvaluationError || !strings.Contains(f.Cause, "than") {
			t.Errorf("%s: %v", src, err)
		}
	}
	if _, err := compileJSONata("{% $__exit(true, 1) %}"); err == nil {
		t.Error("a reserved name compiled")
	}
}

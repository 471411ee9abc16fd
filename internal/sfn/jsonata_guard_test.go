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
		// The budgeted built-ins and the checked steps and concatenations.
		`$pad("ab", 6, "#") & $pad("ab", -6) & $pad("ab", 1)`,
		`$join(["a", "b"], "-") & $join($in.items.n) & $join("x")`,
		`$replace("abcabc", "b", "X") & $replace("abcabc", "c", "", 1)`,
		`$replace("abcabc", /(b)(c)/, "[$2$1$0$$$9$]")`,
		`$replace("a1b22c", /[0-9]+/, function($m) { "<" & $m.match & ">" }, 1)`,
		`$replace("abc", /x*/, "-")`,
		`[$split("a,b,,c", ","), $split("a,b,,c", ",", 2), $split("abc", ""), $split("a1b22c", /[0-9]+/)]`,
		`$match("a1b22c", /([0-9])+/)`,
		`[$contains("abc", /b/), $contains("abc", "d")]`,
		`[$append([1, 2], 3), $append(1, [2]), $append($in.nothing, 1)]`,
		`$zip([1, 2, 3], [4, 5])`,
		`[$spread([{"a": 1}, {"b": 2}]), $spread({"a": 1})]`,
		`[$lookup($in.items, "n"), $lookup({"a": [5]}, "a"), $lookup({"a": 1}, "a")]`,
		`$string($in) & $string(1) & $string("s")`,
		`$map($in.items.n, $uppercase) ~> $join(",")`,
		`$in.items.($.n & "!")`,
		`$in.items[0].n`,
		`$in.*.n`,
		`$in.**.p`,
		`$in.items.{"k": n}`,
		`$in.items.[n]`,
		`($string := function($v) { "mine" }; $string(1))`,
		`$map([1, 2], function($pad) { $pad * 2 })`,
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
		// Memory: one call asking for gigabytes, or a value shared many
		// times spelled out, joined, flattened or doubled.
		`$pad('', 1e9)`,
		`$pad('x', -1e9, '€')`,
		`($a := $map([1..100], function() { $pad('', 1000, 'x') }); $join($map([1..100], function() { $join($a) })))`,
		`($a := [1..1000]; $b := $map([1..1000], function() { $a }); $string($map([1..1000], function() { $b })))`,
		`($a := [1..1000]; $b := $map([1..1000], function() { $a }); $count($map([1..1000], function() { $b }).$.$))`,
		`($a := [1..1000]; $b := $map([1..1000], function() { {"a": $a} }); $count($lookup($map([1..1000], function() { $b }).$, "a")))`,
		`($f := function($s, $n) { $n = 0 ? $s : $f($s & $s, $n - 1) }; $length($f("x", 40)))`,
		`($f := function($a, $n) { $n = 0 ? $count($a) : $f($append($a, $a), $n - 1) }; $f([1], 40))`,
		`$replace($pad('', 100000, 'a'), 'a', $pad('', 1000, 'b'))`,
		`$replace($pad('', 10000, 'a'), /a/, $pad('', 1000, 'b'))`,
		`$count($split($pad('', 8000000, 'a'), ''))`,
		`($o := $merge($map([1..1000], function($i) { {$string($i): $i} })); $count($spread($map([1..1000], function() { $o }))))`,
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
	for _, src := range []string{"__pad('', 1)", "__items(1)", "__cat('a')"} {
		if _, err := compileJSONata("{% $" + src + " %}"); err == nil {
			t.Errorf("%s compiled", src)
		}
	}
	if _, err := compileJSONata("{% $__exit(true, 1) %}"); err == nil {
		t.Error("a reserved name compiled")
	}
}

// TestBudgetedResultTooLarge: a value too large to spell as JSON (one
// array shared a million times) fails as States.DataLimitExceeded
// before it is turned into JSON.
func TestBudgetedResultTooLarge(t *testing.T) {
	x, err := compileJSONata(`{% ($a := [1..1000]; $b := $map([1..1000], function() { $a }); $map([1..1000], function() { $b })) %}`)
	if err != nil {
		t.Fatal(err)
	}
	_, err = x.eval(&jenv{vars: &scope{}, rand: func() uint64 { return 1 }, now: time.Now()}, "Output")
	var f *Failure
	if !errors.As(err, &f) || f.Name != ErrDataLimitExceeded {
		t.Errorf("%v", err)
	}
}

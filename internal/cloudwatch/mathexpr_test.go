package cloudwatch

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

func TestParseExprPrecedence(t *testing.T) {
	env := &evalEnv{resolve: func(string) (mval, error) { return mval{kind: 'n', num: 3}, nil }}
	for src, want := range map[string]float64{
		"1 + 2 * 3": 7, "(1 + 2) * 3": 9, "2 ^ 3 ^ 2": 512, "-2 ^ 2": -4, "10 - 4 - 3": 3, "a * 2": 6,
		"1 < 2 AND 3 > 4": 0, "1 < 2 OR 3 > 4": 1, "NOT 0": 1, "8 / 2 / 2": 2, "1e2 + .5": 100.5, "IF(1, 5, 6)": 5,
	} {
		n, err := parseExpr(src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		v, err := env.eval(n)
		if err != nil || v.kind != 'n' || v.num != want {
			t.Errorf("%s = %+v %v, want %v", src, v, err, want)
		}
	}
	for _, bad := range []string{"", "1 +", "(1", "FOO(1)", "1 2", "a b", "$", "SUM()"} {
		n, err := parseExpr(bad)
		if err == nil {
			if _, err = env.eval(n); err == nil {
				t.Errorf("%q: no error", bad)
			}
		}
	}
}

// TestSketchQuantiles: past the exact values, quantiles stay within 1%
// of the nearest-rank value computed here.
func TestSketchQuantiles(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var d dist
	var vals []float64
	for range 20000 {
		v := math.Exp(r.NormFloat64()*2) * 100
		vals = append(vals, v)
		d.add(v, 1)
	}
	sort.Float64s(vals)
	for _, q := range []float64{0.5, 0.9, 0.99} {
		want := vals[int(math.Ceil(q*float64(len(vals))))-1]
		got, ok := d.quantile(q)
		if !ok || math.Abs(got-want)/want > 0.01 {
			t.Errorf("p%v = %v, want %v within 1%%", q*100, got, want)
		}
	}
}

package cli

import (
	"math"
	"testing"
)

func TestQuantile(t *testing.T) {
	// 100 observations: 50 under 10 ms, 40 more under 100 ms, 10 under 1 s.
	b := map[float64]float64{0.01: 50, 0.1: 90, 1: 100, math.Inf(1): 100}
	for _, c := range []struct{ q, want float64 }{{0.5, 0.01}, {0.25, 0.005}, {0.9, 0.1}, {0.95, 0.55}} {
		if got := quantile(c.q, b, 100); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("quantile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
	// Everything in the +Inf bucket: the highest finite bound.
	if got := quantile(0.99, map[float64]float64{1: 0, math.Inf(1): 5}, 5); got != 1 {
		t.Errorf("+Inf quantile = %v", got)
	}
}

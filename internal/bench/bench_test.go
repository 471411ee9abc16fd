package bench

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestLatencyPercentiles(t *testing.T) {
	var s []time.Duration
	for i := 1000; i >= 1; i-- { // unsorted on purpose
		s = append(s, time.Duration(i)*time.Millisecond)
	}
	l := latencyOf(s)
	if l.N != 1000 || l.P50 != 500 || l.P99 != 990 || l.P999 != 999 {
		t.Errorf("latencyOf = %+v", l)
	}
	if (latencyOf(nil) != Latency{}) {
		t.Error("empty samples")
	}
}

func TestRuntimeVersionOrder(t *testing.T) {
	if !runtimeVersionLess("python3.9", "python3.12") || runtimeVersionLess("nodejs24.x", "nodejs18.x") {
		t.Error("runtime versions compare as text")
	}
}

func TestWriteText(t *testing.T) {
	rep := &Report{
		Warm:       Warm{Invoke: Latency{N: 1, P50: 0.5}, Echo: Latency{N: 1, P50: 0.1}, RatioP50: 5},
		Throughput: []ThroughputPoint{{Target: "go", Concurrency: 4, RPS: 1000, Ratio: 0.25}},
		ColdStarts: []ColdStart{{Runtime: "provided.al2023", Init: Latency{N: 3, P50: 5}}},
		Memory:     []Memory{{Runtime: "python3.12", Environments: 2, FunctionPSSKB: 9000, PlatformOverheadKB: 1500}},
	}
	var buf bytes.Buffer
	if err := rep.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"5.00×", "25%", "provided.al2023", "9000", "1500"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, buf.String())
		}
	}
}

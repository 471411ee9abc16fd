package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCompareFromJSON(t *testing.T) {
	other := &Report{Machine: Machine{CPUs: 2},
		CLIStart:   CLIStart{P50: 40},
		ColdStarts: []ColdStart{{Runtime: "provided.al2023", Init: Latency{N: 20, P50: 20, P99: 80}, Total: Latency{N: 20, P50: 40}}},
		ScaleOut:   ScaleOut{PerSecond: 50},
		Throughput: []ThroughputPoint{{Target: "echo", Concurrency: 8, RPS: 9000}, {Target: "go", Concurrency: 8, RPS: 2000}},
		Objects:    &Objects{Put4K: 1000, List: Latency{N: 100, P50: 8}},
	}
	this := &Report{Machine: Machine{CPUs: 2},
		CLIStart:   CLIStart{P50: 20},
		ColdStarts: []ColdStart{{Runtime: "provided.al2023", Init: Latency{N: 20, P50: 10, P99: 40}, Total: Latency{N: 20, P50: 30}}},
		ScaleOut:   ScaleOut{PerSecond: 200},
		Throughput: []ThroughputPoint{{Target: "echo", Concurrency: 8, RPS: 9000}, {Target: "go", Concurrency: 8, RPS: 3000}},
		Objects:    &Objects{Put4K: 2000, List: Latency{N: 100, P50: 4}},
	}
	path := filepath.Join(t.TempDir(), "old.json")
	data, _ := json.Marshal(other)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := LoadOther(context.Background(), path, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cs := Compare(this, got)
	want := map[string]float64{
		"CLI start p50 ms":                   0.5,
		"provided.al2023 cold init p50 ms":   0.5,
		"provided.al2023 cold init p99 ms":   0.5,
		"provided.al2023 cold total p50 ms":  0.75,
		"scale-out environments/s":           4,
		"go req/s at 8":                      1.5,
		"S3 PutObject 4 KB/s":                2,
		"S3 ListObjectsV2 1,000 keys p50 ms": 0.5,
	}
	for _, c := range cs {
		if c.Figure == "echo req/s at 8" {
			t.Error("the echo baseline is compared")
		}
		if w, ok := want[c.Figure]; ok {
			if c.Ratio != w {
				t.Errorf("%s: ratio %v, want %v", c.Figure, c.Ratio, w)
			}
			delete(want, c.Figure)
		}
	}
	if len(want) > 0 {
		t.Errorf("figures missing: %v", want)
	}
	// A --compare run's own JSON can be compared with in turn.
	data, _ = json.Marshal(Compared{This: this, Other: got, Comparison: cs})
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if again, err := LoadOther(context.Background(), path, nil, nil); err != nil || again.ScaleOut.PerSecond != 200 {
		t.Errorf("a --compare report: %+v, %v", again, err)
	}
	var buf bytes.Buffer
	if err := WriteComparison(&buf, cs, path); err != nil || !strings.Contains(buf.String(), "0.500×") {
		t.Errorf("WriteComparison: %v\n%s", err, buf.String())
	}
	// Something else is refused by name.
	if err := os.WriteFile(path, []byte(`{"foo":1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOther(context.Background(), path, nil, nil); err == nil || !strings.Contains(err.Error(), "not a bench report") {
		t.Errorf("a non-report: %v", err)
	}
}

package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// CLIStart is how long the nimbus command takes to start and exit
// (`nimbus version`: process start, the runtime, every package's init,
// the command tree), beside a baseline process started the same way in
// the same run (/bin/true: the floor of fork, exec and wait here). Times
// are the median wall time of Runs runs; MaxRSSKB is the largest peak RSS
// of the nimbus runs.
type CLIStart struct {
	Command     string  `json:"command"`
	Runs        int     `json:"runs"`
	P50         float64 `json:"p50_ms"`
	Baseline    string  `json:"baseline"`
	BaselineP50 float64 `json:"baseline_p50_ms"`
	Ratio       float64 `json:"ratio_to_baseline"`
	MaxRSSKB    int64   `json:"max_rss_kb"`
}

// cliStart measures the CLI's start time: runs of `bin version` and of
// baseline, interleaved so drift in the machine's load hits both alike.
func cliStart(ctx context.Context, bin, baseline string, runs int) (CLIStart, error) {
	out := CLIStart{Command: bin + " version", Runs: runs, Baseline: baseline}
	var cli, base []time.Duration
	for range runs {
		d, rss, err := timeRun(ctx, bin, "version")
		if err != nil {
			return out, err
		}
		cli = append(cli, d)
		out.MaxRSSKB = max(out.MaxRSSKB, rss)
		d, _, err = timeRun(ctx, baseline)
		if err != nil {
			return out, err
		}
		base = append(base, d)
	}
	out.P50, out.BaselineP50 = latencyOf(cli).P50, latencyOf(base).P50
	out.Ratio = ratio(out.P50, out.BaselineP50)
	return out, nil
}

// timeRun runs a command to its end and returns its wall time and peak
// RSS in KB.
func timeRun(ctx context.Context, bin string, args ...string) (time.Duration, int64, error) {
	cmd := exec.CommandContext(ctx, bin, args...) // #nosec G204 -- the nimbus binary itself and /bin/true
	cmd.Env = os.Environ()
	t0 := time.Now()
	err := cmd.Run()
	d := time.Since(t0)
	if err != nil {
		return 0, 0, fmt.Errorf("run %s: %w", bin, err)
	}
	return d, maxRSSKB(cmd.ProcessState), nil
}

// cliStartDefaults are the binary measured (this one) and the baseline.
func cliStartDefaults() (string, string, error) {
	self, err := selfBinary()
	if err != nil {
		return "", "", err
	}
	base, err := exec.LookPath("true")
	if err != nil {
		return "", "", fmt.Errorf("find true(1) for the CLI start baseline: %w", err)
	}
	return self, base, nil
}

// selfBinary is this process's binary, to run as nimbus. A Go test binary
// is refused: run with `version` (or `server`) it would run its tests
// again, which run the bench again — a fork storm. Tests name the binary.
func selfBinary() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find the nimbus binary: %w", err)
	}
	if strings.HasSuffix(filepath.Base(self), ".test") {
		return "", fmt.Errorf("%s is a Go test binary, not nimbus: name the nimbus binary to run (Options.CLI, ClusterOptions.Binary)", self)
	}
	return self, nil
}

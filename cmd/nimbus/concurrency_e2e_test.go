package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestConcurrencyWithAWSCLI drives the concurrency APIs with the AWS CLIs.
func TestConcurrencyWithAWSCLI(t *testing.T) {
	t.Parallel()
	clis := awsCLIs(t)
	endpoint := startServer(t)
	env := append(awsEnv(endpoint), "AWS_MAX_ATTEMPTS=1", "AWS_RETRY_MODE=standard")
	zip := helloZip(t, "hello-go")
	for version, awsPath := range clis {
		t.Run(version, func(t *testing.T) {
			work := t.TempDir()
			aws := func(args ...string) (string, string, error) {
				return run(t, env, work, awsPath, append([]string{"--endpoint-url", endpoint, "--output", "json"}, args...)...)
			}
			name := "conc-" + version
			if out, errOut, err := aws("lambda", "create-function", "--function-name", name,
				"--runtime", "provided.al2023", "--handler", "bootstrap",
				"--role", "arn:aws:iam::000000000000:role/lambda", "--zip-file", "fileb://"+zip); err != nil {
				t.Fatalf("create-function: %v\n%s%s", err, out, errOut)
			}
			out, errOut, err := aws("lambda", "put-function-concurrency", "--function-name", name, "--reserved-concurrent-executions", "0")
			if err != nil || !strings.Contains(out, `"ReservedConcurrentExecutions": 0`) {
				t.Fatalf("put-function-concurrency: %v\n%s%s", err, out, errOut)
			}
			_, errOut, err = aws("lambda", "invoke", "--function-name", name, "out.json")
			if err == nil || !strings.Contains(errOut, "TooManyRequestsException") {
				t.Fatalf("invoke with reserved 0: %v\n%s", err, errOut)
			}
			out, _, err = aws("lambda", "get-function-concurrency", "--function-name", name)
			if err != nil || !strings.Contains(out, `"ReservedConcurrentExecutions": 0`) {
				t.Errorf("get-function-concurrency: %v\n%s", err, out)
			}
			if _, errOut, err := aws("lambda", "delete-function-concurrency", "--function-name", name); err != nil {
				t.Fatalf("delete-function-concurrency: %v\n%s", err, errOut)
			}
			if out, errOut, err := aws("lambda", "invoke", "--function-name", name, "out.json"); err != nil {
				t.Fatalf("invoke after delete: %v\n%s%s", err, out, errOut)
			}

			if out, errOut, err := aws("lambda", "publish-version", "--function-name", name); err != nil {
				t.Fatalf("publish-version: %v\n%s%s", err, out, errOut)
			}
			out, errOut, err = aws("lambda", "put-provisioned-concurrency-config", "--function-name", name,
				"--qualifier", "1", "--provisioned-concurrent-executions", "1")
			if err != nil || !strings.Contains(out, `"Status": "IN_PROGRESS"`) {
				t.Fatalf("put-provisioned-concurrency-config: %v\n%s%s", err, out, errOut)
			}
			var st struct{ Status, StatusReason string }
			for deadline := time.Now().Add(60 * time.Second); ; {
				out, errOut, err = aws("lambda", "get-provisioned-concurrency-config", "--function-name", name, "--qualifier", "1")
				if err != nil || json.Unmarshal([]byte(out), &st) != nil {
					t.Fatalf("get-provisioned-concurrency-config: %v\n%s%s", err, out, errOut)
				}
				if st.Status != "IN_PROGRESS" || time.Now().After(deadline) {
					break
				}
			}
			if st.Status != "READY" {
				t.Fatalf("provisioned concurrency: %+v", st)
			}
			out, _, err = aws("lambda", "list-provisioned-concurrency-configs", "--function-name", name)
			if err != nil || !strings.Contains(out, `function:`+name+`:1"`) {
				t.Errorf("list-provisioned-concurrency-configs: %v\n%s", err, out)
			}
			out, _, err = aws("lambda", "get-account-settings")
			if err != nil || !strings.Contains(out, `"UnreservedConcurrentExecutions"`) {
				t.Errorf("get-account-settings: %v\n%s", err, out)
			}
			if _, errOut, err := aws("lambda", "delete-provisioned-concurrency-config", "--function-name", name, "--qualifier", "1"); err != nil {
				t.Errorf("delete-provisioned-concurrency-config: %v\n%s", err, errOut)
			}
		})
	}
}

// TestBenchSmoke runs a tiny `nimbus bench --json` and checks its report
// holds measurements.
func TestBenchSmoke(t *testing.T) {
	out, errOut, err := run(t, nil, moduleRoot(t), nimbusBin, "bench", "--json", "--runtimes", "go",
		"--requests", "50", "--duration", "200ms", "--concurrency", "1", "--cold-starts", "2",
		"--scale-out", "4", "--idle-envs", "2", "--cli-starts", "2")
	if err != nil {
		t.Fatalf("nimbus bench: %v\n%s%s", err, out, errOut)
	}
	var rep struct {
		CLIStart struct {
			Runs        int     `json:"runs"`
			P50         float64 `json:"p50_ms"`
			BaselineP50 float64 `json:"baseline_p50_ms"`
		} `json:"cli_start"`
		Warm struct {
			Invoke, Echo struct {
				N   int     `json:"n"`
				P50 float64 `json:"p50_ms"`
			}
		} `json:"warm_latency"`
		Throughput []struct{ RPS float64 } `json:"throughput"`
		ColdStarts []struct {
			Init struct {
				N int `json:"n"`
			} `json:"init"`
		} `json:"cold_starts"`
		ScaleOut struct {
			Distinct int `json:"distinct_environments"`
		} `json:"scale_out"`
		Memory []struct {
			FunctionPSSKB int `json:"function_pss_kb"`
		} `json:"idle_memory"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("bench JSON: %v\n%s", err, out)
	}
	// --requests 50: 50 samples of each (two interleaved halves of 25).
	if rep.Warm.Invoke.N != 50 || rep.Warm.Echo.N != 50 || rep.Warm.Invoke.P50 <= 0 || rep.Warm.Echo.P50 <= 0 || len(rep.Throughput) != 2 ||
		len(rep.ColdStarts) != 1 || rep.ColdStarts[0].Init.N != 2 || rep.ScaleOut.Distinct != 4 || len(rep.Memory) != 1 {
		t.Errorf("bench report: %s", out)
	}
	if rep.CLIStart.Runs != 2 || rep.CLIStart.P50 <= 0 || rep.CLIStart.BaselineP50 <= 0 {
		t.Errorf("bench CLI start: %+v", rep.CLIStart)
	}
}

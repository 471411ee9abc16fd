package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/nimbus-serverless/nimbus/internal/eventpattern"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
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
		CLIStart:   CLIStart{Runs: 5, P50: 12.5, Baseline: "/bin/true", BaselineP50: 0.5, Ratio: 25, MaxRSSKB: 31000},
		Warm:       Warm{Invoke: Latency{N: 1, P50: 0.5}, Echo: Latency{N: 1, P50: 0.1}, RatioP50: 5},
		Throughput: []ThroughputPoint{{Target: "go", Concurrency: 4, RPS: 1000, Ratio: 0.25}},
		ColdStarts: []ColdStart{{Runtime: "provided.al2023", Init: Latency{N: 3, P50: 5},
			Phases: &Phases{N: 3, MountRoot: 1.75, RuntimeInit: 2.25, SpareShare: 1}}},
		ScaleOut: ScaleOut{Environments: 100, Distinct: 100, Seconds: 0.5, PerSecond: 200, ToHandler: Latency{N: 100, P50: 250, P99: 480}},
		Memory:   []Memory{{Runtime: "python3.12", Environments: 2, FunctionPSSKB: 9000, PlatformOverheadKB: 1500}},
		Objects: &Objects{Clients: 16, Put4K: 2100, DiskSmall: 7000, PutRatio: 0.3, BigMB: 256, PutBigMBs: 300.5, DiskWriteMBs: 500,
			PutBigShare: 0.6, ListKeys: 1995, List: Latency{N: 100, P50: 4.25}},
	}
	var buf bytes.Buffer
	if err := rep.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CLI START", "12.50", "25.00×", "31000", "5.00×", "25%", "provided.al2023", "9000", "1500",
		"COLD-START BREAKDOWN", "mount root", "1.75", "2.25", "to handler p50", "480.0",
		"OBJECTS", "2100", "30% of the disk floor", "300.5", "60%", "bucket of 1995 keys", "4.25 ms"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, buf.String())
		}
	}
}

// warm takes Requests samples of each target in all (two interleaved
// halves), not Requests per half.
func TestWarmSampleCount(t *testing.T) {
	var invokes, echoes atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/echo" {
			echoes.Add(1)
		} else {
			invokes.Add(1)
		}
		_, _ = w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	for _, n := range []int{50, 51} {
		invokes.Store(0)
		echoes.Store(0)
		r := &runner{opts: Options{Requests: n}, region: "us-east-1", signer: v4.NewSigner(), api: srv.URL, hc: srv.Client(),
			creds: aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret"}, logf: func(string, ...any) {}}
		rep := &Report{}
		if err := r.warm(context.Background(), rep, srv.URL+"/echo"); err != nil {
			t.Fatal(err)
		}
		if rep.Warm.Invoke.N != n || rep.Warm.Echo.N != n {
			t.Errorf("--requests %d: n = %d invokes, %d echoes", n, rep.Warm.Invoke.N, rep.Warm.Echo.N)
		}
		// One cold start, a tenth of each half as warm-up, the samples.
		want := int64(1 + n/2/10 + (n-n/2)/10 + n)
		if invokes.Load() != want {
			t.Errorf("--requests %d: %d invokes sent, want %d", n, invokes.Load(), want)
		}
	}
}

func TestCLIStart(t *testing.T) {
	// This test binary is not nimbus: run with `version` it would run
	// these tests again.
	if _, _, err := cliStartDefaults(); err == nil || !strings.Contains(err.Error(), "Go test binary") {
		t.Fatalf("the defaults in a test binary: %v, want a refusal", err)
	}
	base, err := exec.LookPath("true")
	if err != nil {
		t.Fatal(err)
	}
	// true(1) stands in for nimbus: it exits 0 whatever its arguments.
	c, err := cliStart(context.Background(), base, base, 3)
	if err != nil {
		t.Fatal(err)
	}
	if c.Runs != 3 || c.P50 <= 0 || c.BaselineP50 <= 0 || c.MaxRSSKB <= 0 || c.Command != base+" version" {
		t.Errorf("cliStart = %+v", c)
	}
	// A command that fails is an error, not a time.
	if _, err := cliStart(context.Background(), "/nonexistent/nimbus", base, 1); err == nil {
		t.Error("a missing binary was timed")
	}
}

func TestWriteTextQueues(t *testing.T) {
	rep := &Report{Queues: &Queues{Clients: 16, EchoRPS: 4000, SendSingle: 400, RatioSingle: 0.1, SendBatch10: 2000, RatioBatch10: 0.5,
		DrainN: 6000, Drain: 1000, DrainRatio: 0.25, SendToDone: Latency{N: 50, P50: 11.5}, FanOutRatio: 1.68}}
	var buf bytes.Buffer
	if err := rep.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"QUEUES AND TOPICS (16 clients)", "SendMessageBatch of 10", "50%", "6000 msgs", "11.50", "1.68×"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, buf.String())
		}
	}
	if strings.Contains(buf.String(), "WARM INVOKE") {
		t.Errorf("a queues-only report prints the empty warm-latency section:\n%s", buf.String())
	}
}

func TestWriteTextTables(t *testing.T) {
	rep := &Report{Tables: &Tables{Clients: 16, EchoRPS: 9000, PutItem: 1000, GetItem: 5000, StreamToHandler: Latency{N: 50, P50: 12.25, P99: 40.5},
		KinesisClients: 16, KinesisBatch: 100, KinesisRecords: 43210, KinesisMB: 43.21, KinesisErrors: 2}}
	var buf bytes.Buffer
	if err := rep.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"TABLES (DynamoDB", "KINESIS PutRecords (100 records of 1,000 bytes", "43210", "43.21",
		"TABLE STREAM TO FUNCTION", "PutItem sent → Go no-op handler start", "12.25", "40.50"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, buf.String())
		}
	}
	if strings.Contains(buf.String(), "QUERY") {
		t.Errorf("a report without a Query figure prints its section:\n%s", buf.String())
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"put_item_to_stream_handler":{"n":50`, `"kinesis_put_records_per_s":43210`, `"kinesis_put_mb_per_s":43.21`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("JSON lacks %s: %s", want, b)
		}
	}
	// Without the stream and Kinesis figures, neither section prints.
	buf.Reset()
	if err := (&Report{Tables: &Tables{Clients: 16}}).WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "KINESIS") || strings.Contains(buf.String(), "STREAM TO FUNCTION") {
		t.Errorf("empty figures printed:\n%s", buf.String())
	}
}

// TestEventsBenchRules: the bench's 100 rules compile and its events
// match some of them (the matcher's figure is not of a matcher that
// rejects everything at once).
func TestEventsBenchRules(t *testing.T) {
	var pats []*eventpattern.Pattern
	for i := range eventRules {
		p, err := eventpattern.Compile(eventpattern.EventBridge, []byte(benchRule(i)))
		if err != nil {
			t.Fatalf("rule %d %s: %v", i, benchRule(i), err)
		}
		pats = append(pats, p)
	}
	set := eventpattern.NewSet(pats...)
	matched := 0
	for i := range 1000 {
		got, err := set.Match(benchEvent(i), nil)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		matched += len(got)
	}
	if matched < 1000 || matched > 1000*eventRules/2 {
		t.Fatalf("1000 events matched %d times against %d rules", matched, eventRules)
	}
}

// The large object's GET is measured from the disk only if its file's
// pages can be dropped: a run that cannot find the file fails rather
// than measuring the cache.
func TestDropCacheUnder(t *testing.T) {
	dir := t.TempDir()
	if err := durableFile(dir+"/small", make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	if err := dropCacheUnder(dir, 1<<20); err == nil {
		t.Error("no file of 1 MiB, yet no error")
	}
	if err := writeSynced(dir+"/big", make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	if err := dropCacheUnder(dir, 1<<20); err != nil {
		t.Error(err)
	}
	if err := readAll(dir+"/big", 1<<20); err != nil {
		t.Error(err)
	}
}

func TestWriteTextWorkflows(t *testing.T) {
	rep := &Report{Workflows: &Workflows{ExpressStates: 1000, ExpressTransitions: 25000, ExpressGoalRatio: 0.5, JSONataTransitions: 5000,
		JSONataRatio: 0.2, StandardClients: 16, StandardStates: 20, StandardTransitions: 3000, StandardGoalRatio: 1.5, StandardExecutions: 140,
		Sync: Latency{N: 10, P50: 2.2}, Invokes: Latency{N: 10, P50: 1.1}, SyncRatio: 2}}
	var buf bytes.Buffer
	if err := rep.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"WORKFLOWS", "chain of 1000 Pass states", "25000", "50%", "0.20×", "16 at once", "150%", "2.20", "2.00×"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, buf.String())
		}
	}
}

// TestPassChain: the bench's chains are valid JSON with n+1 states.
func TestPassChain(t *testing.T) {
	for _, jsonata := range []bool{false, true} {
		var def struct{ States map[string]json.RawMessage }
		if err := json.Unmarshal([]byte(passChain(7, jsonata)), &def); err != nil {
			t.Fatal(err)
		}
		if len(def.States) != 8 {
			t.Errorf("jsonata %v: %d states", jsonata, len(def.States))
		}
	}
}

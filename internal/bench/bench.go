// Package bench is `nimbus bench`: it starts a fresh node in-process (a
// temporary data directory, loopback only), deploys no-op functions (Go on
// provided.al2023 built from examples/noop-go with the local toolchain,
// Python, Node and Java on the host's interpreters and JDK) and measures what the design
// goals name, each beside a baseline measured in the same run with the same
// client: warm invoke latency against a plain Go HTTP echo server,
// throughput at growing concurrency against the same echo, cold starts per
// runtime, scale-out to many concurrent environments, the memory an idle
// environment costs beyond the function's own, the CLI's start time
// (`nimbus version`) against /bin/true, Step Functions' state transitions
// (Express and Standard) and a three-Lambda StartSyncExecution against
// the same three invokes (workflows.go), and CloudWatch's PutMetricData
// datapoints/s and GetMetricData latency against the same echo.
//
// Who may import it: cli. It imports daemon (to start the node), config,
// runtimes and sandbox (to name the runtimes and the isolation measured).
package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/nimbus-serverless/nimbus/internal/config"
	"github.com/nimbus-serverless/nimbus/internal/daemon"
	"github.com/nimbus-serverless/nimbus/internal/runtimes"
	"github.com/nimbus-serverless/nimbus/internal/sandbox"
)

// Options sizes a run. Zero values take the defaults, which finish in
// about two minutes on a 2-vCPU machine.
type Options struct {
	Requests    int           // warm latency samples per target (2,000)
	Concurrency []int         // throughput levels (1, 2, 4, 8)
	Duration    time.Duration // per throughput point (2 s)
	ColdStarts  int           // per runtime (20)
	ScaleOut    int           // environments started at once (50)
	IdleEnvs    int           // idle environments per runtime for the memory figures (20)
	CLIStarts   int           // runs of `nimbus version` for the CLI start time (20)
	// CLI is the nimbus binary whose start time is measured (this one when
	// empty).
	CLI string
	// Runtimes to measure, of "go", "python", "node", "java" (all available).
	Runtimes []string
	// GoSource is the directory of the Go no-op function (examples/noop-go
	// of the source tree the command runs in when empty).
	GoSource string
	// Only "queues" measures just the queues and topics section,
	// "tables" just DynamoDB's, "objects" just S3's, "workflows" just Step
	// Functions', "cloudwatch" just CloudWatch's (after the CLI start
	// time); NoQueues
	// leaves the queues section out.
	Only     string
	NoQueues bool
	// Progress, when set, gets one line per step.
	Progress io.Writer
}

// Long is a longer run (the --long flag).
func Long() Options {
	return Options{Requests: 20000, Concurrency: []int{1, 2, 4, 8, 16, 32}, Duration: 10 * time.Second,
		ColdStarts: 100, ScaleOut: 100, IdleEnvs: 50, CLIStarts: 100}
}

func (o *Options) defaults() {
	if o.Requests <= 0 {
		o.Requests = 2000
	}
	if len(o.Concurrency) == 0 {
		o.Concurrency = []int{1, 2, 4, 8}
	}
	if o.Duration <= 0 {
		o.Duration = 2 * time.Second
	}
	if o.ColdStarts <= 0 {
		o.ColdStarts = 20
	}
	if o.ScaleOut <= 0 {
		o.ScaleOut = 50
	}
	if o.IdleEnvs <= 0 {
		o.IdleEnvs = 20
	}
	if o.CLIStarts <= 0 {
		o.CLIStarts = 20
	}
	if len(o.Runtimes) == 0 {
		o.Runtimes = []string{"go", "python", "node", "java"}
	}
}

// Report is the result of a run; times are in milliseconds.
type Report struct {
	Machine    Machine           `json:"machine"`
	CLIStart   CLIStart          `json:"cli_start"`
	Warm       Warm              `json:"warm_latency"`
	Throughput []ThroughputPoint `json:"throughput"`
	ColdStarts []ColdStart       `json:"cold_starts"`
	ScaleOut   ScaleOut          `json:"scale_out"`
	Memory     []Memory          `json:"idle_memory"`
	Queues     *Queues           `json:"queues,omitempty"`
	Tables     *Tables           `json:"tables,omitempty"`
	Objects    *Objects          `json:"objects,omitempty"`
	CloudWatch *CloudWatch       `json:"cloudwatch,omitempty"`
	Events     *Events           `json:"events,omitempty"`
	Workflows  *Workflows        `json:"workflows,omitempty"`
	Skipped    []string          `json:"skipped,omitempty"`
}

// Machine describes where the run happened.
type Machine struct {
	CPUs             int    `json:"cpus"`
	MemoryMB         int    `json:"memory_mb"`
	Sandbox          string `json:"sandbox"`
	ConcurrencyLimit int    `json:"concurrency_limit"`
	MemoryBudgetMB   int    `json:"memory_budget_mb"`
	// SpareInits is the node's --spare-inits: the scale-out's size, so
	// its burst can claim a spare each (see ScaleOut).
	SpareInits int `json:"spare_inits,omitempty"`
}

// Latency is a distribution.
type Latency struct {
	N    int     `json:"n"`
	P50  float64 `json:"p50_ms"`
	P99  float64 `json:"p99_ms"`
	P999 float64 `json:"p99_9_ms"`
}

// Warm is the warm invoke latency at concurrency 1 of the Go no-op
// function beside the echo server's round trip.
type Warm struct {
	Invoke   Latency `json:"invoke"`
	Echo     Latency `json:"echo"`
	RatioP50 float64 `json:"ratio_p50"`
	RatioP99 float64 `json:"ratio_p99"`
}

// ThroughputPoint is requests per second of one target at one
// concurrency; Ratio is against the echo at the same concurrency.
type ThroughputPoint struct {
	Target      string  `json:"target"`
	Concurrency int     `json:"concurrency"`
	RPS         float64 `json:"rps"`
	Ratio       float64 `json:"ratio_to_echo"`
	Errors      int     `json:"errors"`
}

// ColdStart is the cold-start distribution of one runtime: Init is the
// REPORT line's Init Duration (sandbox start, runtime start, function
// init: what the platform and the runtime add before the handler), Total
// the client's round trip of the cold invoke.
type ColdStart struct {
	Runtime string  `json:"runtime"`
	Init    Latency `json:"init"`
	Total   Latency `json:"total"`
	// Phases is where the cold starts' time went, the median of each
	// phase over the same cold starts.
	Phases *Phases `json:"phases,omitempty"`
}

// Phases is the cold-start breakdown (medians, ms), in the order the
// phases run. Admit through FirstInvoke are the node's own measurements of
// each cold start (pool.StartPhases); FrontDoor is the rest of the
// client's round trip (HTTP, authentication, routing, the response).
// Init Duration is Sandbox + RuntimeInit; Sandbox is ClaimSpare +
// Limits + Egress + Handshake, and the handshake is init's MountRoot + Setup +
// ExecRuntime plus messaging.
type Phases struct {
	N           int     `json:"n"`
	SpareShare  float64 `json:"spare_share"` // of the cold starts that claimed a spare init
	Admit       float64 `json:"admit_ms"`
	Code        float64 `json:"code_ms"`
	Prepare     float64 `json:"prepare_ms"`
	Sandbox     float64 `json:"sandbox_ms"`
	ClaimSpare  float64 `json:"claim_spare_ms"`
	Limits      float64 `json:"limits_ms"`
	Egress      float64 `json:"egress_ms"`
	Handshake   float64 `json:"handshake_ms"`
	MountRoot   float64 `json:"mount_root_ms"`
	Setup       float64 `json:"setup_ms"`
	ExecRuntime float64 `json:"exec_runtime_ms"`
	RuntimeInit float64 `json:"runtime_init_ms"`
	FirstInvoke float64 `json:"first_invoke_ms"`
	FrontDoor   float64 `json:"front_door_ms"`
}

// ScaleOut is how fast a node starts environments: N invocations sent at
// once to a function with no environment, each holding its environment,
// until the last one's handler starts.
type ScaleOut struct {
	Environments int     `json:"environments"`
	Distinct     int     `json:"distinct_environments"`
	Seconds      float64 `json:"seconds"`
	PerSecond    float64 `json:"environments_per_second"`
	// ToHandler is each invocation's time from the first send to its
	// handler's start (a burst's per-request latency).
	ToHandler Latency `json:"to_handler"`
	// Phases is the burst's cold-start breakdown (see ColdStart).
	Phases *Phases `json:"phases,omitempty"`
	// FloorPerSecond is the machine's floor measured just before the
	// burst: as many processes as environments started at once in the
	// namespaces an environment gets, each exiting at once (fork, exec and
	// namespace creation only: sandbox.SpawnFloor); 0 where there are no
	// namespaces.
	FloorPerSecond float64 `json:"spawn_namespaces_floor_per_second,omitempty"`
	// RefillPerSecond is the rate at which the node made spare inits
	// again after the burst (until it had Machine.SpareInits ready): the
	// rate it sustains once a burst has taken them all.
	RefillPerSecond float64 `json:"refill_per_second,omitempty"`
}

// Memory is what an idle environment of a runtime costs: the function's
// own proportional set size, and the platform's overhead beyond it (the
// sandbox init process and the node's own bookkeeping), and how many idle
// environments fit the node: by the memory budget (MemorySize 128 MB each,
// which the pool never overcommits) and by the actual footprint.
type Memory struct {
	Runtime            string  `json:"runtime"`
	Environments       int     `json:"environments"`
	FunctionPSSKB      int     `json:"function_pss_kb"`
	PlatformOverheadKB float64 `json:"platform_overhead_kb"`
	FitByBudget        int     `json:"fit_by_memory_budget"`
	FitByFootprint     int     `json:"fit_by_footprint"`
}

// runner holds a run's node and clients.
type runner struct {
	opts    Options
	region  string
	creds   aws.Credentials
	signer  *v4.Signer
	api     string // http://host:port
	lc      *lambda.Client
	hc      *http.Client
	runtime map[string]string // go/python/node -> Lambda runtime name
	zips    map[string][]byte
	handler map[string]string
	limits  Machine
	logf    func(format string, args ...any)
	node    *daemon.Daemon
	dir     string // the node's data directory

	roleOnce sync.Once // the functions' role, created before the first
	roleErr  error
}

// Run starts a node, measures, stops the node and returns the report.
func Run(ctx context.Context, opts Options) (*Report, error) {
	opts.defaults()
	dir, err := os.MkdirTemp("", "nimbus-bench-")
	if err != nil {
		return nil, fmt.Errorf("bench data directory: %w", err)
	}
	defer os.RemoveAll(dir) //nolint:errcheck // temporary

	r := &runner{opts: opts, region: config.DefaultRegion, signer: v4.NewSigner(),
		runtime: map[string]string{}, zips: map[string][]byte{}, handler: map[string]string{}}
	r.logf = func(format string, args ...any) {
		if opts.Progress != nil {
			_, _ = fmt.Fprintf(opts.Progress, format+"\n", args...)
		}
	}
	key := make([]byte, 20)
	_, _ = rand.Read(key)
	r.creds = aws.Credentials{AccessKeyID: "AKIA" + strings.ToUpper(hex.EncodeToString(key[:8])), SecretAccessKey: hex.EncodeToString(key)}

	// The CLI's start time first, before the node loads the machine.
	bin, baseline, err := cliStartDefaults()
	if err != nil {
		return nil, err
	}
	if opts.CLI != "" {
		bin = opts.CLI
	}
	r.logf("CLI start: %d runs of %s version beside %s", opts.CLIStarts, bin, baseline)
	cli, err := cliStart(ctx, bin, baseline, opts.CLIStarts)
	if err != nil {
		return nil, err
	}

	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = dir
	cfg.SpareInits = max(4, opts.ScaleOut)
	cfg.AccessKeyID, cfg.SecretAccessKey = r.creds.AccessKeyID, r.creds.SecretAccessKey
	nodeCtx, stopNode := context.WithCancel(ctx)
	defer stopNode()
	// The node's errors go with the progress (a failed environment start
	// says why there); the rest of its log is discarded.
	nodeLog := slog.New(slog.DiscardHandler)
	if opts.Progress != nil {
		nodeLog = slog.New(slog.NewTextHandler(opts.Progress, &slog.HandlerOptions{Level: slog.LevelError}))
	}
	d, err := daemon.New(nodeCtx, cfg, nodeLog)
	if err != nil {
		return nil, fmt.Errorf("start the bench node: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Run(nodeCtx) }()
	defer func() {
		stopNode()
		if err := <-done; err != nil && opts.Progress != nil {
			_, _ = fmt.Fprintln(opts.Progress, "bench node shutdown:", err)
		}
	}()
	r.api = "http://" + d.Addr()
	r.node, r.dir = d, dir
	r.hc = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 0}}
	r.lc = lambda.New(lambda.Options{
		Region:       r.region,
		BaseEndpoint: aws.String(r.api),
		Credentials:  credentials.StaticCredentialsProvider{Value: r.creds},
		HTTPClient:   r.hc,
	})
	rep := &Report{CLIStart: cli}
	if err := r.prepare(ctx, rep); err != nil {
		return nil, err
	}
	r.limits.ConcurrencyLimit, r.limits.MemoryBudgetMB = d.Limits()
	_, r.limits.SpareInits = d.SpareInits()
	rep.Machine = r.limits
	echo, stopEcho, err := startEcho()
	if err != nil {
		return nil, err
	}
	defer stopEcho()

	steps := []func(context.Context, *Report, string) error{r.warm, r.throughput, r.events, r.coldStarts, r.scaleOut, r.memory}
	switch {
	case opts.Only == "queues":
		steps = []func(context.Context, *Report, string) error{r.queues}
	case opts.Only == "cloudwatch":
		steps = []func(context.Context, *Report, string) error{r.metrics}
	case opts.Only == "events":
		steps = []func(context.Context, *Report, string) error{r.events}
	case opts.Only == "tables":
		steps = []func(context.Context, *Report, string) error{r.tables}
	case opts.Only == "objects":
		steps = []func(context.Context, *Report, string) error{r.objects}
	case opts.Only == "workflows":
		steps = []func(context.Context, *Report, string) error{r.workflows}
	case !opts.NoQueues:
		steps = append(steps, r.queues, r.tables, r.objects, r.workflows, r.metrics)
	default:
		steps = append(steps, r.objects, r.workflows, r.metrics)
	}
	for _, step := range steps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := step(ctx, rep, echo); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// prepare finds the runtimes, builds and deploys the functions.
func (r *runner) prepare(ctx context.Context, rep *Report) error {
	supported := runtimes.Supported()
	pick := func(prefix string) string {
		var best string
		for _, s := range supported {
			if strings.HasPrefix(s, prefix) && (best == "" || runtimeVersionLess(best, s)) {
				best = s
			}
		}
		return best
	}
	for _, name := range r.opts.Runtimes {
		switch name {
		case "go":
			r.logf("building the Go no-op function")
			z, err := goNoopZip(ctx, r.opts.GoSource)
			if err != nil {
				return err
			}
			r.runtime["go"], r.zips["go"], r.handler["go"] = "provided.al2023", z, "bootstrap"
		case "python":
			rt := pick("python3.")
			if rt == "" {
				rep.Skipped = append(rep.Skipped, "python: no python3 on this host")
				continue
			}
			z, err := zipFiles(map[string][]byte{"app.py": []byte(pythonNoop)}, false)
			if err != nil {
				return err
			}
			r.runtime["python"], r.zips["python"], r.handler["python"] = rt, z, "app.handler"
		case "node":
			rt := pick("nodejs")
			if rt == "" {
				rep.Skipped = append(rep.Skipped, "node: no node on this host")
				continue
			}
			z, err := zipFiles(map[string][]byte{"index.mjs": []byte(nodeNoop)}, false)
			if err != nil {
				return err
			}
			r.runtime["node"], r.zips["node"], r.handler["node"] = rt, z, "index.handler"
		case "java":
			rt := pick("java")
			var homes []string
			for _, j := range runtimes.JDKs() {
				homes = append(homes, j.Home)
			}
			z, err := javaNoopZip(ctx, homes)
			if err != nil {
				return err
			}
			if rt == "" || z == nil {
				rep.Skipped = append(rep.Skipped, "java: no JDK 17 or newer with javac on this host")
				continue
			}
			r.runtime["java"], r.zips["java"], r.handler["java"] = rt, z, "bench.Noop::handle"
		default:
			return fmt.Errorf("unknown runtime %q (go, python, node, java)", name)
		}
	}
	if r.zips["go"] == nil {
		return errors.New("the Go runtime is required (warm latency and scale-out use it)")
	}
	for _, name := range r.names() {
		if err := r.deploy(ctx, "noop-"+name, name); err != nil {
			return err
		}
	}
	r.limits = Machine{CPUs: runtime.NumCPU(), MemoryMB: memTotalMB(), Sandbox: sandbox.Mode()}
	return nil
}

// names are the prepared runtimes in a fixed order.
func (r *runner) names() []string {
	var out []string
	for _, n := range []string{"go", "python", "node", "java"} {
		if r.zips[n] != nil {
			out = append(out, n)
		}
	}
	return out
}

func (r *runner) deploy(ctx context.Context, fn, rt string) error {
	r.roleOnce.Do(func() { r.roleErr = r.createBenchRole(ctx) })
	if r.roleErr != nil {
		return r.roleErr
	}
	_, err := r.lc.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String(fn),
		Runtime:      types.Runtime(r.runtime[rt]),
		Handler:      aws.String(r.handler[rt]),
		Role:         aws.String("arn:aws:iam::000000000000:role/bench"),
		Code:         &types.FunctionCode{ZipFile: r.zips[rt]},
		MemorySize:   aws.Int32(128),
		Timeout:      aws.Int32(30),
	})
	if err != nil {
		return fmt.Errorf("create function %s: %w", fn, err)
	}
	return nil
}

// runtimeVersionLess orders python3.9 < python3.12 and nodejs18.x < nodejs20.x.
func runtimeVersionLess(a, b string) bool {
	num := func(s string) int {
		d := regexp.MustCompile(`\d+`).FindAllString(s, -1)
		n := 0
		for _, x := range d {
			v, _ := strconv.Atoi(x)
			n = n*100 + v
		}
		return n
	}
	return num(a) < num(b)
}

// call sends one signed POST and returns its latency, body and headers.
func (r *runner) call(ctx context.Context, url string, payload []byte, hdr map[string]string) (time.Duration, []byte, http.Header, error) {
	return r.callAs(ctx, "lambda", url, payload, hdr)
}

// callAs is call signed for service.
func (r *runner) callAs(ctx context.Context, service, url string, payload []byte, hdr map[string]string) (time.Duration, []byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("build request: %w", err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	sum := sha256.Sum256(payload)
	t0 := time.Now()
	if err := r.signer.SignHTTP(ctx, r.creds, req, hex.EncodeToString(sum[:]), service, r.region, t0); err != nil {
		return 0, nil, nil, fmt.Errorf("sign request: %w", err)
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("request %s: %w", url, err)
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	lat := time.Since(t0)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("read %s: %w", url, err)
	}
	if resp.StatusCode >= 300 {
		return lat, body, resp.Header, fmt.Errorf("%s: %d %s: %s", url, resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), body)
	}
	return lat, body, resp.Header, nil
}

func (r *runner) invokeURL(fn string) string {
	return r.api + "/2015-03-31/functions/" + fn + "/invocations"
}

// startEcho serves a plain Go HTTP echo (the body back) on loopback.
func startEcho() (string, func(), error) {
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("echo server: %w", err)
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	return "http://" + ln.Addr().String() + "/echo", func() {
		_ = srv.Close()
		<-done
	}, nil
}

func latencyOf(samples []time.Duration) Latency {
	if len(samples) == 0 {
		return Latency{}
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	q := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		i = min(max(i, 0), len(s)-1)
		return float64(s[i].Microseconds()) / 1000
	}
	return Latency{N: len(s), P50: q(0.50), P99: q(0.99), P999: q(0.999)}
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return math.Round(a/b*100) / 100
}

// warm measures sequential round trips of the Go no-op and of the echo.
func (r *runner) warm(ctx context.Context, rep *Report, echo string) error {
	r.logf("warm latency: %d invokes and %d echo round trips at concurrency 1", r.opts.Requests, r.opts.Requests)
	payload := []byte(`{}`)
	url := r.invokeURL("noop-go")
	if _, _, _, err := r.call(ctx, url, payload, nil); err != nil { // the cold start
		return err
	}
	measure := func(u string, n int) ([]time.Duration, error) {
		out := make([]time.Duration, 0, n)
		for range n / 10 { // warm-up
			if _, _, _, err := r.call(ctx, u, payload, nil); err != nil {
				return nil, err
			}
		}
		for range n {
			lat, _, _, err := r.call(ctx, u, payload, nil)
			if err != nil {
				return nil, err
			}
			out = append(out, lat)
		}
		return out, nil
	}
	// Interleave the two in halves, so drift in the machine's load hits
	// both alike: Requests samples of each in all.
	var inv, ech []time.Duration
	for _, n := range []int{r.opts.Requests / 2, r.opts.Requests - r.opts.Requests/2} {
		a, err := measure(url, n)
		if err != nil {
			return err
		}
		b, err := measure(echo, n)
		if err != nil {
			return err
		}
		inv, ech = append(inv, a...), append(ech, b...)
	}
	rep.Warm = Warm{Invoke: latencyOf(inv), Echo: latencyOf(ech)}
	rep.Warm.RatioP50 = ratio(rep.Warm.Invoke.P50, rep.Warm.Echo.P50)
	rep.Warm.RatioP99 = ratio(rep.Warm.Invoke.P99, rep.Warm.Echo.P99)
	return nil
}

// throughput runs c workers for Duration against each target.
func (r *runner) throughput(ctx context.Context, rep *Report, echo string) error {
	targets := []struct{ name, url string }{{"echo", echo}}
	for _, n := range r.names() {
		targets = append(targets, struct{ name, url string }{n, r.invokeURL("noop-" + n)})
	}
	echoRPS := map[int]float64{}
	for _, c := range r.opts.Concurrency {
		for _, t := range targets {
			r.logf("throughput: %s at concurrency %d for %s", t.name, c, r.opts.Duration)
			// Warm-up: c environments exist (c requests at once, twice,
			// each round waited for), then a short unmeasured load.
			for range 2 {
				if err := r.burst(ctx, t.url, c); err != nil {
					return err
				}
			}
			if _, err := r.load(ctx, c, r.opts.Duration/5, r.post(t.url)); err != nil {
				return err
			}
			n, err := r.load(ctx, c, r.opts.Duration, r.post(t.url))
			if err != nil {
				return err
			}
			rps := float64(n.ok) / r.opts.Duration.Seconds()
			if t.name == "echo" {
				echoRPS[c] = rps
			}
			rep.Throughput = append(rep.Throughput, ThroughputPoint{Target: t.name, Concurrency: c,
				RPS: math.Round(rps), Ratio: ratio(rps, echoRPS[c]), Errors: n.errs})
		}
	}
	return nil
}

type counts struct{ ok, errs int }

// burst sends c requests at once and waits for all.
func (r *runner) burst(ctx context.Context, url string, c int) error {
	errs := make([]error, c)
	var wg sync.WaitGroup
	for i := range c {
		wg.Go(func() { _, _, _, errs[i] = r.call(ctx, url, []byte(`{}`), nil) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// post is a request of the throughput runs: {} to url, signed for lambda.
func (r *runner) post(url string) func(context.Context) error {
	return func(ctx context.Context) error {
		_, _, _, err := r.call(ctx, url, []byte(`{}`), nil)
		return err
	}
}

// load runs c workers sending requests (do) for d and counts the answers
// that arrived within d. Requests still in flight at the end are let
// finish (not canceled): a canceled invoke costs its environment, and the
// next measurement would pay cold starts.
func (r *runner) load(ctx context.Context, c int, d time.Duration, do func(context.Context) error) (counts, error) {
	end := time.Now().Add(d)
	var ok, errs atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range c {
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(end) {
				err := do(ctx)
				switch {
				case err == nil && time.Now().Before(end):
					ok.Add(1)
				case err == nil || ctx.Err() != nil:
				default:
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
			}
		})
	}
	wg.Wait()
	out := counts{ok: int(ok.Load()), errs: int(errs.Load())}
	if err, _ := firstErr.Load().(error); err != nil && out.ok == 0 {
		return out, err
	}
	return out, ctx.Err()
}

var initRE = regexp.MustCompile(`Init Duration: ([0-9.]+) ms`)

// coldStarts forces new environments by changing the configuration (a new
// revision retires the old environments) and invokes each once.
func (r *runner) coldStarts(ctx context.Context, rep *Report, _ string) error {
	for _, n := range r.names() {
		r.logf("cold starts: %d of %s", r.opts.ColdStarts, r.runtime[n])
		fn := "noop-" + n
		var inits, totals []time.Duration
		before := len(r.node.StartPhases())
		for i := range r.opts.ColdStarts {
			if _, err := r.lc.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{
				FunctionName: aws.String(fn), Description: aws.String("cold start " + strconv.Itoa(i))}); err != nil {
				return fmt.Errorf("update %s: %w", fn, err)
			}
			lat, _, hdr, err := r.call(ctx, r.invokeURL(fn), []byte(`{}`), map[string]string{"X-Amz-Log-Type": "Tail"})
			if err != nil {
				return err
			}
			tail, _ := base64.StdEncoding.DecodeString(hdr.Get("X-Amz-Log-Result"))
			m := initRE.FindSubmatch(tail)
			if m == nil {
				return fmt.Errorf("cold invoke of %s reported no Init Duration:\n%s", fn, tail)
			}
			ms, _ := strconv.ParseFloat(string(m[1]), 64)
			inits = append(inits, time.Duration(ms*float64(time.Millisecond)))
			totals = append(totals, lat)
		}
		rep.ColdStarts = append(rep.ColdStarts, ColdStart{Runtime: r.runtime[n], Init: latencyOf(inits), Total: latencyOf(totals),
			Phases: r.phases(before, r.runtime[n], totals)})
	}
	return nil
}

// scaleOut sends ScaleOut invocations at once to a function with no
// environment; each holds its environment 2 s (longer than the whole
// scale-out here), so each needs its own. The time is from the first send
// to the last handler's start.
func (r *runner) scaleOut(ctx context.Context, rep *Report, _ string) error {
	n := r.opts.ScaleOut
	r.logf("scale-out: %d concurrent environments", n)
	if err := r.deploy(ctx, "scale-go", "go"); err != nil {
		return err
	}
	hold := 2000 + 40*n // ms; generous so all overlap even on a slow machine
	payload := []byte(`{"sleep_ms":` + strconv.Itoa(hold) + `}`)
	type out struct {
		Started int64  `json:"started"`
		Env     string `json:"env"`
	}
	// The burst starts with the node's spare inits all ready (the node
	// keeps Machine.SpareInits of them).
	spares := func() int { ready, _ := r.node.SpareInits(); return ready }
	_, target := r.node.SpareInits()
	r.waitFor(ctx, func() bool { return spares() >= target })
	var floor float64
	if d, err := sandbox.SpawnFloor(n); err == nil && d > 0 {
		floor = math.Round(float64(n) / d.Seconds())
	}
	r.waitFor(ctx, func() bool { return spares() >= target })
	// How fast the node makes spares again: from the moment the burst
	// has left the fewest until it has them all again.
	refillc := make(chan float64, 1)
	go func() {
		low, tLow := target, time.Now()
		ok := r.waitFor(ctx, func() bool {
			s := spares()
			if s < low {
				low, tLow = s, time.Now()
			}
			return low < target && s >= target
		})
		if !ok || low >= target {
			refillc <- 0
			return
		}
		refillc <- math.Round(float64(target-low) / time.Since(tLow).Seconds())
	}()
	results := make([]out, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	before := len(r.node.StartPhases())
	t0 := time.Now()
	for i := range n {
		wg.Go(func() {
			_, body, _, err := r.call(ctx, r.invokeURL("scale-go"), payload, nil)
			if err == nil {
				err = json.Unmarshal(body, &results[i])
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("scale-out: %w", err)
	}
	refill := <-refillc
	var last int64
	distinct := map[string]bool{}
	toHandler := make([]time.Duration, 0, n)
	for _, o := range results {
		last = max(last, o.Started)
		distinct[o.Env] = true
		toHandler = append(toHandler, time.Unix(0, o.Started).Sub(t0))
	}
	secs := time.Unix(0, last).Sub(t0).Seconds()
	rep.ScaleOut = ScaleOut{Environments: n, Distinct: len(distinct), Seconds: math.Round(secs*1000) / 1000,
		PerSecond: math.Round(float64(n) / secs), ToHandler: latencyOf(toHandler), Phases: r.phases(before, r.runtime["go"], nil),
		FloorPerSecond: floor, RefillPerSecond: refill}
	if ph := rep.ScaleOut.Phases; ph != nil {
		ph.FirstInvoke = 0 // each handler holds its environment on purpose
	}
	return nil
}

// waitFor polls cond every 10 ms for up to a minute and reports whether
// it held.
func (r *runner) waitFor(ctx context.Context, cond func() bool) bool {
	for end := time.Now().Add(time.Minute); time.Now().Before(end) && ctx.Err() == nil; {
		if cond() {
			return true
		}
		time.Sleep(5 * time.Millisecond)
	}
	return false
}

// memory starts IdleEnvs environments of each runtime and leaves them
// idle (frozen), then reads the footprint: the function's own PSS (it
// reports it), and the platform's: the growth of this process's RSS (the
// node runs in it) and of the PSS of its children (the environments'
// sandbox inits), per environment. Kernel memory (page tables, cgroup
// structures) is not counted.
func (r *runner) memory(ctx context.Context, rep *Report, _ string) error {
	for _, n := range r.names() {
		m := r.opts.IdleEnvs
		r.logf("idle memory: %d environments of %s", m, r.runtime[n])
		fn := "mem-" + n
		if err := r.deploy(ctx, fn, n); err != nil {
			return err
		}
		before := platformKB()
		var wg sync.WaitGroup
		errs := make([]error, m)
		for i := range m {
			wg.Go(func() {
				_, _, _, errs[i] = r.call(ctx, r.invokeURL(fn), []byte(`{"sleep_ms":1500}`), nil)
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return fmt.Errorf("idle memory: %w", err)
		}
		after := platformKB()
		_, body, _, err := r.call(ctx, r.invokeURL(fn), []byte(`{"rss":true}`), nil)
		if err != nil {
			return err
		}
		var pss struct {
			PSS int `json:"pss_kb"`
		}
		_ = json.Unmarshal(body, &pss)
		over := math.Round(float64(after-before)/float64(m)*10) / 10
		mem := Memory{Runtime: r.runtime[n], Environments: m, FunctionPSSKB: pss.PSS, PlatformOverheadKB: over,
			FitByBudget: r.limits.MemoryBudgetMB / 128}
		if per := float64(pss.PSS) + max(over, 0); per > 0 {
			mem.FitByFootprint = int(float64(memAvailableKB()) / per)
		}
		rep.Memory = append(rep.Memory, mem)
	}
	return nil
}

// platformKB is this process's RSS plus the PSS of its direct children.
func platformKB() int {
	runtime.GC()
	debug.FreeOSMemory()
	self := os.Getpid()
	total := statusKB("/proc/self/status", "VmRSS:")
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat") // #nosec G304 -- procfs
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 2 {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); ppid == self && pid != self {
			total += statusKB("/proc/"+e.Name()+"/smaps_rollup", "Pss:")
		}
	}
	return total
}

func statusKB(path, key string) int {
	b, err := os.ReadFile(path) // #nosec G304 -- procfs
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, key); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return n
		}
	}
	return 0
}

func memTotalMB() int     { return statusKB("/proc/meminfo", "MemTotal:") / 1024 }
func memAvailableKB() int { return statusKB("/proc/meminfo", "MemAvailable:") }

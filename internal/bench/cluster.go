package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// ClusterOptions size `nimbus bench --cluster 3`.
type ClusterOptions struct {
	// Nodes is the cluster's size (3).
	Nodes int
	// Duration of each throughput phase (5 s).
	Duration time.Duration
	// Clients invoking at once in the throughput phases (8).
	Clients int
	// Binary is the nimbus executable the nodes run (this one when empty).
	Binary string
	// GoSource is the directory of the Go no-op function.
	GoSource string
	// Progress, when set, gets one line per step.
	Progress io.Writer
}

// ClusterReport is what `nimbus bench --cluster 3` measures.
type ClusterReport struct {
	Nodes int `json:"nodes"`
	// Warm throughput of the Go no-op from Clients clients, all against
	// one node, then spread over every node, and the CPU time all node
	// processes spent per invoke in each phase.
	OneNodePerSec   float64 `json:"one_node_invokes_per_s"`
	AllNodesPerSec  float64 `json:"all_nodes_invokes_per_s"`
	Ratio           float64 `json:"ratio"`
	OneNodeCPUms    float64 `json:"one_node_cpu_ms_per_invoke"`
	AllNodesCPUms   float64 `json:"all_nodes_cpu_ms_per_invoke"`
	ConcurrencyRuns int     `json:"concurrency_invocations"`
	// MaxConcurrent is the most invocations of a function with reserved
	// concurrency 10 seen at once while 24 clients on every node invoked
	// it (""goal ≤ 10, never above"); 0 without python3.
	MaxConcurrent int `json:"max_concurrent_reserved_10"`
	Throttled     int `json:"throttled"`
	// TakeoverSec is the time from SIGKILL of the coordinator's node to
	// another node holding the lease (the singleton work: schedules,
	// queue pollers; async events the dead node had pulled run after
	// the async AckWait, 9 s).
	TakeoverSec float64 `json:"lease_takeover_s"`
	// Invoke forwarding, from one client of a node with no environment of
	// the function: the median latency of an invocation forwarded to a
	// node with an idle one, of a local cold start of the same no-op, and
	// of a warm invocation on the node that has it; ForwardRatio is
	// forwarded / cold. ForwardDeclined counts invocations that were not
	// forwarded after all (left out of the median).
	ForwardedP50ms  float64 `json:"forwarded_p50_ms"`
	ColdP50ms       float64 `json:"local_cold_p50_ms"`
	WarmP50ms       float64 `json:"warm_p50_ms"`
	ForwardRatio    float64 `json:"forwarded_over_cold"`
	ForwardDeclined int     `json:"forward_declined"`
}

// WriteText prints the report.
func (r *ClusterReport) WriteText(w io.Writer) error {
	_, err := fmt.Fprintf(w, `Cluster of %d nodes on this machine (one process each, embedded NATS routes on loopback)
warm invoke throughput, Go no-op
  all clients on one node   %8.0f /s   CPU %.2f ms per invoke (all node processes)
  clients over %d nodes      %8.0f /s   CPU %.2f ms per invoke
  ratio                     %8.2f      (on one machine this measures overhead, not scale)
reserved concurrency 10, 24 clients over the nodes
  most at once              %8d      (goal ≤ 10, never above; %d ran, %d throttled)
invoke forwarding, Go no-op, one client of a node without an environment of it (medians)
  forwarded to a warm node  %8.2f ms
  local cold start          %8.2f ms   (forwarded / cold %.2f; %d not forwarded)
  warm, on the warm node    %8.2f ms
kill -9 of the coordinator's node
  lease taken over after    %8.1f s    (goal ≤ 10 s; async events it had pulled run after the 9 s AckWait)
`, r.Nodes, r.OneNodePerSec, r.OneNodeCPUms, r.Nodes, r.AllNodesPerSec, r.AllNodesCPUms, r.Ratio,
		r.MaxConcurrent, r.ConcurrencyRuns, r.Throttled,
		r.ForwardedP50ms, r.ColdP50ms, r.ForwardRatio, r.ForwardDeclined, r.WarmP50ms, r.TakeoverSec)
	return err
}

// benchNode is one `nimbus server` process of the bench's cluster.
type benchNode struct {
	name     string
	endpoint string
	cmd      *exec.Cmd
	exited   chan struct{}
}

var listeningRE = regexp.MustCompile(`"nimbus listening".*?"addr":"(127\.0\.0\.1:\d+)"|msg="nimbus listening".* addr=(127\.0\.0\.1:\d+)`)

// RunCluster starts a cluster of nimbus processes on loopback and
// measures it.
func RunCluster(ctx context.Context, o ClusterOptions) (*ClusterReport, error) {
	if o.Nodes != 3 {
		return nil, fmt.Errorf("--cluster measures 3 nodes (got %d)", o.Nodes)
	}
	if o.Duration <= 0 {
		o.Duration = 5 * time.Second
	}
	if o.Clients <= 0 {
		o.Clients = 8
	}
	logf := func(format string, args ...any) {
		if o.Progress != nil {
			_, _ = fmt.Fprintf(o.Progress, format+"\n", args...)
		}
	}
	bin := o.Binary
	if bin == "" {
		var err error
		if bin, err = selfBinary(); err != nil {
			return nil, err
		}
	}
	dir, err := os.MkdirTemp("", "nimbus-bench-cluster-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir) //nolint:errcheck // temporary
	key := make([]byte, 20)
	_, _ = rand.Read(key)
	creds := aws.Credentials{AccessKeyID: "AKIA" + strings.ToUpper(hex.EncodeToString(key[:8])), SecretAccessKey: hex.EncodeToString(key)}
	secret := hex.EncodeToString(key)
	var routes []string
	var listens []string
	for range o.Nodes {
		ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		listens = append(listens, ln.Addr().String())
		routes = append(routes, "nats://"+ln.Addr().String())
		_ = ln.Close()
	}
	nodes := make([]*benchNode, o.Nodes)
	defer func() {
		var wg sync.WaitGroup
		for _, n := range nodes {
			if n != nil {
				wg.Go(n.stop)
			}
		}
		wg.Wait()
	}()
	logf("starting %d nimbus nodes (%s)", o.Nodes, bin)
	errs := make([]error, o.Nodes)
	var wg sync.WaitGroup
	for i := range o.Nodes {
		wg.Go(func() {
			nodes[i], errs[i] = startBenchNode(bin, fmt.Sprintf("n%d", i), filepath.Join(dir, fmt.Sprintf("n%d", i)),
				listens[i], strings.Join(routes, ","), secret, creds)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	client := func(n *benchNode) *lambda.Client {
		return lambda.New(lambda.Options{Region: "us-east-1", BaseEndpoint: aws.String(n.endpoint),
			Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil }), RetryMaxAttempts: 1})
	}
	rep := &ClusterReport{Nodes: o.Nodes}

	// Warm throughput: one node, then all.
	logf("building and deploying the Go no-op")
	zip, err := goNoopZip(ctx, o.GoSource)
	if err != nil {
		return nil, err
	}
	if err := createFunction(ctx, client(nodes[0]), "noop", types.RuntimeProvidedal2023, "bootstrap", zip, nil); err != nil {
		return nil, err
	}
	for _, n := range nodes {
		if err := until(ctx, 2*time.Minute, func() bool {
			_, err := client(n).Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("noop"), Payload: []byte(`{}`)})
			return err == nil
		}); err != nil {
			return nil, fmt.Errorf("%s cannot invoke the no-op: %w", n.name, err)
		}
	}
	phase := func(targets []*benchNode) (perSec, cpuMS float64) {
		cpu0 := clusterCPU(nodes)
		var count atomic.Int64
		pctx, cancel := context.WithTimeout(ctx, o.Duration)
		defer cancel()
		var wg sync.WaitGroup
		for c := range o.Clients {
			cl := client(targets[c%len(targets)])
			wg.Go(func() {
				for pctx.Err() == nil {
					if _, err := cl.Invoke(pctx, &lambda.InvokeInput{FunctionName: aws.String("noop"), Payload: []byte(`{}`)}); err == nil {
						count.Add(1)
					}
				}
			})
		}
		wg.Wait()
		n := float64(count.Load())
		if n == 0 {
			return 0, 0
		}
		return n / o.Duration.Seconds(), float64((clusterCPU(nodes) - cpu0).Milliseconds()) / n
	}
	logf("warming every node's environments")
	phase(nodes) // untimed: environments start on every node
	logf("warm throughput: %d clients on one node, %s", o.Clients, o.Duration)
	rep.OneNodePerSec, rep.OneNodeCPUms = phase(nodes[:1])
	logf("warm throughput: %d clients over %d nodes, %s", o.Clients, o.Nodes, o.Duration)
	rep.AllNodesPerSec, rep.AllNodesCPUms = phase(nodes)
	if rep.OneNodePerSec > 0 {
		rep.Ratio = rep.AllNodesPerSec / rep.OneNodePerSec
	}

	// Cross-node concurrency accuracy.
	if _, err := exec.LookPath("python3"); err == nil {
		logf("reserved concurrency 10, 24 clients over the nodes")
		if err := clusterConcurrency(ctx, nodes, client, rep); err != nil {
			return nil, err
		}
	} else {
		logf("no python3: the concurrency figure is left out")
	}

	logf("invoke forwarding against a local cold start")
	if err := clusterForwarding(ctx, nodes, client, zip, rep); err != nil {
		return nil, err
	}

	// Kill the coordinator's node; time until another node holds the lease.
	logf("kill -9 of the coordinator's node")
	holder, err := coordinator(ctx, nodes[0].endpoint, creds)
	if err != nil {
		return nil, err
	}
	var victim *benchNode
	var survivor *benchNode
	for _, n := range nodes {
		if n.name == holder {
			victim = n
		} else if survivor == nil {
			survivor = n
		}
	}
	if victim == nil {
		return nil, fmt.Errorf("coordinator %q is not a node of the bench", holder)
	}
	killed := time.Now()
	victim.kill()
	if err := until(ctx, 2*time.Minute, func() bool {
		h, err := coordinator(ctx, survivor.endpoint, creds)
		return err == nil && h != "" && h != victim.name
	}); err != nil {
		return nil, fmt.Errorf("no node took the coordinator lease over: %w", err)
	}
	rep.TakeoverSec = time.Since(killed).Seconds()
	return rep, nil
}

// concurrencyPy reports when it ran (every node runs on this machine).
const concurrencyPy = `import time
def handler(event, context):
    t0 = time.time()
    time.sleep(0.25)
    return {"start": t0, "end": time.time()}
`

func clusterConcurrency(ctx context.Context, nodes []*benchNode, client func(*benchNode) *lambda.Client, rep *ClusterReport) error {
	zip, err := zipFiles(map[string][]byte{"app.py": []byte(concurrencyPy)}, false)
	if err != nil {
		return err
	}
	if err := createFunction(ctx, client(nodes[0]), "busy", types.RuntimePython312, "app.handler", zip, nil); err != nil {
		return err
	}
	if _, err := client(nodes[0]).PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{
		FunctionName: aws.String("busy"), ReservedConcurrentExecutions: aws.Int32(10)}); err != nil {
		return fmt.Errorf("put function concurrency: %w", err)
	}
	for _, n := range nodes {
		if err := until(ctx, time.Minute, func() bool {
			out, err := client(n).GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String("busy")})
			return err == nil && out.ReservedConcurrentExecutions != nil && *out.ReservedConcurrentExecutions == 10
		}); err != nil {
			return fmt.Errorf("%s does not see the reserved concurrency: %w", n.name, err)
		}
	}
	type span struct{ start, end float64 }
	var (
		mu        sync.Mutex
		spans     []span
		throttled int
		wg        sync.WaitGroup
	)
	hctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for i := range 24 {
		cl := client(nodes[i%len(nodes)])
		wg.Go(func() {
			for hctx.Err() == nil {
				out, err := cl.Invoke(hctx, &lambda.InvokeInput{FunctionName: aws.String("busy")})
				var tm *types.TooManyRequestsException
				if errors.As(err, &tm) {
					mu.Lock()
					throttled++
					mu.Unlock()
					select {
					case <-hctx.Done():
					case <-time.After(20 * time.Millisecond):
					}
					continue
				}
				if err != nil || out.FunctionError != nil {
					continue
				}
				var s struct{ Start, End float64 }
				if json.Unmarshal(out.Payload, &s) == nil {
					mu.Lock()
					spans = append(spans, span{s.Start, s.End})
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	type edge struct {
		at    float64
		delta int
	}
	var edges []edge
	for _, s := range spans {
		edges = append(edges, edge{s.start, 1}, edge{s.end, -1})
	}
	sort.Slice(edges, func(i, j int) bool {
		if edges[i].at != edges[j].at {
			return edges[i].at < edges[j].at
		}
		return edges[i].delta < edges[j].delta
	})
	open := 0
	for _, e := range edges {
		open += e.delta
		rep.MaxConcurrent = max(rep.MaxConcurrent, open)
	}
	rep.ConcurrencyRuns, rep.Throttled = len(spans), throttled
	return nil
}

func createFunction(ctx context.Context, lc *lambda.Client, name string, rt types.Runtime, handler string, zip []byte, _ map[string]string) error {
	_, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String(name), Runtime: rt, Handler: aws.String(handler), Timeout: aws.Int32(10),
		Role: aws.String("arn:aws:iam::000000000000:role/bench"), Code: &types.FunctionCode{ZipFile: zip},
	})
	if err != nil {
		return fmt.Errorf("create function %s: %w", name, err)
	}
	return nil
}

// until polls cond every 100 ms for up to d.
func until(ctx context.Context, d time.Duration, cond func() bool) error {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s", d)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}

// coordinator asks a node who holds the coordinator lease.
func coordinator(ctx context.Context, endpoint string, creds aws.Credentials) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/_nimbus/cluster", nil)
	if err != nil {
		return "", err
	}
	empty := sha256.Sum256(nil)
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(empty[:]), "lambda", "us-east-1", time.Now()); err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("cluster status %d", resp.StatusCode)
	}
	var st struct {
		Coordinator *struct {
			Holder string `json:"holder"`
		} `json:"coordinator"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return "", err
	}
	if st.Coordinator == nil {
		return "", nil
	}
	return st.Coordinator.Holder, nil
}

func startBenchNode(bin, name, dataDir, listen, routes, secret string, creds aws.Credentials) (*benchNode, error) {
	//nolint:gosec,noctx // this binary; the node outlives the call and kill ends it
	cmd := exec.Command(bin, "server", "--listen", "127.0.0.1:0", "--data-dir", dataDir,
		"--cluster-name", "bench", "--cluster-listen", listen, "--routes", routes, "--node-name", name, "--runtime-sdks", "off")
	cmd.Env = append(os.Environ(), "NIMBUS_CLUSTER_SECRET="+secret,
		"NIMBUS_ACCESS_KEY_ID="+creds.AccessKeyID, "NIMBUS_SECRET_ACCESS_KEY="+creds.SecretAccessKey, "NIMBUS_IAM=off")
	cmd.SysProcAttr = benchProcAttr()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	n := &benchNode{name: name, cmd: cmd, exited: make(chan struct{})}
	addr := make(chan string, 1)
	var logs strings.Builder
	var mu sync.Mutex
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		found := false
		for sc.Scan() {
			mu.Lock()
			if logs.Len() < 1<<20 {
				logs.WriteString(sc.Text() + "\n")
			}
			mu.Unlock()
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil && !found {
				found = true
				addr <- m[1] + m[2]
			}
		}
		_ = cmd.Wait()
		close(n.exited)
	}()
	select {
	case a := <-addr:
		n.endpoint = "http://" + a
		return n, nil
	case <-n.exited:
		mu.Lock()
		defer mu.Unlock()
		return nil, fmt.Errorf("%s exited before listening:\n%s", name, logs.String())
	case <-time.After(6 * time.Minute):
		n.kill()
		return nil, fmt.Errorf("%s did not listen within 6 minutes", name)
	}
}

// stop stops the node with SIGINT (its environments go with it), killing
// it after a minute.
func (n *benchNode) stop() {
	_ = n.cmd.Process.Signal(os.Interrupt)
	select {
	case <-n.exited:
	case <-time.After(time.Minute):
		n.kill()
	}
}

func (n *benchNode) kill() {
	select {
	case <-n.exited:
		return
	default:
	}
	killGroup(n.cmd)
	<-n.exited
}

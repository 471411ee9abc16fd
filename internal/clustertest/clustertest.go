// Package clustertest starts real Nimbus clusters for tests: several
// `nimbus server` processes on loopback, each with its own data directory
// and embedded NATS server, joined into one cluster over routes. Tests of
// any package use it to kill, restart and inspect nodes; the processes die
// with the test (process group plus parent-death signal on Linux).
//
// Typical use, with the binary built once in TestMain:
//
//	bin, cleanup, err := clustertest.Build()
//	...
//	c := clustertest.Start(t, clustertest.Options{Binary: bin})
//	c.Nodes[0].Kill9(t)
//
// Each node runs the command line of deploy/systemd/nimbus.service (unit.go).
//
// Only tests import it.
package clustertest

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/nimbus-serverless/nimbus/internal/auth"
	"github.com/nimbus-serverless/nimbus/internal/cluster"
)

// Build compiles cmd/nimbus into a temporary directory; cleanup removes
// it. Call it once per test binary (TestMain).
func Build() (bin string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", "nimbus-clustertest-")
	if err != nil {
		return "", nil, err
	}
	bin = filepath.Join(dir, "nimbus")
	cmd := exec.CommandContext(context.Background(), "go", "build", "-o", bin, "github.com/nimbus-serverless/nimbus/cmd/nimbus")
	if out, err := cmd.CombinedOutput(); err != nil {
		_ = os.RemoveAll(dir)
		return "", nil, fmt.Errorf("go build nimbus: %w\n%s", err, out)
	}
	return bin, func() { _ = os.RemoveAll(dir) }, nil
}

// Options configure Start.
type Options struct {
	// Binary is the nimbus executable (from Build). Required.
	Binary string
	// Nodes is the cluster size (3 when zero).
	Nodes int
	// Args are extra `nimbus server` flags for every node.
	Args []string
	// Env are extra environment variables for every node.
	Env []string
	// Stdout, when set, gets each line a node prints on stdout (function
	// output with --function-logs); Cluster.OnStdout adds more readers.
	Stdout func(node *Node, line string)
	// Partitionable routes every pair of nodes through a proxy the test
	// can cut (Cluster.Partition, partition.go).
	Partitionable bool
}

// Cluster is a running cluster of nimbus processes.
type Cluster struct {
	Name   string
	Secret string
	Nodes  []*Node

	links [][]*link // links[i][j]: node i's route to node j (Partitionable)

	outMu sync.Mutex
	outs  []func(*Node, string) // guarded by outMu: stdout readers
}

// OnStdout adds a reader of every line any node prints on stdout from
// now on (function output with --function-logs), beside Options.Stdout:
// steps sharing one cluster each read what they need.
func (c *Cluster) OnStdout(f func(node *Node, line string)) {
	c.outMu.Lock()
	c.outs = append(c.outs, f)
	c.outMu.Unlock()
}

func (c *Cluster) stdout(n *Node, line string) {
	c.outMu.Lock()
	outs := c.outs
	c.outMu.Unlock()
	for _, f := range outs {
		f(n, line)
	}
}

// Node is one nimbus server process (which may be stopped and started).
type Node struct {
	Name        string
	DataDir     string
	ClusterAddr string // the route listener, host:port
	// Endpoint is the API URL of the current process ("" while stopped).
	Endpoint string

	bin    string
	args   []string
	env    []string
	stdout func(*Node, string)

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	logs   strings.Builder // guarded by mu: every process's stderr, in order
}

// Start runs the cluster's nodes (concurrently: each waits for a majority
// of its peers) and returns once every node listens. Cleanup stops them.
func Start(t testing.TB, o Options) *Cluster {
	t.Helper()
	if o.Binary == "" {
		t.Fatal("clustertest: Options.Binary is required")
	}
	n := o.Nodes
	if n == 0 {
		n = 3
	}
	c := &Cluster{Name: "test-" + randomHex(3), Secret: randomHex(16)}
	if o.Stdout != nil {
		c.outs = append(c.outs, o.Stdout)
	}
	ports := freePorts(t, n)
	var routes, addrs []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
		addrs = append(addrs, fmt.Sprintf("127.0.0.1:%d", p))
	}
	var linkRoutes [][]string
	var extra []string
	if o.Partitionable {
		linkRoutes = c.partitionRoutes(t, addrs)
		extra = []string{"--cluster-advertise", sink(t)}
	}
	unit, credential, err := UnitCommand()
	if err != nil {
		t.Fatal(err)
	}
	envKeys, err := UnitEnvKeys()
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		node := &Node{
			Name:        fmt.Sprintf("node%d", i),
			DataDir:     t.TempDir(),
			ClusterAddr: fmt.Sprintf("127.0.0.1:%d", ports[i]),
			bin:         o.Binary,
			stdout:      c.stdout,
		}
		// What nimbus.env and LoadCredential give the unit on a real node.
		credDir := t.TempDir()
		if err := os.WriteFile(filepath.Join(credDir, credential), []byte(c.Secret), 0o600); err != nil {
			t.Fatal(err)
		}
		vars := map[string]string{
			"NODE_NAME": node.Name, "NODE_DATA_DIR": node.DataDir, "NODE_LISTEN": "127.0.0.1:0",
			"NODE_CLUSTER": c.Name, "NODE_CLUSTER_LISTEN": node.ClusterAddr,
			// Every node gets the same list, its own route included.
			"NODE_ROUTES": strings.Join(routes, ","),
		}
		if linkRoutes != nil {
			vars["NODE_ROUTES"] = strings.Join(linkRoutes[i], ",")
		}
		for _, k := range envKeys {
			if _, ok := vars[k]; !ok {
				t.Fatalf("clustertest: deploy/systemd/nimbus.env sets %s, which the harness does not fill in", k)
			}
		}
		unitEnv := make([]string, 0, len(vars)+1)
		for k, v := range vars {
			unitEnv = append(unitEnv, k+"="+v)
		}
		vars["CREDENTIALS_DIRECTORY"] = credDir
		unitEnv = append(unitEnv, "CREDENTIALS_DIRECTORY="+credDir)
		args, err := expandUnit(unit, vars)
		if err != nil {
			t.Fatal(err)
		}
		node.args = append(append(append(args, "--runtime-sdks", "off"), extra...), o.Args...)
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "NIMBUS_") && !strings.HasPrefix(kv, "AWS_") {
				node.env = append(node.env, kv)
			}
		}
		node.env = append(append(node.env, unitEnv...), o.Env...)
		c.Nodes = append(c.Nodes, node)
	}
	t.Cleanup(func() {
		var wg sync.WaitGroup
		for _, node := range c.Nodes {
			wg.Go(func() { node.stop(t) })
		}
		wg.Wait()
		if t.Failed() {
			for _, node := range c.Nodes {
				t.Logf("--- %s log:\n%s", node.Name, node.Logs())
			}
		}
	})
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, node := range c.Nodes {
		wg.Go(func() { errs[i] = node.start() })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// Live are the nodes whose process runs.
func (c *Cluster) Live() []*Node {
	var out []*Node
	for _, n := range c.Nodes {
		if n.Running() {
			out = append(out, n)
		}
	}
	return out
}

// Restore starts every node that is not running (after a step killed or
// stopped it; concurrently) and waits until every node is ready, so the
// next step of a test that shares the cluster finds all of them serving.
func (c *Cluster) Restore(t testing.TB) {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for _, n := range c.Nodes {
		if n.Running() {
			continue
		}
		wg.Go(func() {
			if err := n.start(); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		t.Fatal(err)
	}
	for _, n := range c.Nodes {
		Eventually(t, 3*time.Minute, n.Name+" ready", func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			return n.Ready(ctx)
		})
	}
}

// Node returns the node named name, or nil.
func (c *Cluster) Node(name string) *Node {
	for _, n := range c.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// Credentials are the cluster's root credentials, as the first node that
// started stored them in its data directory (every node has the same).
func (c *Cluster) Credentials(t testing.TB) aws.Credentials {
	t.Helper()
	for _, n := range c.Nodes {
		if root, err := auth.LoadRoot(n.DataDir); err == nil {
			return aws.Credentials{AccessKeyID: root.AccessKeyID, SecretAccessKey: root.SecretAccessKey, Source: "clustertest"}
		}
	}
	t.Fatal("clustertest: no node stored root credentials")
	return aws.Credentials{}
}

var addrRE = regexp.MustCompile(`msg="nimbus listening".* addr=(127\.0\.0\.1:\d+)`)

// Start starts the node's process again (after Kill9 or Stop) with the same
// data directory and ports; it returns once the node listens.
func (n *Node) Start(t testing.TB) {
	t.Helper()
	if err := n.start(); err != nil {
		t.Fatal(err)
	}
}

func (n *Node) start() error {
	// Not CommandContext: the node outlives the call; Kill9 and Stop end it.
	cmd := exec.Command(n.bin, n.args...) //nolint:gosec,noctx // the test's own binary
	cmd.Env = n.env
	cmd.SysProcAttr = sysProcAttr()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	stdoutDone := make(chan struct{})
	if n.stdout != nil {
		out, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		go func() {
			defer close(stdoutDone)
			sc := bufio.NewScanner(out)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				n.stdout(n, sc.Text())
			}
		}()
	} else {
		cmd.Stdout = io.Discard
		close(stdoutDone)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", n.Name, err)
	}
	exited := make(chan struct{})
	addr := make(chan string, 1)
	n.mu.Lock()
	n.cmd, n.exited, n.Endpoint = cmd, exited, ""
	n.mu.Unlock()
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		found := false
		for sc.Scan() {
			line := sc.Text()
			n.mu.Lock()
			n.logs.WriteString(line + "\n")
			n.mu.Unlock()
			if m := addrRE.FindStringSubmatch(line); m != nil && !found {
				found = true
				addr <- m[1]
			}
		}
		<-stdoutDone // Wait closes the pipes: read them to the end first
		_ = cmd.Wait()
		close(exited)
	}()
	select {
	case a := <-addr:
		n.mu.Lock()
		n.Endpoint = "http://" + a
		n.mu.Unlock()
		return nil
	case <-exited:
		return fmt.Errorf("%s exited before listening:\n%s", n.Name, n.Logs())
	case <-time.After(6 * time.Minute):
		// A node creates every service's replicated streams before it
		// listens; with three nodes under -race on two loaded cores that
		// took over 3 minutes in CI.
		return fmt.Errorf("%s did not listen within 6 minutes:\n%s", n.Name, n.Logs())
	}
}

// Running reports whether the node's process runs.
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.exited == nil {
		return false
	}
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// Kill9 kills the node's process group with SIGKILL, as a crash would, and
// waits until the process is gone.
func (n *Node) Kill9(t testing.TB) {
	t.Helper()
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Process.Kill()
	<-exited
}

// Stop stops the node with SIGINT (a clean shutdown), bounded; a node that
// does not stop is killed and the test fails.
func (n *Node) Stop(t testing.TB) {
	t.Helper()
	n.stop(t)
}

func (n *Node) stop(t testing.TB) {
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-exited:
		return
	default:
	}
	_ = cmd.Process.Signal(os.Interrupt)
	select {
	case <-exited:
	case <-time.After(2 * time.Minute):
		// The last node of a cluster stops without quorum: its services'
		// final writes each wait out their timeouts.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
		t.Errorf("%s did not stop on SIGINT", n.Name)
	}
}

// Logs is everything the node's processes wrote to stderr.
func (n *Node) Logs() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.logs.String()
}

// Get sends a GET for path to the node, signed with creds (SigV4,
// service lambda), and returns the status code and body.
func (n *Node) Get(ctx context.Context, creds aws.Credentials, path string) (int, []byte, error) {
	n.mu.Lock()
	ep := n.Endpoint
	n.mu.Unlock()
	if ep == "" {
		return 0, nil, fmt.Errorf("%s is not running", n.Name)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ep+path, nil)
	if err != nil {
		return 0, nil, err
	}
	empty := sha256.Sum256(nil)
	if creds.AccessKeyID != "" {
		if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(empty[:]), "lambda", "us-east-1", time.Now()); err != nil {
			return 0, nil, err
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	return resp.StatusCode, body, err
}

// Status is the node's view of the cluster (GET /_nimbus/cluster).
func (n *Node) Status(ctx context.Context, creds aws.Credentials) (cluster.Status, error) {
	code, body, err := n.Get(ctx, creds, "/_nimbus/cluster")
	if err != nil {
		return cluster.Status{}, err
	}
	if code != http.StatusOK {
		return cluster.Status{}, fmt.Errorf("%s: cluster status %d: %s", n.Name, code, body)
	}
	var st cluster.Status
	if err := json.Unmarshal(body, &st); err != nil {
		return cluster.Status{}, fmt.Errorf("%s: decode cluster status: %w", n.Name, err)
	}
	return st, nil
}

// Ready reports whether the node's /readyz answers 200.
func (n *Node) Ready(ctx context.Context) bool {
	code, _, err := n.Get(ctx, aws.Credentials{}, "/readyz")
	return err == nil && code == http.StatusOK
}

// Eventually polls cond every 100 ms until it holds or timeout passes, and
// fails the test with what then.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("clustertest: not within %s: %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	var lns []net.Listener
	for range n {
		ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		_ = ln.Close()
	}
	return ports
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

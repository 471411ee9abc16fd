package clustertest

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// busyPy reports when it ran (the host's clock: every node runs on this
// machine), holding its environment a while.
const busyPy = `import time
def handler(event, context):
    t0 = time.time()
    time.sleep(0.25)
    return {"start": t0, "end": time.time()}
`

// hammerFor is how long reservedConcurrency's clients invoke.
const hammerFor = 15 * time.Second

// reservedConcurrency is the cross-node concurrency step (issue 28): a
// function with reserved concurrency 10, invoked by clients of all three
// nodes at once, never runs more than 10 invocations at a time
// cluster-wide (the intervals the function reports, overlapped), and
// every node gets to run some. It returns the most seen at once.
func reservedConcurrency(t *testing.T, c *Cluster, client func(*Node) *lambda.Client, role *string) {
	t.Helper()
	const reserved, workersPerNode = 10, 8
	ctx := t.Context()
	admin := client(c.Nodes[0])
	// Timeout 30 s: under CI's load (≈ 120 on two cores) a 0.25 s Python
	// invocation with its cold start once took over 10 s.
	if _, err := admin.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("busy"), Runtime: types.RuntimePython312, Handler: aws.String("app.handler"),
		Role: role, Timeout: aws.Int32(30), Code: &types.FunctionCode{ZipFile: pyZip(t, busyPy)},
	}); err != nil {
		t.Fatal(err)
	}
	// Read-your-writes on the node that wrote: the very next request to
	// node0 changes the function it has just created, once, no retry
	// (its check of the record's revision once read node0's own replica,
	// which may not have applied the create yet: 404 under load).
	if _, err := admin.PutFunctionConcurrency(ctx, &lambda.PutFunctionConcurrencyInput{
		FunctionName: aws.String("busy"), ReservedConcurrentExecutions: aws.Int32(reserved)}); err != nil {
		t.Fatalf("PutFunctionConcurrency on the node that has just created the function: %v", err)
	}
	for _, n := range c.Nodes {
		Eventually(t, time.Minute, n.Name+" sees busy's reserved concurrency", func() bool {
			out, err := client(n).GetFunctionConcurrency(ctx, &lambda.GetFunctionConcurrencyInput{FunctionName: aws.String("busy")})
			return err == nil && out.ReservedConcurrentExecutions != nil && *out.ReservedConcurrentExecutions == reserved
		})
	}
	type interval struct{ start, end float64 }
	var (
		mu        sync.Mutex
		runs      []interval
		perNode   = map[string]int{}
		throttled int
		wg        sync.WaitGroup
	)
	// 15 s: seven share renewals (every 2 s), enough to see shares move
	// between the nodes; this package is CI's critical path.
	hammer, stop := context.WithTimeout(ctx, hammerFor)
	defer stop()
	for _, n := range c.Nodes {
		cl := client(n)
		for range workersPerNode {
			wg.Go(func() {
				for hammer.Err() == nil {
					out, err := cl.Invoke(hammer, &lambda.InvokeInput{FunctionName: aws.String("busy")})
					var tm *types.TooManyRequestsException
					switch {
					case errors.As(err, &tm):
						mu.Lock()
						throttled++
						mu.Unlock()
						// Back off a little, as a client would (Retry-After):
						// the point is overlap, not spinning on 429s.
						select {
						case <-hammer.Done():
						case <-time.After(20 * time.Millisecond):
						}
						continue
					case err != nil:
						if hammer.Err() == nil {
							t.Errorf("invoke busy on %s: %v", n.Name, err)
						}
						return
					case out.FunctionError != nil:
						t.Errorf("busy failed on %s: %s", n.Name, out.Payload)
						return
					}
					var iv struct{ Start, End float64 }
					if err := json.Unmarshal(out.Payload, &iv); err != nil {
						t.Errorf("busy's answer %q: %v", out.Payload, err)
						return
					}
					mu.Lock()
					runs = append(runs, interval{iv.Start, iv.End})
					perNode[n.Name]++
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	// The most intervals open at once (an end before a start at the
	// same instant).
	type edge struct {
		at    float64
		delta int
	}
	edges := make([]edge, 0, 2*len(runs))
	for _, r := range runs {
		edges = append(edges, edge{r.start, 1}, edge{r.end, -1})
	}
	sort.Slice(edges, func(i, j int) bool {
		if edges[i].at != edges[j].at {
			return edges[i].at < edges[j].at
		}
		return edges[i].delta < edges[j].delta
	})
	open, top := 0, 0
	for _, e := range edges {
		open += e.delta
		top = max(top, open)
	}
	t.Logf("reserved concurrency %d, %d clients on 3 nodes for %s: %d invocations ran (per node %v), %d throttled, at most %d at once",
		reserved, 3*workersPerNode, hammerFor, len(runs), perNode, throttled, top)
	if top > reserved {
		t.Errorf("%d invocations of busy ran at once across the nodes; reserved concurrency is %d", top, reserved)
	}
	for _, n := range c.Nodes {
		if perNode[n.Name] == 0 {
			t.Errorf("%s ran no invocation of busy in %s: its share never came", n.Name, hammerFor)
		}
	}
	if throttled == 0 {
		t.Errorf("no invoke was throttled: %d clients against reserved concurrency %d should be", 3*workersPerNode, reserved)
	}
}

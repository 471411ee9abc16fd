package clustertest

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmw "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// The flood function's OnSuccess destination is the recorder, which prints
// the request id of every event that ran; --function-logs copies the
// line to the stdout of whichever node ran it.
const (
	recorderPy = `def handler(event, context):
    rc = event["requestContext"]
    print("NIMBUS-RECORD", rc["requestId"], rc["condition"], flush=True)
    return {}
`
	floodPy = `def handler(event, context):
    return {"n": event.get("n")}
`
)

func pyZip(t *testing.T, src string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.Create("app.py")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte(src)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// recorded collects the request ids the recorder printed on any node.
type recorded struct {
	mu   sync.Mutex
	seen map[string]int // guarded by mu
}

func (r *recorded) line(_ *Node, l string) {
	i := strings.Index(l, "NIMBUS-RECORD ")
	if i < 0 {
		return
	}
	if f := strings.Fields(l[i:]); len(f) >= 3 && f[2] == "Success" {
		r.mu.Lock()
		r.seen[f[1]]++
		r.mu.Unlock()
	}
}

func (r *recorded) missing(ids map[string]bool) (missing, dups int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id := range ids {
		switch n := r.seen[id]; {
		case n == 0:
			missing++
		case n > 1:
			dups += n - 1
		}
	}
	return missing, dups
}

// kill9LosesNoAsyncEvent: three nodes take asynchronous
// invokes from clients spread over them; one node is killed with SIGKILL
// mid-flood and never restarted. Every event a node answered 202 runs
// (its OnSuccess record reaches the recorder) on the survivors: events
// queued on the R3 stream, and events the dead node had pulled, which are
// redelivered when their AckWait passes. Duplicates (at-least-once) are
// reported, not failed. Before the flood, the same cluster checks that a
// function's reserved concurrency holds across the nodes.
func kill9LosesNoAsyncEvent(t *testing.T, c *Cluster) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not installed")
	}
	// 300 events, the kill at half way: each survivor then runs its share
	// and the dead node's (with their OnSuccess records: Python, on a
	// loaded 2-core machine), the step's longest wait.
	const total, workers = 300, 12
	rec := &recorded{seen: map[string]int{}}
	c.OnStdout(rec.line)
	creds := c.Credentials(t)
	client := func(n *Node) *lambda.Client {
		return lambda.New(lambda.Options{Region: "us-east-1", BaseEndpoint: aws.String(n.Endpoint),
			Credentials:      aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil }),
			RetryMaxAttempts: 1})
	}
	ctx := t.Context()
	admin := client(c.Nodes[0])
	// flood's records reach the recorder as flood's role (--iam enforce):
	// a role that may invoke functions, seen by every node.
	ic := awsiam.New(awsiam.Options{Region: "us-east-1", BaseEndpoint: aws.String(c.Nodes[0].Endpoint),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil })})
	role, err := ic.CreateRole(ctx, &awsiam.CreateRoleInput{RoleName: aws.String("invoker"), AssumeRolePolicyDocument: aws.String(
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ic.PutRolePolicy(ctx, &awsiam.PutRolePolicyInput{RoleName: aws.String("invoker"), PolicyName: aws.String("invoke"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"lambda:InvokeFunction","Resource":"*"}]}`)}); err != nil {
		t.Fatal(err)
	}
	for name, src := range map[string]string{"recorder": recorderPy, "flood": floodPy} {
		if _, err := admin.CreateFunction(ctx, &lambda.CreateFunctionInput{
			FunctionName: aws.String(name), Runtime: types.RuntimePython312, Handler: aws.String("app.handler"),
			Role: role.Role.Arn, Timeout: aws.Int32(30),
			Code: &types.FunctionCode{ZipFile: pyZip(t, src)},
		}); err != nil {
			t.Fatal(err)
		}
	}
	// A step of its own on the same cluster (a harness start costs
	// minutes): cluster-wide reserved concurrency.
	reservedConcurrency(t, c, client, role.Role.Arn)
	if _, err := admin.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{
		FunctionName: aws.String("flood"),
		DestinationConfig: &types.DestinationConfig{OnSuccess: &types.OnSuccess{
			Destination: aws.String("arn:aws:lambda:us-east-1:000000000000:function:recorder")}},
	}); err != nil {
		t.Fatal(err)
	}
	// Whichever node pulls an event runs it with the destination its own
	// registry knows (fed by a watch), so every node must know it before
	// the first event: an event run by a node that did not know it yet
	// never records (ci31's warm-up waited three minutes for a record
	// that could not come, leases and streams being fine).
	for _, n := range c.Nodes {
		Eventually(t, time.Minute, n.Name+" knows flood's OnSuccess destination", func() bool {
			out, err := client(n).GetFunctionEventInvokeConfig(ctx, &lambda.GetFunctionEventInvokeConfigInput{FunctionName: aws.String("flood")})
			return err == nil && out.DestinationConfig != nil && out.DestinationConfig.OnSuccess != nil &&
				aws.ToString(out.DestinationConfig.OnSuccess.Destination) != ""
		})
	}
	// The flood's clients retry a 503 as AWS's SDKs do (a node waits up
	// to 10 s for a stream leader, then tells the client to retry; on a
	// loaded CI machine that also happens without a kill), and nothing
	// else: a 500 is never retried, so it fails the step.
	var retried503 atomic.Int64
	floodRetryer := retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = 5
		o.RateLimiter = ratelimit.None
		o.Retryables = []retry.IsErrorRetryable{retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
			var re interface{ HTTPStatusCode() int }
			if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusServiceUnavailable {
				retried503.Add(1)
				return aws.TrueTernary
			}
			return aws.FalseTernary
		})}
	})
	floodClient := func(n *Node) *lambda.Client {
		return lambda.New(lambda.Options{Region: "us-east-1", BaseEndpoint: aws.String(n.Endpoint),
			Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil }),
			Retryer:     floodRetryer})
	}
	invoke := func(n *Node, i int64) (string, error) {
		out, err := floodClient(n).Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("flood"),
			InvocationType: types.InvocationTypeEvent, Payload: fmt.Appendf(nil, `{"n":%d}`, i)})
		if err != nil {
			return "", err
		}
		id, _ := awsmw.GetRequestIDMetadata(out.ResultMetadata)
		return id, nil
	}

	// Warm up: every node knows the functions (its registry watch has
	// them) and has run an event, so the kill finds work everywhere.
	warm := map[string]bool{}
	for i, n := range c.Nodes {
		Eventually(t, time.Minute, n.Name+" accepts an async invoke of flood", func() bool {
			id, err := invoke(n, int64(-i-1))
			if err == nil {
				warm[id] = true
			}
			return err == nil
		})
	}
	// A hang guard, not a timing: after the previous step's restarts a
	// loaded cluster re-elects its stream leaders (TestCluster's log
	// reports how long lease requests failed after each kill and start).
	Eventually(t, 6*time.Minute, "the warm-up events run", func() bool {
		missing, _ := rec.missing(warm)
		return missing == 0
	})

	victim := c.Nodes[2]
	var (
		mu       sync.Mutex
		accepted = map[string]bool{} // guarded by mu: request ids answered 202
		next     atomic.Int64
		killed   atomic.Bool
		killedAt time.Time
		once     sync.Once
		wg       sync.WaitGroup
		failures atomic.Int64 // invokes refused or cut off (never accepted)
		// survivorErrs are invokes a surviving node refused after the kill.
		survivorErrs atomic.Int64
	)
	for w := range workers {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > total {
					return
				}
				n := c.Nodes[(int(i)+w)%len(c.Nodes)]
				if n == victim && killed.Load() {
					n = c.Nodes[int(i)%2]
				}
				id, err := invoke(n, i)
				if err != nil {
					switch {
					case n == victim && killed.Load():
					case killed.Load():
						// While the queue stream elects a new leader after the
						// kill, a survivor waits for it (up to 10 s) and then
						// answers 503, which clients retry (here: up to five
						// times); never a 500.
						var re interface{ HTTPStatusCode() int }
						if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusServiceUnavailable {
							t.Errorf("invoke %d on surviving %s during the failover: %v; want 202, or 503 to retry", i, n.Name, err)
						}
						survivorErrs.Add(1)
					default:
						t.Errorf("invoke %d on %s: %v", i, n.Name, err)
					}
					failures.Add(1)
					continue
				}
				mu.Lock()
				accepted[id] = true
				half := len(accepted) == total/2
				mu.Unlock()
				if half {
					once.Do(func() {
						killed.Store(true)
						victim.Kill9(t)
						killedAt = time.Now()
					})
				}
			}
		})
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	Eventually(t, 5*time.Minute, "every accepted event runs on the surviving nodes", func() bool {
		missing, _ := rec.missing(accepted)
		return missing == 0
	})
	_, dups := rec.missing(accepted)
	t.Logf("accepted %d events, %d invokes not accepted (%d of them answered 503 by a surviving node during the failover, after the client's retries); %d answers 503 retried; all had run %s after the kill (the flood went on after it); %d duplicate records",
		len(accepted), failures.Load(), survivorErrs.Load(), retried503.Load(), time.Since(killedAt).Round(100*time.Millisecond), dups)
}

package daemon

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/nimbus-serverless/nimbus/internal/config"
	"github.com/nimbus-serverless/nimbus/internal/sigv4/sigv4test"
)

// The async benchmarks measure durable enqueues (Invoke with
// InvocationType Event answered 202 once the event is fsynced) from many
// concurrent clients, where group commit lets them share fsyncs, beside a
// single client (one fsync per event) and beside synchronous invokes of the
// same function from the same clients, all in one run:
//
//	go test -run '^$' -bench 'Async|SyncInvokeParallel' -benchtime 20000x ./internal/daemon/
//
// BenchmarkAsyncEndToEnd also waits until the dispatcher has run every
// event: end-to-end async throughput of a no-op function.

const asyncClients = 32

func asyncBenchNode(b *testing.B) (*node, string) {
	b.Helper()
	n := startNodeWith(b, b.TempDir(), func(c *config.Config) { c.AsyncDelayScale = 0.01 })
	if _, err := n.client.CreateFunction(context.Background(), &lambda.CreateFunctionInput{
		FunctionName: aws.String("bench"), Runtime: types.RuntimeProvidedal2023, Handler: aws.String("bootstrap"),
		Role: aws.String(testRole), Code: &types.FunctionCode{ZipFile: goZip(b, "./internal/daemon/testdata/fn")},
	}); err != nil {
		b.Fatal(err)
	}
	return n, "http://" + n.d.Addr() + "/2015-03-31/functions/bench/invocations"
}

// manyClient signs with the node's root credentials and keeps a connection
// per client.
func manyClient(n *node) *http.Client {
	return &http.Client{Transport: &sigv4test.Transport{
		Base:  &http.Transport{MaxIdleConnsPerHost: asyncClients, DisableCompression: true},
		Creds: credentials.StaticCredentialsProvider{Value: n.creds()}, Region: "us-east-1", Service: "lambda"}}
}

func postEvent(c *http.Client, url string, body []byte) error {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("X-Amz-Invocation-Type", "Event")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// parallel runs do from asyncClients goroutines and reports per second.
func parallel(b *testing.B, unit string, do func() error) {
	b.Helper()
	b.SetParallelism(asyncClients / 2) // x GOMAXPROCS(2)
	start := time.Now()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := do(); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), unit)
}

var benchEvent = []byte(`{"action":"echo","value":1}`)

func BenchmarkAsyncEnqueueParallel(b *testing.B) {
	n, url := asyncBenchNode(b)
	c := manyClient(n)
	parallel(b, "events/s", func() error { return postEvent(c, url, benchEvent) })
}

func BenchmarkAsyncEnqueueSequential(b *testing.B) {
	n, url := asyncBenchNode(b)
	c := manyClient(n)
	start := time.Now()
	for b.Loop() {
		if err := postEvent(c, url, benchEvent); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

func BenchmarkSyncInvokeParallel(b *testing.B) {
	n, url := asyncBenchNode(b)
	c := manyClient(n)
	if err := post(c, url, benchEvent); err != nil { // cold start outside
		b.Fatal(err)
	}
	parallel(b, "invokes/s", func() error { return post(c, url, benchEvent) })
}

func BenchmarkAsyncEndToEnd(b *testing.B) {
	n, url := asyncBenchNode(b)
	c := manyClient(n)
	ctx := context.Background()
	before, err := n.d.async.Stats(ctx)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	parallel(b, "enqueued/s", func() error { return postEvent(c, url, benchEvent) })
	if b.Failed() {
		return // not every event was accepted: nothing to wait for
	}
	b.StartTimer()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		st, err := n.d.async.Stats(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if st.Succeeded-before.Succeeded >= uint64(b.N) {
			break
		}
		<-tick.C
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "completed/s")
}

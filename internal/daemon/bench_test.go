package daemon

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/nimbus-serverless/nimbus/internal/auth"
	"github.com/nimbus-serverless/nimbus/internal/config"
	"github.com/nimbus-serverless/nimbus/internal/sigv4/sigv4test"
)

// The warm-invoke benchmark goes through the whole HTTP path — client,
// Lambda API, registry cache, pool, Runtime API, the function — and is
// reported beside a plain Go HTTP echo server measured in the same run with
// the same client, so the ratio means something on a shared, noisy machine:
//
//	go test -run '^$' -bench 'WarmInvoke|EchoBaseline' -benchtime 3000x ./internal/daemon/
//
// (WarmInvokeNoAuth beside WarmInvoke gives the cost of SigV4 verification.)
//
// Both report p50 and p99 latency (ns) as extra metrics. A warm invoke
// crosses into the function's process and back, so a second baseline runs
// the same echo in a separate process (BenchmarkEchoSubprocessBaseline):
// the cost of one cross-process HTTP round trip on this machine.

func benchClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true}}
}

func measure(b *testing.B, do func() error) {
	b.Helper()
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	for b.Loop() {
		start := time.Now()
		if err := do(); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	reportCPU(b, cpu0, len(lat))
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(float64(len(lat)-1)*p)].Nanoseconds()) }
	if len(lat) > 0 {
		b.ReportMetric(pct(0.50), "p50-ns")
		b.ReportMetric(pct(0.99), "p99-ns")
	}
}

// reportCPU reports the process's CPU time per operation since cpu0 (the
// node's, the client's and the runtime's: comparable between benchmarks
// of one run, and steadier than wall time when other work shares the
// machine).
func reportCPU(b *testing.B, cpu0 time.Duration, n int) {
	if cpu := processCPU(); cpu0 > 0 && n > 0 {
		b.ReportMetric(float64((cpu-cpu0).Nanoseconds())/float64(n), "cpu-ns/op")
	}
}

func post(c *http.Client, url string, body []byte) error {
	resp, err := c.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != 200 || resp.Header.Get("X-Amz-Function-Error") != "" {
		return fmt.Errorf("status %d %s", resp.StatusCode, resp.Header.Get("X-Amz-Function-Error"))
	}
	return nil
}

var echoHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
})

const echoServerEnv = "NIMBUS_TEST_ECHO_SERVER"

// runEchoServer is the subprocess side of BenchmarkEchoSubprocessBaseline:
// it prints its address and serves until stdin closes.
func runEchoServer() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.Exit(1)
	}
	fmt.Println(ln.Addr().String())
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	_ = (&http.Server{Handler: echoHandler}).Serve(ln)
	os.Exit(0)
}

func BenchmarkEchoBaseline(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: echoHandler}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	c := benchClient()
	url := "http://" + ln.Addr().String() + "/2015-03-31/functions/echo/invocations"
	measure(b, func() error { return post(c, url, []byte(`{"action":"echo","value":1}`)) })
}

func BenchmarkEchoSubprocessBaseline(b *testing.B) {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), echoServerEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = stdin.Close(); _ = cmd.Wait() }()
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatal(err)
	}
	c := benchClient()
	url := "http://" + strings.TrimSpace(addr) + "/2015-03-31/functions/echo/invocations"
	measure(b, func() error { return post(c, url, []byte(`{"action":"echo","value":1}`)) })
}

func BenchmarkWarmInvoke(b *testing.B) { warmInvoke(b, nil) }

// BenchmarkWarmInvokeTelemetryOff is BenchmarkWarmInvoke without metrics
// and cost metering: compare the two in one run for their cost,
//
//	go test -run '^$' -bench 'WarmInvoke' -benchtime 3000x -count 3 ./internal/daemon/
func BenchmarkWarmInvokeTelemetryOff(b *testing.B) {
	warmInvoke(b, func(c *config.Config) { c.Telemetry = false })
}

// BenchmarkWarmInvokeNoAuth sends the same signed requests as
// BenchmarkWarmInvoke to a node started with --insecure-no-auth: the
// ratio of the two is the cost of the server-side SigV4 check.
func BenchmarkWarmInvokeNoAuth(b *testing.B) {
	warmInvoke(b, func(c *config.Config) { c.InsecureNoAuth = true })
}

func warmInvoke(b *testing.B, mutate func(*config.Config)) {
	n := startNodeWith(b, b.TempDir(), mutate)
	if n.d.cfg.InsecureNoAuth { // sign with throwaway keys: same client work as the verified run
		n.d.root = auth.Credentials{AccessKeyID: "AKIDBENCH", SecretAccessKey: "bench"}
		n.client = lambda.NewFromConfig(n.awsConfig())
	}
	ctx := context.Background()
	zip := goZip(b, "./internal/daemon/testdata/fn")
	if _, err := n.client.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("bench"), Runtime: types.RuntimeProvidedal2023, Handler: aws.String("bootstrap"),
		Role: aws.String(testRole), Code: &types.FunctionCode{ZipFile: zip},
	}); err != nil {
		b.Fatal(err)
	}
	c := &http.Client{Transport: &sigv4test.Transport{Base: benchClient().Transport,
		Creds: credentials.StaticCredentialsProvider{Value: n.creds()}, Region: "us-east-1", Service: "lambda"}}
	url := "http://" + n.d.Addr() + "/2015-03-31/functions/bench/invocations"
	body := []byte(`{"action":"echo","value":1}`)
	if err := post(c, url, body); err != nil { // cold start outside the measurement
		b.Fatal(err)
	}
	measure(b, func() error { return post(c, url, body) })
}

// The HTTP API benchmarks put one request through API Gateway and the same
// request, as the payload 2.0 event API Gateway would build, through a
// direct Lambda Invoke of the same function (an aws-lambda-go-api-proxy
// net/http app), so the difference is API Gateway's own cost; read them
// beside the echo baseline of the same run:
//
//	go test -run '^$' -bench 'HTTPAPI|EchoBaseline' -benchtime 2000x ./internal/daemon/
func BenchmarkHTTPAPIRequest(b *testing.B) {
	n, id := httpAPIBenchNode(b)
	c := benchClient()
	get := func() error {
		req, err := http.NewRequest("GET", "http://"+n.d.Addr()+"/items/42", nil)
		if err != nil {
			return err
		}
		req.Host = id + ".execute-api.us-east-1.localhost"
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return err
		}
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	if err := get(); err != nil { // cold start outside the measurement
		b.Fatal(err)
	}
	measure(b, get)
}

// The Parallel variants measure throughput: 8 client goroutines, the
// requests/s as a metric; compare with BenchmarkEchoParallelBaseline.
func BenchmarkHTTPAPIRequestParallel(b *testing.B) {
	n, id := httpAPIBenchNode(b)
	c := benchClient()
	url := "http://" + n.d.Addr() + "/items/42"
	get := func() error {
		req, err := http.NewRequest("GET", url, nil)
		if err != nil {
			return err
		}
		req.Host = id + ".execute-api.us-east-1.localhost"
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, err = io.Copy(io.Discard, resp.Body)
		if err == nil && resp.StatusCode != 200 {
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		return err
	}
	if err := get(); err != nil {
		b.Fatal(err)
	}
	throughput(b, get)
}

func BenchmarkHTTPAPIDirectInvokeParallel(b *testing.B) {
	n, _ := httpAPIBenchNode(b)
	c := benchClient()
	url := "http://" + n.d.Addr() + "/2015-03-31/functions/web/invocations"
	if err := post(c, url, directEvent); err != nil {
		b.Fatal(err)
	}
	throughput(b, func() error { return post(c, url, directEvent) })
}

func BenchmarkEchoParallelBaseline(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: echoHandler}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	c := benchClient()
	url := "http://" + ln.Addr().String() + "/2015-03-31/functions/echo/invocations"
	throughput(b, func() error { return post(c, url, directEvent) })
}

// throughput runs do from 8 goroutines and reports requests per second.
func throughput(b *testing.B, do func() error) {
	b.Helper()
	b.SetParallelism(4) // 4 x GOMAXPROCS(2) = 8 clients
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
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

func BenchmarkHTTPAPIDirectInvoke(b *testing.B) {
	n, _ := httpAPIBenchNode(b)
	c := benchClient()
	url := "http://" + n.d.Addr() + "/2015-03-31/functions/web/invocations"
	event := directEvent
	if err := post(c, url, event); err != nil {
		b.Fatal(err)
	}
	measure(b, func() error { return post(c, url, event) })
}

// httpAPIBenchNode starts a node with the web function behind a
// quick-created HTTP API.
func httpAPIBenchNode(b *testing.B) (*node, string) {
	n := startNode(b, b.TempDir())
	ctx := context.Background()
	out, err := n.client.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("web"), Runtime: types.RuntimeProvidedal2023, Handler: aws.String("bootstrap"),
		Role: aws.String(testRole), Code: &types.FunctionCode{ZipFile: goZip(b, webPkg)},
	})
	if err != nil {
		b.Fatal(err)
	}
	api, err := n.apigwV2().CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: aws.String("bench"), ProtocolType: "HTTP", Target: out.FunctionArn})
	if err != nil {
		b.Fatal(err)
	}
	return n, aws.ToString(api.ApiId)
}

// directEvent is the payload 2.0 event of GET /items/42 as API Gateway
// builds it, for the direct-invoke comparisons.
var directEvent = []byte(`{"version":"2.0","routeKey":"$default","rawPath":"/items/42","rawQueryString":"","headers":{"host":"x.execute-api.us-east-1.localhost","user-agent":"Go-http-client/1.1"},"requestContext":{"accountId":"000000000000","apiId":"x","domainName":"x.execute-api.us-east-1.localhost","domainPrefix":"x","http":{"method":"GET","path":"/items/42","protocol":"HTTP/1.1","sourceIp":"127.0.0.1","userAgent":"Go-http-client/1.1"},"requestId":"r","routeKey":"$default","stage":"$default","time":"27/Nov/2026:08:00:00 +0000","timeEpoch":1795766400000},"isBase64Encoded":false}`)

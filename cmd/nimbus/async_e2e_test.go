package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmw "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// recorderPy is the destination function of the crash test: it prints the
// request id of every record it receives, which --function-logs copies to
// the server's stdout as "[recorder] NIMBUS-RECORD <id> <condition>".
const recorderPy = `def handler(event, context):
    rc = event["requestContext"]
    print("NIMBUS-RECORD", rc["requestId"], rc["condition"], flush=True)
    return {}
`

const floodPy = `def handler(event, context):
    print("NIMBUS-RUN", context.aws_request_id, flush=True)
    return {"n": event.get("n")}
`

func pyZip(t *testing.T, name, src string) []byte {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.py"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	zipPath := filepath.Join(dir, name+".zip")
	writeZip(t, zipPath, dir, []string{"app.py"})
	b, err := os.ReadFile(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sdkClient(endpoint string) *lambda.Client {
	return lambda.New(lambda.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(envValue(awsEnv(endpoint), "AWS_ACCESS_KEY_ID"),
			envValue(awsEnv(endpoint), "AWS_SECRET_ACCESS_KEY"), ""),
	})
}

// records collects the request ids the recorder printed, across server
// processes.
type records struct {
	mu    sync.Mutex
	seen  map[string]int // guarded by mu: Success records per request id
	runs  map[string]int // guarded by mu: executions of the flood function
	added chan struct{}  // signalled (non-blocking) on each new line
}

func (r *records) line(l string) {
	if i := strings.Index(l, "NIMBUS-RUN "); i >= 0 {
		if f := strings.Fields(l[i:]); len(f) >= 2 {
			r.mu.Lock()
			r.runs[f[1]]++
			r.mu.Unlock()
		}
		return
	}
	i := strings.Index(l, "NIMBUS-RECORD ")
	if i < 0 {
		return
	}
	f := strings.Fields(l[i:])
	if len(f) < 3 || f[2] != "Success" {
		return
	}
	r.mu.Lock()
	r.seen[f[1]]++
	r.mu.Unlock()
	select {
	case r.added <- struct{}{}:
	default:
	}
}

// count is how many Success records arrived.
func (r *records) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.seen {
		n += c
	}
	return n
}

// reruns counts executions of ids beyond the first.
func (r *records) reruns(ids map[string]bool) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for id := range ids {
		n += max(r.runs[id]-1, 0)
	}
	return n
}

// missing returns how many of ids have no record yet, and the number of
// extra records (duplicates) of ids.
func (r *records) missing(ids map[string]bool) (missing, dups int) {
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

// TestAsyncKill9LosesNoEvent floods a node with asynchronous invokes,
// kills it with SIGKILL mid-flood, starts it again on the same data and
// checks that every event answered 202 reached the function: its OnSuccess
// record arrives at a destination function, which prints it. Duplicates
// (at-least-once) are reported, not failed.
func TestAsyncKill9LosesNoEvent(t *testing.T) {
	requireSoak(t)
	t.Parallel()
	requireTool(t, "python3")
	const total, workers = 2000, 32
	dataDir := t.TempDir()
	rec := &records{seen: map[string]int{}, runs: map[string]int{}, added: make(chan struct{}, 1)}
	flags := []string{"--function-logs", "--async-delay-scale", "0.01"}
	srv := startServerWith(t, dataDir, rec.line, flags...)
	client := sdkClient(srv.endpoint)
	ctx := context.Background()
	role := invokerRole(t, srv.endpoint)
	for name, src := range map[string]string{"recorder": recorderPy, "flood": floodPy} {
		if _, err := client.CreateFunction(ctx, &lambda.CreateFunctionInput{
			FunctionName: aws.String(name), Runtime: types.RuntimePython312, Handler: aws.String("app.handler"),
			Role: aws.String(role), Timeout: aws.Int32(30),
			Code: &types.FunctionCode{ZipFile: pyZip(t, name, src)},
		}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := client.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{
		FunctionName: aws.String("flood"),
		DestinationConfig: &types.DestinationConfig{OnSuccess: &types.OnSuccess{
			Destination: aws.String("arn:aws:lambda:us-east-1:000000000000:function:recorder")}},
	}); err != nil {
		t.Fatal(err)
	}

	// Warm up: the dispatcher and the functions' environments are running
	// when the flood starts, so the kill finds events delivered, running
	// and queued.
	warm := map[string]bool{}
	for n := range 20 {
		out, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("flood"),
			InvocationType: types.InvocationTypeEvent, Payload: []byte(`{"n":-` + itoa(int64(n)) + `}`)})
		if err != nil {
			t.Fatal(err)
		}
		id, _ := awsmw.GetRequestIDMetadata(out.ResultMetadata)
		warm[id] = true
	}
	waitDelivered(t, rec, warm)

	var (
		mu       sync.Mutex
		accepted = map[string]bool{} // guarded by mu: request ids answered 202
		next     atomic.Int64
		killing  atomic.Bool // set before the kill: errors after it are the kill's
		once     sync.Once
		wg       sync.WaitGroup
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n := next.Add(1)
				if n > total {
					return
				}
				out, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("flood"),
					InvocationType: types.InvocationTypeEvent, Payload: []byte(`{"n":` + itoa(n) + `}`)})
				if err != nil {
					if !killing.Load() {
						t.Errorf("invoke %d: %v", n, err)
					}
					return // after the kill: unanswered events were never accepted
				}
				id, _ := awsmw.GetRequestIDMetadata(out.ResultMetadata)
				mu.Lock()
				accepted[id] = true
				half := len(accepted) == total/2
				mu.Unlock()
				if half {
					once.Do(func() {
						killing.Store(true)
						srv.kill9(t)
						mu.Lock()
						missing, _ := rec.missing(accepted)
						mu.Unlock()
						t.Logf("killed the server with %d accepted events not yet delivered", missing)
					})
				}
			}
		}()
	}
	wg.Wait()
	mu.Lock()
	acceptedBeforeKill := len(accepted)
	mu.Unlock()
	_, dupsBefore := rec.missing(accepted)

	srv = startServerWith(t, dataDir, rec.line, flags...)
	client = sdkClient(srv.endpoint)
	// Top up to total with the restarted node, so recovery runs beside new work.
	for n := next.Load(); len(accepted) < total; n++ {
		out, err := client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("flood"),
			InvocationType: types.InvocationTypeEvent, Payload: []byte(`{"n":` + itoa(n) + `}`)})
		if err != nil {
			t.Fatal(err)
		}
		id, _ := awsmw.GetRequestIDMetadata(out.ResultMetadata)
		accepted[id] = true
	}
	waitDelivered(t, rec, accepted)
	_, dups := rec.missing(accepted)
	t.Logf("accepted %d events (%d before the kill); all delivered; %d duplicate records (%d before the kill); the function ran %d events more than once",
		len(accepted), acceptedBeforeKill, dups, dupsBefore, rec.reruns(accepted))
}

// describeMissing names a few ids without a record and how often the
// flood function ran each: 0 means the event itself never ran, more means
// its record was lost on the way to the recorder.
func (r *records) describeMissing(ids map[string]bool) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for id := range ids {
		if r.seen[id] == 0 && len(out) < 5 {
			out = append(out, id+" ran "+strconv.Itoa(r.runs[id])+"×")
		}
	}
	return strings.Join(out, ", ")
}

// waitDelivered returns once every id has a record; it fails the test if
// that does not happen within a generous bound (a hang guard, not a timing
// assertion).
func waitDelivered(t *testing.T, rec *records, ids map[string]bool) {
	t.Helper()
	deadline := time.After(3 * time.Minute)
	for {
		missing, _ := rec.missing(ids)
		if missing == 0 {
			return
		}
		select {
		case <-rec.added:
		case <-deadline:
			t.Fatalf("%d of %d accepted events never reached the function (%s)", missing, len(ids), rec.describeMissing(ids))
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestAsyncAWSCLI drives the event-invoke-config APIs and an Event invoke
// with each AWS CLI on this machine; the invoke's OnSuccess record reaches
// the recorder function.
func TestAsyncAWSCLI(t *testing.T) {
	t.Parallel()
	clis := awsCLIs(t)
	requireTool(t, "python3")
	rec := &records{seen: map[string]int{}, runs: map[string]int{}, added: make(chan struct{}, 1)}
	srv := startServerWith(t, t.TempDir(), rec.line, "--function-logs", "--async-delay-scale", "0.01")
	env := awsEnv(srv.endpoint)
	client := sdkClient(srv.endpoint)
	role := invokerRole(t, srv.endpoint)
	if _, err := client.CreateFunction(context.Background(), &lambda.CreateFunctionInput{
		FunctionName: aws.String("recorder"), Runtime: types.RuntimePython312, Handler: aws.String("app.handler"),
		Role: aws.String(role), Code: &types.FunctionCode{ZipFile: pyZip(t, "recorder", recorderPy)},
	}); err != nil {
		t.Fatal(err)
	}
	floodZip := filepath.Join(t.TempDir(), "flood.zip")
	if err := os.WriteFile(floodZip, pyZip(t, "flood", floodPy), 0o644); err != nil {
		t.Fatal(err)
	}
	for version, awsPath := range clis {
		t.Run(version, func(t *testing.T) {
			work := t.TempDir()
			cli := func(args ...string) string {
				t.Helper()
				out, errOut, err := run(t, env, work, awsPath, append([]string{"--endpoint-url", srv.endpoint}, args...)...)
				if err != nil {
					t.Fatalf("aws %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
				}
				return out
			}
			name := "async-" + version
			cli("lambda", "create-function", "--function-name", name, "--runtime", "python3.12", "--handler", "app.handler",
				"--role", role, "--zip-file", "fileb://"+floodZip)
			dest := "arn:aws:lambda:us-east-1:000000000000:function:recorder"
			out := cli("lambda", "put-function-event-invoke-config", "--function-name", name, "--maximum-retry-attempts", "1",
				"--destination-config", `{"OnSuccess":{"Destination":"`+dest+`"}}`)
			var cfg struct {
				FunctionArn              string
				MaximumRetryAttempts     *int
				MaximumEventAgeInSeconds *int
				DestinationConfig        struct{ OnSuccess, OnFailure struct{ Destination string } }
			}
			if err := json.Unmarshal([]byte(out), &cfg); err != nil || cfg.MaximumRetryAttempts == nil || *cfg.MaximumRetryAttempts != 1 ||
				cfg.MaximumEventAgeInSeconds != nil || cfg.DestinationConfig.OnSuccess.Destination != dest ||
				!strings.HasSuffix(cfg.FunctionArn, ":function:"+name+":$LATEST") {
				t.Fatalf("put-function-event-invoke-config: %v\n%s", err, out)
			}
			out = cli("lambda", "update-function-event-invoke-config", "--function-name", name, "--maximum-event-age-in-seconds", "3600")
			if !strings.Contains(out, `"MaximumEventAgeInSeconds": 3600`) || !strings.Contains(out, `"MaximumRetryAttempts": 1`) {
				t.Fatalf("update kept the other settings? %s", out)
			}
			out = cli("lambda", "list-function-event-invoke-configs", "--function-name", name)
			if !strings.Contains(out, `"FunctionEventInvokeConfigs"`) || !strings.Contains(out, dest) {
				t.Fatalf("list-function-event-invoke-configs: %s", out)
			}
			args := []string{"lambda", "invoke", "--function-name", name, "--invocation-type", "Event", "--payload", `{"n":1}`, "out.json"}
			if version != "v1" {
				args = append(args, "--cli-binary-format", "raw-in-base64-out")
			}
			// The CLI does not show the request id: wait for one more
			// Success record than there were before the invoke.
			before := rec.count()
			out = cli(args...)
			if !strings.Contains(out, `"StatusCode": 202`) {
				t.Fatalf("invoke --invocation-type Event: %s", out)
			}
			deadline := time.After(time.Minute) // hang guard
			for rec.count() == before {
				select {
				case <-rec.added:
				case <-deadline:
					t.Fatal("the event's OnSuccess record never reached the recorder")
				}
			}
			// nimbus's own client: invoke --async prints the request id.
			before = rec.count()
			out, errOut, err := run(t, env, work, nimbusBin, "invoke", name, "--async", "--payload", `{"n":2}`)
			if err != nil || !regexp.MustCompile(`^queued [0-9a-f-]{36}\n$`).MatchString(out) {
				t.Fatalf("nimbus invoke --async: %v %q %s", err, out, errOut)
			}
			deadline = time.After(time.Minute) // hang guard
			for rec.count() == before {
				select {
				case <-rec.added:
				case <-deadline:
					t.Fatal("nimbus invoke --async: the event never reached the function")
				}
			}
			cli("lambda", "delete-function-event-invoke-config", "--function-name", name)
			_, errOut, err = run(t, env, work, awsPath, "--endpoint-url", srv.endpoint, "lambda", "get-function-event-invoke-config", "--function-name", name)
			if err == nil || !strings.Contains(errOut, "ResourceNotFoundException") {
				t.Fatalf("get after delete: %v %s", err, errOut)
			}
		})
	}
}

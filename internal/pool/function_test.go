package pool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// The test binary is also the function under test: with functionEnv set
// (as a function environment variable) it is a provided-runtime bootstrap
// built on aws-lambda-go.
const functionEnv = "POOL_TEST_FUNCTION"

// count is the function's global state: it survives while the
// environment is reused.
var count int

// timerFired is when the "arm" action's timer fired (Unix ns; 0: not yet).
var timerFired atomic.Int64

// hog keeps the "oom" action's allocations reachable.
var hog [][]byte

func runFunction() {
	switch os.Getenv("POOL_TEST_INIT") {
	case "exit":
		fmt.Println("init is exiting")
		os.Exit(3)
	case "error":
		// What a managed runtime does when the handler module fails to load.
		body := `{"errorMessage":"Unable to import module 'app': No module named 'missing'","errorType":"Runtime.ImportModuleError","stackTrace":[]}`
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost,
			"http://"+os.Getenv("AWS_LAMBDA_RUNTIME_API")+"/2018-06-01/runtime/init/error", strings.NewReader(body))
		req.Header.Set("Lambda-Runtime-Function-Error-Type", "Runtime.ImportModuleError")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_ = resp.Body.Close()
		}
		os.Exit(1)
	case "hang":
		for {
			time.Sleep(time.Hour)
		}
	case "slow": // an init longer than the init budget
		ms, _ := strconv.Atoi(os.Getenv("POOL_TEST_INIT_MS"))
		time.Sleep(time.Duration(ms) * time.Millisecond)
	}
	fmt.Println("init done")
	lambda.Start(handle)
}

type event struct {
	Action string `json:"action"`
	Value  any    `json:"value"`
	MS     int    `json:"ms"`
	URL    string `json:"url"`
	Bytes  int    `json:"bytes"`
	Lines  int    `json:"lines"`
}

func handle(ctx context.Context, ev event) (any, error) {
	if ev.Action == "noop" {
		return nil, nil
	}
	count++
	fmt.Printf("action=%s count=%d\n", ev.Action, count)
	lc, _ := lambdacontext.FromContext(ctx)
	switch ev.Action {
	case "echo":
		return map[string]any{"count": count, "value": ev.Value, "version": os.Getenv("AWS_LAMBDA_FUNCTION_VERSION"),
			"request_id": lc.AwsRequestID}, nil
	case "error":
		return nil, errors.New("something broke")
	case "sleep":
		time.Sleep(time.Duration(ev.MS) * time.Millisecond)
		return map[string]any{"count": count}, nil
	case "crash":
		os.Exit(2)
	case "kill":
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		time.Sleep(time.Hour)
	case "oom":
		for {
			b := make([]byte, 1<<20)
			for i := 0; i < len(b); i += 4096 {
				b[i] = 1
			}
			hog = append(hog, b)
		}
	case "env":
		env := map[string]string{}
		for _, kv := range os.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		return env, nil
	case "big":
		return map[string]string{"data": strings.Repeat("a", ev.Bytes)}, nil
	case "jsonlog":
		fmt.Println(`{"timestamp":"2026-11-27T08:00:00Z","level":"DEBUG","message":"debug detail"}`)
		fmt.Println(`{"timestamp":"2026-11-27T08:00:00Z","level":"ERROR","message":"something bad"}`)
		fmt.Println("plain text line")
		return map[string]any{"count": count}, nil
	case "print":
		for i := range ev.Lines {
			fmt.Printf("line %d of %d\n", i+1, ev.Lines)
		}
		fmt.Print("unterminated last line")
		return map[string]any{"count": count}, nil
	case "daemon":
		// A background process in its own session, left behind.
		self, _ := os.Executable()
		_, err := syscall.ForkExec(self, []string{"daemon"}, &syscall.ProcAttr{
			Env: append(os.Environ(), "POOL_TEST_INIT=hang", "POOL_TEST_DAEMON="+ev.URL),
			Sys: &syscall.SysProcAttr{Setsid: true},
		})
		if err != nil {
			return nil, err
		}
		fmt.Println("daemon started")
		time.Sleep(time.Hour)
		return nil, nil
	case "netifs":
		ifs, err := net.Interfaces()
		if err != nil {
			return nil, err
		}
		var names []string
		for _, i := range ifs {
			names = append(names, i.Name)
		}
		return map[string]any{"interfaces": names}, nil
	case "spin":
		fmt.Println("spinning")
		for {
			count++
		}
	case "arm":
		// A timer that fires ev.MS from now unless the environment is
		// frozen by then.
		timerFired.Store(0)
		time.AfterFunc(time.Duration(ev.MS)*time.Millisecond, func() { timerFired.Store(time.Now().UnixNano()) })
		return map[string]any{"due": time.Now().Add(time.Duration(ev.MS) * time.Millisecond).UnixNano()}, nil
	case "check":
		return map[string]any{"fired": timerFired.Load()}, nil
	case "get": // a GET of URL, with the session token as the secrets extension wants it when Value is "token"
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ev.URL, nil)
		if ev.Value == "token" {
			req.Header.Set("X-Aws-Parameters-Secrets-Token", os.Getenv("AWS_SESSION_TOKEN"))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		return map[string]any{"status": resp.StatusCode, "body": string(b)}, nil
	case "barrier":
		url := ev.URL
		if url == "" {
			url = os.Getenv("AWS_ENDPOINT_URL") // the node's API on the environment's loopback
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		return map[string]any{"barrier": string(bytes.TrimSpace(b))}, nil
	}
	return nil, fmt.Errorf("unknown action %q", ev.Action)
}

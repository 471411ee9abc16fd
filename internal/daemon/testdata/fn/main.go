// Command fn is the integration tests' function: an aws-lambda-go program
// whose event picks a behaviour, so one zip exercises the whole lifecycle.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type event struct {
	Action string `json:"action"`
	Ms     int    `json:"ms"`
	Bytes  int    `json:"bytes"`
	Value  any    `json:"value"`
}

var count int

// handle runs the event's action. With NIMBUS_TEST_SINK set it first
// POSTs the raw event there, so a test sees what reached the function
// (an async event, a destination's invocation record).
func handle(ctx context.Context, raw json.RawMessage) (any, error) {
	if sink := os.Getenv("NIMBUS_TEST_SINK"); sink != "" {
		resp, err := http.Post(sink, "application/json", bytes.NewReader(raw)) //nolint:gosec,noctx // test function
		if err != nil {
			return nil, fmt.Errorf("post to sink: %w", err)
		}
		_ = resp.Body.Close()
	}
	var ev event
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, err
	}
	count++
	lc, _ := lambdacontext.FromContext(ctx)
	fmt.Printf("action=%s count=%d\n", ev.Action, count)
	switch ev.Action {
	case "echo", "":
		return map[string]any{"value": ev.Value, "count": count, "requestId": lc.AwsRequestID,
			"arn": lc.InvokedFunctionArn, "version": os.Getenv("AWS_LAMBDA_FUNCTION_VERSION")}, nil
	case "error":
		return nil, errors.New("something broke")
	case "sleep":
		time.Sleep(time.Duration(ev.Ms) * time.Millisecond)
		return map[string]any{"slept": ev.Ms}, nil
	case "crash":
		os.Exit(3)
	case "oom":
		var hog [][]byte
		for {
			b := make([]byte, 16<<20)
			for i := range b {
				b[i] = 1
			}
			hog = append(hog, b)
		}
	case "big":
		return strings.Repeat("x", ev.Bytes), nil
	case "env":
		env := map[string]string{}
		for _, kv := range os.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		wd, _ := os.Getwd()
		env["__cwd"] = wd
		return env, nil
	case "print": // one line of output, as given (an EMF document, say)
		s, _ := ev.Value.(string)
		fmt.Println(s)
		return "printed", nil
	case "clientcontext":
		return lc.ClientContext, nil
	case "get": // an unsigned GET of the node's API at the path in value, from inside the sandbox
		p, _ := ev.Value.(string)
		resp, err := http.Get(os.Getenv("AWS_ENDPOINT_URL") + p) //nolint:gosec,noctx // test function
		if err != nil {
			return nil, fmt.Errorf("get %s: %w", p, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		return map[string]any{"status": resp.StatusCode, "body": string(b)}, nil
	}
	return nil, fmt.Errorf("unknown action %q", ev.Action)
}

func main() { lambda.Start(handle) }

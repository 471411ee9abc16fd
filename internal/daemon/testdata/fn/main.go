// Command fn is the integration tests' function: an aws-lambda-go program
// whose event picks a behaviour, so one zip exercises the whole lifecycle.
package main

import (
	"context"
	"errors"
	"fmt"
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

func handle(ctx context.Context, ev event) (any, error) {
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
	}
	return nil, fmt.Errorf("unknown action %q", ev.Action)
}

func main() { lambda.Start(handle) }

// Command urlfn is the function-URL tests' function: a plain Go net/http
// application wrapped with aws-lambda-go-api-proxy, as such applications
// are deployed behind function URLs, plus a few paths that exercise the
// platform: /stream (a streamed response), /fail (a function error) and
// /event (the raw event back as the body).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/aws/aws-sdk-go-v2/config"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"
)

func app() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "seen", Value: "1"})
		w.Header().Set("X-App", "urlfn")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "hello %s via %s", r.URL.Query().Get("name"), r.Header.Get("X-Client"))
	})
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", r.Header.Get("Content-Type"))
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(b)
	})
	mux.HandleFunc("GET /cors", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "https://evil.example")
		fmt.Fprint(w, "cors")
	})
	return mux
}

// stream answers with a streamed response: chunk-1, then (with gate) a
// wait until the function's tag "gate" is "open" (set by the test once it
// has read chunk-1; functions reach only the node's API), then chunk-2
// saying whether the gate opened or the wait gave up.
func stream(ctx context.Context, gate bool) *events.LambdaFunctionURLStreamingResponse {
	pr, pw := io.Pipe()
	go func() {
		_, _ = io.WriteString(pw, "chunk-1\n")
		how := "nogate"
		if gate {
			how = waitGate(ctx)
		}
		_, _ = io.WriteString(pw, "chunk-2 "+how+"\n")
		_ = pw.Close()
	}()
	return &events.LambdaFunctionURLStreamingResponse{
		StatusCode: http.StatusAccepted,
		Headers:    map[string]string{"Content-Type": "text/plain", "X-Streamed": "yes"},
		Cookies:    []string{"s=1"},
		Body:       pr,
	}
}

func waitGate(ctx context.Context) string {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return "config: " + err.Error()
	}
	c := awslambda.NewFromConfig(cfg)
	arn := "arn:aws:lambda:" + os.Getenv("AWS_REGION") + ":" + accountOf(ctx) + ":function:" + os.Getenv("AWS_LAMBDA_FUNCTION_NAME")
	for ctx.Err() == nil {
		out, err := c.ListTags(ctx, &awslambda.ListTagsInput{Resource: &arn})
		if err != nil {
			return "tags: " + err.Error()
		}
		if out.Tags["gate"] == "open" {
			return "open"
		}
		time.Sleep(20 * time.Millisecond) // polling the API, in the function
	}
	return "timeout"
}

// accountOf reads the account from the invoked function's ARN.
func accountOf(ctx context.Context) string {
	lc, _ := lambdacontext.FromContext(ctx)
	parts := strings.Split(lc.InvokedFunctionArn, ":")
	if len(parts) > 4 {
		return parts[4]
	}
	return ""
}

func main() {
	proxy := httpadapter.NewV2(app())
	lambda.Start(func(ctx context.Context, raw json.RawMessage) (any, error) {
		var ev events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, err
		}
		switch {
		case strings.HasPrefix(ev.RawPath, "/stream"):
			return stream(ctx, ev.QueryStringParameters["gate"] != ""), nil
		case ev.RawPath == "/stall":
			// A stream that never ends: the function times out mid-stream.
			pr, pw := io.Pipe()
			go func() { _, _ = io.WriteString(pw, "started\n") }()
			return &events.LambdaFunctionURLStreamingResponse{StatusCode: 200, Body: pr}, nil
		case ev.RawPath == "/fail":
			return nil, errors.New("failed on purpose")
		case ev.RawPath == "/event":
			return map[string]any{"statusCode": 200, "headers": map[string]string{"Content-Type": "application/json"}, "body": string(raw)}, nil
		case ev.RawPath == "/plain":
			return map[string]string{"just": "json"}, nil
		}
		return proxy.ProxyWithContext(ctx, ev)
	})
}

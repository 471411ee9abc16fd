// Command web is the API Gateway tests' function: a plain net/http
// application wrapped with aws-lambda-go-api-proxy, answering payload 2.0
// (HTTP APIs) and 1.0 (REST APIs) events, and a Lambda authorizer when
// the event is an authorizer's (type TOKEN or REQUEST).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"
)

var count atomic.Int64 // invocations this environment served

func app() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "seen", Value: "1"})
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "hello %s", r.URL.Query().Get("name"))
	})
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"id": r.PathValue("id"), "tags": r.URL.Query()["tag"]})
	})
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", r.Header.Get("Content-Type"))
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(b)
	})
	mux.HandleFunc("GET /count", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%d", count.Load())
	})
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		// The authorizer's context reaches the function in the event.
		if c, ok := core.GetAPIGatewayContextFromContext(r.Context()); ok {
			_ = json.NewEncoder(w).Encode(c.Authorizer)
		} else if c, ok := core.GetAPIGatewayV2ContextFromContext(r.Context()); ok && c.Authorizer != nil {
			_ = json.NewEncoder(w).Encode(c.Authorizer.Lambda)
		}
	})
	return mux
}

func authorize(ev map[string]any) (any, error) {
	token, _ := ev["authorizationToken"].(string)
	if ids, ok := ev["identitySource"].([]any); ok && len(ids) > 0 {
		token, _ = ids[0].(string)
	} else if s, ok := ev["identitySource"].(string); ok && s != "" {
		token = s
	}
	if _, simple := ev["routeArn"]; simple {
		return map[string]any{"isAuthorized": token == "allow", "context": map[string]any{"user": "u-" + token}}, nil
	}
	if token == "unauthorized" {
		return nil, errors.New("Unauthorized")
	}
	effect := "Deny"
	if token == "allow" {
		effect = "Allow"
	}
	arn, _ := ev["methodArn"].(string)
	return map[string]any{
		"principalId": "user-" + token,
		"policyDocument": map[string]any{"Version": "2012-10-17", "Statement": []any{
			map[string]any{"Action": "execute-api:Invoke", "Effect": effect, "Resource": arn},
		}},
		"context": map[string]any{"user": "u-" + token},
	}, nil
}

func main() {
	v1, v2 := httpadapter.New(app()), httpadapter.NewV2(app())
	lambda.Start(func(ctx context.Context, raw json.RawMessage) (any, error) {
		count.Add(1)
		var probe map[string]any
		if err := json.Unmarshal(raw, &probe); err != nil {
			return nil, err
		}
		if t, _ := probe["type"].(string); t == "TOKEN" || t == "REQUEST" {
			return authorize(probe)
		}
		if strings.Contains(fmt.Sprint(probe["rawPath"], probe["path"]), "/boom") {
			return nil, errors.New("boom")
		}
		if probe["version"] == "2.0" {
			var ev events.APIGatewayV2HTTPRequest
			if err := json.Unmarshal(raw, &ev); err != nil {
				return nil, err
			}
			return v2.ProxyWithContext(ctx, ev)
		}
		var ev events.APIGatewayProxyRequest
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, err
		}
		return v1.ProxyWithContext(ctx, ev)
	})
}

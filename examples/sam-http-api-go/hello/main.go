// Command hello is the GET /hello function of the sam-http-api-go example:
// an HTTP API (payload format 2.0) handler written with
// github.com/aws/aws-lambda-go, built by `nimbus deploy` (or `sam build`)
// from the template's Metadata BuildMethod go1.x.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

// environment identifies this execution environment: it is drawn once,
// when the process starts, so every invocation a warm environment serves
// answers the same value.
var environment = newID()

var invocations int // survives across invocations of one environment

func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

type response struct {
	Message     string `json:"message"`
	Environment string `json:"environment"`
	Count       int    `json:"count"`
}

func handle(_ context.Context, req events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	invocations++
	name := req.QueryStringParameters["name"]
	if name == "" {
		name = "world"
	}
	body, err := json.Marshal(response{
		Message:     os.Getenv("GREETING") + ", " + name + "!",
		Environment: environment,
		Count:       invocations,
	})
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	return events.APIGatewayV2HTTPResponse{
		StatusCode: 200,
		Headers:    map[string]string{"Content-Type": "application/json"},
		Body:       string(body),
	}, nil
}

func main() { lambda.Start(handle) }

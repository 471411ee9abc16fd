// Command hello-go is an AWS Lambda function written with
// github.com/aws/aws-lambda-go, exactly as it would be built for AWS:
//
//	GOOS=linux CGO_ENABLED=0 go build -tags lambda.norpc -o bootstrap ./examples/hello-go
//	zip hello.zip bootstrap
//
// and deployed with --runtime provided.al2023 --handler bootstrap.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// Event is what the function expects.
type Event struct {
	Name string `json:"name"`
}

// Response is what it answers.
type Response struct {
	Message   string `json:"message"`
	RequestID string `json:"requestId"`
	Function  string `json:"function"`
	Count     int    `json:"count"`
}

var invocations int // survives across invocations of one environment

func handle(ctx context.Context, ev Event) (Response, error) {
	invocations++
	lc, _ := lambdacontext.FromContext(ctx)
	if ev.Name == "" {
		ev.Name = "world"
	}
	fmt.Printf("greeting %s\n", ev.Name)
	return Response{
		Message:   "Hello, " + ev.Name + "!",
		RequestID: lc.AwsRequestID,
		Function:  os.Getenv("AWS_LAMBDA_FUNCTION_NAME"),
		Count:     invocations,
	}, nil
}

func main() { lambda.Start(handle) }

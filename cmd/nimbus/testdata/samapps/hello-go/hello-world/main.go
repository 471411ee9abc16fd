// Command hello-world is the Lambda function of the hello-go sample: it
// answers API Gateway proxy requests.
package main

import (
	"encoding/json"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func handler(request events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	body, err := json.Marshal(map[string]string{
		"message": "Hello, " + request.QueryStringParameters["name"],
		"path":    request.Path,
		"stage":   request.RequestContext.Stage,
		"param1":  os.Getenv("PARAM1"),
	})
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	return events.APIGatewayProxyResponse{StatusCode: 200, Body: string(body)}, nil
}

func main() {
	lambda.Start(handler)
}

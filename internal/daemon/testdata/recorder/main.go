// Command recorder is the async tests' destination function: it stores
// every event it receives (an invocation record) in the environment of the
// function named by NIMBUS_TEST_SINK, calling Nimbus with the AWS SDK as a
// function would call Lambda, so a test sees exactly what reached it.
package main

import (
	"context"
	"encoding/json"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

func handle(ctx context.Context, raw json.RawMessage) (string, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return "", err
	}
	_, err = awslambda.NewFromConfig(cfg).UpdateFunctionConfiguration(ctx, &awslambda.UpdateFunctionConfigurationInput{
		FunctionName: aws.String(os.Getenv("NIMBUS_TEST_SINK")),
		Environment:  &types.Environment{Variables: map[string]string{"RECORD": string(raw)}},
	})
	if err != nil {
		return "", err
	}
	return "recorded", nil
}

func main() { lambda.Start(handle) }

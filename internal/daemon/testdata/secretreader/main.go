// Command secretreader is a function that reads its configuration as
// production functions do: a Secrets Manager secret and an SSM parameter,
// named by its environment, through the AWS SDK.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

type result struct {
	Secret    string `json:"secret"`
	Parameter string `json:"parameter"`
	FromEnv   string `json:"fromEnv"`
}

func handle(ctx context.Context) (*result, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, err
	}
	s, err := sm.NewFromConfig(cfg).GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String(os.Getenv("SECRET_ID"))})
	if err != nil {
		return nil, err
	}
	p, err := ssm.NewFromConfig(cfg).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(os.Getenv("PARAM_NAME"))})
	if err != nil {
		return nil, err
	}
	return &result{Secret: aws.ToString(s.SecretString), Parameter: aws.ToString(p.Parameter.Value), FromEnv: os.Getenv("DB_PASSWORD")}, nil
}

func main() { lambda.Start(handle) }

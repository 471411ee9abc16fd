// Command rotator is a Secrets Manager rotation function written as AWS's
// rotation templates write them (createSecret, setSecret, testSecret,
// finishSecret), calling Nimbus through the AWS SDK as it would call
// Secrets Manager.
package main

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

type event struct {
	SecretID           string `json:"SecretId"`
	ClientRequestToken string
	Step               string
}

func handle(ctx context.Context, ev event) error {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return err
	}
	c := sm.NewFromConfig(cfg)
	d, err := c.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: aws.String(ev.SecretID)})
	if err != nil {
		return err
	}
	stages, ok := d.VersionIdsToStages[ev.ClientRequestToken]
	if !ok {
		return errors.New("the secret has no version for the rotation's token")
	}
	switch ev.Step {
	case "createSecret":
		if _, err := c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String(ev.SecretID), VersionStage: aws.String("AWSCURRENT")}); err != nil {
			return err
		}
		if _, err := c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String(ev.SecretID), VersionId: aws.String(ev.ClientRequestToken),
			VersionStage: aws.String("AWSPENDING")}); err == nil {
			return nil
		}
		p, err := c.GetRandomPassword(ctx, &sm.GetRandomPasswordInput{PasswordLength: aws.Int64(24), ExcludePunctuation: aws.Bool(true)})
		if err != nil {
			return err
		}
		_, err = c.PutSecretValue(ctx, &sm.PutSecretValueInput{SecretId: aws.String(ev.SecretID), ClientRequestToken: aws.String(ev.ClientRequestToken),
			SecretString: aws.String("rotated:" + *p.RandomPassword), VersionStages: []string{"AWSPENDING"}})
		return err
	case "setSecret":
		return nil // a database would learn the new password here
	case "testSecret":
		_, err := c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: aws.String(ev.SecretID), VersionId: aws.String(ev.ClientRequestToken),
			VersionStage: aws.String("AWSPENDING")})
		return err
	case "finishSecret":
		if slices.Contains(stages, "AWSCURRENT") {
			return nil
		}
		cur := ""
		for v, st := range d.VersionIdsToStages {
			if slices.Contains(st, "AWSCURRENT") {
				cur = v
			}
		}
		_, err := c.UpdateSecretVersionStage(ctx, &sm.UpdateSecretVersionStageInput{SecretId: aws.String(ev.SecretID),
			VersionStage: aws.String("AWSCURRENT"), MoveToVersionId: aws.String(ev.ClientRequestToken), RemoveFromVersionId: aws.String(cur)})
		return err
	}
	return fmt.Errorf("unknown step %s", ev.Step)
}

func main() { lambda.Start(handle) }

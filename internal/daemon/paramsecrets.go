package daemon

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/pool"
	"github.com/nimbus-serverless/nimbus/internal/secretsext"
)

// paramsSecrets is the pool's ParamsSecretsFactory: the AWS Parameters and
// Secrets Lambda Extension's protocol (package secretsext) for one
// environment, fetching with its credentials through api in region, with
// the TTLs the function's SECRETS_MANAGER_TTL and SSM_PARAMETER_STORE_TTL
// set (seconds, 0-300; 0 turns the cache off), as the extension reads them.
func paramsSecrets(region string) pool.ParamsSecretsFactory {
	return func(fn *function.Config, creds pool.Credentials, api *http.Client, endpoint string) (http.Handler, error) {
		return newParamsSecrets(region, fn, creds, api, endpoint)
	}
}

func newParamsSecrets(region string, fn *function.Config, creds pool.Credentials, api *http.Client, endpoint string) (http.Handler, error) {
	ttl := func(name string) time.Duration {
		s, err := strconv.Atoi(fn.Variables()[name])
		switch {
		case err != nil || s < 0 || s > 300:
			return 0 // the default
		case s == 0:
			return -1
		}
		return time.Duration(s) * time.Second
	}
	f := &secretsext.HTTPFetcher{
		Endpoint: endpoint,
		Region:   region,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey,
				SessionToken: creds.SessionToken, CanExpire: !creds.Expiration.IsZero(), Expires: creds.Expiration}, nil
		}),
		Client: api,
	}
	return secretsext.New(secretsext.Options{Token: creds.SessionToken, Fetch: f,
		SecretsTTL: ttl("SECRETS_MANAGER_TTL"), ParametersTTL: ttl("SSM_PARAMETER_STORE_TTL")})
}

package secretsext

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// HTTPFetcher calls Secrets Manager and Parameter Store at Endpoint (the
// node's API, AWS_ENDPOINT_URL inside an environment) with AWS JSON 1.1,
// signed with Credentials (the function's), and returns their answers as
// they are.
type HTTPFetcher struct {
	Endpoint    string
	Region      string
	Credentials aws.CredentialsProvider
	Client      *http.Client // http.DefaultClient when nil
}

// maxAnswer bounds an answer read from the service (a secret is at most
// 64 KiB; its JSON with base64 binary stays well under this).
const maxAnswer = 1 << 20

// GetSecretValue calls secretsmanager.GetSecretValue.
func (f *HTTPFetcher) GetSecretValue(ctx context.Context, secretID, versionID, versionStage string) ([]byte, error) {
	in := map[string]string{"SecretId": secretID}
	if versionID != "" {
		in["VersionId"] = versionID
	}
	if versionStage != "" {
		in["VersionStage"] = versionStage
	}
	return f.call(ctx, "secretsmanager", "secretsmanager.GetSecretValue", in)
}

// GetParameter calls AmazonSSM.GetParameter.
func (f *HTTPFetcher) GetParameter(ctx context.Context, name string, withDecryption bool) ([]byte, error) {
	return f.call(ctx, "ssm", "AmazonSSM.GetParameter", map[string]any{"Name": name, "WithDecryption": withDecryption})
}

func (f *HTTPFetcher) call(ctx context.Context, service, target string, in any) ([]byte, error) {
	body, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.Endpoint+"/", bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build %s request: %w", target, err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", target)
	creds, err := f.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), service, f.Region, time.Now()); err != nil {
		return nil, fmt.Errorf("sign %s request: %w", target, err)
	}
	c := f.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("call %s: %w", target, err)
	}
	defer func() { _ = resp.Body.Close() }()
	out, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, fmt.Errorf("read %s answer: %w", target, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &ServiceError{Status: resp.StatusCode, Body: out}
	}
	return out, nil
}

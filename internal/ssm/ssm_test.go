package ssm

import (
	"bytes"
	"errors"
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsssm "github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"
	"github.com/google/uuid"

	"github.com/nimbus-serverless/nimbus/internal/kms"
	"github.com/nimbus-serverless/nimbus/internal/secretsmanager"
	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

type fixture struct {
	c   *awsssm.Client
	svc *Service
	sm  *secretsmanager.Service
	dir string
}

func setup(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	st := storetest.OpenDir(t, dir)
	keys, err := kms.New(t.Context(), kms.Options{Store: st, MasterKey: bytes.Repeat([]byte{5}, kms.MasterKeySize),
		Region: "us-east-1", AccountID: "123456789012"})
	if err != nil {
		t.Fatal(err)
	}
	sm, err := secretsmanager.New(secretsmanager.Options{Store: st, Keys: keys, Region: "us-east-1", AccountID: "123456789012"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sm.Close)
	svc, err := New(Options{Store: st, Keys: keys, Secrets: sm, Region: "us-east-1", AccountID: "123456789012"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc)
	t.Cleanup(srv.Close)
	c := awsssm.New(awsssm.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")})
	return &fixture{c: c, svc: svc, sm: sm, dir: dir}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("want %s, got %v", code, err)
	}
}

func put(t *testing.T, c *awsssm.Client, name, value string, typ types.ParameterType, overwrite bool) int64 {
	t.Helper()
	out, err := c.PutParameter(t.Context(), &awsssm.PutParameterInput{Name: aws.String(name), Value: aws.String(value), Type: typ,
		Overwrite: aws.Bool(overwrite)})
	if err != nil {
		t.Fatalf("put %s: %v", name, err)
	}
	return out.Version
}

func TestParametersVersionsLabelsAndSecureStrings(t *testing.T) {
	f := setup(t)
	c, ctx := f.c, t.Context()
	if v := put(t, c, "/app/db/host", "db1", types.ParameterTypeString, false); v != 1 {
		t.Fatalf("version %d", v)
	}
	_, err := c.PutParameter(ctx, &awsssm.PutParameterInput{Name: aws.String("/app/db/host"), Value: aws.String("db2"), Type: types.ParameterTypeString})
	wantCode(t, err, "ParameterAlreadyExists")
	if v := put(t, c, "/app/db/host", "db2", "", true); v != 2 {
		t.Fatalf("overwrite version %d", v)
	}
	plain := "pw-" + uuid.NewString()
	put(t, c, "/app/db/password", plain, types.ParameterTypeSecureString, false)
	put(t, c, "/app/db/ports", "5432,5433", types.ParameterTypeStringList, false)
	put(t, c, "/app/web/url", "https://x", types.ParameterTypeString, false)
	put(t, c, "top", "level", types.ParameterTypeString, false)

	g, err := c.GetParameter(ctx, &awsssm.GetParameterInput{Name: aws.String("/app/db/host:1")})
	if err != nil || *g.Parameter.Value != "db1" || *g.Parameter.Selector != ":1" || g.Parameter.Version != 1 {
		t.Fatalf("name:version %+v %v", g, err)
	}
	_, err = c.GetParameter(ctx, &awsssm.GetParameterInput{Name: aws.String("/app/db/host:9")})
	wantCode(t, err, "ParameterVersionNotFound")
	_, err = c.GetParameter(ctx, &awsssm.GetParameterInput{Name: aws.String("/app/missing")})
	wantCode(t, err, "ParameterNotFound")

	// Labels move between versions.
	if _, err := c.LabelParameterVersion(ctx, &awsssm.LabelParameterVersionInput{Name: aws.String("/app/db/host"),
		ParameterVersion: aws.Int64(1), Labels: []string{"stable", "1bad", "awsx"}}); err != nil {
		t.Fatal(err)
	}
	l, err := c.LabelParameterVersion(ctx, &awsssm.LabelParameterVersionInput{Name: aws.String("/app/db/host"), Labels: []string{"stable"}})
	if err != nil || l.ParameterVersion != 2 {
		t.Fatalf("label latest %v", err)
	}
	g, err = c.GetParameter(ctx, &awsssm.GetParameterInput{Name: aws.String("/app/db/host:stable")})
	if err != nil || *g.Parameter.Value != "db2" {
		t.Fatalf("name:label %v", err)
	}
	h, err := c.GetParameterHistory(ctx, &awsssm.GetParameterHistoryInput{Name: aws.String("/app/db/host")})
	if err != nil || len(h.Parameters) != 2 || len(h.Parameters[0].Labels) != 0 || h.Parameters[1].Labels[0] != "stable" {
		t.Fatalf("history %+v %v", h, err)
	}

	// SecureString with and without decryption.
	enc, err := c.GetParameter(ctx, &awsssm.GetParameterInput{Name: aws.String("/app/db/password")})
	if err != nil || *enc.Parameter.Value == plain || strings.Contains(*enc.Parameter.Value, plain) {
		t.Fatalf("without decryption: %v", err)
	}
	dec, err := c.GetParameter(ctx, &awsssm.GetParameterInput{Name: aws.String("/app/db/password"), WithDecryption: aws.Bool(true)})
	if err != nil || *dec.Parameter.Value != plain {
		t.Fatalf("with decryption: %v", err)
	}
	d, err := c.DescribeParameters(ctx, &awsssm.DescribeParametersInput{ParameterFilters: []types.ParameterStringFilter{
		{Key: aws.String("Type"), Values: []string{"SecureString"}}}})
	if err != nil || len(d.Parameters) != 1 || !strings.HasSuffix(*d.Parameters[0].KeyId, "alias/aws/ssm") {
		t.Fatalf("describe secure strings %+v %v", d, err)
	}

	// By path, one level and recursive, paged.
	var names []string
	var token *string
	for {
		out, err := c.GetParametersByPath(ctx, &awsssm.GetParametersByPathInput{Path: aws.String("/app"), Recursive: aws.Bool(true),
			MaxResults: aws.Int32(2), NextToken: token, WithDecryption: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range out.Parameters {
			names = append(names, *p.Name)
		}
		if out.NextToken == nil {
			break
		}
		token = out.NextToken
	}
	if !slices.Equal(names, []string{"/app/db/host", "/app/db/password", "/app/db/ports", "/app/web/url"}) {
		t.Fatalf("recursive %v", names)
	}
	one, _ := c.GetParametersByPath(ctx, &awsssm.GetParametersByPathInput{Path: aws.String("/app")})
	if len(one.Parameters) != 0 {
		t.Fatalf("one level under /app: %d", len(one.Parameters))
	}
	flt, _ := c.GetParametersByPath(ctx, &awsssm.GetParametersByPathInput{Path: aws.String("/app/db"),
		ParameterFilters: []types.ParameterStringFilter{{Key: aws.String("Type"), Values: []string{"StringList"}}}})
	if len(flt.Parameters) != 1 || *flt.Parameters[0].Value != "5432,5433" {
		t.Fatalf("filtered by path %+v", flt.Parameters)
	}
	gs, err := c.GetParameters(ctx, &awsssm.GetParametersInput{Names: []string{"top", "/nope", "/app/db/host:stable"}})
	if err != nil || len(gs.Parameters) != 2 || len(gs.InvalidParameters) != 1 {
		t.Fatalf("get parameters %+v %v", gs, err)
	}
	dp, err := c.DeleteParameters(ctx, &awsssm.DeleteParametersInput{Names: []string{"top", "/nope"}})
	if err != nil || len(dp.DeletedParameters) != 1 || len(dp.InvalidParameters) != 1 {
		t.Fatalf("delete parameters %+v %v", dp, err)
	}
	if _, err := c.DeleteParameter(ctx, &awsssm.DeleteParameterInput{Name: aws.String("/app/db/password")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetParameter(ctx, &awsssm.GetParameterInput{Name: aws.String("/app/db/password"), WithDecryption: aws.Bool(true)})
	wantCode(t, err, "ParameterNotFound")

	// Other Systems Manager features are refused by name.
	_, err = c.SendCommand(ctx, &awsssm.SendCommandInput{DocumentName: aws.String("AWS-RunShellScript")})
	wantCode(t, err, "UnknownOperationException")
	if !strings.Contains(err.Error(), "Run Command") {
		t.Fatalf("refusal names no feature: %v", err)
	}
}

func TestNamesTiersAndLimits(t *testing.T) {
	f := setup(t)
	c, ctx := f.c, t.Context()
	for name, code := range map[string]string{
		"/a/../b": "ValidationException", "/a/./b": "ValidationException", "a/b": "ValidationException",
		"/a//b": "ValidationException", "/aws/x": "ValidationException", "ssm-x": "ValidationException",
		"bad name": "ValidationException", "/" + strings.Repeat("l/", 15) + "x": "HierarchyLevelLimitExceededException",
	} {
		_, err := c.PutParameter(ctx, &awsssm.PutParameterInput{Name: aws.String(name), Value: aws.String("v"), Type: types.ParameterTypeString})
		wantCode(t, err, code)
	}
	put(t, c, "/"+strings.Repeat("l/", 14)+"x", "fifteen levels", types.ParameterTypeString, false)
	_, err := c.PutParameter(ctx, &awsssm.PutParameterInput{Name: aws.String("big"), Value: aws.String(strings.Repeat("x", 4097)), Type: types.ParameterTypeString})
	wantCode(t, err, "ValidationException")
	out, err := c.PutParameter(ctx, &awsssm.PutParameterInput{Name: aws.String("big"), Value: aws.String(strings.Repeat("x", 4097)),
		Type: types.ParameterTypeString, Tier: types.ParameterTierIntelligentTiering})
	if err != nil || out.Tier != types.ParameterTierAdvanced {
		t.Fatalf("intelligent tiering %+v %v", out, err)
	}
	_, err = c.PutParameter(ctx, &awsssm.PutParameterInput{Name: aws.String("big"), Value: aws.String("x"), Overwrite: aws.Bool(true), Tier: types.ParameterTierStandard})
	wantCode(t, err, "ValidationException") // no downgrade
	_, err = c.PutParameter(ctx, &awsssm.PutParameterInput{Name: aws.String("huge"), Value: aws.String(strings.Repeat("x", 8193)),
		Type: types.ParameterTypeString, Tier: types.ParameterTierAdvanced})
	wantCode(t, err, "ValidationException")
	_, err = c.PutParameter(ctx, &awsssm.PutParameterInput{Name: aws.String("pat"), Value: aws.String("abc"), Type: types.ParameterTypeString,
		AllowedPattern: aws.String("^[0-9]+$")})
	wantCode(t, err, "ParameterPatternMismatchException")
	_, err = c.PutParameter(ctx, &awsssm.PutParameterInput{Name: aws.String("k"), Value: aws.String("v"), Type: types.ParameterTypeSecureString,
		KeyId: aws.String("alias/none")})
	wantCode(t, err, "InvalidKeyId")
}

// TestSecretsManagerReferenceAndNoPlaintextAtRest: /aws/reference/
// secretsmanager/ reads a secret (WithDecryption required); a
// SecureString's value is in no file under the data directory.
func TestSecretsManagerReferenceAndNoPlaintextAtRest(t *testing.T) {
	f := setup(t)
	c, ctx := f.c, t.Context()
	secret := "sm-" + uuid.NewString()
	if _, err := f.sm.CreateValue(ctx, "prod/api", "", "", secret); err != nil {
		t.Fatal(err)
	}
	_, err := c.GetParameter(ctx, &awsssm.GetParameterInput{Name: aws.String("/aws/reference/secretsmanager/prod/api")})
	wantCode(t, err, "ValidationException")
	g, err := c.GetParameter(ctx, &awsssm.GetParameterInput{Name: aws.String("/aws/reference/secretsmanager/prod/api"), WithDecryption: aws.Bool(true)})
	if err != nil || *g.Parameter.Value != secret || g.Parameter.Type != types.ParameterTypeSecureString || *g.Parameter.SourceResult == "" {
		t.Fatalf("reference %+v %v", g, err)
	}
	_, err = c.GetParameter(ctx, &awsssm.GetParameterInput{Name: aws.String("/aws/reference/secretsmanager/none"), WithDecryption: aws.Bool(true)})
	wantCode(t, err, "ParameterNotFound")

	plain := "ss-" + uuid.NewString()
	put(t, c, "/s/secure", plain, types.ParameterTypeSecureString, false)
	put(t, c, "/s/secure", plain+"-2", "", true)
	err = filepath.WalkDir(f.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := os.ReadFile(p) //nolint:gosec // G122: the test's own temp dir
		if err != nil {
			return nil //nolint:nilerr // a file being replaced
		}
		if bytes.Contains(raw, []byte(plain)) || bytes.Contains(raw, []byte(secret)) {
			t.Errorf("%s holds a secret in plain text", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

package daemon

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/google/uuid"
)

// TestFunctionKMSKeyArn: a function's environment variables under its
// KMSKeyArn are stored encrypted (the value is in no file of the data
// directory), answered in plain text by GetFunctionConfiguration with the
// key's ARN, and opened when an environment starts; a disabled key, or
// one pending deletion, makes the invoke fail with Lambda's KMS errors and
// GetFunctionConfiguration answer Environment.Error; changing the key
// re-encrypts the variables.
func TestFunctionKMSKeyArn(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, dir)
	ctx := t.Context()
	k := kms.NewFromConfig(n.awsConfig())
	newKey := func() string {
		out, err := k.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("lambda env")})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.KeyMetadata.Arn)
	}
	k1, k2 := newKey(), newKey()
	plain := "env-secret-" + uuid.NewString()
	code := goZip(t, "./internal/daemon/testdata/fn")
	mk := func(name, key string) *lambda.CreateFunctionOutput {
		return create(t, n, &lambda.CreateFunctionInput{FunctionName: aws.String(name), Runtime: ltypes.RuntimeProvidedal2023,
			Handler: aws.String("bootstrap"), Role: aws.String(testRole), Code: &ltypes.FunctionCode{ZipFile: code},
			KMSKeyArn: aws.String(key), Environment: &ltypes.Environment{Variables: map[string]string{"SECRET_VAR": plain}}})
	}
	out := mk("enc", k1)
	if aws.ToString(out.KMSKeyArn) != k1 || out.Environment.Variables["SECRET_VAR"] != plain {
		t.Fatalf("CreateFunction answered KMSKeyArn %q, variables %v", aws.ToString(out.KMSKeyArn), out.Environment)
	}
	getEnv := func(name string) *ltypes.EnvironmentResponse {
		c, err := n.client.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		if aws.ToString(c.KMSKeyArn) == "" {
			t.Fatalf("GetFunctionConfiguration has no KMSKeyArn")
		}
		return c.Environment
	}
	if env := getEnv("enc"); env.Variables["SECRET_VAR"] != plain || env.Error != nil {
		t.Fatalf("GetFunctionConfiguration environment %+v", env)
	}
	invokeEnv := func(name string) (map[string]string, error) {
		res, err := n.client.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(`{"action":"env"}`)})
		if err != nil {
			return nil, err
		}
		var env map[string]string
		if err := json.Unmarshal(res.Payload, &env); err != nil {
			t.Fatalf("env answered %s", res.Payload)
		}
		return env, nil
	}

	// Disabled before any environment started: the invoke fails as
	// Lambda's does.
	if _, err := k.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(k1)}); err != nil {
		t.Fatal(err)
	}
	_, err := invokeEnv("enc")
	var disabled *ltypes.KMSDisabledException
	if !errors.As(err, &disabled) {
		t.Fatalf("invoke under a disabled key: %v", err)
	}
	if env := getEnv("enc"); env.Error == nil || aws.ToString(env.Error.ErrorCode) != "KMSDisabledException" || len(env.Variables) != 0 {
		t.Fatalf("GetFunctionConfiguration under a disabled key: %+v", env)
	}
	if _, err := k.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(k1)}); err != nil {
		t.Fatal(err)
	}
	env, err := invokeEnv("enc")
	if err != nil || env["SECRET_VAR"] != plain {
		t.Fatalf("invoke after EnableKey: %v %v", env["SECRET_VAR"], err)
	}

	// Another key: the variables are encrypted again under it, and the
	// first key may go.
	up, err := n.client.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String("enc"),
		KMSKeyArn: aws.String(k2)})
	if err != nil || aws.ToString(up.KMSKeyArn) != k2 || up.Environment.Variables["SECRET_VAR"] != plain {
		t.Fatalf("UpdateFunctionConfiguration: %+v %v", up, err)
	}
	waitUpdated(t, n, "enc")
	if _, err := k.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(k1), PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	if env, err := invokeEnv("enc"); err != nil || env["SECRET_VAR"] != plain {
		t.Fatalf("invoke under the second key: %v %v", env["SECRET_VAR"], err)
	}

	// A key pending deletion: KMSInvalidStateException.
	mk("pending", k2)
	if _, err := k.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(k2), PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	_, err = invokeEnv("pending")
	var invalid *ltypes.KMSInvalidStateException
	if !errors.As(err, &invalid) {
		t.Fatalf("invoke under a key pending deletion: %v", err)
	}
	// A key that does not exist is refused at once.
	_, err = n.client.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("nokey"), Runtime: ltypes.RuntimeProvidedal2023,
		Handler: aws.String("bootstrap"), Role: aws.String(testRole), Code: &ltypes.FunctionCode{ZipFile: code},
		KMSKeyArn:   aws.String("arn:aws:kms:us-east-1:" + n.d.cfg.AccountID + ":key/" + uuid.NewString()),
		Environment: &ltypes.Environment{Variables: map[string]string{"AB": "b"}}})
	var bad *ltypes.InvalidParameterValueException
	if !errors.As(err, &bad) {
		t.Fatalf("CreateFunction with a missing key: %v", err)
	}

	// At rest the value is nowhere in plain text.
	_ = filepath.WalkDir(dir, func(path string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return nil //nolint:nilerr // files come and go under a running node
		}
		raw, err := os.ReadFile(path) //nolint:gosec // G122: the test's own data directory
		if err == nil && bytes.Contains(raw, []byte(plain)) {
			t.Errorf("%s holds an encrypted environment variable in plain text", path)
		}
		return nil
	})
}

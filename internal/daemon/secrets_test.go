package daemon

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	ltypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	sm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/smithy-go"
	"github.com/google/uuid"

	"github.com/nimbus-serverless/nimbus/internal/config"
)

// TestKMSThroughTheFrontDoor: KMS behind the node's SigV4 front door with
// aws-sdk-go-v2, boto3 and the AWS CLI; a ciphertext survives a restart
// (the data directory's master key), and a node given another master key
// refuses to start.
func TestKMSThroughTheFrontDoor(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, dir)
	c := awskms.NewFromConfig(n.awsConfig())
	ctx := t.Context()
	k, err := c.CreateKey(ctx, &awskms.CreateKeyInput{Description: aws.String("front door")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/frontdoor"), TargetKeyId: k.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	enc, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String("alias/frontdoor"), Plaintext: []byte("from go"),
		EncryptionContext: map[string]string{"app": "test"}})
	if err != nil {
		t.Fatal(err)
	}

	// boto3 decrypts what Go encrypted (no KeyId: the blob names its key)
	// and catches InvalidCiphertextException by its class.
	needTool(t, "python3", "-c", "import boto3")
	script := `
import boto3, json, sys, base64
kms = boto3.client("kms")
blob = base64.b64decode(sys.argv[1])
p = kms.decrypt(CiphertextBlob=blob, EncryptionContext={"app": "test"})["Plaintext"].decode()
try:
    kms.decrypt(CiphertextBlob=blob, EncryptionContext={"app": "other"})
    wrong = "no error"
except kms.exceptions.InvalidCiphertextException as e:
    wrong = e.response["Error"]["Code"]
e2 = kms.encrypt(KeyId="alias/frontdoor", Plaintext=b"from boto3")
print(json.dumps({"plain": p, "wrong": wrong, "blob": base64.b64encode(e2["CiphertextBlob"]).decode()}))
`
	cmd := exec.Command("python3", "-c", script, b64(enc.CiphertextBlob))
	cmd.Env = n.toolEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("boto3: %v\n%s", err, out)
	}
	var res map[string]string
	if err := json.Unmarshal(out, &res); err != nil || res["plain"] != "from go" || res["wrong"] != "InvalidCiphertextException" {
		t.Fatalf("boto3 answered %s (%v)", out, err)
	}

	// The AWS CLI lists the alias and describes the key.
	needTool(t, "aws", "--version")
	cmd = exec.Command("aws", "--endpoint-url", n.endpoint(), "kms", "describe-key", "--key-id", "alias/frontdoor", "--output", "json")
	cmd.Env = n.toolEnv()
	out, err = cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("aws kms describe-key: %v\n%s", err, out)
	}
	var desc struct {
		KeyMetadata struct{ KeyID, KeyState string }
	}
	if err := json.Unmarshal(out, &desc); err != nil || desc.KeyMetadata.KeyState != "Enabled" {
		t.Fatalf("aws kms describe-key answered %s (%v)", out, err)
	}

	_, err = c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String("alias/missing")})
	wantAPIError(t, err, "NotFoundException")

	// The master key is a 0600 file of the data directory; the blob boto3
	// made decrypts after a restart.
	fi, err := os.Stat(filepath.Join(dir, "master.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("master key file: %v %v", fi, err)
	}
	n.stop()
	n = startNode(t, dir)
	c = awskms.NewFromConfig(n.awsConfig())
	dec, err := c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: unb64(t, res["blob"])})
	if err != nil || string(dec.Plaintext) != "from boto3" {
		t.Fatalf("decrypt after restart: %v", err)
	}
	n.stop()

	// Another master key: the node refuses to start, naming the problem.
	other := filepath.Join(t.TempDir(), "other.key")
	if err := os.WriteFile(other, []byte(strings.Repeat("cd", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Listen, cfg.DataDir, cfg.MasterKeyFile = "127.0.0.1:0", dir, other
	if d, err := New(ctx, cfg, n.d.log); err == nil {
		d.closeAll()
		t.Fatal("a node with another master key started")
	} else if !strings.Contains(err.Error(), "master key") {
		t.Fatalf("refusal does not name the master key: %v", err)
	}
}

func wantAPIError(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("want %s, got %v", code, err)
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func unb64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// syncBuffer is a log sink tests can read while the node writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestSecretsManagerThroughTheFrontDoor: Secrets Manager behind the front
// door with aws-sdk-go-v2, boto3 and the AWS CLI; a real rotation
// function (testdata/rotator, AWS's four steps through the SDK) rotates a
// secret; the secret's plaintext is found in no file under the data
// directory and in no line of the node's log, even at debug level.
func TestSecretsManagerThroughTheFrontDoor(t *testing.T) {
	dir := t.TempDir()
	logs := &syncBuffer{}
	cfg := config.Default()
	cfg.Listen, cfg.DataDir = "127.0.0.1:0", dir
	ctx, cancel := context.WithCancel(context.Background())
	d, err := New(ctx, cfg, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	n := &node{d: d}
	n.client = lambda.NewFromConfig(n.awsConfig())
	c := sm.NewFromConfig(n.awsConfig())

	plain := "s3cr3t-" + uuid.NewString()
	cr, err := c.CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("app/db"), SecretString: aws.String(plain)})
	if err != nil {
		t.Fatal(err)
	}
	// boto3 reads it and catches a deleted secret's refusal by class.
	needTool(t, "python3", "-c", "import boto3")
	script := `
import boto3, json
sm = boto3.client("secretsmanager")
v = sm.get_secret_value(SecretId="app/db")["SecretString"]
sm.create_secret(Name="gone", SecretString="x")
sm.delete_secret(SecretId="gone", RecoveryWindowInDays=7)
try:
    sm.get_secret_value(SecretId="gone")
    gone = "no error"
except sm.exceptions.InvalidRequestException as e:
    gone = e.response["Error"]["Message"]
try:
    sm.get_secret_value(SecretId="never")
    never = "no error"
except sm.exceptions.ResourceNotFoundException as e:
    never = e.response["Error"]["Code"]
print(json.dumps({"value": v, "gone": gone, "never": never}))
`
	cmd := exec.Command("python3", "-c", script)
	cmd.Env = n.toolEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("boto3: %v\n%s", err, out)
	}
	var res map[string]string
	if err := json.Unmarshal(out, &res); err != nil || res["value"] != plain || res["never"] != "ResourceNotFoundException" ||
		res["gone"] != "You can't perform this operation on the secret because it was marked for deletion." {
		t.Fatalf("boto3 answered %s (%v)", out, err)
	}
	// The AWS CLI puts a new version.
	needTool(t, "aws", "--version")
	cmd = exec.Command("aws", "--endpoint-url", n.endpoint(), "secretsmanager", "put-secret-value", "--secret-id", "app/db",
		"--secret-string", plain+"-2", "--output", "json")
	cmd.Env = n.toolEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("aws secretsmanager put-secret-value: %v\n%s", err, out)
	}

	// A real rotation function drives the four steps.
	fn := create(t, n, &lambda.CreateFunctionInput{
		FunctionName: aws.String("rotator"), Runtime: ltypes.RuntimeProvidedal2023, Handler: aws.String("bootstrap"),
		// The rotation role of AWS's rotation templates: the four steps on
		// this secret, random passwords from anywhere.
		Role: aws.String(createRole(t, n, "rotator", `{"Version":"2012-10-17","Statement":[
		 {"Effect":"Allow","Action":["secretsmanager:DescribeSecret","secretsmanager:GetSecretValue","secretsmanager:PutSecretValue",
		  "secretsmanager:UpdateSecretVersionStage"],"Resource":"arn:aws:secretsmanager:*:*:secret:app/db-*"},
		 {"Effect":"Allow","Action":"secretsmanager:GetRandomPassword","Resource":"*"}]}`)),
		Timeout: aws.Int32(30),
		Code:    &ltypes.FunctionCode{ZipFile: goZip(t, "./internal/daemon/testdata/rotator")},
	})
	rot, err := c.RotateSecret(ctx, &sm.RotateSecretInput{SecretId: cr.ARN, RotationLambdaARN: fn.FunctionArn})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		desc, err := c.DescribeSecret(ctx, &sm.DescribeSecretInput{SecretId: cr.ARN})
		if err != nil {
			t.Fatal(err)
		}
		if desc.LastRotatedDate != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the rotation did not finish: %+v\nlog:\n%s", desc.VersionIdsToStages, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	cur, err := c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: cr.ARN})
	if err != nil || *cur.VersionId != *rot.VersionId || !strings.HasPrefix(*cur.SecretString, "rotated:") {
		t.Fatalf("current after rotation: %v %v", cur, err)
	}
	prev, err := c.GetSecretValue(ctx, &sm.GetSecretValueInput{SecretId: cr.ARN, VersionStage: aws.String("AWSPREVIOUS")})
	if err != nil || *prev.SecretString != plain+"-2" {
		t.Fatalf("previous after rotation: %v", err)
	}

	// The plaintexts appear in no file of the data directory and in no
	// line of the node's log.
	for _, p := range []string{plain, *cur.SecretString} {
		err := filepath.WalkDir(dir, func(path string, de fs.DirEntry, err error) error {
			if err != nil || de.IsDir() {
				return nil //nolint:nilerr // files come and go under a running node
			}
			raw, err := os.ReadFile(path) //nolint:gosec // G122: the test's own data directory
			if err == nil && bytes.Contains(raw, []byte(p)) {
				t.Errorf("%s holds a secret value in plain text", path)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(logs.String(), p) {
			t.Error("the node's log holds a secret value")
		}
	}
}

// TestSSMThroughTheFrontDoor: Parameter Store behind the front door: the
// AWS CLI puts a SecureString, boto3 reads it with and without decryption
// and by path, aws-sdk-go-v2 reads a Secrets Manager secret through
// /aws/reference/secretsmanager/.
func TestSSMThroughTheFrontDoor(t *testing.T) {
	n := startNode(t, t.TempDir())
	ctx := t.Context()
	needTool(t, "aws", "--version")
	cmd := exec.Command("aws", "--endpoint-url", n.endpoint(), "ssm", "put-parameter", "--name", "/app/token",
		"--value", "tok-123", "--type", "SecureString", "--output", "json")
	cmd.Env = n.toolEnv()
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), `"Version": 1`) {
		t.Fatalf("aws ssm put-parameter: %v\n%s", err, out)
	}
	needTool(t, "python3", "-c", "import boto3")
	script := `
import boto3, json
ssm = boto3.client("ssm")
ssm.put_parameter(Name="/app/host", Value="db1", Type="String")
enc = ssm.get_parameter(Name="/app/token")["Parameter"]["Value"]
dec = ssm.get_parameter(Name="/app/token", WithDecryption=True)["Parameter"]["Value"]
names = [p["Name"] for p in ssm.get_parameters_by_path(Path="/app")["Parameters"]]
try:
    ssm.get_parameter(Name="/app/none")
    missing = "no error"
except ssm.exceptions.ParameterNotFound as e:
    missing = e.response["Error"]["Code"]
print(json.dumps({"enc": enc, "dec": dec, "names": names, "missing": missing}))
`
	cmd = exec.Command("python3", "-c", script)
	cmd.Env = n.toolEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("boto3: %v\n%s", err, out)
	}
	var res struct {
		Enc, Dec, Missing string
		Names             []string
	}
	if err := json.Unmarshal(out, &res); err != nil || res.Dec != "tok-123" || res.Enc == "tok-123" || res.Missing != "ParameterNotFound" ||
		len(res.Names) != 2 {
		t.Fatalf("boto3 answered %s (%v)", out, err)
	}
	if _, err := sm.NewFromConfig(n.awsConfig()).CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("ref"), SecretString: aws.String("via-ssm")}); err != nil {
		t.Fatal(err)
	}
	g, err := ssm.NewFromConfig(n.awsConfig()).GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String("/aws/reference/secretsmanager/ref"),
		WithDecryption: aws.Bool(true)})
	if err != nil || *g.Parameter.Value != "via-ssm" {
		t.Fatalf("reference: %v", err)
	}
}

// TestStackResolvesDynamicReferences: a template whose function
// environment uses {{resolve:ssm:...}} (latest and a version),
// {{resolve:secretsmanager:...}} with a JSON key, and a parameter of type
// AWS::SSM::Parameter::Value<String>, deploys with the resolved values;
// ssm-secure is refused, as CloudFormation refuses it outside a few
// password properties.
func TestStackResolvesDynamicReferences(t *testing.T) {
	n := startNode(t, t.TempDir())
	ctx := t.Context()
	p := ssm.NewFromConfig(n.awsConfig())
	for _, v := range []string{"v1", "v2"} {
		if _, err := p.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/app/greeting"), Value: aws.String(v),
			Type: "String", Overwrite: aws.Bool(true)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String("/app/who"), Value: aws.String("world"), Type: "String"}); err != nil {
		t.Fatal(err)
	}
	if _, err := sm.NewFromConfig(n.awsConfig()).CreateSecret(ctx, &sm.CreateSecretInput{Name: aws.String("app/db"),
		SecretString: aws.String(`{"user":"admin","password":"pw-123"}`)}); err != nil {
		t.Fatal(err)
	}
	sha := uploadArtifact(t, n, dirZip(t, "examples/hello-python"))
	body := `AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Who:
    Type: AWS::SSM::Parameter::Value<String>
    Default: /app/who
Resources:
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.12
      Handler: app.handler
      Role: ` + testRole + `
      Code:
        S3Bucket: nimbus-artifacts
        S3Key: ` + sha + `
      Environment:
        Variables:
          LATEST: "{{resolve:ssm:/app/greeting}}"
          FIRST: "say {{resolve:ssm:/app/greeting:1}}!"
          DB_PASSWORD: "{{resolve:secretsmanager:app/db:SecretString:password}}"
          WHO: !Ref Who
Outputs:
  FnName:
    Value: !Ref Fn
`
	c := n.cfn()
	if _, err := c.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String("dyn"), TemplateBody: aws.String(body)}); err != nil {
		t.Fatal(err)
	}
	s := waitStack(t, c, "dyn")
	if s.StackStatus != cfntypes.StackStatusCreateComplete {
		t.Fatalf("stack = %s (%s)", s.StackStatus, aws.ToString(s.StackStatusReason))
	}
	fn, err := n.client.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(outputs(s)["FnName"])})
	if err != nil {
		t.Fatal(err)
	}
	env := fn.Configuration.Environment.Variables
	if env["LATEST"] != "v2" || env["FIRST"] != "say v1!" || env["DB_PASSWORD"] != "pw-123" || env["WHO"] != "world" {
		t.Fatalf("environment %v", env)
	}
	// The template CloudFormation keeps holds the reference, not the value.
	tmpl, err := c.GetTemplate(ctx, &cloudformation.GetTemplateInput{StackName: aws.String("dyn")})
	if err != nil || strings.Contains(aws.ToString(tmpl.TemplateBody), "pw-123") {
		t.Fatalf("GetTemplate holds the secret (%v)", err)
	}
	events, err := c.DescribeStackEvents(ctx, &cloudformation.DescribeStackEventsInput{StackName: aws.String("dyn")})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events.StackEvents {
		if strings.Contains(aws.ToString(e.ResourceProperties), "pw-123") || strings.Contains(aws.ToString(e.ResourceStatusReason), "pw-123") {
			t.Fatal("a stack event holds the secret")
		}
	}

	bad := strings.Replace(body, `"{{resolve:ssm:/app/greeting}}"`, `"{{resolve:ssm-secure:/app/greeting}}"`, 1)
	if _, err := c.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String("secure"), TemplateBody: aws.String(bad)}); err == nil {
		s := waitStack(t, c, "secure")
		if s.StackStatus == cfntypes.StackStatusCreateComplete || !strings.Contains(aws.ToString(s.StackStatusReason)+stackReasons(t, c, "secure"), "SSM Secure reference is not supported") {
			t.Fatalf("ssm-secure: %s (%s)", s.StackStatus, aws.ToString(s.StackStatusReason))
		}
	} else if !strings.Contains(err.Error(), "SSM Secure reference is not supported") {
		t.Fatalf("ssm-secure: %v", err)
	}
}

// stackReasons joins the status reasons of a stack's events.
func stackReasons(t *testing.T, c *cloudformation.Client, name string) string {
	t.Helper()
	ev, err := c.DescribeStackEvents(t.Context(), &cloudformation.DescribeStackEventsInput{StackName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range ev.StackEvents {
		b.WriteString(aws.ToString(e.ResourceStatusReason) + "\n")
	}
	return b.String()
}

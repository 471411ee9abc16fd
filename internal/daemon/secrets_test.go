package daemon

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"

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

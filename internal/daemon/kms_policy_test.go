package daemon

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"

	"github.com/nimbus-serverless/nimbus/internal/config"
)

// TestKMSKeyPolicies: under --iam enforce a customer managed key's policy
// decides as KMS's does: a key policy that delegates to the account lets
// IAM policies grant; one that names only another principal refuses a
// caller IAM allows (also for Decrypt without KeyId, authorised on the
// key its ciphertext names, and through an alias); one that names the
// caller's role grants what IAM does not; an explicit Deny wins.
// ReEncrypt needs kms:ReEncryptFrom on the source key and kms:ReEncryptTo
// on the destination, each with its key policy.
func TestKMSKeyPolicies(t *testing.T) {
	n, roleArn := iamNode(t, config.IAMEnforce, `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt","kms:DescribeKey","kms:ReEncrypt*"],"Resource":"*"}]}`)
	ctx := t.Context()
	root := kms.NewFromConfig(n.awsConfig())
	fn := kms.NewFromConfig(functionConfig(t, n, roleArn, "mine"))
	acct := n.d.cfg.AccountID
	newKey := func(policy string) string {
		in := &kms.CreateKeyInput{}
		if policy != "" {
			in.Policy = aws.String(policy)
			in.BypassPolicyLockoutSafetyCheck = true
		}
		out, err := root.CreateKey(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.KeyMetadata.KeyId)
	}
	stmt := func(effect, principal, actions string) string {
		return `{"Effect":"` + effect + `","Principal":{"AWS":"` + principal + `"},"Action":` + actions + `,"Resource":"*"}`
	}
	rootArn := "arn:aws:iam::" + acct + ":root"
	delegated := newKey("")
	other := newKey(`{"Version":"2012-10-17","Statement":[` + stmt("Allow", "arn:aws:iam::"+acct+":role/someone-else", `"kms:*"`) + `]}`)
	direct := newKey(`{"Version":"2012-10-17","Statement":[` + stmt("Allow", rootArn, `"kms:*"`) + `,` +
		stmt("Allow", roleArn, `["kms:GenerateDataKey"]`) + `]}`)
	denied := newKey(`{"Version":"2012-10-17","Statement":[` + stmt("Allow", rootArn, `"kms:*"`) + `,` +
		stmt("Deny", roleArn, `"kms:Encrypt"`) + `]}`)
	if _, err := root.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/other"), TargetKeyId: aws.String(other)}); err != nil {
		t.Fatal(err)
	}
	encrypt := func(key string) error {
		_, err := fn.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(key), Plaintext: []byte("x")})
		return err
	}
	wantAccessDenied := func(what string, err error) {
		t.Helper()
		var ae smithy.APIError
		if err == nil || !strings.Contains(err.Error(), "AccessDenied") {
			t.Errorf("%s: %v, want AccessDeniedException", what, err)
		} else if errors.As(err, &ae) && !strings.Contains(ae.ErrorMessage(), "kms:") {
			t.Errorf("%s: message %q", what, ae.ErrorMessage())
		}
	}
	// Delegated to IAM, which allows Encrypt and Decrypt.
	if err := encrypt(delegated); err != nil {
		t.Fatalf("Encrypt under a key delegating to IAM: %v", err)
	}
	// A key policy naming only someone else: refused, by id and by alias.
	wantAccessDenied("Encrypt under another principal's key", encrypt(other))
	wantAccessDenied("Encrypt through an alias of it", encrypt("alias/other"))
	blob, err := root.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(other), Plaintext: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = fn.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob.CiphertextBlob})
	wantAccessDenied("Decrypt of its ciphertext without KeyId", err)
	// The key policy grants the role what IAM does not.
	if _, err := fn.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(direct), NumberOfBytes: aws.Int32(32)}); err != nil {
		t.Fatalf("GenerateDataKey granted by the key policy: %v", err)
	}
	_, err = fn.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(delegated), NumberOfBytes: aws.Int32(32)})
	wantAccessDenied("GenerateDataKey neither IAM nor the key policy grants", err)
	// An explicit Deny in the key policy wins over IAM's Allow.
	wantAccessDenied("Encrypt denied by the key policy", encrypt(denied))
	if _, err := fn.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(denied)}); err != nil {
		t.Fatalf("DescribeKey, not denied: %v", err)
	}

	mine, err := fn.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(delegated), Plaintext: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fn.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: mine.CiphertextBlob, DestinationKeyId: aws.String(delegated)}); err != nil {
		t.Errorf("ReEncrypt between keys both policies allow: %v", err)
	}
	_, err = fn.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: mine.CiphertextBlob, DestinationKeyId: aws.String("alias/other")})
	wantAccessDenied("ReEncrypt to another principal's key", err)
	if err != nil && !strings.Contains(err.Error(), "kms:ReEncryptTo") {
		t.Errorf("ReEncrypt to another principal's key: %v, want the kms:ReEncryptTo denial", err)
	}
	_, err = fn.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: blob.CiphertextBlob, DestinationKeyId: aws.String(delegated)})
	wantAccessDenied("ReEncrypt from another principal's key", err)
}

package daemon

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/nimbus-serverless/nimbus/internal/config"
)

// TestS3EncryptionKMS: a bucket whose default is SSE-KMS under a
// customer key encrypts bodies on disk (the plaintext is nowhere in the
// data directory); a caller that IAM lets read and write the bucket but
// not use the key can do neither — kms:GenerateDataKey to write,
// kms:Decrypt to read, as on AWS — until its policy allows kms:Decrypt;
// nor copy from a bucket it may not read (s3:GetObject on the source).
func TestS3EncryptionKMS(t *testing.T) {
	t.Parallel()
	n, roleArn := iamNode(t, config.IAMEnforce, `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::vault/*"}]}`)
	ctx := context.Background()
	pathStyle := func(o *s3.Options) { o.UsePathStyle = true }
	root := s3.NewFromConfig(n.awsConfig(), pathStyle)
	key, err := kms.NewFromConfig(n.awsConfig()).CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("vault")})
	if err != nil {
		t.Fatal(err)
	}
	keyArn := aws.ToString(key.KeyMetadata.Arn)
	if _, err := root.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("vault")}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: aws.String("vault"),
		ServerSideEncryptionConfiguration: &s3types.ServerSideEncryptionConfiguration{Rules: []s3types.ServerSideEncryptionRule{{
			ApplyServerSideEncryptionByDefault: &s3types.ServerSideEncryptionByDefault{SSEAlgorithm: s3types.ServerSideEncryptionAwsKms,
				KMSMasterKeyID: aws.String(keyArn)}}}}}); err != nil {
		t.Fatal(err)
	}
	enc, err := root.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: aws.String("vault")})
	if err != nil || aws.ToString(enc.ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault.KMSMasterKeyID) != keyArn {
		t.Fatalf("GetBucketEncryption: %v %v", enc, err)
	}
	secret := []byte(strings.Repeat("the vault's plaintext, never on disk. ", 100))
	put, err := root.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("vault"), Key: aws.String("doc"), Body: bytes.NewReader(secret)})
	if err != nil {
		t.Fatal(err)
	}
	if put.ServerSideEncryption != s3types.ServerSideEncryptionAwsKms || aws.ToString(put.SSEKMSKeyId) != keyArn {
		t.Errorf("PutObject answers %q %q", put.ServerSideEncryption, aws.ToString(put.SSEKMSKeyId))
	}
	got, err := root.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("vault"), Key: aws.String("doc")})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(got.Body)
	_ = got.Body.Close()
	if !bytes.Equal(body, secret) || aws.ToString(got.SSEKMSKeyId) != keyArn {
		t.Errorf("GetObject: %d bytes, key %q", len(body), aws.ToString(got.SSEKMSKeyId))
	}
	err = filepath.WalkDir(n.d.cfg.DataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, secret[:40]) {
			t.Errorf("%s holds the plaintext", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	fc := s3.NewFromConfig(functionConfig(t, n, roleArn, "mine"), pathStyle)
	_, err = fc.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("vault"), Key: aws.String("doc")})
	wantDenied(t, "GetObject without kms:Decrypt", err, "AccessDenied", 403, "")
	if err != nil && !strings.Contains(err.Error(), "kms:Decrypt") {
		t.Errorf("the refusal does not name kms:Decrypt: %v", err)
	}
	_, err = fc.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("vault"), Key: aws.String("mine"), Body: strings.NewReader("x")})
	wantDenied(t, "PutObject without kms:GenerateDataKey", err, "AccessDenied", 403, "")
	if _, err := root.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("vault"), Key: aws.String("mine")}); err == nil {
		t.Error("a refused PutObject stored the object")
	}

	// A copy needs s3:GetObject on its source too (the role may write
	// vault/* but not read outside): refused before anything is stored.
	if _, err := root.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("outside")}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("outside"), Key: aws.String("secret"), Body: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}
	_, err = fc.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("vault"), Key: aws.String("stolen"), CopySource: aws.String("outside/secret")})
	wantDenied(t, "CopyObject without s3:GetObject on the source", err, "AccessDenied", 403, "")
	if err != nil && !strings.Contains(err.Error(), "s3:GetObject") {
		t.Errorf("the refusal does not name s3:GetObject: %v", err)
	}
	if _, err := root.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("vault"), Key: aws.String("stolen")}); err == nil {
		t.Error("a refused CopyObject stored the object")
	}

	if _, err := awsiam.NewFromConfig(n.awsConfig()).PutRolePolicy(ctx, &awsiam.PutRolePolicyInput{RoleName: aws.String("app-role"),
		PolicyName: aws.String("app"), PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::vault/*"},
	 {"Effect":"Allow","Action":"kms:Decrypt","Resource":"` + keyArn + `"}]}`)}); err != nil {
		t.Fatal(err)
	}
	got, err = fc.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("vault"), Key: aws.String("doc")})
	if err != nil {
		t.Fatalf("GetObject with kms:Decrypt: %v", err)
	}
	body, _ = io.ReadAll(got.Body)
	_ = got.Body.Close()
	if !bytes.Equal(body, secret) {
		t.Errorf("GetObject with kms:Decrypt: %d bytes", len(body))
	}
}

package kms

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/nimbus-serverless/nimbus/internal/store"
	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

const testAccount = "123456789012"

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func testMaster() []byte { return bytes.Repeat([]byte{7}, MasterKeySize) }

// serve runs a KMS over st on a real HTTP server and returns an
// aws-sdk-go-v2 client for it.
func serve(t *testing.T, st *store.Store, c *clock) (*awskms.Client, *Service) {
	t.Helper()
	svc, err := New(t.Context(), Options{Store: st, MasterKey: testMaster(), Region: "us-east-1", AccountID: testAccount, Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc)
	t.Cleanup(srv.Close)
	return awskms.New(awskms.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
	}), svc
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Fatalf("want %s, got %v", code, err)
	}
}

func newKey(t *testing.T, c *awskms.Client) string {
	t.Helper()
	out, err := c.CreateKey(t.Context(), &awskms.CreateKeyInput{Description: aws.String("test key"),
		Tags: []types.Tag{{TagKey: aws.String("team"), TagValue: aws.String("a")}}})
	if err != nil {
		t.Fatal(err)
	}
	if out.KeyMetadata.KeyState != types.KeyStateEnabled || !strings.HasSuffix(*out.KeyMetadata.Arn, ":key/"+*out.KeyMetadata.KeyId) {
		t.Fatalf("metadata %+v", out.KeyMetadata)
	}
	return *out.KeyMetadata.KeyId
}

func TestEncryptDecryptWithContext(t *testing.T) {
	c, _ := serve(t, storetest.Open(t), &clock{t: time.Now()})
	ctx := t.Context()
	id := newKey(t, c)
	ectx := map[string]string{"purpose": "test", "tenant": "a"}
	enc, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("attack at dawn"), EncryptionContext: ectx})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(enc.CiphertextBlob, []byte("attack at dawn")) {
		t.Fatal("plaintext in the ciphertext blob")
	}
	// The blob names its key: no KeyId needed.
	dec, err := c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ectx})
	if err != nil {
		t.Fatal(err)
	}
	if string(dec.Plaintext) != "attack at dawn" || *dec.KeyId != *enc.KeyId {
		t.Fatalf("decrypt %q %s", dec.Plaintext, *dec.KeyId)
	}
	// Wrong, missing and extra context.
	for _, bad := range []map[string]string{nil, {"purpose": "test"}, {"purpose": "test", "tenant": "b"},
		{"purpose": "test", "tenant": "a", "x": "y"}} {
		_, err := c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: bad})
		wantCode(t, err, "InvalidCiphertextException")
	}
	// Every tampered byte fails.
	for i := range enc.CiphertextBlob {
		b := bytes.Clone(enc.CiphertextBlob)
		b[i] ^= 0x40
		_, err := c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: b, EncryptionContext: ectx})
		wantCode(t, err, "InvalidCiphertextException")
	}
	// Truncated.
	_, err = c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob[:20], EncryptionContext: ectx})
	wantCode(t, err, "InvalidCiphertextException")
	// Another key named in the request.
	other := newKey(t, c)
	_, err = c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ectx, KeyId: aws.String(other)})
	wantCode(t, err, "IncorrectKeyException")
	// Too large a plaintext.
	_, err = c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(id), Plaintext: make([]byte, 4097)})
	wantCode(t, err, "ValidationException")
}

func TestAliasesAndManagedKeys(t *testing.T) {
	c, _ := serve(t, storetest.Open(t), &clock{t: time.Now()})
	ctx := t.Context()
	id := newKey(t, c)
	if _, err := c.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	_, err := c.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: aws.String(id)})
	wantCode(t, err, "AlreadyExistsException")
	_, err = c.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("app2"), TargetKeyId: aws.String(id)})
	wantCode(t, err, "InvalidAliasNameException")
	_, err = c.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/aws/mine"), TargetKeyId: aws.String(id)})
	wantCode(t, err, "NotAuthorizedException")
	enc, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String("alias/app"), Plaintext: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(*enc.KeyId, id) {
		t.Fatalf("alias encrypted under %s", *enc.KeyId)
	}
	arn := "arn:aws:kms:us-east-1:" + testAccount + ":alias/app"
	if d, err := c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(arn)}); err != nil || *d.KeyMetadata.KeyId != id {
		t.Fatalf("describe by alias ARN: %v", err)
	}
	// The AWS managed keys exist on first use, once.
	m1, err := c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String("alias/aws/ssm")})
	if err != nil {
		t.Fatal(err)
	}
	m2, err := c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String("alias/aws/ssm")})
	if err != nil || *m1.KeyMetadata.KeyId != *m2.KeyMetadata.KeyId || m1.KeyMetadata.KeyManager != types.KeyManagerTypeAws {
		t.Fatalf("managed key %+v %v", m2, err)
	}
	_, err = c.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: m1.KeyMetadata.KeyId})
	wantCode(t, err, "UnsupportedOperationException")
	_, err = c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String("alias/nope")})
	wantCode(t, err, "NotFoundException")
	if _, err := c.UpdateAlias(ctx, &awskms.UpdateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: aws.String(newKey(t, c))}); err != nil {
		t.Fatal(err)
	}
	al, err := c.ListAliases(ctx, &awskms.ListAliasesInput{KeyId: aws.String(id)})
	if err != nil || len(al.Aliases) != 0 {
		t.Fatalf("aliases of the old key after UpdateAlias: %+v %v", al, err)
	}
	all, err := c.ListAliases(ctx, &awskms.ListAliasesInput{})
	if err != nil || len(all.Aliases) != 2 {
		t.Fatalf("aliases %+v %v", all, err)
	}
	if _, err := c.DeleteAlias(ctx, &awskms.DeleteAliasInput{AliasName: aws.String("alias/app")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String("alias/app"), Plaintext: []byte("x")})
	wantCode(t, err, "NotFoundException")
}

func TestKeyLifecycle(t *testing.T) {
	clk := &clock{t: time.Now()}
	c, _ := serve(t, storetest.Open(t), clk)
	ctx := t.Context()
	id := newKey(t, c)
	enc, err := c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x")})
	wantCode(t, err, "DisabledException")
	_, err = c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	wantCode(t, err, "DisabledException")
	if _, err := c.EnableKey(ctx, &awskms.EnableKeyInput{KeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	for _, days := range []int32{6, 31} {
		_, err = c.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(days)})
		wantCode(t, err, "ValidationException")
	}
	s, err := c.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)})
	if err != nil || s.KeyState != types.KeyStatePendingDeletion || s.DeletionDate.Sub(clk.now()) < 7*24*time.Hour-time.Second {
		t.Fatalf("schedule: %+v %v", s, err)
	}
	_, err = c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	wantCode(t, err, "KMSInvalidStateException")
	if _, err := c.CancelKeyDeletion(ctx, &awskms.CancelKeyDeletionInput{KeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	d, _ := c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(id)})
	if d.KeyMetadata.KeyState != types.KeyStateDisabled {
		t.Fatalf("state after cancel: %s", d.KeyMetadata.KeyState)
	}
	if _, err := c.ScheduleKeyDeletion(ctx, &awskms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	// Within the window the key exists; after it, it is gone.
	clk.add(6 * 24 * time.Hour)
	if _, err := c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	clk.add(2 * 24 * time.Hour)
	_, err = c.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(id)})
	wantCode(t, err, "NotFoundException")
	keys, err := c.ListKeys(ctx, &awskms.ListKeysInput{})
	if err != nil || len(keys.Keys) != 0 {
		t.Fatalf("keys after deletion: %+v %v", keys, err)
	}
}

func TestDataKeysReEncryptRandomPolicyTags(t *testing.T) {
	c, _ := serve(t, storetest.Open(t), &clock{t: time.Now()})
	ctx := t.Context()
	a, b := newKey(t, c), newKey(t, c)
	dk, err := c.GenerateDataKey(ctx, &awskms.GenerateDataKeyInput{KeyId: aws.String(a), KeySpec: types.DataKeySpecAes256,
		EncryptionContext: map[string]string{"k": "v"}})
	if err != nil || len(dk.Plaintext) != 32 {
		t.Fatalf("data key: %v", err)
	}
	dec, err := c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: dk.CiphertextBlob, EncryptionContext: map[string]string{"k": "v"}})
	if err != nil || !bytes.Equal(dec.Plaintext, dk.Plaintext) {
		t.Fatalf("data key decrypt: %v", err)
	}
	wp, err := c.GenerateDataKeyWithoutPlaintext(ctx, &awskms.GenerateDataKeyWithoutPlaintextInput{KeyId: aws.String(a), NumberOfBytes: aws.Int32(16)})
	if err != nil {
		t.Fatal(err)
	}
	re, err := c.ReEncrypt(ctx, &awskms.ReEncryptInput{CiphertextBlob: wp.CiphertextBlob, DestinationKeyId: aws.String(b),
		DestinationEncryptionContext: map[string]string{"to": "b"}})
	if err != nil || !strings.HasSuffix(*re.SourceKeyId, a) || !strings.HasSuffix(*re.KeyId, b) {
		t.Fatalf("reencrypt %+v %v", re, err)
	}
	d2, err := c.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: re.CiphertextBlob, EncryptionContext: map[string]string{"to": "b"}})
	if err != nil || len(d2.Plaintext) != 16 {
		t.Fatalf("decrypt re-encrypted: %v", err)
	}
	r, err := c.GenerateRandom(ctx, &awskms.GenerateRandomInput{NumberOfBytes: aws.Int32(64)})
	if err != nil || len(r.Plaintext) != 64 {
		t.Fatalf("random: %v", err)
	}
	pol, err := c.GetKeyPolicy(ctx, &awskms.GetKeyPolicyInput{KeyId: aws.String(a)})
	if err != nil || !strings.Contains(*pol.Policy, "arn:aws:iam::"+testAccount+":root") {
		t.Fatalf("default policy %v", err)
	}
	_, err = c.PutKeyPolicy(ctx, &awskms.PutKeyPolicyInput{KeyId: aws.String(a), Policy: aws.String("{not json")})
	wantCode(t, err, "MalformedPolicyDocumentException")
	np := `{"Version":"2012-10-17","Statement":[]}`
	if _, err := c.PutKeyPolicy(ctx, &awskms.PutKeyPolicyInput{KeyId: aws.String(a), Policy: aws.String(np)}); err != nil {
		t.Fatal(err)
	}
	if pol, _ := c.GetKeyPolicy(ctx, &awskms.GetKeyPolicyInput{KeyId: aws.String(a)}); *pol.Policy != np {
		t.Fatalf("policy %s", *pol.Policy)
	}
	if _, err := c.TagResource(ctx, &awskms.TagResourceInput{KeyId: aws.String(a), Tags: []types.Tag{{TagKey: aws.String("env"), TagValue: aws.String("prod")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UntagResource(ctx, &awskms.UntagResourceInput{KeyId: aws.String(a), TagKeys: []string{"team"}}); err != nil {
		t.Fatal(err)
	}
	tags, err := c.ListResourceTags(ctx, &awskms.ListResourceTagsInput{KeyId: aws.String(a)})
	if err != nil || len(tags.Tags) != 1 || *tags.Tags[0].TagKey != "env" {
		t.Fatalf("tags %+v %v", tags, err)
	}
	_, err = c.Sign(ctx, &awskms.SignInput{KeyId: aws.String(a), Message: []byte("m"), SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256})
	wantCode(t, err, "UnknownOperationException")
	if !strings.Contains(err.Error(), "asymmetric KMS keys") {
		t.Fatalf("the refusal does not name the feature: %v", err)
	}
	// Pagination of ListKeys.
	var seen []string
	var marker *string
	for {
		out, err := c.ListKeys(ctx, &awskms.ListKeysInput{Limit: aws.Int32(1), Marker: marker})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range out.Keys {
			seen = append(seen, *k.KeyId)
		}
		if !out.Truncated {
			break
		}
		marker = out.NextMarker
	}
	if len(seen) != 2 {
		t.Fatalf("paged keys %v", seen)
	}
}

func TestEnvelopeAndMasterKeyCheck(t *testing.T) {
	st := storetest.Open(t)
	_, svc := serve(t, st, &clock{t: time.Now()})
	ctx := t.Context()
	ectx := map[string]string{"SecretARN": "arn:x"}
	sealed, arn, err := svc.SealValue(ctx, "alias/aws/secretsmanager", bytes.Repeat([]byte("s"), 60000), ectx)
	if err != nil || !strings.Contains(arn, ":key/") {
		t.Fatalf("seal: %v", err)
	}
	v, _, err := svc.OpenValue(ctx, sealed, ectx)
	if err != nil || len(v) != 60000 {
		t.Fatalf("open: %v", err)
	}
	if _, _, err := svc.OpenValue(ctx, sealed, map[string]string{"SecretARN": "arn:y"}); !errors.Is(err, ErrSealed) {
		t.Fatalf("open with another context: %v", err)
	}
	sealed[len(sealed)-1] ^= 1
	if _, _, err := svc.OpenValue(ctx, sealed, ectx); !errors.Is(err, ErrSealed) {
		t.Fatalf("open tampered: %v", err)
	}
	// A node with another master key refuses to start.
	_, err = New(ctx, Options{Store: st, MasterKey: bytes.Repeat([]byte{8}, MasterKeySize), Region: "us-east-1", AccountID: testAccount})
	if !errors.Is(err, ErrMasterKeyMismatch) {
		t.Fatalf("other master key: %v", err)
	}
}

func TestLoadMasterKey(t *testing.T) {
	dir := t.TempDir()
	k1, err := LoadMasterKey(MasterKeyOptions{DataDir: dir})
	if err != nil || len(k1) != MasterKeySize {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, MasterKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", fi.Mode(), err)
	}
	k2, err := LoadMasterKey(MasterKeyOptions{DataDir: dir})
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatal("the data directory's key changed across loads")
	}
	if err := os.Chmod(filepath.Join(dir, MasterKeyFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadMasterKey(MasterKeyOptions{DataDir: dir}); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("a readable key file was accepted: %v", err)
	}
	// Cluster: every node with the secret derives the same key.
	c1, _ := LoadMasterKey(MasterKeyOptions{ClusterSecret: "0123456789abcdef", ClusterName: "prod"})
	c2, _ := LoadMasterKey(MasterKeyOptions{ClusterSecret: "0123456789abcdef", ClusterName: "prod", DataDir: t.TempDir()})
	c3, _ := LoadMasterKey(MasterKeyOptions{ClusterSecret: "another-secret-0", ClusterName: "prod"})
	if !bytes.Equal(c1, c2) || bytes.Equal(c1, c3) || len(c1) != MasterKeySize {
		t.Fatal("cluster keys")
	}
	// --master-key-file: hex.
	p := filepath.Join(t.TempDir(), "mk")
	if err := os.WriteFile(p, []byte(strings.Repeat("ab", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := LoadMasterKey(MasterKeyOptions{File: p, DataDir: dir})
	if err != nil || f[0] != 0xab {
		t.Fatalf("key file: %v", err)
	}
	if err := os.WriteFile(p, []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadMasterKey(MasterKeyOptions{File: p}); err == nil {
		t.Fatal("a short key was accepted")
	}
}

// laggingKV answers Create with "exists" and the first reads with "not
// found", as a cluster does while another node's create is not yet
// applied where the read is served.
type laggingKV struct {
	store.KV
	misses int
}

func (k *laggingKV) Create(ctx context.Context, key string, val []byte) (uint64, error) {
	if _, err := k.KV.Create(ctx, key, val); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("create %s: %w", key, store.ErrExists)
}

func (k *laggingKV) Get(ctx context.Context, key string) (store.Entry, error) {
	if k.misses > 0 {
		k.misses--
		return store.Entry{}, fmt.Errorf("get %s: %w", key, store.ErrNotFound)
	}
	return k.KV.Get(ctx, key)
}

func TestMasterKeyCheckWaitsForALaggingRead(t *testing.T) {
	kv := &laggingKV{KV: storetest.Open(t), misses: 2}
	mk := bytes.Repeat([]byte{7}, MasterKeySize)
	if _, err := New(t.Context(), Options{Store: kv, MasterKey: mk, Region: "us-east-1", AccountID: testAccount}); err != nil {
		t.Fatalf("new with a lagging read: %v", err)
	}
	if kv.misses != 0 {
		t.Fatalf("reads not retried: %d misses left", kv.misses)
	}
	// The retry still compares: another key is refused.
	kv.misses = 1
	_, err := New(t.Context(), Options{Store: kv, MasterKey: bytes.Repeat([]byte{8}, MasterKeySize), Region: "us-east-1", AccountID: testAccount})
	if !errors.Is(err, ErrMasterKeyMismatch) {
		t.Fatalf("other master key after a lagging read: %v", err)
	}
}

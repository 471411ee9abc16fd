package s3

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// fakeKeys seals data keys with one AES-GCM key, binding the context,
// and refuses while denied is set (the daemon's s3Keys judges IAM with
// the real KMS; TestS3Encryption drives that).
type fakeKeys struct {
	key    []byte
	denied bool
}

func (k *fakeKeys) gcm() cipher.AEAD {
	b, _ := aes.NewCipher(k.key)
	g, _ := cipher.NewGCM(b)
	return g
}

func (k *fakeKeys) SealKey(_ context.Context, keyID string, dk []byte, ectx map[string]string) ([]byte, string, error) {
	if k.denied {
		return nil, "", AccessDenied("not authorized to perform: kms:GenerateDataKey")
	}
	if keyID == "" {
		keyID = "alias/aws/s3"
	}
	nonce := make([]byte, 12)
	_, _ = rand.Read(nonce)
	return k.gcm().Seal(nonce, nonce, dk, []byte(ectx["aws:s3:arn"])), "arn:aws:kms:us-east-1:000000000000:key/" + strings.TrimPrefix(keyID, "alias/"), nil
}

func (k *fakeKeys) OpenKey(_ context.Context, sealed []byte, ectx map[string]string) ([]byte, string, error) {
	if k.denied {
		return nil, "", AccessDenied("not authorized to perform: kms:Decrypt")
	}
	dk, err := k.gcm().Open(nil, sealed[:12], sealed[12:], []byte(ectx["aws:s3:arn"]))
	return dk, "", err
}

// grepDir fails t if any file under dir holds secret.
func grepDir(t *testing.T, dir string, secret []byte) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if bytes.Contains(b, secret) {
			t.Errorf("%s holds the plaintext", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestEncryptionAtRest: bodies are encrypted on disk — SSE-S3 by
// default, SSE-KMS by header or bucket default, multipart uploads and
// copies too — read back whole and in ranges across cipher blocks, with
// S3's headers; a caller the KMS refuses reads and writes nothing; SSE-C
// is refused by name.
func TestEncryptionAtRest(t *testing.T) {
	dir := t.TempDir()
	keys := &fakeKeys{key: bytes.Repeat([]byte{7}, 32)}
	s, err := New(Options{Dir: dir, Store: storetest.Open(t), Node: "n1", Region: "us-east-1", AccountID: "000000000000", Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	secret := bytes.Repeat([]byte("TOP-SECRET-PLAINTEXT-0123456789 "), 4096) // 128 KiB
	if w := call(t, s, "PUT", "/sealed", "", nil); w.Code != 200 {
		t.Fatalf("create bucket: %d %s", w.Code, w.Body)
	}
	if w := call(t, s, "GET", "/sealed?encryption", "", nil); w.Code != 200 || !strings.Contains(w.Body.String(), "<SSEAlgorithm>AES256</SSEAlgorithm>") {
		t.Fatalf("default encryption: %d %s", w.Code, w.Body)
	}
	w := call(t, s, "PUT", "/sealed/s3", string(secret), nil)
	if w.Code != 200 || w.Header().Get("x-amz-server-side-encryption") != "AES256" {
		t.Fatalf("put: %d %v", w.Code, w.Header())
	}
	w = call(t, s, "PUT", "/sealed/kms", string(secret), map[string]string{"x-amz-server-side-encryption": "aws:kms",
		"x-amz-server-side-encryption-aws-kms-key-id": "alias/mine"})
	if w.Code != 200 || w.Header().Get("x-amz-server-side-encryption") != "aws:kms" ||
		w.Header().Get("x-amz-server-side-encryption-aws-kms-key-id") != "arn:aws:kms:us-east-1:000000000000:key/mine" {
		t.Fatalf("put aws:kms: %d %v", w.Code, w.Header())
	}
	for _, k := range []string{"s3", "kms"} {
		w := call(t, s, "GET", "/sealed/"+k, "", nil)
		if w.Code != 200 || !bytes.Equal(w.Body.Bytes(), secret) {
			t.Errorf("get %s: %d, %d bytes", k, w.Code, w.Body.Len())
		}
		for _, rg := range [][2]int{{0, 0}, {5, 40}, {15, 16}, {16, 31}, {4095, 70000}, {len(secret) - 3, len(secret) - 1}} {
			w := call(t, s, "GET", "/sealed/"+k, "", map[string]string{"Range": "bytes=" + strconv.Itoa(rg[0]) + "-" + strconv.Itoa(rg[1])})
			if w.Code != 206 || !bytes.Equal(w.Body.Bytes(), secret[rg[0]:rg[1]+1]) {
				t.Errorf("get %s range %v: %d %q", k, rg, w.Code, w.Body.Bytes()[:min(20, w.Body.Len())])
			}
		}
	}
	if w := call(t, s, "HEAD", "/sealed/kms", "", nil); w.Header().Get("x-amz-server-side-encryption") != "aws:kms" {
		t.Errorf("head: %v", w.Header())
	}

	// The bucket's default: aws:kms with a key; a multipart upload and a
	// copy follow it.
	if w := call(t, s, "PUT", "/sealed?encryption", `<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault>`+
		`<SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>alias/dflt</KMSMasterKeyID></ApplyServerSideEncryptionByDefault>`+
		`</Rule></ServerSideEncryptionConfiguration>`, nil); w.Code != 200 {
		t.Fatalf("put encryption: %d %s", w.Code, w.Body)
	}
	if w := call(t, s, "GET", "/sealed?encryption", "", nil); !strings.Contains(w.Body.String(), "<KMSMasterKeyID>alias/dflt</KMSMasterKeyID>") {
		t.Fatalf("get encryption: %s", w.Body)
	}
	w = call(t, s, "POST", "/sealed/multi?uploads", "", nil)
	uploadID := between(w.Body.String(), "<UploadId>", "</UploadId>")
	if w.Code != 200 || uploadID == "" || w.Header().Get("x-amz-server-side-encryption-aws-kms-key-id") != "arn:aws:kms:us-east-1:000000000000:key/dflt" {
		t.Fatalf("create upload: %d %v %s", w.Code, w.Header(), w.Body)
	}
	part1 := bytes.Repeat(secret, 41)[:minPartSize]
	var etags []string
	for i, p := range [][]byte{part1, secret[:1000]} {
		w := call(t, s, "PUT", "/sealed/multi?partNumber="+strconv.Itoa(i+1)+"&uploadId="+uploadID, string(p), nil)
		if w.Code != 200 {
			t.Fatalf("part %d: %d %s", i+1, w.Code, w.Body)
		}
		etags = append(etags, w.Header().Get("ETag"))
	}
	grepDir(t, dir, secret[:64]) // the parts, on disk
	w = call(t, s, "POST", "/sealed/multi?uploadId="+uploadID, `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>`+etags[0]+
		`</ETag></Part><Part><PartNumber>2</PartNumber><ETag>`+etags[1]+`</ETag></Part></CompleteMultipartUpload>`, nil)
	if w.Code != 200 || w.Header().Get("x-amz-server-side-encryption") != "aws:kms" {
		t.Fatalf("complete: %d %v %s", w.Code, w.Header(), w.Body)
	}
	whole := append(append([]byte(nil), part1...), secret[:1000]...)
	if w := call(t, s, "GET", "/sealed/multi", "", nil); !bytes.Equal(w.Body.Bytes(), whole) {
		t.Errorf("multipart object reads %d bytes, want %d", w.Body.Len(), len(whole))
	}
	w = call(t, s, "PUT", "/sealed/copy", "", map[string]string{"x-amz-copy-source": "sealed/s3"})
	if w.Code != 200 || w.Header().Get("x-amz-server-side-encryption") != "aws:kms" {
		t.Fatalf("copy: %d %v %s", w.Code, w.Header(), w.Body)
	}
	if w := call(t, s, "GET", "/sealed/copy", "", nil); !bytes.Equal(w.Body.Bytes(), secret) {
		t.Errorf("copy reads %d bytes", w.Body.Len())
	}
	if w := call(t, s, "PUT", "/sealed/copy", "", map[string]string{"x-amz-copy-source": "sealed/copy",
		"x-amz-server-side-encryption": "AES256"}); w.Code != 200 || w.Header().Get("x-amz-server-side-encryption") != "AES256" {
		t.Errorf("re-encrypt in place: %d %v %s", w.Code, w.Header(), w.Body)
	}
	if got, err := s.ReadObject(t.Context(), "sealed", "kms", "", 1<<20); err != nil || !bytes.Equal(got, secret) {
		t.Errorf("ReadObject: %d bytes, %v", len(got), err)
	}
	grepDir(t, dir, secret[:64])

	// A caller the KMS refuses.
	keys.denied = true
	if w := call(t, s, "GET", "/sealed/kms", "", nil); w.Code != 403 || !strings.Contains(w.Body.String(), "kms:Decrypt") {
		t.Errorf("get refused by KMS: %d %s", w.Code, w.Body)
	}
	if w := call(t, s, "PUT", "/sealed/denied", "x", nil); w.Code != 403 {
		t.Errorf("put refused by KMS: %d %s", w.Code, w.Body)
	}
	if w := call(t, s, "HEAD", "/sealed/denied", "", nil); w.Code != 404 {
		t.Errorf("a refused put stored something: %d", w.Code)
	}
	if w := call(t, s, "GET", "/sealed/s3", "", nil); w.Code != 200 {
		t.Errorf("an SSE-S3 object needs no KMS: %d", w.Code)
	}
	keys.denied = false

	for name, hdr := range map[string]map[string]string{
		"SSE-C": {"x-amz-server-side-encryption-customer-algorithm": "AES256", "x-amz-server-side-encryption-customer-key": "a2V5"},
		"DSSE":  {"x-amz-server-side-encryption": "aws:kms:dsse"},
	} {
		if w := call(t, s, "PUT", "/sealed/c", "x", hdr); w.Code != 501 {
			t.Errorf("%s: %d %s", name, w.Code, w.Body)
		}
	}
	if w := call(t, s, "PUT", "/sealed/c", "x", map[string]string{"x-amz-server-side-encryption": "AES512"}); w.Code != 400 {
		t.Errorf("unknown algorithm: %d %s", w.Code, w.Body)
	}
	if w := call(t, s, "DELETE", "/sealed?encryption", "", nil); w.Code != 204 {
		t.Errorf("delete encryption: %d", w.Code)
	}
	if w := call(t, s, "PUT", "/sealed/after", "x", nil); w.Header().Get("x-amz-server-side-encryption") != "AES256" {
		t.Errorf("after the default's deletion: %v", w.Header())
	}
}

func between(s, a, b string) string {
	_, rest, ok := strings.Cut(s, a)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, b)
	return v
}

// TestDecryptingSeek: every offset of a CTR body decrypts (the counter
// carries across bytes).
func TestDecryptingSeek(t *testing.T) {
	dk := bytes.Repeat([]byte{1}, 32)
	iv := bytes.Repeat([]byte{0xff}, 16) // the counter wraps at once
	plain := make([]byte, 1000)
	_, _ = rand.Read(plain)
	er, err := encrypting(bytes.NewReader(plain), dk, iv)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "body")
	var enc bytes.Buffer
	if _, err := enc.ReadFrom(er); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, enc.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	d, err := newDecryptingFile(f, dk, iv)
	if err != nil {
		t.Fatal(err)
	}
	for _, off := range []int64{0, 1, 15, 16, 17, 255, 256, 257, 999} {
		if _, err := d.Seek(off, 0); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, 1000-off)
		if _, err := d.Read(got); err != nil && !errors.Is(err, fs.ErrClosed) {
			t.Fatal(err)
		}
		if !bytes.Equal(got, plain[off:]) {
			t.Errorf("offset %d decrypts wrongly", off)
		}
	}
}

// FuzzEncryptionConfiguration feeds PutBucketEncryption's parser: it
// never panics, and what it accepts is one rule of a known algorithm.
func FuzzEncryptionConfiguration(f *testing.F) {
	f.Add([]byte(`<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>`))
	f.Add([]byte(`<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>k</KMSMasterKeyID></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>true</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>`))
	f.Add([]byte(`<ServerSideEncryptionConfiguration><Rule/><Rule/></ServerSideEncryptionConfiguration>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := parseEncryption(body)
		if err != nil {
			return
		}
		if r.Mode != sseS3 && r.Mode != sseKMS || (r.Mode == sseS3 && r.KeyID != "") {
			t.Fatalf("accepted %+v", r)
		}
	})
}

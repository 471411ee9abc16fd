package s3

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
)

// Server-side encryption. Every object body is encrypted at rest, as on
// AWS since 2023 (a bucket with no configuration encrypts with SSE-S3):
// a fresh 256-bit data key per object (per upload for multipart), the
// body encrypted with AES-256-CTR under it from a random IV per file (CTR
// so that a range is read from its offset), and the data key sealed in
// the object's metadata:
//
//   - SSE-S3 (AES256): AES-256-GCM under the node's S3 key
//     (Options.SSEKey, from the node's master key), the object's ARN as
//     additional data;
//   - SSE-KMS (aws:kms): by the node's KMS under the object's KMS key
//     (Options.Keys), with the encryption context aws:s3:arn = the
//     object's ARN; the caller must be allowed kms:GenerateDataKey to
//     write and kms:Decrypt to read (and to upload parts), as on AWS.
//
// Integrity rests on the object's checksums, not on the cipher (CTR is
// not authenticated): the at-rest threat this answers is a disk or a
// data directory read by someone else. SSE-C and DSSE-KMS are refused by
// name. docs/design/object-storage.md has the choices.

// Keys seals and opens SSE-KMS data keys with the node's KMS, judging the
// caller that the context carries.
type Keys interface {
	// SealKey encrypts dataKey under the KMS key keyID ("" is the AWS
	// managed key aws/s3) bound to ectx, if the caller may
	// kms:GenerateDataKey with it; it returns the sealed key and the KMS
	// key's ARN.
	SealKey(ctx context.Context, keyID string, dataKey []byte, ectx map[string]string) (sealed []byte, keyARN string, err error)
	// OpenKey reverses SealKey, if the caller may kms:Decrypt with the key.
	OpenKey(ctx context.Context, sealed []byte, ectx map[string]string) (dataKey []byte, keyARN string, err error)
}

// Encryption modes (x-amz-server-side-encryption).
const (
	sseS3  = "AES256"
	sseKMS = "aws:kms"
)

// sseMeta is how an object's body (or an upload's parts) is encrypted.
type sseMeta struct {
	Mode   string `json:"m"`
	KeyID  string `json:"k,omitempty"` // the KMS key's ARN
	Sealed []byte `json:"s"`           // the data key, sealed
	IV     []byte `json:"iv,omitempty"`
}

// encryptionRule is a bucket's default encryption.
type encryptionRule struct {
	Mode       string `json:"mode"`
	KeyID      string `json:"key,omitempty"`
	BucketKey  bool   `json:"bucketKey,omitempty"`
	configured bool
}

// ServerSideEncryptionConfiguration is the body of PutBucketEncryption.
type ServerSideEncryptionConfiguration struct {
	XMLName xml.Name `xml:"ServerSideEncryptionConfiguration"`
	Xmlns   string   `xml:"xmlns,attr,omitempty"`
	Rules   []struct {
		Default *struct {
			SSEAlgorithm   string `xml:"SSEAlgorithm"`
			KMSMasterKeyID string `xml:"KMSMasterKeyID,omitempty"`
		} `xml:"ApplyServerSideEncryptionByDefault"`
		BucketKeyEnabled *bool `xml:"BucketKeyEnabled"`
	} `xml:"Rule"`
}

// parseEncryption reads and checks a PutBucketEncryption body.
func parseEncryption(body []byte) (*encryptionRule, error) {
	var c ServerSideEncryptionConfiguration
	if err := xml.Unmarshal(body, &c); err != nil { //nolint:gosec // G709: a fixed shape, bounded by maxXMLBody
		return nil, malformedXML()
	}
	if len(c.Rules) != 1 || c.Rules[0].Default == nil {
		return nil, malformedXML()
	}
	d := c.Rules[0].Default
	rule := &encryptionRule{Mode: d.SSEAlgorithm, KeyID: d.KMSMasterKeyID, configured: true}
	if bk := c.Rules[0].BucketKeyEnabled; bk != nil {
		rule.BucketKey = *bk
	}
	switch d.SSEAlgorithm {
	case sseS3:
		if d.KMSMasterKeyID != "" {
			return nil, invalidArgument("a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse").
				with("ArgumentName", "ApplyServerSideEncryptionByDefault")
		}
	case sseKMS:
		if len(d.KMSMasterKeyID) > 2048 {
			return nil, invalidArgument("The KMSMasterKeyID is not valid.").with("ArgumentName", "KMSMasterKeyID")
		}
	case "aws:kms:dsse":
		return nil, notImplemented("dual-layer server-side encryption (aws:kms:dsse)")
	default:
		return nil, malformedXML()
	}
	return rule, nil
}

func (s *Service) putEncryption(w http.ResponseWriter, r *http.Request, name string) error {
	body, err := readSmallBody(r, maxXMLBody)
	if err != nil {
		return err
	}
	if len(body) == 0 {
		return errorf(http.StatusBadRequest, "MissingRequestBodyError", "Request Body is empty")
	}
	rule, err := parseEncryption(body)
	if err != nil {
		return err
	}
	if err := s.updateBucket(r.Context(), name, func(b *bucketRecord) error { b.Encryption = rule; return nil }); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// bucketEncryption is b's default encryption: SSE-S3 when none is set.
func bucketEncryption(b *bucketRecord) encryptionRule {
	if b.Encryption == nil {
		return encryptionRule{Mode: sseS3}
	}
	e := *b.Encryption
	e.configured = true
	return e
}

func (s *Service) getEncryption(w http.ResponseWriter, r *http.Request, name string) error {
	b, err := s.bucket(r.Context(), name)
	if err != nil {
		return err
	}
	e := bucketEncryption(b)
	type def struct {
		SSEAlgorithm   string `xml:"SSEAlgorithm"`
		KMSMasterKeyID string `xml:"KMSMasterKeyID,omitempty"`
	}
	type rule struct {
		Default          def  `xml:"ApplyServerSideEncryptionByDefault"`
		BucketKeyEnabled bool `xml:"BucketKeyEnabled"`
	}
	return writeXML(w, http.StatusOK, struct {
		XMLName xml.Name `xml:"ServerSideEncryptionConfiguration"`
		Xmlns   string   `xml:"xmlns,attr"`
		Rule    rule     `xml:"Rule"`
	}{Xmlns: xmlns, Rule: rule{Default: def{SSEAlgorithm: e.Mode, KMSMasterKeyID: e.KeyID}, BucketKeyEnabled: e.BucketKey}})
}

func (s *Service) deleteEncryption(w http.ResponseWriter, r *http.Request, name string) error {
	if err := s.updateBucket(r.Context(), name, func(b *bucketRecord) error { b.Encryption = nil; return nil }); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// requestEncryption is the encryption a write asks for in its headers,
// else its bucket's default.
func requestEncryption(h http.Header, b *bucketRecord) (encryptionRule, error) {
	for _, n := range []string{"x-amz-server-side-encryption-customer-algorithm", "x-amz-server-side-encryption-customer-key",
		"x-amz-copy-source-server-side-encryption-customer-algorithm"} {
		if h.Get(n) != "" {
			return encryptionRule{}, notImplemented("server-side encryption with customer-provided keys (SSE-C)")
		}
	}
	mode, keyID := h.Get("x-amz-server-side-encryption"), h.Get("x-amz-server-side-encryption-aws-kms-key-id")
	switch mode {
	case "":
		if keyID != "" {
			return encryptionRule{}, invalidArgument("Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms").
				with("ArgumentName", "x-amz-server-side-encryption")
		}
		if h.Get("x-amz-server-side-encryption-context") != "" {
			return encryptionRule{}, notImplemented("a caller's SSE-KMS encryption context (x-amz-server-side-encryption-context)")
		}
		return bucketEncryption(b), nil
	case sseS3:
		if keyID != "" {
			return encryptionRule{}, invalidArgument("Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms").
				with("ArgumentName", "x-amz-server-side-encryption")
		}
		return encryptionRule{Mode: sseS3}, nil
	case sseKMS:
		if h.Get("x-amz-server-side-encryption-context") != "" {
			return encryptionRule{}, notImplemented("a caller's SSE-KMS encryption context (x-amz-server-side-encryption-context)")
		}
		rule := encryptionRule{Mode: sseKMS, KeyID: keyID}
		if keyID == "" {
			if d := bucketEncryption(b); d.Mode == sseKMS {
				rule.KeyID = d.KeyID
			}
		}
		return rule, nil
	case "aws:kms:dsse":
		return encryptionRule{}, notImplemented("dual-layer server-side encryption (aws:kms:dsse)")
	}
	return encryptionRule{}, invalidArgument("The encryption method specified is not supported").with("ArgumentName", "x-amz-server-side-encryption").
		with("ArgumentValue", mode)
}

// objectArn is the ARN SSE binds an object's data key to.
func objectArn(bucket, key string) string { return "arn:aws:s3:::" + bucket + "/" + key }

// newDataKey makes a data key for an object of bucket/key encrypted as
// rule says, and its sealed form.
func (s *Service) newDataKey(ctx context.Context, bucket, key string, rule encryptionRule) ([]byte, *sseMeta, error) {
	dk := make([]byte, 32)
	if _, err := rand.Read(dk); err != nil {
		return nil, nil, err
	}
	arn := objectArn(bucket, key)
	switch rule.Mode {
	case sseKMS:
		if s.opts.Keys == nil {
			return nil, nil, notImplemented("SSE-KMS on this node (no KMS)")
		}
		sealed, keyARN, err := s.opts.Keys.SealKey(ctx, rule.KeyID, dk, map[string]string{"aws:s3:arn": arn})
		if err != nil {
			return nil, nil, kmsError(err)
		}
		return dk, &sseMeta{Mode: sseKMS, KeyID: keyARN, Sealed: sealed}, nil
	default:
		g, err := newGCM(s.sseKey)
		if err != nil {
			return nil, nil, err
		}
		nonce := make([]byte, g.NonceSize())
		if _, err := rand.Read(nonce); err != nil {
			return nil, nil, err
		}
		return dk, &sseMeta{Mode: sseS3, Sealed: g.Seal(nonce, nonce, dk, []byte(arn))}, nil
	}
}

// openDataKey unseals the data key of an object of bucket/key.
func (s *Service) openDataKey(ctx context.Context, bucket, key string, m *sseMeta) ([]byte, error) {
	arn := objectArn(bucket, key)
	switch m.Mode {
	case sseKMS:
		if s.opts.Keys == nil {
			return nil, notImplemented("SSE-KMS on this node (no KMS)")
		}
		dk, _, err := s.opts.Keys.OpenKey(ctx, m.Sealed, map[string]string{"aws:s3:arn": arn})
		if err != nil {
			return nil, kmsError(err)
		}
		return dk, nil
	case sseS3:
		g, err := newGCM(s.sseKey)
		if err != nil {
			return nil, err
		}
		if len(m.Sealed) < g.NonceSize() {
			return nil, fmt.Errorf("sealed data key of %s: too short", arn)
		}
		dk, err := g.Open(nil, m.Sealed[:g.NonceSize()], m.Sealed[g.NonceSize():], []byte(arn))
		if err != nil {
			return nil, fmt.Errorf("open data key of %s: %w", arn, err)
		}
		return dk, nil
	}
	return nil, fmt.Errorf("object %s: unknown encryption %q", arn, m.Mode)
}

// kmsError is S3's answer to a KMS failure: the caller's refusal as it
// came (AccessDenied), KMS's own errors as S3 names them (KMS.<code>).
func kmsError(err error) error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var ae *awsapi.Error
	if errors.As(err, &ae) && ae.Code != "" {
		return errorf(http.StatusBadRequest, "KMS."+ae.Code, "%s", ae.Message)
	}
	return err
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	return cipher.NewGCM(b)
}

// newIV is a random CTR starting block.
func newIV() []byte {
	iv := make([]byte, aes.BlockSize)
	_, _ = rand.Read(iv)
	return iv
}

// encrypting returns r's bytes encrypted with dk from iv.
func encrypting(r io.Reader, dk, iv []byte) (io.Reader, error) {
	b, err := aes.NewCipher(dk)
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	return cipher.StreamReader{S: cipher.NewCTR(b, iv), R: r}, nil
}

// decryptingFile reads a body file encrypted with dk from iv, from any
// offset.
type decryptingFile struct {
	f     io.ReadSeeker
	block cipher.Block
	iv    []byte
	s     cipher.Stream
}

func newDecryptingFile(f io.ReadSeeker, dk, iv []byte) (*decryptingFile, error) {
	b, err := aes.NewCipher(dk)
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	if len(iv) != aes.BlockSize {
		return nil, errors.New("object file: bad IV")
	}
	return &decryptingFile{f: f, block: b, iv: iv, s: cipher.NewCTR(b, iv)}, nil
}

func (d *decryptingFile) Read(p []byte) (int, error) {
	n, err := d.f.Read(p)
	d.s.XORKeyStream(p[:n], p[:n])
	return n, err
}

// Seek moves to off from the start (the only whence bodies use).
func (d *decryptingFile) Seek(off int64, whence int) (int64, error) {
	if whence != io.SeekStart || off < 0 {
		return 0, errors.New("decryptingFile: only absolute seeks")
	}
	if _, err := d.f.Seek(off, io.SeekStart); err != nil {
		return 0, err
	}
	ctr := addCounter(d.iv, uint64(off)/aes.BlockSize) //nolint:gosec // G115: off >= 0
	d.s = cipher.NewCTR(d.block, ctr)
	skip := make([]byte, off%aes.BlockSize)
	d.s.XORKeyStream(skip, skip)
	return off, nil
}

// addCounter is iv + n as a 128-bit big-endian counter (as CTR counts).
func addCounter(iv []byte, n uint64) []byte {
	out := bytes.Clone(iv)
	carry := n
	for i := len(out) - 1; i >= 0 && carry > 0; i-- {
		sum := uint64(out[i]) + carry&0xff
		out[i] = byte(sum & 0xff)
		carry = carry>>8 + sum>>8
	}
	return out
}

// bodyReader opens om's body for reading, decrypted.
func (s *Service) bodyReader(ctx context.Context, bucket, key string, om *objectMeta) (io.ReadSeekCloser, error) {
	var dk []byte
	if om.SSE != nil {
		var err error
		if dk, err = s.openDataKey(ctx, bucket, key, om.SSE); err != nil {
			return nil, err
		}
	}
	return s.openFile(om.File, dk, ivOf(om.SSE)) //nolint:gosec // G407: the IV is the object's own, random, from its metadata
}

func ivOf(m *sseMeta) []byte {
	if m == nil {
		return nil
	}
	return m.IV
}

// openFile opens a body file, decrypted with dk from iv (dk nil: stored
// in the clear, as bodies written before encryption were).
func (s *Service) openFile(id string, dk, iv []byte) (io.ReadSeekCloser, error) {
	f, err := s.openBody(id)
	if err != nil {
		return nil, err
	}
	if dk == nil {
		return f, nil
	}
	d, err := newDecryptingFile(f, dk, iv)
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return struct {
		io.ReadSeeker
		io.Closer
	}{d, f}, nil
}

// writeFile stores r encrypted with dk (a new IV, returned).
func (s *Service) writeFile(r io.Reader, dk []byte) (id string, n int64, iv []byte, err error) {
	iv = newIV()
	er, err := encrypting(r, dk, iv)
	if err != nil {
		return "", 0, nil, err
	}
	id, n, err = s.disk.write(er)
	return id, n, iv, err
}

// sseHeaders answers with how om is encrypted.
func sseHeaders(h http.Header, m *sseMeta) {
	if m == nil {
		return
	}
	h.Set("x-amz-server-side-encryption", m.Mode)
	if m.Mode == sseKMS {
		h.Set("x-amz-server-side-encryption-aws-kms-key-id", m.KeyID)
	}
}

// loadSSEKey reads (or creates) the node's SSE-S3 key file in dir, for a
// service given no key.
func loadSSEKey(dir string) ([]byte, error) {
	p := filepath.Join(dir, "sse-s3.key")
	if k, err := os.ReadFile(p); err == nil && len(k) == 32 {
		return k, nil
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	if err := os.WriteFile(p+".tmp", k, 0o600); err != nil {
		return nil, fmt.Errorf("write sse key: %w", err)
	}
	if err := os.Rename(p+".tmp", p); err != nil {
		return nil, fmt.Errorf("write sse key: %w", err)
	}
	return k, nil
}

// writeIn stores r encrypted with dk, or in the clear when dk is nil (an
// upload begun before Nimbus encrypted bodies).
func (s *Service) writeIn(r io.Reader, dk []byte) (id string, n int64, iv []byte, err error) {
	if dk == nil {
		id, n, err = s.disk.write(r)
		return id, n, nil, err
	}
	return s.writeFile(r, dk)
}

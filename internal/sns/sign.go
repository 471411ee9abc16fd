package sns

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // G505: SignatureVersion 1 is SHA1withRSA, as AWS signs it
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The signing key: one RSA key per deployment (the bucket's key
// "signing"), so every node signs alike; its self-signed certificate is
// served at CertPath for subscribers that verify signatures.
const (
	signingKey = "signing"
	// CertPath is where the node serves the signing certificate.
	CertPath = "/_nimbus/sns/SimpleNotificationService-nimbus.pem"
)

type signer struct {
	key     *rsa.PrivateKey
	certPEM []byte
}

// loadSigner reads the deployment's signing key, creating it once.
func loadSigner(ctx context.Context, kv jetstream.KeyValue) (*signer, error) {
	for range 3 {
		e, err := kv.Get(ctx, signingKey)
		if err == nil {
			return parseSigner(e.Value())
		}
		if !errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil, fmt.Errorf("read signing key: %w", err)
		}
		b, err := newSignerPEM()
		if err != nil {
			return nil, err
		}
		if _, err := kv.Create(ctx, signingKey, b); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, fmt.Errorf("store signing key: %w", err)
		}
	}
	return nil, errors.New("signing key: not readable after creation")
}

func newSignerPEM() ([]byte, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "sns.amazonaws.com", Organization: []string{"Nimbus"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("signing certificate: %w", err)
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	return append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...), nil
}

func parseSigner(b []byte) (*signer, error) {
	s := &signer{}
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		switch blk.Type {
		case "RSA PRIVATE KEY":
			k, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("signing key: %w", err)
			}
			s.key = k
		case "CERTIFICATE":
			s.certPEM = pem.EncodeToMemory(blk)
		}
	}
	if s.key == nil || s.certPEM == nil {
		return nil, errors.New("signing key: incomplete")
	}
	return s, nil
}

// sign signs the canonical string of e (SNS's: the present fields among
// Message, MessageId, Subject, SubscribeURL, Timestamp, Token, TopicArn
// and Type, each as "name\nvalue\n") with SignatureVersion v.
func (s *signer) sign(e *envelope, version string) string {
	var b strings.Builder
	add := func(k, v string) { b.WriteString(k + "\n" + v + "\n") }
	add("Message", e.Message)
	add("MessageId", e.MessageID)
	if e.Type == "Notification" {
		if e.Subject != nil {
			add("Subject", *e.Subject)
		}
	} else {
		add("SubscribeURL", e.SubscribeURL)
	}
	add("Timestamp", e.Timestamp)
	if e.Type != "Notification" {
		add("Token", e.Token)
	}
	add("TopicArn", e.TopicArn)
	add("Type", e.Type)
	var sig []byte
	var err error
	if version == "2" {
		sum := sha256.Sum256([]byte(b.String()))
		sig, err = rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, sum[:])
	} else {
		sum := sha1.Sum([]byte(b.String())) //nolint:gosec // G401: SignatureVersion 1
		sig, err = rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA1, sum[:])
	}
	if err != nil {
		return ""
	}
	return base64.StdEncoding.EncodeToString(sig)
}

// CertHandler serves the signing certificate (public).
func (s *Service) CertHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/x-pem-file")
		_, _ = w.Write(s.signer.certPEM)
	})
}

// Package tlscert serves the node's HTTPS certificate and makes one for
// development.
//
// A Reloader answers each TLS handshake with the certificate and key in
// two PEM files and reads them again when they change (checked at most
// once a second), so a renewed certificate is served without a restart;
// a pair that fails to load keeps the previous one serving and is logged.
//
// Generate makes a development pair: a throwaway certificate authority
// (its private key is never written, so it can sign nothing else) and a
// server certificate it signs for loopback and the wildcard host names
// Nimbus serves (function URLs, APIs, buckets, the console). Clients trust
// the authority's certificate with --ca-bundle or AWS_CA_BUNDLE.
//
// It imports only the standard library; daemon serves with it, store
// presents the cluster routes' certificate with it, and cli trusts the
// development authority it makes.
package tlscert

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Reloader serves a certificate and key from files, reloading them when
// they change.
type Reloader struct {
	certFile, keyFile string
	log               *slog.Logger
	now               func() time.Time

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   stamp
	checked time.Time
}

// stamp identifies a version of the two files.
type stamp struct {
	certMod, keyMod   time.Time
	certSize, keySize int64
}

// NewReloader loads the pair once (an error if it does not load) and
// returns a Reloader serving it.
func NewReloader(certFile, keyFile string, log *slog.Logger) (*Reloader, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Reloader{certFile: certFile, keyFile: keyFile, log: log, now: time.Now}
	st, err := r.stat()
	if err != nil {
		return nil, err
	}
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate %s and key %s: %w", certFile, keyFile, err)
	}
	r.cert, r.stamp, r.checked = &c, st, r.now()
	return r, nil
}

func (r *Reloader) stat() (stamp, error) {
	c, err := os.Stat(r.certFile)
	if err != nil {
		return stamp{}, fmt.Errorf("TLS certificate: %w", err)
	}
	k, err := os.Stat(r.keyFile)
	if err != nil {
		return stamp{}, fmt.Errorf("TLS key: %w", err)
	}
	return stamp{certMod: c.ModTime(), keyMod: k.ModTime(), certSize: c.Size(), keySize: k.Size()}, nil
}

// GetCertificate is a tls.Config.GetCertificate.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := r.now(); now.Sub(r.checked) >= time.Second {
		r.checked = now
		r.reload()
	}
	return r.cert, nil
}

// reload loads the pair again if the files changed. Called with mu held.
func (r *Reloader) reload() {
	st, err := r.stat()
	if err != nil || st == r.stamp {
		return
	}
	c, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		// Often the certificate is written before its key: the pair
		// loads on a later check. Keep serving the previous one.
		r.log.Warn("TLS certificate changed but does not load; serving the previous one", "cert", r.certFile, "key", r.keyFile, "err", err)
		return
	}
	r.cert, r.stamp = &c, st
	r.log.Info("TLS certificate reloaded", "cert", r.certFile)
}

// Config returns the server TLS configuration: TLS 1.2 and later, HTTP/1.1
// (the front door's per-connection limits are per HTTP/1.1 connection).
func (r *Reloader) Config() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: r.GetCertificate,
		NextProtos:     []string{"http/1.1"},
	}
}

// Files of a generated pair in its directory.
const (
	CAFile   = "ca.pem"
	CertFile = "cert.pem"
	KeyFile  = "key.pem"
)

// Hosts are the names a development certificate covers for region: a
// wildcard matches one label only, so each wildcard Nimbus serves is named.
func Hosts(region string) []string {
	return []string{
		"localhost", "*.localhost", "127.0.0.1", "::1",
		"*.lambda-url." + region + ".localhost",
		"*.execute-api." + region + ".localhost",
		"*.s3.localhost", "*.s3." + region + ".localhost",
	}
}

// Generate writes a development certificate authority (CAFile) and a
// server certificate and key it signed (CertFile, KeyFile) for hosts
// into dir, valid for validFor. Existing files are replaced.
func Generate(dir string, hosts []string, validFor time.Duration) error {
	if len(hosts) == 0 {
		return errors.New("generate TLS certificate: no host names")
	}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generate CA key: %w", err)
	}
	ca := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "Nimbus development CA", Organization: []string{"Nimbus"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validFor),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("sign CA certificate: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return fmt.Errorf("parse CA certificate: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generate key: %w", err)
	}
	leaf := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: hosts[0], Organization: []string{"Nimbus"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(validFor),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		// Client auth too: the same pair can serve as a node's route
		// certificate (mutual TLS between nodes).
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			leaf.IPAddresses = append(leaf.IPAddresses, ip)
		} else {
			leaf.DNSNames = append(leaf.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("sign certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("encode key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	// The key first: a Reloader watching the pair loads it once the
	// certificate that matches it lands.
	if err := write(filepath.Join(dir, KeyFile), pemBlock("PRIVATE KEY", keyDER), 0o600); err != nil {
		return err
	}
	if err := write(filepath.Join(dir, CAFile), pemBlock("CERTIFICATE", caDER), 0o644); err != nil {
		return err
	}
	// The chain: clients that trust the authority verify the server.
	return write(filepath.Join(dir, CertFile), append(pemBlock("CERTIFICATE", der), pemBlock("CERTIFICATE", caDER)...), 0o644)
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	return n
}

func pemBlock(typ string, der []byte) []byte {
	var b bytes.Buffer
	_ = pem.Encode(&b, &pem.Block{Type: typ, Bytes: der})
	return b.Bytes()
}

// write replaces path through a temporary file and a rename, so a reader
// never sees half a file.
func write(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

package store

import (
	"bytes"
	"crypto/tls"
	"path/filepath"
	"testing"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/tlscert"
)

// The routes' certificate is read again when its files change: the next
// route connection, accepted or dialled, presents the new one (no
// restart); the CA stays the one read at start.
func TestRouteCertificateReloads(t *testing.T) {
	dir := t.TempDir()
	if err := tlscert.Generate(dir, []string{"127.0.0.1"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	cert, key, ca := filepath.Join(dir, tlscert.CertFile), filepath.Join(dir, tlscert.KeyFile), filepath.Join(dir, tlscert.CAFile)
	tc, err := routeTLS(cert, key, ca, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tc.ClientAuth != tls.RequireAndVerifyClientCert || tc.RootCAs == nil || tc.ClientCAs == nil {
		t.Fatal("routes are not mutual TLS against the CA")
	}
	served := func() (srv, cli []byte) {
		t.Helper()
		s, err := tc.GetCertificate(&tls.ClientHelloInfo{})
		if err != nil {
			t.Fatal(err)
		}
		c, err := tc.GetClientCertificate(&tls.CertificateRequestInfo{})
		if err != nil {
			t.Fatal(err)
		}
		return s.Certificate[0], c.Certificate[0]
	}
	before, _ := served()
	if err := tlscert.Generate(dir, []string{"127.0.0.1"}, time.Hour); err != nil { // a renewed pair
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		srv, cli := served()
		if !bytes.Equal(srv, before) && bytes.Equal(srv, cli) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the route certificate was not reloaded after its files changed")
		}
		time.Sleep(100 * time.Millisecond) // the reloader checks the files at most once a second
	}
}

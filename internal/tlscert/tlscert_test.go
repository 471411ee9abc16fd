package tlscert

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestGenerateCoversNimbusHosts(t *testing.T) {
	dir := t.TempDir()
	if err := Generate(dir, Hosts("eu-west-1"), time.Hour); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	caPEM, err := os.ReadFile(filepath.Join(dir, CAFile))
	if err != nil || !pool.AppendCertsFromPEM(caPEM) {
		t.Fatalf("CA: %v", err)
	}
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"localhost", "console.localhost", "127.0.0.1", "::1",
		"abcdef.lambda-url.eu-west-1.localhost", "a1b2c3.execute-api.eu-west-1.localhost", "bucket.s3.localhost"} {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: h, Roots: pool}); err != nil {
			t.Errorf("%s: %v", h, err)
		}
	}
	// Names it was not made for, and another region's, are refused.
	for _, h := range []string{"example.com", "abcdef.lambda-url.us-east-1.localhost", "10.0.0.1"} {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: h, Roots: pool}); err == nil {
			t.Errorf("%s verified", h)
		}
	}
	// The key is private to the user.
	if st, err := os.Stat(filepath.Join(dir, KeyFile)); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key mode: %v %v", st.Mode(), err)
	}
	if err := Generate(dir, nil, time.Hour); err == nil {
		t.Fatal("no hosts accepted")
	}
}

func TestReloaderServesTheNewPairAndKeepsTheOldOnError(t *testing.T) {
	dir := t.TempDir()
	if err := Generate(dir, []string{"localhost"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	r, err := NewReloader(filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile), nil)
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Now()
	r.now = func() time.Time { return clock }
	first, _ := r.GetCertificate(nil)

	// A new pair (sizes or times differ): served after the next check.
	if err := Generate(dir, []string{"localhost", "other.localhost"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if c, _ := r.GetCertificate(nil); c != first {
		t.Fatal("reloaded within the check interval")
	}
	clock = clock.Add(2 * time.Second)
	second, _ := r.GetCertificate(nil)
	if second == first || bytes.Equal(second.Certificate[0], first.Certificate[0]) {
		t.Fatal("new pair not served")
	}

	// A broken certificate keeps the last good pair serving.
	if err := os.WriteFile(filepath.Join(dir, CertFile), []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(2 * time.Second)
	if c, _ := r.GetCertificate(nil); c != second {
		t.Fatal("a broken pair replaced the good one")
	}

	// A pair that does not load at start is an error.
	if _, err := NewReloader(filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile), nil); err == nil {
		t.Fatal("broken pair loaded")
	}
	if _, err := NewReloader(filepath.Join(dir, "absent.pem"), filepath.Join(dir, KeyFile), nil); err == nil {
		t.Fatal("absent certificate loaded")
	}
}

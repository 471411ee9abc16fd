package cli

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/nimbus-serverless/nimbus/internal/auth"
	"github.com/nimbus-serverless/nimbus/internal/daemon"
	"github.com/nimbus-serverless/nimbus/internal/tlscert"
)

// TestCLITrustsTheNodesDevelopmentCA: with --data-dir naming a node that
// serves HTTPS with --tls-self-signed, the CLI's clients trust its CA
// (even beside a user's AWS_CA_BUNDLE), and only for that endpoint.
func TestCLITrustsTheNodesDevelopmentCA(t *testing.T) {
	dir := t.TempDir()
	tlsDir := filepath.Join(dir, daemon.TLSDir)
	if err := tlscert.Generate(tlsDir, tlscert.Hosts("us-east-1"), time.Hour); err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(filepath.Join(tlsDir, tlscert.CertFile), filepath.Join(tlsDir, tlscert.KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"Functions":[]}`))
	}))
	srv.TLS = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}}
	srv.StartTLS()
	defer srv.Close()
	if _, _, err := auth.EnsureRoot(dir, auth.Credentials{}); err != nil {
		t.Fatal(err)
	}
	if err := auth.WriteEndpoint(dir, srv.URL); err != nil {
		t.Fatal(err)
	}
	for _, bundle := range []string{"", "/etc/ssl/certs/ca-certificates.crt"} {
		t.Setenv("AWS_CA_BUNDLE", bundle)
		t.Setenv("AWS_ENDPOINT_URL", "")
		t.Setenv("AWS_ACCESS_KEY_ID", "")
		cf := &clientFlags{dataDir: dir}
		c, err := cf.lambdaClient(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.ListFunctions(context.Background(), &lambda.ListFunctionsInput{}); err != nil {
			t.Fatalf("AWS_CA_BUNDLE=%q: %v", bundle, err)
		}
	}
	// Another endpoint (the same server by another name) is not given the
	// node's CA.
	t.Setenv("AWS_CA_BUNDLE", "")
	cf := &clientFlags{dataDir: dir, endpoint: strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)}
	c, err := cf.lambdaClient(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListFunctions(context.Background(), &lambda.ListFunctionsInput{}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("another endpoint trusted the node's CA: %v", err)
	}
}

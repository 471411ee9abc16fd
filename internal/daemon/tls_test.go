package daemon

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/nimbus-serverless/nimbus/internal/auth"
	"github.com/nimbus-serverless/nimbus/internal/config"
	"github.com/nimbus-serverless/nimbus/internal/tlscert"
)

// trustingClient is an HTTP client that trusts only the CA in caFile and,
// when addr is set, dials addr whatever the host name (as a client whose
// resolver knows *.localhost does), so the certificate is checked against
// the URL's own host name.
func trustingClient(t testing.TB, caFile, addr string) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(caFile) //nolint:gosec // the test's own data directory
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", caFile)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}}
	if addr != "" {
		tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}
	}
	return &http.Client{Transport: tr}
}

// TestHTTPSSelfSigned serves the node over HTTPS with a development
// certificate: the SDK reaches it trusting the CA, a function URL is an
// https:// URL whose wildcard name the certificate covers, plain HTTP and
// clients that do not trust the CA are refused, and a replaced
// certificate is served without a restart.
func TestHTTPSSelfSigned(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, dir, func(c *config.Config) { c.TLSSelfSigned = true })
	ctx := context.Background()
	if got := auth.ReadEndpoint(dir); got != n.endpoint() || !strings.HasPrefix(got, "https://") {
		t.Fatalf("recorded endpoint %q, want %q", got, n.endpoint())
	}

	// The SDK, trusting the CA.
	if _, err := n.client.ListFunctions(ctx, &lambda.ListFunctionsInput{}); err != nil {
		t.Fatalf("ListFunctions over HTTPS: %v", err)
	}

	// A function URL is https:// and its host name verifies.
	id := urlFunction(t, n, "tls-url", &lambda.CreateFunctionUrlConfigInput{AuthType: types.FunctionUrlAuthTypeNone})
	out, err := n.client.GetFunctionUrlConfig(ctx, &lambda.GetFunctionUrlConfigInput{FunctionName: aws.String("tls-url")})
	if err != nil || !strings.HasPrefix(aws.ToString(out.FunctionUrl), "https://"+id+".") {
		t.Fatalf("FunctionUrl over HTTPS: %v %v", out, err)
	}
	_, port, _ := net.SplitHostPort(n.d.Addr())
	c := trustingClient(t, filepath.Join(dir, TLSDir, tlscert.CAFile), n.d.Addr())
	resp, err := c.Get("https://" + id + ".lambda-url.us-east-1.localhost:" + port + "/hello")
	if err != nil {
		t.Fatalf("function URL over HTTPS: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("function URL: %d %s", resp.StatusCode, body)
	}

	// Plain HTTP on the HTTPS port is not served.
	resp, err = http.Get("http://" + n.d.Addr() + "/2015-03-31/functions/")
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "HTTPS") {
			t.Fatalf("plain HTTP answered %d %s", resp.StatusCode, body)
		}
	}
	// A client that does not trust the CA refuses the node.
	if resp, err := (&http.Client{}).Get(n.endpoint() + "/2015-03-31/functions/"); err == nil {
		resp.Body.Close()
		t.Fatal("a client without the CA accepted the node's certificate")
	}

	// A replaced pair is served to new connections without a restart.
	first := servedSerial(t, n, dir)
	if err := tlscert.Generate(filepath.Join(dir, TLSDir), tlscert.Hosts("us-east-1"), time.Hour); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for servedSerial(t, n, dir) == first {
		if time.Now().After(deadline) {
			t.Fatal("the replaced certificate was never served")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// servedSerial is the serial number of the certificate the node serves a
// new connection, checked against the data directory's current CA.
func servedSerial(t *testing.T, n *node, dir string) string {
	t.Helper()
	c := trustingClient(t, filepath.Join(dir, TLSDir, tlscert.CAFile), "")
	tr := c.Transport.(*http.Transport)
	tr.TLSClientConfig.InsecureSkipVerify = true //nolint:gosec // reads the served certificate; verified below
	conn, err := tls.Dial("tcp", n.d.Addr(), tr.TLSClientConfig)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

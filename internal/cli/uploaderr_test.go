package cli

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/nimbus-serverless/nimbus/internal/build"
)

// TestUploadArtifactRefusals: a refused upload says why — the AWS error
// of the answer, what a bodiless 403 to HEAD means — and an unreachable
// node is named.
func TestUploadArtifactRefusals(t *testing.T) {
	zip := filepath.Join(t.TempDir(), "a.zip")
	if err := os.WriteFile(zip, []byte("PK"), 0o644); err != nil {
		t.Fatal(err)
	}
	art := build.Artifact{Unit: build.Unit{LogicalID: "Fn"}, SHA256: strings.Repeat("a", 64), Zip: zip, Size: 2}
	cfgFor := func(endpoint string) aws.Config {
		return aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), HTTPClient: http.DefaultClient,
			Credentials: credentials.NewStaticCredentialsProvider("AKIAEXAMPLE", "secret", "")}
	}
	headRefused := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusForbidden)
		if r.Method != http.MethodHead {
			_, _ = w.Write([]byte("<ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code><Message>bad signature</Message></Error></ErrorResponse>"))
		}
	}))
	defer headRefused.Close()
	_, err := uploadArtifact(context.Background(), cfgFor(headRefused.URL), art)
	if err == nil || !strings.Contains(err.Error(), "status 403: the node refused the credentials") {
		t.Errorf("HEAD refused: %v", err)
	}

	putRefused := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte("<ErrorResponse><Error><Type>Sender</Type><Code>BadDigest</Code><Message>The body does not hash to its name.</Message></Error></ErrorResponse>"))
	}))
	defer putRefused.Close()
	_, err = uploadArtifact(context.Background(), cfgFor(putRefused.URL), art)
	if err == nil || !strings.HasSuffix(err.Error(), ": BadDigest: The body does not hash to its name.") {
		t.Errorf("PUT refused: %v", err)
	}

	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()
	_, err = uploadArtifact(context.Background(), cfgFor(gone.URL), art)
	if err == nil || !strings.HasPrefix(err.Error(), "cannot reach the node at "+gone.URL+": ") {
		t.Errorf("unreachable node: %v", err)
	}
}

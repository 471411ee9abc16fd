package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/build"
	"github.com/nimbus-serverless/nimbus/internal/cfn"
)

// TestBuildArtifactsSaysWhatItDoes: a layer without a BuildMethod is
// copied, and deploy says so instead of printing empty parentheses.
func TestBuildArtifactsSaysWhatItDoes(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "layer", "python"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "layer", "python", "shared.py"), []byte("X = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tpl, err := cfn.Parse([]byte(`Transform: AWS::Serverless-2016-10-31
Resources:
  Shared:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: layer/
`))
	if err != nil {
		t.Fatal(err)
	}
	units, err := build.Plan(tpl, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	arts, err := buildArtifacts(context.Background(), &out, units, build.Options{CacheDir: filepath.Join(dir, ".nimbus", "build")})
	if err != nil {
		t.Fatal(err)
	}
	if len(arts) != 1 || !strings.HasPrefix(out.String(), "Building Shared (copied as is): built, ") {
		t.Errorf("output %q, %d artifacts", out.String(), len(arts))
	}
}

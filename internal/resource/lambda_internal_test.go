package resource

import (
	"archive/zip"
	"bytes"
	"io"
	"strings"
	"testing"
)

// TestInlineZip checks CloudFormation's rule for Code.ZipFile: one file
// named index with the runtime's extension, the same bytes for the same
// source.
func TestInlineZip(t *testing.T) {
	for _, c := range []struct{ runtime, src, want string }{
		{"python3.12", "def handler(e, c):\n    return 1\n", "index.py"},
		{"nodejs20.x", "exports.handler = async () => 1;\n", "index.js"},
		{"nodejs22.x", "export const handler = async () => 1;\n", "index.js"}, // "ES modules aren't supported for inline functions"
	} {
		z, err := inlineZip(c.src, c.runtime)
		if err != nil {
			t.Fatalf("%s: %v", c.runtime, err)
		}
		zr, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
		if err != nil || len(zr.File) != 1 || zr.File[0].Name != c.want {
			t.Fatalf("%s %q: zip %v %v, want one file %s", c.runtime, c.src, zr, err, c.want)
		}
		f, _ := zr.File[0].Open()
		got, _ := io.ReadAll(f)
		if string(got) != c.src {
			t.Errorf("%s: content %q", c.want, got)
		}
		again, _ := inlineZip(c.src, c.runtime)
		if !bytes.Equal(z, again) {
			t.Errorf("%s: zipping the same source twice differs (the CodeSha256 would change on every deploy)", c.want)
		}
	}
	if _, err := inlineZip("x", "provided.al2023"); err == nil || !strings.Contains(err.Error(), "needs a Node.js or Python runtime") {
		t.Errorf("inline code for provided.al2023: %v", err)
	}
}

func TestSplitARNs(t *testing.T) {
	if fn, q, ok := splitQualified("arn:aws:lambda:us-east-1:1:function:f:live"); !ok || fn != "arn:aws:lambda:us-east-1:1:function:f" || q != "live" {
		t.Errorf("splitQualified = %s %s %v", fn, q, ok)
	}
	if fn, _, ok := splitQualified("arn:aws:lambda:us-east-1:1:function:f"); ok || fn != "arn:aws:lambda:us-east-1:1:function:f" {
		t.Errorf("unqualified ARN split as qualified")
	}
	if l, v, ok := splitLayerVersion("arn:aws:lambda:us-east-1:1:layer:l:3"); !ok || l != "arn:aws:lambda:us-east-1:1:layer:l" || v != 3 {
		t.Errorf("splitLayerVersion = %s %d %v", l, v, ok)
	}
	if _, _, ok := splitLayerVersion("arn:aws:lambda:us-east-1:1:function:f:3"); ok {
		t.Error("a function ARN split as a layer version")
	}
}

//go:build linux && amd64

package sandbox

import (
	"bytes"
	"compress/gzip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// buildInitImage builds ./initbin the one way the image is built:
// reproducibly, so the same sources and toolchain give the same bytes.
func buildInitImage(t *testing.T) []byte {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to check the init image: %v", err)
	}
	out := filepath.Join(t.TempDir(), "init")
	cmd := exec.Command(gobin, "build", "-tags", "nimbus_initimage", "-trimpath", "-buildvcs=false",
		"-ldflags", "-s -w -buildid=", "-o", out, "./initbin")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOAMD64=v1", "GOFLAGS=")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./initbin: %v\n%s", err, b)
	}
	exe, err := os.ReadFile(out) //nolint:gosec // our own temp file
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(exe); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestInitImageIsCurrent: the embedded init image is ./initbin built from
// today's sources. `go generate ./internal/sandbox` runs it with
// NIMBUS_WRITE_INIT_IMAGE=1, which writes the image instead.
func TestInitImageIsCurrent(t *testing.T) {
	got := buildInitImage(t)
	if os.Getenv("NIMBUS_WRITE_INIT_IMAGE") == "1" {
		if err := os.WriteFile("initimage/init-linux-amd64.gz", got, 0o644); err != nil { //nolint:gosec // a repository file
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(got, initImage) {
		t.Fatal("initimage/init-linux-amd64.gz was built from other sources (or another Go toolchain) than today's: run `go generate ./internal/sandbox`")
	}
}

// TestEnvironmentsRunTheInitImage: inits are the small image, not this
// binary, and the image answers as init (the isolation tests in this
// package all run it).
func TestEnvironmentsRunTheInitImage(t *testing.T) {
	requireNamespaces(t)
	initExe()
	if !initFromImg {
		t.Fatalf("inits run %s (%v), want the embedded init image", initExePath, initExeErr)
	}
	e := newEnv(t, "sleep")
	p := start(t, e)
	exe, err := os.Open("/proc/" + strconv.Itoa(p.Pid()) + "/exe")
	if err != nil {
		t.Fatal(err)
	}
	defer exe.Close() //nolint:errcheck // read only
	st, err := exe.Stat()
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Stat("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() == self.Size() {
		t.Fatalf("init's executable is %d bytes, as large as this binary: not the init image", st.Size())
	}
}

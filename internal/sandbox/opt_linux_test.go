package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// optHelper reads /opt/layer.txt and tries to write into /opt.
func optHelper() int {
	b, err := os.ReadFile("/opt/layer.txt")
	fmt.Printf("read: %q %v\n", b, err)
	f, err := os.Create("/opt/new.txt")
	if err == nil {
		_ = f.Close()
	}
	fmt.Printf("create: %v\n", err)
	f, err = os.OpenFile("/opt/layer.txt", os.O_WRONLY|os.O_APPEND, 0)
	if err == nil {
		_ = f.Close()
	}
	fmt.Printf("append: %v\n", err)
	return 0
}

// TestOptIsTheLayersReadOnly: OptDir is the environment's /opt, and it is
// read-only by the mount, not only by file modes: a layer tree anyone may
// write to on the host is still read-only inside.
func TestOptIsTheLayersReadOnly(t *testing.T) {
	requireNamespaces(t)
	t.Parallel()
	e := newEnv(t, "opt")
	opt := filepath.Join(t.TempDir(), "opt")
	if err := os.Mkdir(opt, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(opt, 0o777); err != nil { // past the umask
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(opt, "layer.txt"), []byte("from a layer"), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(opt, "layer.txt"), 0o666); err != nil {
		t.Fatal(err)
	}
	e.spec.OptDir = opt
	p := start(t, e)
	waitDone(t, p)
	out := e.out.String()
	for _, want := range []string{`read: "from a layer" <nil>`, "create: open /opt/new.txt: read-only file system",
		"append: open /opt/layer.txt: read-only file system"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(opt, "new.txt")); err == nil {
		t.Error("the environment wrote into the layer tree")
	}
}

package pool

import (
	"os"
	"path/filepath"
	"testing"
)

// TestOverlay: later trees win, directories merge, a file replaces a
// directory and the other way round, links are kept.
func TestOverlay(t *testing.T) {
	root := t.TempDir()
	write := func(p, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a, b, dst := filepath.Join(root, "a"), filepath.Join(root, "b"), filepath.Join(root, "dst")
	write(filepath.Join(a, "python/m.py"), "a")
	write(filepath.Join(a, "python/only_a.py"), "a")
	write(filepath.Join(a, "x/inner"), "a") // x: a directory in a, a file in b
	write(filepath.Join(a, "y"), "a")       // y: a file in a, a directory in b
	write(filepath.Join(b, "python/m.py"), "b")
	write(filepath.Join(b, "x"), "b")
	write(filepath.Join(b, "y/inner"), "b")
	if err := os.Symlink("python/m.py", filepath.Join(b, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, src := range []string{a, b} {
		if err := overlay(src, dst); err != nil {
			t.Fatal(err)
		}
	}
	for p, want := range map[string]string{"python/m.py": "b", "python/only_a.py": "a", "x": "b", "y/inner": "b", "link": "b"} {
		got, err := os.ReadFile(filepath.Join(dst, p))
		if err != nil || string(got) != want {
			t.Errorf("%s = %q, %v; want %q", p, got, err, want)
		}
	}
	if target, err := os.Readlink(filepath.Join(dst, "link")); err != nil || target != "python/m.py" {
		t.Errorf("link = %q, %v", target, err)
	}
	// The sources are untouched.
	if got, _ := os.ReadFile(filepath.Join(a, "python/m.py")); string(got) != "a" {
		t.Errorf("source changed: %q", got)
	}
}

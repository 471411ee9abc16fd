package runtimes

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// clients holds the runtime clients, laid out as they are written under the
// runtime directory: python/bootstrap.py and nodejs/bootstrap.js.
//
//go:embed clients
var clients embed.FS

// WriteFiles writes the embedded runtime clients under dir, which
// environments see as LAMBDA_RUNTIME_DIR (/var/runtime). It is idempotent and
// safe to call while environments run: files already holding the right
// content are left alone, others are replaced atomically. Directories are
// 0755 and files 0644 so that a sandbox user can read them.
func WriteFiles(dir string) error {
	sub, err := fs.Sub(clients, "clients")
	if err != nil {
		return fmt.Errorf("open embedded runtime clients: %w", err)
	}
	return fs.WalkDir(sub, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.FromSlash(name))
		if d.IsDir() {
			if err := os.MkdirAll(target, 0o755); err != nil { //nolint:gosec // sandbox users must read the runtime clients
				return fmt.Errorf("create runtime directory %s: %w", target, err)
			}
			return nil
		}
		data, err := fs.ReadFile(sub, name)
		if err != nil {
			return fmt.Errorf("read embedded %s: %w", name, err)
		}
		return writeIfChanged(target, data)
	})
}

func writeIfChanged(target string, data []byte) error {
	if old, err := os.ReadFile(target); err == nil && bytes.Equal(old, data) { //nolint:gosec // target is under the caller-chosen runtime dir
		if fi, err := os.Stat(target); err == nil && fi.Mode().Perm() == 0o644 {
			return nil
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".*")
	if err != nil {
		return fmt.Errorf("write runtime file %s: %w", target, err)
	}
	defer os.Remove(tmp.Name()) //nolint:errcheck // gone after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close() //nolint:errcheck,gosec // the write error is the one to report
		return fmt.Errorf("write runtime file %s: %w", target, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close() //nolint:errcheck,gosec // the chmod error is the one to report
		return fmt.Errorf("chmod runtime file %s: %w", target, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write runtime file %s: %w", target, err)
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		return fmt.Errorf("install runtime file %s: %w", target, err)
	}
	return nil
}

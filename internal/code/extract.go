package code

import (
	"archive/zip"
	"bytes"
	"fmt"
	"os"

	"github.com/nimbus-serverless/nimbus/internal/function"
)

// Extract unpacks the zip in data into dir, which must not exist yet (it is
// created; on failure it is removed). limit caps the bytes written
// (function.MaxUnzippedSize when 0).
//
// The package is checked as Validate checks it before anything is written.
// Then directories are made, then regular files, then symbolic links, each
// relative to a descriptor of dir with the kernel refusing to resolve any
// symbolic link or to leave dir (openat2 with RESOLVE_BENEATH and
// RESOLVE_NO_SYMLINKS on Linux, a walk with O_NOFOLLOW elsewhere), so no
// entry can be written through a link, whatever the archive holds. Links
// are created as they are and never followed. When the caller is root on
// Linux, the writing is done by a thread whose file-system identity is
// ExtractUID (no capabilities), and the tree is then handed back to root.
func Extract(data []byte, dir string, limit int64) (err error) {
	if limit == 0 {
		limit = function.MaxUnzippedSize
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return fmt.Errorf("extract code: %w", errUnzip)
	}
	l, err := planLayout(zr, limit)
	if err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return fmt.Errorf("extract code: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(dir)
		}
	}()
	r, err := openRoot(dir)
	if err != nil {
		return fmt.Errorf("extract code: %w", err)
	}
	defer r.close()
	return r.unprivileged(func() error { return r.write(l, limit) })
}

// write creates l's directories, files and links under r.
func (r *root) write(l *layout, limit int64) error {
	for _, it := range l.dirs {
		if err := r.mkdir(it.name); err != nil {
			return fmt.Errorf("extract %s: %w", it.name, err)
		}
	}
	remaining := limit
	for _, it := range l.files {
		perm := it.file.Mode().Perm() | 0o444 // readable by the sandbox user
		if perm&0o111 != 0 {
			perm |= 0o111
		}
		out, err := r.create(it.name, uint32(perm&0o755))
		if err != nil {
			return fmt.Errorf("extract %s: %w", it.name, err)
		}
		n, err := copyEntry(out, it.file, remaining)
		if cerr := out.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("extract %s: %w", it.name, cerr)
		}
		if err != nil {
			return err
		}
		remaining -= n
	}
	for _, it := range l.links {
		target, err := linkTarget(it.file, remaining)
		if err != nil {
			return err
		}
		remaining -= int64(len(target))
		if err := r.symlink(target, it.name); err != nil {
			return fmt.Errorf("extract %s: %w", it.name, err)
		}
	}
	return nil
}

package pool

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/function"
)

// Layers. Lambda extracts a function's layers, in the order the function
// lists them, into /opt: a later layer's file replaces an earlier one's
// at the same path. Each layer package is extracted once per node by the
// code cache (layers and functions share the content-addressed packages);
// a function with one layer gets that tree as its /opt, and a function
// with several gets a merged tree, built once per ordered list of packages
// under DataDir/opt/<digest> from hard links into the extracted layers
// (the trees are never written to: the sandbox mounts /opt read-only), and
// dropped at every start of the pool.

// optDir returns the directory to mount at /opt for layers ("" for none).
func (m *Manager) optDir(ctx context.Context, layers []function.Layer) (string, error) {
	if len(layers) == 0 {
		return "", nil
	}
	dirs := make([]string, 0, len(layers))
	keys := make([]string, 0, len(layers))
	for _, l := range layers {
		if l.CodeSha256 == "" && strings.Contains(l.Arn, ":layer:"+function.ParamsSecretsLayer) {
			continue // AWS's extension layer, served by Nimbus itself (paramsecrets.go): no files
		}
		key := function.CodeKey(l.CodeSha256)
		if key == "" {
			return "", fmt.Errorf("layer %s: %w", l.Arn, errLayerUnknown)
		}
		dir, err := m.code.get(ctx, key)
		if err != nil {
			return "", fmt.Errorf("layer %s: %w", l.Arn, err)
		}
		dirs = append(dirs, dir)
		keys = append(keys, key)
	}
	switch len(dirs) {
	case 0:
		return "", nil
	case 1:
		return dirs[0], nil
	}
	sum := sha256.Sum256([]byte(strings.Join(keys, "\n")))
	final := filepath.Join(m.optRoot, hex.EncodeToString(sum[:]))
	m.optMu.Lock()
	defer m.optMu.Unlock()
	if fi, err := os.Stat(final); err == nil && fi.IsDir() {
		return final, nil
	}
	tmp, err := os.MkdirTemp(m.optRoot, ".merge-")
	if err != nil {
		return "", fmt.Errorf("merge layers: %w", err)
	}
	defer os.RemoveAll(tmp) //nolint:errcheck // empty after a successful rename
	tree := filepath.Join(tmp, "tree")
	if err := os.Mkdir(tree, 0o755); err != nil {
		return "", fmt.Errorf("merge layers: %w", err)
	}
	for _, d := range dirs {
		if err := overlay(d, tree); err != nil {
			return "", fmt.Errorf("merge layers: %w", err)
		}
	}
	if err := os.Rename(tree, final); err != nil {
		if fi, serr := os.Stat(final); serr == nil && fi.IsDir() {
			return final, nil // another process of this data directory won
		}
		return "", fmt.Errorf("install merged layers: %w", err)
	}
	return final, nil
}

// errLayerUnknown: a configuration names a layer version whose package the
// registry does not know.
var errLayerUnknown = errors.New("layer package unknown")

// overlay copies the tree src onto dst: directories merged, anything else
// replacing what dst has at its path (a file replaces a directory too, as
// extracting a zip over it would). Regular files are hard links when src
// and dst share a file system, copies otherwise; symbolic links are
// recreated as they are (the extractor kept only links that stay inside
// their tree).
func overlay(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil || rel == "." {
			return err
		}
		target := filepath.Join(dst, rel)
		existing, lerr := os.Lstat(target)
		switch {
		case d.IsDir():
			if lerr == nil && existing.IsDir() {
				return nil
			}
			if lerr == nil {
				if err := os.RemoveAll(target); err != nil {
					return err
				}
			}
			return os.Mkdir(target, 0o755)
		case lerr == nil:
			if err := os.RemoveAll(target); err != nil {
				return err
			}
		}
		if d.Type()&fs.ModeSymlink != 0 {
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(link, target) //nolint:gosec // both trees are the pool's own, in the data directory
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if err := os.Link(path, target); err == nil { //nolint:gosec // both trees are the pool's own, in the data directory
			return nil
		}
		return copyFile(path, target)
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src) //nolint:gosec // a file of an extracted layer in the data directory
	if err != nil {
		return err
	}
	defer in.Close() //nolint:errcheck // read only
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm()) //nolint:gosec // dst is inside the merge tree
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}

// hasFile reports whether dir holds path (a file or a link to one).
func hasFile(dir, path string) bool {
	fi, err := os.Stat(filepath.Join(dir, path))
	return err == nil && !fi.IsDir()
}

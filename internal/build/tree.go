package build

import (
	"archive/zip"
	"compress/flate"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"time"
)

// zipTime is the modification time of every zip entry, so that the same
// files always make the same zip (the DOS epoch, the earliest zip time).
var zipTime = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// alwaysSkipped are directories never part of code: version control and
// build caches (ours and sam's).
var alwaysSkipped = []string{".git", ".nimbus", ".aws-sam", ".hg", ".svn"}

// file is one regular file of a tree.
type file struct {
	rel  string // slash-separated, relative to the tree's root
	abs  string
	exec bool
	size int64
}

// walkTree lists the regular files under root in lexical order, following
// symbolic links (to files and to directories, each real directory once),
// leaving out alwaysSkipped and the top-level names in skipTop.
func walkTree(root string, skipTop ...string) ([]file, error) {
	var files []file
	seen := map[string]bool{}
	var walk func(dir, rel string) error
	walk = func(dir, rel string) error {
		real, err := filepath.EvalSymlinks(dir)
		if err != nil {
			return err
		}
		if seen[real] {
			return nil // a link back up the tree
		}
		seen[real] = true
		entries, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, e := range entries {
			name := e.Name()
			r := path.Join(rel, name)
			if slices.Contains(alwaysSkipped, name) || rel == "" && slices.Contains(skipTop, name) {
				continue
			}
			abs := filepath.Join(dir, name)
			fi, err := os.Stat(abs) // follows links
			if err != nil {
				if e.Type()&fs.ModeSymlink != 0 {
					continue // a dangling link is not code
				}
				return err
			}
			switch {
			case fi.IsDir():
				if err := walk(abs, r); err != nil {
					return err
				}
			case fi.Mode().IsRegular():
				files = append(files, file{rel: r, abs: abs, exec: fi.Mode()&0o111 != 0, size: fi.Size()})
			}
		}
		return nil
	}
	if err := walk(root, ""); err != nil {
		return nil, err
	}
	slices.SortFunc(files, func(a, b file) int {
		switch {
		case a.rel < b.rel:
			return -1
		case a.rel > b.rel:
			return 1
		}
		return 0
	})
	return files, nil
}

// hashFiles adds each file's name, exec bit and content to h.
func hashFiles(h hash.Hash, files []file) error {
	for _, f := range files {
		fmt.Fprintf(h, "file %q %t %d\n", f.rel, f.exec, f.size)
		if err := hashFile(h, f.abs); err != nil {
			return err
		}
	}
	return nil
}

func hashFile(h io.Writer, name string) error {
	r, err := os.Open(name)
	if err != nil {
		return err
	}
	defer r.Close()
	_, err = io.Copy(h, r)
	return err
}

// fileSHA256 is the hex SHA-256 of a file's content.
func fileSHA256(name string) (string, int64, error) {
	h := sha256.New()
	r, err := os.Open(name)
	if err != nil {
		return "", 0, err
	}
	defer r.Close()
	n, err := io.Copy(h, r)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// copyTree copies files into dst/prefix.
func copyTree(files []file, dst string) error {
	for _, f := range files {
		to := filepath.Join(dst, filepath.FromSlash(f.rel))
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return err
		}
		if err := copyFile(f.abs, to, f.exec); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(from, to string, exec bool) error {
	r, err := os.Open(from)
	if err != nil {
		return err
	}
	defer r.Close()
	mode := os.FileMode(0o644)
	if exec {
		mode = 0o755
	}
	w, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, r); err != nil {
		_ = w.Close()
		return err
	}
	return w.Close()
}

// writeZip zips the files of root into name, deterministically: entries in
// lexical order, one fixed modification time, mode 0755 for executables
// and 0644 for the rest, no directory entries.
func writeZip(name, root string) error {
	return writeZipLevel(name, root, flate.DefaultCompression)
}

// writeZipLevel is writeZip at a deflate level of compress/flate.
func writeZipLevel(name, root string, level int) error {
	files, err := walkTree(root)
	if err != nil {
		return err
	}
	out, err := os.Create(name)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(out)
	if level != flate.DefaultCompression {
		zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) { return flate.NewWriter(w, level) })
	}
	for _, f := range files {
		hdr := &zip.FileHeader{Name: f.rel, Method: zip.Deflate, Modified: zipTime}
		mode := os.FileMode(0o644)
		if f.exec {
			mode = 0o755
		}
		hdr.SetMode(mode)
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			_ = out.Close()
			return err
		}
		if err := hashFile(w, f.abs); err != nil {
			_ = out.Close()
			return err
		}
	}
	if err := zw.Close(); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}

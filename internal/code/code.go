// Package code checks and unpacks function code packages (zip files). The
// control plane calls Validate before a package is stored; the worker calls
// Extract to lay a stored package out as an environment's /var/task. Zips
// are untrusted input: entries that escape the target directory, oversize
// content and malformed archives are refused, and extraction enforces the
// size limit on the bytes actually written, not on what headers claim.
package code

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/function"
)

// Info describes a validated package.
type Info struct {
	Sha256       string // Lambda's CodeSha256 (base64)
	Size         int64  // zipped size
	UnzippedSize int64
	Files        []string // regular file names, slash-separated
}

// HasFile reports whether the package holds the regular file name.
func (i *Info) HasFile(name string) bool {
	for _, f := range i.Files {
		if f == name {
			return true
		}
	}
	return false
}

var errUnzip = awsapi.InvalidParameter("Could not unzip uploaded file. Please check your file, then try to upload again.")

// Validate checks that data is a zip Lambda would accept, within limit bytes
// unzipped (function.MaxUnzippedSize when limit is 0). Errors are
// InvalidParameterValueException *awsapi.Error values.
func Validate(data []byte, limit int64) (*Info, error) {
	if limit == 0 {
		limit = function.MaxUnzippedSize
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, errUnzip
	}
	info := &Info{Sha256: function.CodeSha256(data), Size: int64(len(data))}
	for _, f := range zr.File {
		name, err := cleanName(f.Name)
		if err != nil {
			return nil, err
		}
		// Compare before converting: a forged header can claim 2^64-1 bytes.
		if f.UncompressedSize64 > uint64(limit) {
			return nil, awsapi.InvalidParameter("Unzipped size must be smaller than %d bytes", limit)
		}
		info.UnzippedSize += int64(f.UncompressedSize64) // #nosec G115 -- bounded by limit above
		if info.UnzippedSize > limit {
			return nil, awsapi.InvalidParameter("Unzipped size must be smaller than %d bytes", limit)
		}
		if name != "" && f.Mode().IsRegular() {
			info.Files = append(info.Files, name)
		}
	}
	return info, nil
}

// cleanName returns the slash-separated relative path of a zip entry, or an
// error for absolute paths and entries that climb out with "..".
func cleanName(n string) (string, error) {
	n = strings.ReplaceAll(n, "\\", "/")
	if strings.HasPrefix(n, "/") || strings.Contains(n, "\x00") {
		return "", awsapi.InvalidParameter("Could not unzip uploaded file: entry %q has an absolute path.", n)
	}
	for _, part := range strings.Split(n, "/") {
		if part == ".." {
			return "", awsapi.InvalidParameter("Could not unzip uploaded file: entry %q escapes the package root.", n)
		}
	}
	c := path.Clean(n)
	if c == "." {
		return "", nil
	}
	return c, nil
}

// Extract unpacks the zip in data into dir, which must not exist yet (it is
// created; on failure it is removed). limit caps the bytes written
// (function.MaxUnzippedSize when 0). Symlinks are kept only when they point
// inside dir.
func Extract(data []byte, dir string, limit int64) (err error) {
	if limit == 0 {
		limit = function.MaxUnzippedSize
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return fmt.Errorf("extract code: %w", errUnzip)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return fmt.Errorf("extract code: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(dir)
		}
	}()
	remaining := limit
	for _, f := range zr.File {
		name, err := cleanName(f.Name)
		if err != nil {
			return err
		}
		if name == "" {
			continue
		}
		target := filepath.Join(dir, filepath.FromSlash(name))
		mode := f.Mode()
		switch {
		case mode.IsDir():
			if err := os.MkdirAll(target, 0o755); err != nil {
				return fmt.Errorf("extract %s: %w", name, err)
			}
		case mode&os.ModeSymlink != 0:
			if err := extractSymlink(f, dir, target); err != nil {
				return err
			}
		case mode.IsRegular():
			n, err := extractFile(f, target, remaining)
			if err != nil {
				return err
			}
			remaining -= n
		}
	}
	return nil
}

func extractSymlink(f *zip.File, root, target string) error {
	rc, err := f.Open()
	if err != nil {
		return fmt.Errorf("extract %s: %w", f.Name, errUnzip)
	}
	defer rc.Close()
	dest, err := io.ReadAll(io.LimitReader(rc, 4096))
	if err != nil {
		return fmt.Errorf("extract %s: %w", f.Name, errUnzip)
	}
	link := string(dest)
	resolved := link
	if !filepath.IsAbs(link) {
		resolved = filepath.Join(filepath.Dir(target), link)
	}
	if rel, err := filepath.Rel(root, resolved); err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return awsapi.InvalidParameter("Could not unzip uploaded file: symlink %q points outside the package.", f.Name)
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return fmt.Errorf("extract %s: %w", f.Name, err)
	}
	return os.Symlink(link, target)
}

func extractFile(f *zip.File, target string, remaining int64) (int64, error) {
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return 0, fmt.Errorf("extract %s: %w", f.Name, err)
	}
	rc, err := f.Open()
	if err != nil {
		return 0, fmt.Errorf("extract %s: %w", f.Name, errUnzip)
	}
	defer rc.Close()
	perm := f.Mode().Perm() | 0o444 // readable by the sandbox user
	if perm&0o111 != 0 {
		perm |= 0o111
	}
	out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return 0, fmt.Errorf("extract %s: %w", f.Name, err)
	}
	n, err := io.Copy(out, io.LimitReader(rc, remaining+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if errors.Is(err, zip.ErrChecksum) || errors.Is(err, zip.ErrFormat) {
			return n, fmt.Errorf("extract %s: %w", f.Name, errUnzip)
		}
		return n, fmt.Errorf("extract %s: %w", f.Name, err)
	}
	if n > remaining {
		return n, awsapi.InvalidParameter("Unzipped size must be smaller than %d bytes", remaining)
	}
	return n, nil
}

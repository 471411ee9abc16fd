// Package code checks and unpacks function code packages (zip files). The
// control plane calls Validate before a package or layer is stored
// (CreateFunction, UpdateFunctionCode, PublishLayerVersion); the worker
// calls Extract to lay a stored package out as an environment's /var/task
// or /opt. Zips are untrusted input, checked as a whole before anything is
// written: names that are absolute or climb out with "..", entries beneath
// a symbolic link or a file, names used twice, types other than files,
// directories and links, content whose size or checksum differs from its
// header, and more than the unzipped limit are refused, so that a package
// Validate accepts is one Extract unpacks. Extract writes through
// descriptors with which the kernel refuses symbolic links and paths
// outside the target (docs/design/code-packages.md). It imports only
// awsapi and function; lambdaapi and pool import it.
package code

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
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

// Validate checks that data is a zip Lambda would accept and that Extract
// can unpack safely, within limit bytes unzipped (function.MaxUnzippedSize
// when limit is 0). It reads every entry to the end, so the sizes and
// checksums are the real ones, not what the headers claim. Errors are
// InvalidParameterValueException *awsapi.Error values.
func Validate(data []byte, limit int64) (*Info, error) {
	if limit == 0 {
		limit = function.MaxUnzippedSize
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, errUnzip
	}
	l, err := planLayout(zr, limit)
	if err != nil {
		return nil, err
	}
	info := &Info{Sha256: function.CodeSha256(data), Size: int64(len(data))}
	remaining := limit
	for _, it := range l.files {
		n, err := copyEntry(io.Discard, it.file, remaining)
		if err != nil {
			return nil, err
		}
		remaining -= n
		info.Files = append(info.Files, it.name)
	}
	for _, it := range l.links {
		target, err := linkTarget(it.file, remaining)
		if err != nil {
			return nil, err
		}
		remaining -= int64(len(target))
	}
	info.UnzippedSize = limit - remaining
	return info, nil
}

// UnzippedSize is the unzipped size of a package that Validate accepted
// (the sum of the sizes its headers declare, which Validate checked), without
// reading the content again.
func UnzippedSize(data []byte) (int64, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return 0, errUnzip
	}
	l, err := planLayout(zr, math.MaxInt64)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, it := range l.files {
		n += int64(it.file.UncompressedSize64) // #nosec G115 -- planLayout bounded the sum
	}
	for _, it := range l.links {
		n += int64(it.file.UncompressedSize64) // #nosec G115 -- planLayout bounded the sum
	}
	return n, nil
}

// copyEntry copies f's content to w, refusing more than remaining bytes
// and content that does not match its header (size or CRC-32).
func copyEntry(w io.Writer, f *zip.File, remaining int64) (int64, error) {
	rc, err := f.Open()
	if err != nil {
		return 0, unzipError(f.Name, err)
	}
	defer rc.Close() //nolint:errcheck // reading from memory
	n, err := io.Copy(w, io.LimitReader(rc, remaining+1))
	if err != nil {
		return n, unzipError(f.Name, err)
	}
	if n > remaining {
		return n, tooBig(remaining)
	}
	return n, nil
}

// linkTarget reads a symbolic link's target. Any target is allowed, as on
// Lambda: it is never followed while extracting, and it resolves inside the
// sandbox (a virtualenv's lib64 -> lib, a link into /opt).
func linkTarget(f *zip.File, remaining int64) (string, error) {
	var b bytes.Buffer
	limit := min(remaining, maxLinkTarget)
	if _, err := copyEntry(&b, f, limit); err != nil {
		if b.Len() > int(limit) && limit == remaining {
			return "", tooBig(remaining)
		}
		if b.Len() <= int(limit) {
			return "", err
		}
	}
	t := b.String()
	if t == "" || len(t) > maxLinkTarget || strings.Contains(t, "\x00") {
		return "", awsapi.InvalidParameter("Could not unzip uploaded file: symbolic link %q has an empty, overlong or malformed target.", f.Name)
	}
	return t, nil
}

// unzipError maps a read error of an entry to Lambda's answer; only the
// archive's own faults (bad data, lying sizes, checksums, methods) come
// here, as the archive is in memory.
func unzipError(name string, err error) error {
	var e *awsapi.Error
	if errors.As(err, &e) {
		return err
	}
	return fmt.Errorf("unzip %s: %w: %w", name, errUnzip, err)
}

package code

import (
	"archive/zip"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
)

// checkPackage is the property every fuzz input must keep: Validate and
// Extract agree (a package accepted at upload unpacks at invoke; one
// refused is refused by both, with an API error, leaving nothing), an
// accepted package unpacks to exactly the entries it lists — files with
// their content and one link each, links with their targets — and nothing
// appears outside the target directory.
func checkPackage(t *testing.T, data []byte, limit int64) {
	base := t.TempDir()
	dir := filepath.Join(base, "code")
	info, verr := Validate(data, limit)
	xerr := Extract(data, dir, limit)
	onlyOutside := func() {
		ents, err := os.ReadDir(base)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if e.Name() != "code" {
				t.Fatalf("extraction wrote %q outside the code directory", e.Name())
			}
		}
	}
	onlyOutside()
	if verr != nil {
		var e *awsapi.Error
		if !errors.As(verr, &e) {
			t.Fatalf("Validate: non-API error %v", verr)
		}
		if xerr == nil {
			t.Fatalf("Validate refused (%v) what Extract unpacked", verr)
		}
		if _, err := os.Lstat(dir); !os.IsNotExist(err) {
			t.Fatalf("failed extraction left %s", dir)
		}
		return
	}
	if xerr != nil {
		t.Fatalf("Validate accepted what Extract refused: %v", xerr)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{} // name -> "d", "f:<content>", "l:<target>"
	for _, f := range zr.File {
		name, _ := cleanName(f.Name)
		if name == "" {
			continue
		}
		for i := range name {
			if name[i] == '/' {
				want[name[:i]] = "d"
			}
		}
		switch {
		case f.Mode().IsDir():
			want[name] = "d"
		default:
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(rc)
			_ = rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			if f.Mode()&fs.ModeSymlink != 0 {
				want[name] = "l:" + string(b)
			} else {
				want[name] = "f:" + string(b)
			}
		}
	}
	got := map[string]string{}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case fi.IsDir():
			got[rel] = "d"
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			got[rel] = "l:" + target
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p) //nolint:gosec // the test's own tree
			if err != nil {
				return err
			}
			got[rel] = "f:" + string(b)
		default:
			got[rel] = "?"
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !sameTree(got, want) {
		t.Fatalf("extracted tree\n%v\nwant\n%v", keys(got), keys(want))
	}
	for _, n := range info.Files {
		if !strings.HasPrefix(want[n], "f:") {
			t.Fatalf("Info.Files lists %q, not a file", n)
		}
	}
	checkOwnedByUs(t, dir)
}

func sameTree(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func keys(m map[string]string) []string {
	var out []string
	for k, v := range m {
		if len(v) > 20 {
			v = v[:20]
		}
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// FuzzValidate feeds raw bytes: mutations of real and hostile archives.
func FuzzValidate(f *testing.F) {
	f.Add(makeZip(f, entry{name: "bootstrap", data: "x", mode: 0o755}))
	f.Add(makeZip(f, entry{name: "../x", data: "x"}))
	f.Add(chainZip(f, 3, ""))
	f.Add(overlapZip(f))
	f.Add(lyingSizeZip(f, 64, 8))
	f.Add(makeZip(f, entry{name: "lib/a", data: "a"}, entry{name: "lib64", data: "lib", mode: os.ModeSymlink | 0o777}))
	f.Add([]byte("PK\x03\x04"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkPackage(t, data, 1<<16)
	})
}

// Names, link targets and kinds the structured fuzzer combines: the pieces
// of symlink chains, parent and root references, case-folding pairs,
// separators, and names that clash as file and directory.
var (
	fuzzParts   = []string{"l1", "u1", "u2", "u3", "a", "A", "b", "..", ".", "", "lib", "lib64", "tmp", "x\\y", "LIB", "bootstrap"}
	fuzzTargets = []string{".", "..", "u1/..", "u2/..", "/", "lib", "/tmp", "a/b", "", "/opt/x", "../../.."}
)

// fuzzZip turns spec into an archive of up to 16 entries; each takes four
// bytes: kind and size lie, two name parts, and content or link target.
func fuzzZip(t *testing.T, spec []byte) []byte {
	var hs []*zip.FileHeader
	var data [][]byte
	for i := 0; i+4 <= len(spec) && len(hs) < 16; i += 4 {
		k, p1, p2, c := spec[i], spec[i+1], spec[i+2], spec[i+3]
		name := fuzzParts[int(p1)%len(fuzzParts)]
		if p2&0x80 != 0 {
			name += "/" + fuzzParts[int(p2&0x7f)%len(fuzzParts)]
		}
		var mode os.FileMode
		var content []byte
		switch k % 5 {
		case 0, 1:
			mode, content = 0o644, bytes.Repeat([]byte{c}, int(c%32))
		case 2:
			mode, content = os.ModeSymlink|0o777, []byte(fuzzTargets[int(c)%len(fuzzTargets)])
		case 3:
			mode = os.ModeDir | 0o755
			name += "/"
		case 4:
			mode = os.ModeNamedPipe | 0o644
		}
		h := storedHeader(name, content, mode)
		switch k >> 5 { // sizes that lie
		case 1:
			h.UncompressedSize64++
		case 2:
			if h.UncompressedSize64 > 0 {
				h.UncompressedSize64--
			}
		case 3:
			h.UncompressedSize64 = 1 << 40
		}
		hs, data = append(hs, h), append(data, content)
	}
	return rawZip(t, hs, data)
}

// FuzzEntries builds archives from entries chosen by the fuzzer, so that
// chains, clashes and lies are reached in a few steps rather than by
// mutating bytes.
func FuzzEntries(f *testing.F) {
	f.Add([]byte{2, 0, 0, 0, 2, 0, 0x80 | 1, 1, 2, 0, 0x80 | 2, 2, 0, 0, 0x80 | 3, 7}) // l1 -> ., l1/u1 -> .., l1/u2 -> u1/.., file l1/u3
	f.Add([]byte{0, 5, 0, 3, 0, 6, 0, 4})                                              // a and A
	f.Add([]byte{0, 5, 0, 3, 3, 5, 0, 0})                                              // file a, dir a/
	f.Add([]byte{0, 15, 0, 3, 0, 15, 0, 9})                                            // bootstrap twice
	f.Add([]byte{0, 10, 0x80 | 4, 3, 2, 11, 0, 5})                                     // lib/a, lib64 -> lib
	f.Add([]byte{0x20, 4, 0, 9, 0x40, 6, 0, 9, 0x60, 7, 0, 1})                         // sizes that lie
	f.Add([]byte{4, 4, 0, 0})                                                          // a named pipe
	f.Fuzz(func(t *testing.T, spec []byte) {
		checkPackage(t, fuzzZip(t, spec), 1<<16)
	})
}

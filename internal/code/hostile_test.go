package code

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// chainZip is the archive of issue 13: l1 -> ., l1/u1 -> .., l1/uN ->
// u(N-1)/.., then a regular file under l1/uN/. A naive extractor creates
// the links, then follows them, climbing n directories above the root
// (a climb past / stays at /, so escape is absolute).
func chainZip(t testing.TB, n int, escape string) []byte {
	t.Helper()
	es := []entry{{name: "l1", data: ".", mode: os.ModeSymlink | 0o777},
		{name: "l1/u1", data: "..", mode: os.ModeSymlink | 0o777}}
	for i := 2; i <= n; i++ {
		es = append(es, entry{name: fmt.Sprintf("l1/u%d", i), data: fmt.Sprintf("u%d/..", i-1), mode: os.ModeSymlink | 0o777})
	}
	es = append(es, entry{name: fmt.Sprintf("l1/u%d%s/pwned", n, escape), data: "written outside the code directory\n"})
	return makeZip(t, es...)
}

// rawZip writes entries with exactly the header fields given, so tests
// can make archives a normal writer would not (sizes that lie, devices).
func rawZip(t testing.TB, hs []*zip.FileHeader, data [][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i, h := range hs {
		w, err := zw.CreateRaw(h)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(h.Name, "/") {
			continue // a directory: the writer takes no content
		}
		if _, err := w.Write(data[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// storedHeader describes content stored uncompressed, with its real
// CRC-32 and sizes, for rawZip.
func storedHeader(name string, content []byte, mode os.FileMode) *zip.FileHeader {
	h := &zip.FileHeader{Name: name, Method: zip.Store}
	h.SetMode(mode)
	h.CRC32 = crc(content)
	h.CompressedSize64 = uint64(len(content))
	h.UncompressedSize64 = uint64(len(content))
	return h
}

func crc(b []byte) uint32 {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("x")
	_, _ = w.Write(b)
	_ = zw.Close()
	zr, _ := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	return zr.File[0].CRC32
}

// overlapZip holds two central-directory entries, a and b, that share
// one local header and its data: the zip form of a hard link.
func overlapZip(t testing.TB) []byte {
	t.Helper()
	z := makeZip(t, entry{name: "a", data: "shared"}, entry{name: "b", data: "other!"})
	cd := bytes.Index(z, []byte("PK\x01\x02"))
	second := cd + bytes.Index(z[cd+4:], []byte("PK\x01\x02")) + 4
	out := append([]byte(nil), z...)
	// Point b's local header offset at a's (offset 0), and its CRC at a's.
	binary.LittleEndian.PutUint32(out[second+42:], 0)
	copy(out[second+16:second+20], out[cd+16:cd+20])
	return out
}

// lyingSizeZip declares an uncompressed size other than the content's in
// the central directory.
func lyingSizeZip(t testing.TB, real int, claim uint32) []byte {
	t.Helper()
	z := makeZip(t, entry{name: "big", data: string(make([]byte, real))})
	off := bytes.LastIndex(z, []byte("PK\x01\x02"))
	out := append([]byte(nil), z...)
	binary.LittleEndian.PutUint32(out[off+24:], claim)
	return out
}

func TestHostileArchivesRefused(t *testing.T) {
	link := os.ModeSymlink | 0o777
	cases := map[string][]byte{
		"chained symlinks":           chainZip(t, 8, ""),
		"file beneath symlink":       makeZip(t, entry{name: "lib64", data: "lib", mode: link}, entry{name: "lib64/x.so", data: "x"}),
		"symlink after its children": makeZip(t, entry{name: "d/x", data: "x"}, entry{name: "d", data: "/etc", mode: link}),
		"dir beneath symlink":        makeZip(t, entry{name: "l", data: "/tmp", mode: link}, entry{name: "l/sub/", mode: os.ModeDir | 0o755}),
		"file beneath file":          makeZip(t, entry{name: "a", data: "x"}, entry{name: "a/b", data: "y"}),
		"file then dir":              makeZip(t, entry{name: "a", data: "x"}, entry{name: "a/", mode: os.ModeDir | 0o755}),
		"dir then file":              makeZip(t, entry{name: "a/", mode: os.ModeDir | 0o755}, entry{name: "a", data: "x"}),
		"duplicate file":             makeZip(t, entry{name: "bootstrap", data: "one"}, entry{name: "bootstrap", data: "two"}),
		"duplicate after cleaning":   makeZip(t, entry{name: "a/b", data: "one"}, entry{name: "a/./b", data: "two"}),
		"file and symlink":           makeZip(t, entry{name: "a", data: "x"}, entry{name: "a", data: "/etc/passwd", mode: link}),
		"named pipe":                 makeZip(t, entry{name: "fifo", mode: os.ModeNamedPipe | 0o644}),
		"device":                     makeZip(t, entry{name: "sda", mode: os.ModeDevice | 0o644}),
		"empty link target":          makeZip(t, entry{name: "l", data: "", mode: link}),
		"NUL in link target":         makeZip(t, entry{name: "l", data: "a\x00b", mode: link}),
		"overlong link target":       makeZip(t, entry{name: "l", data: strings.Repeat("a/", 3000), mode: link}),
		"overlong name":              makeZip(t, entry{name: strings.Repeat("n", 256), data: "x"}),
		"overlong path":              makeZip(t, entry{name: strings.Repeat("abcdefghi/", 420) + "x", data: "x"}),
		"file named as root":         makeZip(t, entry{name: "./", data: ""}, entry{name: ".", data: "x"}),
		"size understated":           lyingSizeZip(t, 4096, 10),
		"size overstated":            lyingSizeZip(t, 10, 4096),
		"size 2^32-1":                lyingSizeZip(t, 10, 0xffffffff),
		"bad checksum": rawZip(t, []*zip.FileHeader{func() *zip.FileHeader {
			h := storedHeader("f", []byte("content"), 0o644)
			h.CRC32 ^= 1
			return h
		}()}, [][]byte{[]byte("content")}),
	}
	for name, z := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Validate(z, 0)
			wantInvalidParameter(t, err)
			base := t.TempDir()
			dir := filepath.Join(base, "code")
			wantInvalidParameter(t, Extract(z, dir, 0))
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("failed extraction left %s behind", dir)
			}
			onlyEntries(t, base)
		})
	}
}

// onlyEntries fails unless dir holds exactly names.
func onlyEntries(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Fatalf("%s holds %v, want %v", dir, got, names)
	}
}

// The chain of issue 13 must not write outside the root even when the
// planner is bypassed: the links exist on disk as a naive extractor made
// them, and the root's own calls must still refuse to pass through them,
// with openat2 and with the O_NOFOLLOW walk.
func TestRootRefusesLinksOnDisk(t *testing.T) {
	for _, walk := range []bool{false, true} {
		t.Run(fmt.Sprintf("walk=%v", walk), func(t *testing.T) {
			forceWalk = walk
			defer func() { forceWalk = false }()
			base := t.TempDir()
			dir := filepath.Join(base, "a", "b", "code")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for _, l := range [][2]string{{".", "l1"}, {"..", "u1"}, {"u1/..", "u2"}, {"u2/..", "u3"}, {"/", "abs"}} {
				if err := os.Symlink(l[0], filepath.Join(dir, l[1])); err != nil {
					t.Fatal(err)
				}
			}
			r, err := openRoot(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer r.close()
			if !walk && !r.beneath {
				t.Skip("openat2 unavailable here")
			}
			for _, p := range []string{"l1/u3/pwned", "u3/pwned", "abs/tmp/pwned", "l1/pwned"} {
				if f, err := r.create(p, 0o644); err == nil {
					f.Close()
					t.Errorf("create %s through links succeeded", p)
				}
				if err := r.mkdir(p); err == nil {
					t.Errorf("mkdir %s through links succeeded", p)
				}
				if err := r.symlink("x", p); err == nil {
					t.Errorf("symlink %s through links succeeded", p)
				}
			}
			// Creating over an existing link (the link itself as the last
			// component) must not follow it either.
			if f, err := r.create("abs", 0o644); err == nil {
				f.Close()
				t.Error("create over a link succeeded")
			}
			onlyEntries(t, base, "a")
			onlyEntries(t, filepath.Join(base, "a"), "b")
			onlyEntries(t, filepath.Join(base, "a", "b"), "code")
		})
	}
}

// Real packages carry symbolic links (a virtualenv's lib64 -> lib, links
// into /opt, links that climb): they are created as links with their
// targets unchanged and never followed, and extraction works through the
// walk as through openat2.
func TestSymlinksKeptAsLinks(t *testing.T) {
	link := os.ModeSymlink | 0o777
	z := makeZip(t,
		entry{name: "bootstrap", data: "#!/bin/sh\n", mode: 0o755},
		entry{name: "venv/lib/python3.12/site.py", data: "x = 1\n"},
		entry{name: "venv/lib64", data: "lib", mode: link},
		entry{name: "node", data: "/opt/nodejs/bin/node", mode: link},
		entry{name: "up", data: "../../../../etc/passwd", mode: link},
		entry{name: "Bootstrap", data: "case differs, Linux keeps both\n"},
	)
	if _, err := Validate(z, 0); err != nil {
		t.Fatal(err)
	}
	for _, walk := range []bool{false, true} {
		t.Run(fmt.Sprintf("walk=%v", walk), func(t *testing.T) {
			forceWalk = walk
			defer func() { forceWalk = false }()
			dir := filepath.Join(t.TempDir(), "code")
			if err := Extract(z, dir, 0); err != nil {
				t.Fatal(err)
			}
			for name, want := range map[string]string{"venv/lib64": "lib", "node": "/opt/nodejs/bin/node", "up": "../../../../etc/passwd"} {
				got, err := os.Readlink(filepath.Join(dir, name))
				if err != nil || got != want {
					t.Errorf("%s -> %q (%v), want %q", name, got, err, want)
				}
			}
			b, err := os.ReadFile(filepath.Join(dir, "venv/lib64/python3.12/site.py"))
			if err != nil || string(b) != "x = 1\n" {
				t.Errorf("read through lib64: %q %v", b, err)
			}
			checkOwnedByUs(t, dir)
		})
	}
}

// checkOwnedByUs fails unless every entry under dir belongs to this
// process's uid (root's tree is handed back after the unprivileged write)
// and every regular file has one link.
func checkOwnedByUs(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		if int(st.Uid) != os.Geteuid() {
			t.Errorf("%s owned by uid %d", p, st.Uid)
		}
		if fi.Mode().IsRegular() && st.Nlink != 1 {
			t.Errorf("%s has %d links", p, st.Nlink)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// As root, the writing thread has ExtractUID's file-system identity and no
// capabilities over files: it cannot write into a directory of root's,
// even by absolute path. The rest of the process keeps its identity.
func TestExtractionIsUnprivileged(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	private := filepath.Join(t.TempDir(), "private")
	if err := os.Mkdir(private, 0o700); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "code")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	r, err := openRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	var inside error
	err = r.unprivileged(func() error {
		inside = os.WriteFile(filepath.Join(private, "x"), []byte("x"), 0o600)
		f, err := r.create("mine", 0o644)
		if err != nil {
			return err
		}
		return f.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(inside, fs.ErrPermission) {
		t.Errorf("unprivileged thread wrote into root's directory: %v", inside)
	}
	if err := os.WriteFile(filepath.Join(private, "y"), []byte("y"), 0o600); err != nil {
		t.Errorf("the process lost its identity: %v", err)
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(dir, "mine"), &st); err != nil || st.Uid != 0 {
		t.Errorf("created file uid %d (%v), want it handed back to root", st.Uid, err)
	}
}

// A package that Validate accepts is one Extract unpacks (a refusal comes
// at upload, not at the first invoke), and the size both count is the real
// one.
func TestLyingSizesCountedAsWritten(t *testing.T) {
	z := makeZip(t, entry{name: "a", data: strings.Repeat("x", 600)}, entry{name: "b", data: strings.Repeat("y", 600)})
	if _, err := Validate(z, 1000); err == nil {
		t.Fatal("1200 bytes accepted under a 1000-byte limit")
	}
	info, err := Validate(z, 1200)
	if err != nil || info.UnzippedSize != 1200 {
		t.Fatalf("Validate = %+v, %v", info, err)
	}
	if n, err := UnzippedSize(z); err != nil || n != 1200 {
		t.Fatalf("UnzippedSize = %d, %v", n, err)
	}
	if err := Extract(z, filepath.Join(t.TempDir(), "code"), 1200); err != nil {
		t.Fatal(err)
	}
}

// Two entries sharing one local header (the zip form of a hard link) are
// two files with the same content: nothing is linked on disk.
func TestOverlappingEntries(t *testing.T) {
	z := overlapZip(t)
	if _, err := Validate(z, 0); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "code")
	if err := Extract(z, dir, 0); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a", "b"} {
		if b, err := os.ReadFile(filepath.Join(dir, n)); err != nil || string(b) != "shared" {
			t.Errorf("%s = %q %v", n, b, err)
		}
	}
	checkOwnedByUs(t, dir)
	// Each entry is under the limit; together they are not (a zip bomb of
	// entries sharing their data).
	_, err := Validate(z, 11)
	wantInvalidParameter(t, err)
	if !strings.HasSuffix(err.Error(), ": Unzipped size must be smaller than 11 bytes") {
		t.Errorf("message %q", err)
	}
}

// The package of issue 13, aimed at a real directory outside the root
// (on the extractor before this one, that directory got the file).
func TestChainedSymlinksCannotEscape(t *testing.T) {
	outside := t.TempDir()
	z := chainZip(t, 20, outside)
	_, err := Validate(z, 0)
	wantInvalidParameter(t, err)
	wantInvalidParameter(t, Extract(z, filepath.Join(t.TempDir(), "code"), 0))
	onlyEntries(t, outside)
}

// The writing thread gets its credentials back and returns to the
// scheduler: a thread that exited instead would kill every child it had
// forked with Pdeathsig (the sandbox's spare inits) before it was locked.
func TestThreadCredentialsRestored(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	status := func() string {
		b, err := os.ReadFile("/proc/thread-self/status")
		if err != nil {
			t.Fatal(err)
		}
		var keep []string
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "Uid:") || strings.HasPrefix(l, "Gid:") || strings.HasPrefix(l, "Groups:") || strings.HasPrefix(l, "CapEff:") {
				keep = append(keep, l)
			}
		}
		return strings.Join(keep, "\n")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		before := status()
		restore, err := dropThreadCredentials()
		if err != nil {
			t.Error(err)
		}
		during := status()
		if err := restore(); err != nil {
			t.Error(err)
		}
		if after := status(); after != before {
			t.Errorf("thread credentials\n%s\nafter restore, were\n%s", after, before)
		}
		if during == before || !strings.Contains(during, "\t65534\n") && !strings.HasSuffix(during, "\t65534") {
			t.Errorf("credentials while dropped:\n%s", during)
		}
	}()
	<-done
}

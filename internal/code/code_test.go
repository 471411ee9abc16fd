package code

import (
	"archive/zip"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
)

type entry struct {
	name string
	data string
	mode os.FileMode
}

func makeZip(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		h.SetMode(mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(e.data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func wantInvalidParameter(t *testing.T, err error) {
	t.Helper()
	var e *awsapi.Error
	if !errors.As(err, &e) || e.Code != awsapi.CodeInvalidParameterValue {
		t.Fatalf("error = %v, want InvalidParameterValueException", err)
	}
}

func TestValidateAndExtract(t *testing.T) {
	z := makeZip(t,
		entry{name: "bootstrap", data: "#!/bin/sh\n", mode: 0o755},
		entry{name: "lib/", mode: os.ModeDir | 0o755},
		entry{name: "lib/util.py", data: "x = 1\n"},
		entry{name: "link", data: "lib/util.py", mode: os.ModeSymlink | 0o777},
	)
	info, err := Validate(z, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !info.HasFile("bootstrap") || !info.HasFile("lib/util.py") || info.HasFile("lib") {
		t.Errorf("files = %v", info.Files)
	}
	if info.Size != int64(len(z)) || info.UnzippedSize != int64(len("#!/bin/sh\n")+len("x = 1\n")+len("lib/util.py")) {
		t.Errorf("sizes = %d/%d", info.Size, info.UnzippedSize)
	}
	dir := filepath.Join(t.TempDir(), "code")
	if err := Extract(z, dir, 0); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, "bootstrap"))
	if err != nil || st.Mode().Perm()&0o111 == 0 {
		t.Errorf("bootstrap not executable: %v %v", st, err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "link"))
	if err != nil || string(b) != "x = 1\n" {
		t.Errorf("symlink read %q %v", b, err)
	}
}

func TestRejects(t *testing.T) {
	cases := map[string][]byte{
		"not a zip":        []byte("PK but not really"),
		"empty":            nil,
		"dotdot":           makeZip(t, entry{name: "../evil", data: "x"}),
		"nested dotdot":    makeZip(t, entry{name: "a/../../evil", data: "x"}),
		"absolute":         makeZip(t, entry{name: "/etc/passwd", data: "x"}),
		"backslash dotdot": makeZip(t, entry{name: "..\\evil", data: "x"}),
	}
	for name, z := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Validate(z, 0)
			wantInvalidParameter(t, err)
			dir := filepath.Join(t.TempDir(), "code")
			wantInvalidParameter(t, Extract(z, dir, 0))
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("failed extraction left %s behind", dir)
			}
		})
	}
}

func TestSizeLimit(t *testing.T) {
	z := makeZip(t, entry{name: "big", data: string(make([]byte, 4096))})
	_, err := Validate(z, 1000)
	wantInvalidParameter(t, err)
	err = Extract(z, filepath.Join(t.TempDir(), "code"), 1000)
	wantInvalidParameter(t, err)
}

package s3

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// TestInlineBodies: a small PUT's body is kept (encrypted) in the
// metadata store, not as a file, reads back whole and by range after the
// store is reopened, and is removed when overwritten or deleted; a body
// over inlineMax is a file.
func TestInlineBodies(t *testing.T) {
	dir, st := t.TempDir(), storetest.Open(t)
	open := func() *Service {
		s, err := New(Options{Dir: dir, Store: st, Node: "n1", Region: "us-east-1", AccountID: "000000000000"})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open()
	files := func() int {
		n := 0
		_ = filepath.WalkDir(filepath.Join(dir, "data"), func(_ string, e os.DirEntry, _ error) error {
			if e != nil && !e.IsDir() {
				n++
			}
			return nil
		})
		return n
	}
	inline := func(s *Service) int {
		n := 0
		_ = s.meta.db.View(func(tx *bolt.Tx) error {
			if b := tx.Bucket(rootBodies); b != nil {
				n = b.Stats().KeyN
			}
			return nil
		})
		return n
	}
	small := strings.Repeat("secret-small-body ", 200) // 3,600 bytes
	call(t, s, "PUT", "/box", "", nil)
	if w := call(t, s, "PUT", "/box/small", small, nil); w.Code != 200 {
		t.Fatalf("put: %d %s", w.Code, w.Body)
	}
	if files() != 0 || inline(s) != 1 {
		t.Fatalf("a small body: %d files, %d inline", files(), inline(s))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if db, _ := os.ReadFile(filepath.Join(dir, "meta.db")); bytes.Contains(db, []byte("secret-small-body")) {
		t.Error("the inline body is stored in the clear")
	}
	s = open()
	defer func() { _ = s.Close() }()
	if w := call(t, s, "GET", "/box/small", "", nil); w.Code != 200 || w.Body.String() != small {
		t.Fatalf("get after reopen: %d %d bytes", w.Code, w.Body.Len())
	}
	if w := call(t, s, "GET", "/box/small", "", map[string]string{"Range": "bytes=18-34"}); w.Code != 206 || w.Body.String() != small[18:35] {
		t.Errorf("range: %d %q", w.Code, w.Body)
	}
	if w := call(t, s, "HEAD", "/box/small", "", nil); w.Code != 200 || w.Header().Get("Content-Length") != "3600" {
		t.Errorf("head: %d %v", w.Code, w.Header())
	}
	if w := call(t, s, "PUT", "/box/copy", "", map[string]string{"x-amz-copy-source": "box/small"}); w.Code != 200 {
		t.Errorf("copy of an inline body: %d %s", w.Code, w.Body)
	}
	if w := call(t, s, "GET", "/box/copy", "", nil); w.Body.String() != small {
		t.Errorf("the copy: %d bytes", w.Body.Len())
	}
	call(t, s, "PUT", "/box/small", "v2", nil) // the overwrite frees the old body
	if inline(s) != 1 {
		t.Errorf("after an overwrite: %d inline bodies, want 1", inline(s))
	}
	call(t, s, "DELETE", "/box/small", "", nil)
	if inline(s) != 0 {
		t.Errorf("after the delete: %d inline bodies", inline(s))
	}
	big := strings.Repeat("b", inlineMax+1)
	call(t, s, "PUT", "/box/big", big, nil)
	if files() != 2 { // the copy and the big body
		t.Errorf("a body over %d bytes: %d files", inlineMax, files())
	}
	if w := call(t, s, "GET", "/box/big", "", nil); w.Body.String() != big {
		t.Errorf("big: %d bytes", w.Body.Len())
	}
	// A failed conditional write stores nothing.
	if w := call(t, s, "PUT", "/box/big", "x", map[string]string{"If-None-Match": "*"}); w.Code != 412 || inline(s) != 0 {
		t.Errorf("a refused conditional write: %d, %d inline", w.Code, inline(s))
	}
}

package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// smallDisk mounts a tmpfs of mb megabytes for the test (root only).
func smallDisk(t *testing.T, mb int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small file system")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%dm", mb)); err != nil {
		t.Skipf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// fill writes a file until the file system is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() //nolint:errcheck // written to ENOSPC
	buf := bytes.Repeat([]byte{'x'}, 1<<20)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	small := buf[:4096]
	for {
		if _, err := f.Write(small); err != nil {
			break
		}
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The disk fills under a running store: writes fail with a storage-full
// error and StorageErr says so; once space is freed the store takes
// writes again without a restart, and every acknowledged write is there.
func TestDiskFullAndRecovery(t *testing.T) {
	disk := smallDisk(t, 64)
	s := openDir(t, filepath.Join(disk, "state"))
	if b := s.StorageBudget(); b <= 0 || b > 64<<20 {
		t.Errorf("StorageBudget = %d, want a share of the 64 MiB disk", b)
	}
	if err := s.StorageErr(); err != nil {
		t.Fatalf("StorageErr on an empty disk: %v", err)
	}
	ctx := t.Context()
	acked := map[string]bool{}
	put := func(i int) error {
		key := fmt.Sprintf("k%d", i)
		_, err := s.Create(ctx, key, bytes.Repeat([]byte{'v'}, 512))
		if err == nil {
			acked[key] = true
		}
		return err
	}
	for i := range 10 {
		if err := put(i); err != nil {
			t.Fatal(err)
		}
	}
	updates, err := s.Watch(ctx, "after.")
	if err != nil {
		t.Fatal(err)
	}
	filler := filepath.Join(disk, "filler")
	fill(t, filler)

	var werr error
	for i := 10; i < 10000 && werr == nil; i++ {
		werr = put(i)
	}
	if werr == nil {
		t.Fatal("writes kept succeeding on a full disk")
	}
	t.Logf("write on a full disk: %v", werr)
	if !errors.Is(werr, ErrStorageFull) {
		t.Errorf("write error %v is not ErrStorageFull", werr)
	}
	waitUntil(t, "StorageErr reports the full disk", func() bool { return s.StorageErr() != nil })
	if !errors.Is(s.StorageErr(), ErrStorageFull) {
		t.Errorf("StorageErr = %v, want ErrStorageFull", s.StorageErr())
	}
	// While full, writes are refused at once, with the same error.
	if err := put(30000); !errors.Is(err, ErrStorageFull) {
		t.Errorf("write while full: %v, want ErrStorageFull", err)
	}
	if err := s.PutCode(ctx, codeKey([]byte("code")), []byte("code")); !errors.Is(err, ErrStorageFull) {
		t.Errorf("code upload while full: %v, want ErrStorageFull", err)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "StorageErr clears", func() bool { return s.StorageErr() == nil })
	waitUntil(t, "writes succeed again", func() bool { return put(20000) == nil })
	// A watch begun before the disk filled sees writes after it.
	if _, err := s.Create(ctx, "after.x", []byte("v")); err != nil {
		t.Fatal(err)
	}
	select {
	case u := <-updates:
		if u.Key != "after.x" {
			t.Errorf("watch saw %+v", u)
		}
	case <-time.After(60 * time.Second):
		t.Error("a watch begun before the disk filled saw nothing after the recovery")
	}
	if err := s.PutCode(ctx, codeKey([]byte("code")), []byte("code")); err != nil {
		t.Errorf("code upload after recovery: %v", err)
	}
	for key := range acked {
		if _, err := s.Get(ctx, key); err != nil {
			t.Errorf("acknowledged %s lost: %v", key, err)
		}
	}
	t.Logf("%d acknowledged writes, all readable after recovery", len(acked))
}

func TestIsStorageFull(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{ErrStorageFull, true},
		{fmt.Errorf("create x: %w", ErrStorageFull), true},
		{&os.PathError{Op: "write", Path: "/x", Err: syscall.ENOSPC}, true},
		{&jetstream.APIError{Code: 500, ErrorCode: 10047, Description: "insufficient storage resources available"}, true},
		{fmt.Errorf("stream: %w", &jetstream.APIError{Code: 500, ErrorCode: 10023, Description: "insufficient resources"}), true},
		{&jetstream.APIError{Code: 404, ErrorCode: 10059, Description: "stream not found"}, false},
		{jetstream.ErrJetStreamNotEnabled, true},
		{errors.New("write: no space left on device"), true},
		{context.DeadlineExceeded, false}, // only while the store is full (Store.StorageFull)
		{ErrNotFound, false},
	} {
		if got := IsStorageFull(tc.err); got != tc.want {
			t.Errorf("IsStorageFull(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	var u interface{ Unavailable() string }
	if !errors.As(fmt.Errorf("put: %w", ErrStorageFull), &u) || !strings.Contains(u.Unavailable(), "storage is full") {
		t.Error("ErrStorageFull does not carry the clients' message")
	}
}

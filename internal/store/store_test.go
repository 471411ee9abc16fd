package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		os.Exit(crashChild(dir))
	}
	os.Exit(m.Run())
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// openTest opens a store on a fresh directory and closes it when the test
// ends.
func openTest(t testing.TB) *Store {
	t.Helper()
	return openDir(t, t.TempDir())
}

func openDir(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(t.Context(), Options{DataDir: dir, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: err = %v, want %v", what, err, target)
	}
}

func mustGet(t *testing.T, s *Store, key string) Entry {
	t.Helper()
	e, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get %s: %v", key, err)
	}
	return e
}

func TestCRUDAndCAS(t *testing.T) {
	s := openTest(t)
	ctx := t.Context()
	const k = "fn.hello"

	_, err := s.Get(ctx, k)
	wantErr(t, "Get absent", err, ErrNotFound)
	_, err = s.Update(ctx, k, []byte("x"), 1)
	wantErr(t, "Update absent", err, ErrNotFound)
	_, err = s.Update(ctx, k, []byte("x"), 0)
	wantErr(t, "Update absent rev 0", err, ErrNotFound)
	wantErr(t, "Delete absent with rev", s.Delete(ctx, k, 7), ErrNotFound)
	if err := s.Delete(ctx, k, 0); err != nil {
		t.Fatalf("unconditional Delete of absent key: %v", err)
	}

	rev1, err := s.Create(ctx, k, []byte("v1"))
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	_, err = s.Create(ctx, k, []byte("again"))
	wantErr(t, "Create existing", err, ErrExists)
	if e := mustGet(t, s, k); string(e.Value) != "v1" || e.Revision != rev1 || e.Key != k {
		t.Fatalf("Get = %+v, want v1 at %d", e, rev1)
	}

	_, err = s.Update(ctx, k, []byte("bad"), rev1+100)
	wantErr(t, "Update wrong rev", err, ErrConflict)
	_, err = s.Update(ctx, k, []byte("bad"), 0)
	wantErr(t, "Update rev 0 of existing key", err, ErrConflict)
	rev2, err := s.Update(ctx, k, []byte("v2"), rev1)
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if rev2 <= rev1 {
		t.Fatalf("rev2 %d <= rev1 %d", rev2, rev1)
	}
	_, err = s.Update(ctx, k, []byte("stale"), rev1)
	wantErr(t, "Update stale rev", err, ErrConflict)
	if e := mustGet(t, s, k); string(e.Value) != "v2" || e.Revision != rev2 {
		t.Fatalf("Get = %+v, want v2 at %d", e, rev2)
	}

	wantErr(t, "Delete stale rev", s.Delete(ctx, k, rev1), ErrConflict)
	if err := s.Delete(ctx, k, rev2); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_, err = s.Get(ctx, k)
	wantErr(t, "Get deleted", err, ErrNotFound)
	_, err = s.Update(ctx, k, []byte("zombie"), rev2)
	wantErr(t, "Update deleted", err, ErrNotFound)
	wantErr(t, "Delete deleted with rev", s.Delete(ctx, k, rev2), ErrNotFound)

	rev3, err := s.Create(ctx, k, []byte("v3"))
	if err != nil {
		t.Fatalf("re-Create after Delete: %v", err)
	}
	if rev3 <= rev2 {
		t.Fatalf("rev3 %d <= rev2 %d", rev3, rev2)
	}
	if err := s.Delete(ctx, k, 0); err != nil {
		t.Fatalf("unconditional Delete: %v", err)
	}
	_, err = s.Get(ctx, k)
	wantErr(t, "Get after unconditional Delete", err, ErrNotFound)
}

func TestUpdateDeleteMarkerRevisionIsNotFound(t *testing.T) {
	// A watcher learns the revision of a delete marker; using it must not
	// resurrect the key.
	s := openTest(t)
	ctx := t.Context()
	rev, err := s.Create(ctx, "alias.f.live", []byte("1"))
	if err != nil {
		t.Fatal(err)
	}
	ch, err := s.Watch(ctx, "alias.")
	if err != nil {
		t.Fatal(err)
	}
	if u := <-ch; u.Revision != rev {
		t.Fatalf("initial update %+v, want revision %d", u, rev)
	}
	if err := s.Delete(ctx, "alias.f.live", rev); err != nil {
		t.Fatal(err)
	}
	u := <-ch
	if !u.Deleted {
		t.Fatalf("got %+v, want a delete", u)
	}
	_, err = s.Update(ctx, "alias.f.live", []byte("2"), u.Revision)
	wantErr(t, "Update at delete-marker revision", err, ErrNotFound)
	wantErr(t, "Delete at delete-marker revision", s.Delete(ctx, "alias.f.live", u.Revision), ErrNotFound)
}

func TestConcurrentCreateOneWinner(t *testing.T) {
	s := openTest(t)
	ctx := t.Context()
	for round, deletedFirst := range []bool{false, true} {
		k := "fn.race" + strconv.Itoa(round)
		if deletedFirst {
			if _, err := s.Create(ctx, k, []byte("old")); err != nil {
				t.Fatal(err)
			}
			if err := s.Delete(ctx, k, 0); err != nil {
				t.Fatal(err)
			}
		}
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				_, errs[i] = s.Create(ctx, k, []byte(strconv.Itoa(i)))
			})
		}
		wg.Wait()
		var won int
		for i, err := range errs {
			switch {
			case err == nil:
				won++
			case errors.Is(err, ErrExists):
			default:
				t.Fatalf("deletedFirst=%v: creator %d: %v", deletedFirst, i, err)
			}
		}
		if won != 1 {
			t.Fatalf("deletedFirst=%v: %d creators won, want 1 (errs %v)", deletedFirst, won, errs)
		}
	}
}

func TestConcurrentUpdateCounter(t *testing.T) {
	s := openTest(t)
	ctx := t.Context()
	const k = "counter"
	if _, err := s.Create(ctx, k, []byte("0")); err != nil {
		t.Fatal(err)
	}
	const workers, incs = 4, 10
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conflicts int
	for range workers {
		wg.Go(func() {
			for range incs {
				for {
					e, err := s.Get(ctx, k)
					if err != nil {
						t.Error(err)
						return
					}
					n, _ := strconv.Atoi(string(e.Value))
					_, err = s.Update(ctx, k, []byte(strconv.Itoa(n+1)), e.Revision)
					if err == nil {
						break
					}
					if !errors.Is(err, ErrConflict) {
						t.Error(err)
						return
					}
					mu.Lock()
					conflicts++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if got := string(mustGet(t, s, k).Value); got != strconv.Itoa(workers*incs) {
		t.Fatalf("counter = %s, want %d (conflicts retried: %d)", got, workers*incs, conflicts)
	}
}

func TestKeyValidation(t *testing.T) {
	s := openTest(t)
	ctx := t.Context()
	bad := []string{"", ".a", "a.", "a..b", "a b", "a*", "a>", "fn/x", "ä", "a\x00", strings.Repeat("a", maxKeyLen+1)}
	for _, k := range bad {
		_, err := s.Get(ctx, k)
		wantErr(t, fmt.Sprintf("Get %q", k), err, ErrInvalidKey)
		_, err = s.Create(ctx, k, nil)
		wantErr(t, fmt.Sprintf("Create %q", k), err, ErrInvalidKey)
		_, err = s.Update(ctx, k, nil, 1)
		wantErr(t, fmt.Sprintf("Update %q", k), err, ErrInvalidKey)
		wantErr(t, fmt.Sprintf("Delete %q", k), s.Delete(ctx, k, 0), ErrInvalidKey)
	}
	for _, p := range []string{".fn", "fn..", "fn.*", "f n"} {
		_, err := s.Keys(ctx, p)
		wantErr(t, fmt.Sprintf("Keys %q", p), err, ErrInvalidKey)
		_, err = s.Watch(ctx, p)
		wantErr(t, fmt.Sprintf("Watch %q", p), err, ErrInvalidKey)
	}
	good := []string{"a", "fn.my-func_1", "ver.f.1", "alias.f.PROD=x", "A.b-c_d=e.9", strings.Repeat("k", maxKeyLen)}
	for _, k := range good {
		if _, err := s.Create(ctx, k, []byte(k)); err != nil {
			t.Fatalf("Create %q: %v", k, err)
		}
		if e := mustGet(t, s, k); string(e.Value) != k {
			t.Fatalf("Get %q = %q", k, e.Value)
		}
	}
}

func TestValueSizes(t *testing.T) {
	s := openTest(t)
	ctx := t.Context()
	big := bytes.Repeat([]byte("0123456789abcdef"), 300<<10/16) // 300 KiB
	rev, err := s.Create(ctx, "fn.big", big)
	if err != nil {
		t.Fatalf("Create 300 KiB: %v", err)
	}
	if e := mustGet(t, s, "fn.big"); !bytes.Equal(e.Value, big) {
		t.Fatalf("300 KiB value came back as %d bytes", len(e.Value))
	}
	if _, err := s.Update(ctx, "fn.big", make([]byte, MaxValueSize), rev); err != nil {
		t.Fatalf("Update with MaxValueSize bytes: %v", err)
	}
	if _, err := s.Create(ctx, "fn.huge", make([]byte, MaxValueSize+1)); err == nil {
		t.Fatal("Create above MaxValueSize succeeded")
	}
	if _, err := s.Create(ctx, "fn.empty", nil); err != nil {
		t.Fatalf("Create empty: %v", err)
	}
	if e := mustGet(t, s, "fn.empty"); len(e.Value) != 0 {
		t.Fatalf("empty value came back as %q", e.Value)
	}
}

func TestKeysPrefix(t *testing.T) {
	s := openTest(t)
	ctx := t.Context()
	keys, err := s.Keys(ctx, "fn.")
	if err != nil {
		t.Fatal(err)
	}
	if keys == nil || len(keys) != 0 {
		t.Fatalf("Keys on empty bucket = %#v, want empty non-nil slice", keys)
	}
	for _, k := range []string{"fn.b", "fn.a", "fn.ab", "fn.a.x", "ver.a.1", "ver.a.2", "ver.ab.1", "fnord", "fn.gone"} {
		if _, err := s.Create(ctx, k, []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete(ctx, "fn.gone", 0); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"fn.", []string{"fn.a", "fn.a.x", "fn.ab", "fn.b"}},
		{"fn", []string{"fn.a", "fn.a.x", "fn.ab", "fn.b", "fnord"}},
		{"fn.a", []string{"fn.a", "fn.a.x", "fn.ab"}},
		{"fn.a.", []string{"fn.a.x"}},
		{"ver.a.", []string{"ver.a.1", "ver.a.2"}},
		{"ver.", []string{"ver.a.1", "ver.a.2", "ver.ab.1"}},
		{"alias.", []string{}},
		{"", []string{"fn.a", "fn.a.x", "fn.ab", "fn.b", "fnord", "ver.a.1", "ver.a.2", "ver.ab.1"}},
	} {
		got, err := s.Keys(ctx, tc.prefix)
		if err != nil {
			t.Fatalf("Keys %q: %v", tc.prefix, err)
		}
		if !slices.Equal(got, tc.want) || got == nil {
			t.Errorf("Keys %q = %#v, want %#v", tc.prefix, got, tc.want)
		}
	}
}

// recv reads one update or fails the test when ch is closed or ctx ends.
func recv(t *testing.T, ch <-chan Update) Update {
	t.Helper()
	select {
	case u, ok := <-ch:
		if !ok {
			t.Fatal("watch channel closed")
		}
		return u
	case <-t.Context().Done():
		t.Fatal("test context ended while waiting for an update")
	}
	panic("unreachable")
}

func TestWatchInitialLiveDelete(t *testing.T) {
	s := openTest(t)
	ctx := t.Context()
	revs := map[string]uint64{}
	for _, k := range []string{"ver.f.1", "ver.f.2", "ver.g.1", "fn.f"} {
		rev, err := s.Create(ctx, k, []byte(k))
		if err != nil {
			t.Fatal(err)
		}
		revs[k] = rev
	}
	if _, err := s.Create(ctx, "ver.f.3", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "ver.f.3", 0); err != nil {
		t.Fatal(err)
	}

	wctx, cancel := context.WithCancel(ctx)
	ch, err := s.Watch(wctx, "ver.f.")
	if err != nil {
		t.Fatal(err)
	}
	// Initial values: the two live keys under the prefix, no delete
	// marker for ver.f.3, nothing from ver.g or fn.
	initial := map[string]Update{}
	for range 2 {
		u := recv(t, ch)
		initial[u.Key] = u
	}
	for _, k := range []string{"ver.f.1", "ver.f.2"} {
		u, ok := initial[k]
		if !ok || u.Deleted || string(u.Value) != k || u.Revision != revs[k] {
			t.Fatalf("initial[%s] = %+v (present %v), want value %q rev %d", k, u, ok, k, revs[k])
		}
	}

	// Live changes, in order; writes outside the prefix are not seen.
	if _, err := s.Create(ctx, "ver.g.2", []byte("other")); err != nil {
		t.Fatal(err)
	}
	rev4, err := s.Create(ctx, "ver.f.4", []byte("four"))
	if err != nil {
		t.Fatal(err)
	}
	rev1b, err := s.Update(ctx, "ver.f.1", []byte("one"), revs["ver.f.1"])
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "ver.f.2", revs["ver.f.2"]); err != nil {
		t.Fatal(err)
	}
	want := []Update{
		{Key: "ver.f.4", Value: []byte("four"), Revision: rev4},
		{Key: "ver.f.1", Value: []byte("one"), Revision: rev1b},
		{Key: "ver.f.2", Deleted: true},
	}
	for i, w := range want {
		u := recv(t, ch)
		if u.Key != w.Key || u.Deleted != w.Deleted || !bytes.Equal(u.Value, w.Value) ||
			(w.Revision != 0 && u.Revision != w.Revision) {
			t.Fatalf("live update %d = %+v, want %+v", i, u, w)
		}
		if w.Deleted && u.Revision <= rev1b {
			t.Fatalf("delete revision %d not after %d", u.Revision, rev1b)
		}
	}

	cancel()
	for u := range ch {
		// Updates buffered before the cancel may still arrive; nothing
		// was written, so none should.
		t.Fatalf("unexpected update after cancel: %+v", u)
	}
}

func TestWatchEmptyThenLive(t *testing.T) {
	s := openTest(t)
	ctx := t.Context()
	ch, err := s.Watch(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	rev, err := s.Create(ctx, "fn.new", []byte("n"))
	if err != nil {
		t.Fatal(err)
	}
	if u := recv(t, ch); u.Key != "fn.new" || u.Revision != rev || string(u.Value) != "n" {
		t.Fatalf("got %+v", u)
	}
}

func TestWatchClosedByStoreClose(t *testing.T) {
	s, err := Open(t.Context(), Options{DataDir: t.TempDir(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := s.Watch(t.Context(), "fn.")
	if err != nil {
		t.Fatal(err)
	}
	// Fill more than the channel buffers while nobody reads, so Close must
	// unblock nats.go's delivery goroutine.
	for i := range 400 {
		if _, err := s.Create(t.Context(), fmt.Sprintf("fn.f%d", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for range ch {
	}
	if _, err := s.Watch(t.Context(), "fn."); err == nil {
		t.Fatal("Watch after Close succeeded")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func codeKey(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func TestCode(t *testing.T) {
	s := openTest(t)
	ctx := t.Context()
	small := []byte("PK\x03\x04 not really a zip")
	big := make([]byte, 3*codeChunkSize+12345) // several chunks
	for i := range big {
		big[i] = byte(i * 7)
	}
	for _, data := range [][]byte{small, big, {}} {
		key := codeKey(data)
		_, err := s.GetCode(ctx, key)
		wantErr(t, "GetCode absent", err, ErrNotFound)
		if err := s.PutCode(ctx, key, data); err != nil {
			t.Fatalf("PutCode %d bytes: %v", len(data), err)
		}
		info, err := s.obj.GetInfo(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.PutCode(ctx, key, data); err != nil {
			t.Fatalf("second PutCode: %v", err)
		}
		again, err := s.obj.GetInfo(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if again.NUID != info.NUID {
			t.Fatalf("second PutCode rewrote the object (NUID %s -> %s)", info.NUID, again.NUID)
		}
		got, err := s.GetCode(ctx, key)
		if err != nil {
			t.Fatalf("GetCode: %v", err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("GetCode returned %d bytes, want %d", len(got), len(data))
		}
	}

	key := codeKey(small)
	if err := s.DeleteCode(ctx, key); err != nil {
		t.Fatalf("DeleteCode: %v", err)
	}
	_, err := s.GetCode(ctx, key)
	wantErr(t, "GetCode deleted", err, ErrNotFound)
	if err := s.DeleteCode(ctx, key); err != nil {
		t.Fatalf("DeleteCode of absent: %v", err)
	}
	if err := s.PutCode(ctx, key, small); err != nil {
		t.Fatalf("PutCode after delete: %v", err)
	}
	if got, err := s.GetCode(ctx, key); err != nil || !bytes.Equal(got, small) {
		t.Fatalf("GetCode after re-put = %q, %v", got, err)
	}

	if err := s.PutCode(ctx, codeKey([]byte("other")), small); err == nil || errors.Is(err, ErrInvalidKey) {
		t.Fatalf("PutCode with a key that is not the content's sha256: err = %v", err)
	}
	for _, bad := range []string{"", "abc", strings.ToUpper(key), key + "0", "../" + key[3:], ArtifactKeyPrefix + "abc", "x/" + key} {
		_, err := s.GetCode(ctx, bad)
		wantErr(t, fmt.Sprintf("GetCode %q", bad), err, ErrInvalidKey)
		wantErr(t, fmt.Sprintf("PutCode %q", bad), s.PutCode(ctx, bad, small), ErrInvalidKey)
		wantErr(t, fmt.Sprintf("DeleteCode %q", bad), s.DeleteCode(ctx, bad), ErrInvalidKey)
	}
}

func TestConcurrentPutCode(t *testing.T) {
	s := openTest(t)
	ctx := t.Context()
	data := bytes.Repeat([]byte("z"), 2*codeChunkSize)
	key := codeKey(data)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if err := s.PutCode(ctx, key, data); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	// One upload, so exactly two chunks and one meta message are stored.
	info, err := s.js.Stream(ctx, "OBJ_"+CodeBucket)
	if err != nil {
		t.Fatal(err)
	}
	st, err := info.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.State.Msgs != 3 {
		t.Fatalf("code stream holds %d messages, want 3 (2 chunks + meta)", st.State.Msgs)
	}
}

func TestRestartKeepsData(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	s, err := Open(ctx, Options{DataDir: dir, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	rev, err := s.Create(ctx, "fn.keep", []byte("kept"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, "fn.drop", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "fn.drop", 0); err != nil {
		t.Fatal(err)
	}
	code := []byte("code package")
	if err := s.PutCode(ctx, codeKey(code), code); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := os.Stat(dir + "/jetstream"); err != nil {
		t.Fatalf("JetStream files not under DataDir/jetstream: %v", err)
	}

	s2 := openDir(t, dir)
	if e := mustGet(t, s2, "fn.keep"); string(e.Value) != "kept" || e.Revision != rev {
		t.Fatalf("after restart Get = %+v, want kept at %d", e, rev)
	}
	_, err = s2.Get(ctx, "fn.drop")
	wantErr(t, "deleted key after restart", err, ErrNotFound)
	_, err = s2.Create(ctx, "fn.keep", nil)
	wantErr(t, "Create existing after restart", err, ErrExists)
	if _, err := s2.Update(ctx, "fn.keep", []byte("v2"), rev); err != nil {
		t.Fatalf("Update with pre-restart revision: %v", err)
	}
	if got, err := s2.GetCode(ctx, codeKey(code)); err != nil || !bytes.Equal(got, code) {
		t.Fatalf("GetCode after restart = %q, %v", got, err)
	}
	if keys, err := s2.Keys(ctx, "fn."); err != nil || !slices.Equal(keys, []string{"fn.keep"}) {
		t.Fatalf("Keys after restart = %v, %v", keys, err)
	}
}

func TestDataDirLocked(t *testing.T) {
	dir := t.TempDir()
	s := openDir(t, dir)
	_, err := Open(t.Context(), Options{DataDir: dir, Logger: testLogger(t)})
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second Open on the same DataDir: err = %v, want in-use error", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	openDir(t, dir) // the lock is released by Close
}

func TestOpenNeedsDataDir(t *testing.T) {
	if _, err := Open(t.Context(), Options{}); err == nil {
		t.Fatal("Open without DataDir or NATSURL succeeded")
	}
}

func TestMaxPayload(t *testing.T) {
	s := openTest(t)
	nc := s.Conn()
	if got := nc.MaxPayload(); got < MaxPayload {
		t.Fatalf("server max_payload = %d, want >= %d", got, MaxPayload)
	}
	// A 6 MB synchronous invoke payload travels as one message.
	payload := bytes.Repeat([]byte{0xab}, 6_000_000)
	sub, err := nc.Subscribe("test.echo", func(m *nats.Msg) { _ = m.Respond(m.Data) })
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	resp, err := nc.RequestWithContext(t.Context(), "test.echo", payload)
	if err != nil {
		t.Fatalf("6 MB request: %v", err)
	}
	if !bytes.Equal(resp.Data, payload) {
		t.Fatalf("echo returned %d bytes", len(resp.Data))
	}
}

func TestExternalNATS(t *testing.T) {
	// The same code paths against a NATS server reached by URL.
	ns, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(),
		NoSigs: true, NoLog: true, MaxPayload: MaxPayload,
	})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("external server not ready")
	}
	s, err := Open(t.Context(), Options{NATSURL: ns.ClientURL(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }() // checked below; this covers early failures
	rev, err := s.Create(t.Context(), "fn.ext", []byte("e"))
	if err != nil {
		t.Fatal(err)
	}
	if e := mustGet(t, s, "fn.ext"); e.Revision != rev {
		t.Fatalf("Get = %+v", e)
	}
	code := []byte("ext code")
	if err := s.PutCode(t.Context(), codeKey(code), code); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// natsGoroutines lists goroutines running nats code.
func natsGoroutines() []string {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if strings.Contains(g, "github.com/nats-io/") {
			out = append(out, g)
		}
	}
	return out
}

// waitNoNatsGoroutines waits until no goroutine runs nats code. nats.go's
// read loop, flusher and callback dispatcher are told to exit by Close but
// cannot be joined, so this waits for the condition (never for a fixed
// time) and fails only if it does not hold within a generous bound.
func waitNoNatsGoroutines(t *testing.T, when string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		g := natsGoroutines()
		if len(g) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d nats goroutines left, e.g.:\n%s", when, len(g), g[0])
		}
		runtime.Gosched()
	}
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	waitNoNatsGoroutines(t, "before Open (leak from an earlier test)")
	s, err := Open(t.Context(), Options{DataDir: t.TempDir(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, err := s.Create(ctx, "fn.a", []byte("a")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Keys(ctx, "fn."); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Watch(ctx, "fn."); err != nil { // left open on purpose
		t.Fatal(err)
	}
	code := []byte("c")
	if err := s.PutCode(ctx, codeKey(code), code); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetCode(ctx, codeKey(code)); err != nil {
		t.Fatal(err)
	}
	if len(natsGoroutines()) == 0 {
		t.Fatal("no nats goroutines while open: the check cannot see them")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	waitNoNatsGoroutines(t, "after Close")
}

func BenchmarkCreate(b *testing.B) {
	s := openTest(b)
	ctx := b.Context()
	val := bytes.Repeat([]byte("v"), 1024)
	i := 0
	for b.Loop() {
		if _, err := s.Create(ctx, "bench.k"+strconv.Itoa(i), val); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkUpdate(b *testing.B) {
	s := openTest(b)
	ctx := b.Context()
	val := bytes.Repeat([]byte("v"), 1024)
	rev, err := s.Create(ctx, "bench.k", val)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if rev, err = s.Update(ctx, "bench.k", val, rev); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGet(b *testing.B) {
	s := openTest(b)
	ctx := b.Context()
	if _, err := s.Create(ctx, "bench.k", bytes.Repeat([]byte("v"), 1024)); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := s.Get(ctx, "bench.k"); err != nil {
			b.Fatal(err)
		}
	}
}

package s3

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

func benchService(b *testing.B) *Service {
	b.Helper()
	s, err := New(Options{Dir: b.TempDir(), Store: storetest.Open(b), Node: "n1", Region: "us-east-1", AccountID: "000000000000"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	if w := httptest.NewRecorder(); true {
		s.ServeHTTP(w, httptest.NewRequest(http.MethodPut, "/bench", nil))
	}
	return s
}

// BenchmarkPut4K: durable 4 KB PUTs from parallel clients, answered
// after the commit: inline (the body in the metadata store, committed with
// the metadata: inline.go) and file (the body's own file written,
// fsynced and renamed first, as before inline bodies);
// BenchmarkFsyncBaseline4K is a file write+fsync+rename alone, the
// baseline the ratio is taken against.
func BenchmarkPut4K(b *testing.B) {
	b.Run("inline", func(b *testing.B) { benchPut4K(b, inlineMax) })
	b.Run("file", func(b *testing.B) { benchPut4K(b, -1) })
}

func benchPut4K(b *testing.B, inline int64) {
	s := benchService(b)
	s.inlineMax = inline
	body := bytes.Repeat([]byte("x"), 4096)
	var n atomic.Int64
	b.SetParallelism(8) // 16 clients on 2 CPUs
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			r := httptest.NewRequest(http.MethodPut, fmt.Sprintf("/bench/k%d", i), bytes.NewReader(body))
			w := httptest.NewRecorder()
			s.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				b.Errorf("put: %d %s", w.Code, w.Body)
				return
			}
		}
	})
}

func BenchmarkFsyncBaseline4K(b *testing.B) {
	dir := b.TempDir()
	body := bytes.Repeat([]byte("x"), 4096)
	var n atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p := filepath.Join(dir, fmt.Sprint(n.Add(1)))
			f, err := os.Create(p + ".tmp")
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = f.Write(body)
			_ = f.Sync()
			_ = f.Close()
			_ = os.Rename(p+".tmp", p)
		}
	})
}

// BenchmarkGet4K: GETs of 4 KB objects from parallel clients, inline
// bodies and files.
func BenchmarkGet4K(b *testing.B) {
	b.Run("inline", func(b *testing.B) { benchGet4K(b, inlineMax) })
	b.Run("file", func(b *testing.B) { benchGet4K(b, -1) })
}

func benchGet4K(b *testing.B, inline int64) {
	s := benchService(b)
	s.inlineMax = inline
	body := bytes.Repeat([]byte("x"), 4096)
	for i := range 100 {
		s.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPut, fmt.Sprintf("/bench/k%d", i), bytes.NewReader(body)))
	}
	var n atomic.Int64
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w := httptest.NewRecorder()
			s.ServeHTTP(w, httptest.NewRequest(http.MethodGet, fmt.Sprintf("/bench/k%d", n.Add(1)%100), nil))
			if w.Code != http.StatusOK || w.Body.Len() != 4096 {
				b.Errorf("get: %d", w.Code)
				return
			}
		}
	})
}

// BenchmarkList1000: one ListObjectsV2 page of 1,000 keys from the middle
// of a bucket of 200,000 keys (metadata only: the listing's cost).
func BenchmarkList1000(b *testing.B) {
	m, err := openMeta(filepath.Join(b.TempDir(), "meta.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = m.Close() }()
	const keys = 200_000
	for start := 0; start < keys; start += 10_000 {
		err := m.db.Update(func(tx *bolt.Tx) error {
			for i := start; i < start+10_000; i++ {
				if err := putObject(tx, "b", fmt.Sprintf("logs/2026/%07d.json", i), &objectMeta{File: "x", Size: 1, ETag: "e"}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for b.Loop() {
		page, err := m.list("b", listParams{prefix: "logs/", after: "logs/2026/0100000.json", maxKeys: 1000})
		if err != nil || len(page.objects) != 1000 {
			b.Fatalf("%v %d", err, len(page.objects))
		}
	}
}

// BenchmarkRelay: what the relay costs, in one run: a 4 KB GET served
// by the holder itself and through another node (relayed over the
// backbone), and a 1 MiB CopyObject within one holder and across two
// (the source streamed from its holder). Compare the pairs' ns/op.
func BenchmarkRelay(b *testing.B) {
	ns, _ := nodes(b, "n1", "n2")
	n1, n2 := ns[0], ns[1]
	for _, c := range []struct {
		s      *Service
		bucket string
	}{{n1, "/held"}, {n1, "/local-dst"}, {n2, "/remote-dst"}} {
		c.s.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPut, c.bucket, nil))
	}
	small, big := bytes.Repeat([]byte("x"), 4096), bytes.Repeat([]byte("y"), 1<<20)
	n1.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPut, "/held/small", bytes.NewReader(small)))
	n1.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPut, "/held/big", bytes.NewReader(big)))
	get := func(via *Service) func(b *testing.B) {
		return func(b *testing.B) {
			for b.Loop() {
				w := httptest.NewRecorder()
				via.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/held/small", nil))
				if w.Code != http.StatusOK || w.Body.Len() != len(small) {
					b.Fatalf("get: %d", w.Code)
				}
			}
		}
	}
	copyTo := func(dst string) func(b *testing.B) {
		return func(b *testing.B) {
			b.SetBytes(int64(len(big)))
			for b.Loop() {
				w := httptest.NewRecorder()
				r := httptest.NewRequest(http.MethodPut, dst+"/copy", nil)
				r.Header.Set("x-amz-copy-source", "held/big")
				n1.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("copy: %d %s", w.Code, w.Body)
				}
			}
		}
	}
	b.Run("Get4K/holder", get(n1))
	b.Run("Get4K/relayed", get(n2))
	b.Run("Copy1M/one-holder", copyTo("/local-dst"))
	b.Run("Copy1M/across-holders", copyTo("/remote-dst"))
}

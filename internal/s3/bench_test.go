package s3

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

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

// BenchmarkList1000: one ListObjectsV2 page of 1,000 keys from a bucket
// of 1,000,000 keys (the figure, p50 ≤ 10 ms). The keys are put
// into the metadata store directly (filling a million through the API
// takes longer than a benchmark should); the pages are then asked of the
// real handler (query parsing, the bbolt seek and scan, S3's XML answer:
// "handler") and of the store alone ("meta"), from start points spread
// over the bucket. p50-ms and p99-ms are per page.
func BenchmarkList1000(b *testing.B) {
	s := benchService(b)
	const keys = 1_000_000
	for start := 0; start < keys; start += 50_000 {
		err := s.meta.db.Update(func(tx *bolt.Tx) error {
			for i := start; i < start+50_000; i++ {
				if err := putObject(tx, "bench", fmt.Sprintf("logs/2026/%07d.json", i),
					&objectMeta{File: "x", Size: 1, ETag: "e", Modified: time.Unix(1_700_000_000, 0)}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	after := func(i int) string { return fmt.Sprintf("logs/2026/%07d.json", i*7919%(keys-1000)) }
	pages := func(b *testing.B, page func(after string)) {
		var lat []time.Duration
		i := 0
		for b.Loop() {
			t0 := time.Now()
			page(after(i))
			lat = append(lat, time.Since(t0))
			i++
		}
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	}
	b.Run("handler", func(b *testing.B) {
		pages(b, func(after string) {
			w := httptest.NewRecorder()
			s.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/bench?list-type=2&prefix=logs%2F&max-keys=1000&start-after="+url.QueryEscape(after), nil))
			if w.Code != http.StatusOK || bytes.Count(w.Body.Bytes(), []byte("<Key>")) != 1000 {
				b.Fatalf("list: %d %d keys", w.Code, bytes.Count(w.Body.Bytes(), []byte("<Key>")))
			}
		})
	})
	b.Run("meta", func(b *testing.B) {
		pages(b, func(after string) {
			page, err := s.meta.list("bench", listParams{prefix: "logs/", after: after, maxKeys: 1000})
			if err != nil || len(page.objects) != 1000 {
				b.Fatalf("%v %d", err, len(page.objects))
			}
		})
	})
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

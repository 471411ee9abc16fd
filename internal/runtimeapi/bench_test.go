package runtimeapi

import (
	"bytes"
	"context"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// loopRuntime is a minimal in-process runtime: next, then post the event
// back as the response, over keep-alive loopback HTTP. It stops when the
// server goes away.
func loopRuntime(b *testing.B, s *Server) {
	tr := &http.Transport{}
	c := &http.Client{Transport: tr}
	base := "http://" + s.Addr() + pathPrefix + "invocation/"
	done := make(chan struct{})
	go func() {
		defer close(done)
		ctx := context.Background()
		for {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"next", nil)
			resp, err := c.Do(req)
			if err != nil {
				return
			}
			body, err := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				return
			}
			req, _ = http.NewRequestWithContext(ctx, http.MethodPost, base+resp.Header.Get(hdrRequestID)+"/response", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			resp, err = c.Do(req)
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
	}()
	b.Cleanup(func() {
		_ = s.Close()
		<-done
		tr.CloseIdleConnections()
	})
}

// BenchmarkInvokeRoundTrip measures one Invoke: event to the runtime's
// parked /next, its /response back, over loopback HTTP.
func BenchmarkInvokeRoundTrip(b *testing.B) {
	for _, size := range []int{64, 64 << 10, 1 << 20} {
		b.Run("loop/payload="+strconv.Itoa(size), func(b *testing.B) {
			s := newTestServer(b, Options{})
			loopRuntime(b, s)
			benchInvokes(b, s, size)
		})
	}
	b.Run("aws-lambda-go/payload=64", func(b *testing.B) {
		s := newTestServer(b, Options{})
		startRuntime(b, s, "echo")
		if er, err := s.WaitInit(context.Background()); er != nil || err != nil {
			b.Fatalf("WaitInit = %v, %v", er, err)
		}
		benchInvokes(b, s, 64)
	})
}

// BenchmarkInvokeParked measures Invoke when the runtime is already parked
// in GET /next, as it is between invokes of a function that is not
// saturated (the closed loop of BenchmarkInvokeRoundTrip often queues the
// next event before the runtime asks for it). It reports p50 and p99 of
// Invoke alone; ns/op includes the wait for the runtime to park.
func BenchmarkInvokeParked(b *testing.B) {
	s := New(testLogger(), Options{})
	parked := make(chan struct{}, 1)
	s.hookNextParked = func() {
		select {
		case parked <- struct{}{}:
		default:
		}
	}
	l, err := new(net.ListenConfig).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s.Start(l)
	b.Cleanup(func() { _ = s.Close() })
	startRuntime(b, s, "echo")
	if er, err := s.WaitInit(context.Background()); er != nil || err != nil {
		b.Fatalf("WaitInit = %v, %v", er, err)
	}
	ctx := context.Background()
	inv := newInvocation(`{"p":"x"}`)
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		inv.RequestID = fmt.Sprintf("bench-%d", i)
		<-parked
		start := time.Now()
		resp, err := s.Invoke(ctx, inv)
		lat = append(lat, time.Since(start))
		if err != nil || resp.Error != nil {
			b.Fatalf("Invoke = %+v, %v", resp, err)
		}
	}
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
		b.ReportMetric(float64(lat[(len(lat)-1)*99/100].Nanoseconds()), "p99-ns")
	}
}

func benchInvokes(b *testing.B, s *Server, size int) {
	payload := []byte(`{"p":"` + strings.Repeat("x", max(size-8, 0)) + `"}`)
	ctx := context.Background()
	inv := newInvocation("")
	inv.Payload = payload
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		inv.RequestID = fmt.Sprintf("bench-%d", i)
		resp, err := s.Invoke(ctx, inv)
		if err != nil || resp.Error != nil {
			b.Fatalf("Invoke = %+v, %v", resp, err)
		}
	}
}

// TestImportBoundary keeps the package on the standard library (the
// contract allows awsapi too), so pool and sandbox stay its only users.
func TestImportBoundary(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly|parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		if name == "runtimeapi.go" && (f.Doc == nil || !strings.Contains(f.Doc.Text(), "Initializing")) {
			t.Errorf("%s: package doc with the state diagram is missing", name)
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if strings.Contains(strings.Split(p, "/")[0], ".") && p != "github.com/nimbus-serverless/nimbus/internal/awsapi" {
				t.Errorf("%s imports %s; runtimeapi may import only the standard library and awsapi", name, p)
			}
		}
	}
}

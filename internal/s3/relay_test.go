package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// twoNodes opens two services on one backbone, as two nodes of a cluster
// see it: n1 and n2, each with its own disk, both running.
func twoNodes(t *testing.T) (n1, n2 *Service, stopN1 func()) {
	t.Helper()
	st := storetest.Open(t)
	open := func(node string) (*Service, func()) {
		s, err := New(Options{Dir: t.TempDir(), Store: st, Node: node, Region: "us-east-1", AccountID: "000000000000"})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { defer close(done); _ = s.Run(ctx) }()
		stopped := false
		stop := func() {
			if !stopped {
				stopped = true
				cancel()
				<-done
			}
		}
		t.Cleanup(func() { stop(); _ = s.Close() })
		return s, stop
	}
	n1, stopN1 = open("n1")
	n2, _ = open("n2")
	return n1, n2, stopN1
}

// TestRelayServesAnotherNodesBucket: a bucket n1 holds is served through
// n2 — a body of several relay chunks up and down, ranges, listings,
// HEAD, deletes, a failed checksum storing nothing, ReadObject — and a
// copy from it into n2's bucket is refused by name; once n1 stops, n2
// answers 503 naming it.
func TestRelayServesAnotherNodesBucket(t *testing.T) {
	n1, n2, stopN1 := twoNodes(t)
	if w := call(t, n1, "PUT", "/held", "", nil); w.Code != 200 {
		t.Fatalf("create bucket on n1: %d %s", w.Code, w.Body)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), (3*relayChunk+1234)/16)
	r := httptest.NewRequest("PUT", "http://127.0.0.1:4566/held/dir/big", bytes.NewReader(big))
	w := httptest.NewRecorder()
	n2.ServeHTTP(w, r)
	if w.Code != 200 || w.Header().Get("ETag") == "" {
		t.Fatalf("put through n2: %d %s", w.Code, w.Body)
	}
	if w := call(t, n1, "GET", "/held/dir/big", "", nil); !bytes.Equal(w.Body.Bytes(), big) {
		t.Fatalf("n1 reads %d bytes, want the %d put through n2", w.Body.Len(), len(big))
	}
	w = call(t, n2, "GET", "/held/dir/big", "", nil)
	if w.Code != 200 || !bytes.Equal(w.Body.Bytes(), big) || w.Header().Get("Content-Length") == "" {
		t.Fatalf("get through n2: %d, %d bytes", w.Code, w.Body.Len())
	}
	w = call(t, n2, "GET", "/held/dir/big", "", map[string]string{"Range": "bytes=10-19"})
	if w.Code != http.StatusPartialContent || w.Body.String() != string(big[10:20]) {
		t.Fatalf("range through n2: %d %q", w.Code, w.Body)
	}
	if w := call(t, n2, "HEAD", "/held/dir/big", "", nil); w.Code != 200 || w.Body.Len() != 0 {
		t.Fatalf("head through n2: %d", w.Code)
	}
	if w := call(t, n2, "GET", "/held?list-type=2&delimiter=/", "", nil); w.Code != 200 || !strings.Contains(w.Body.String(), "<Prefix>dir/</Prefix>") {
		t.Fatalf("list through n2: %d %s", w.Code, w.Body)
	}
	sum := md5.Sum([]byte("other"))
	if w := call(t, n2, "PUT", "/held/bad", "body", map[string]string{"Content-MD5": base64.StdEncoding.EncodeToString(sum[:])}); w.Code != 400 ||
		!strings.Contains(w.Body.String(), "BadDigest") {
		t.Fatalf("wrong Content-MD5 through n2: %d %s", w.Code, w.Body)
	}
	if w := call(t, n1, "HEAD", "/held/bad", "", nil); w.Code != 404 {
		t.Fatalf("a body that failed its check was stored: %d", w.Code)
	}
	if w := call(t, n2, "GET", "/held/missing", "", nil); w.Code != 404 || !strings.Contains(w.Body.String(), "NoSuchKey") {
		t.Fatalf("missing key through n2: %d %s", w.Code, w.Body)
	}
	got, err := n2.ReadObject(t.Context(), "held", "dir/big", "", int64(len(big)))
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("ReadObject on n2: %d bytes, %v", len(got), err)
	}
	if _, err := n2.ReadObject(t.Context(), "held", "dir/big", "", 10); !isCode(err, "EntityTooLarge") {
		t.Fatalf("ReadObject over the limit: %v", err)
	}
	if _, err := n2.ReadObject(t.Context(), "held", "nope", "", 10); !isCode(err, "NoSuchKey") {
		t.Fatalf("ReadObject of a missing key: %v", err)
	}
	if w := call(t, n2, "PUT", "/mine", "", nil); w.Code != 200 {
		t.Fatalf("create bucket on n2: %d %s", w.Code, w.Body)
	}
	if w := call(t, n2, "PUT", "/mine/copy", "", map[string]string{"x-amz-copy-source": "held/dir/big"}); w.Code != 501 ||
		!strings.Contains(w.Body.String(), "node n1 holds") {
		t.Fatalf("copy across holders: %d %s", w.Code, w.Body)
	}
	if w := call(t, n2, "DELETE", "/held/dir/big", "", nil); w.Code != 204 {
		t.Fatalf("delete through n2: %d %s", w.Code, w.Body)
	}
	if w := call(t, n1, "HEAD", "/held/dir/big", "", nil); w.Code != 404 {
		t.Fatalf("n1 still has the object n2 deleted: %d", w.Code)
	}
	stopN1()
	if w := call(t, n2, "GET", "/held/dir/big", "", nil); w.Code != 503 || !strings.Contains(w.Body.String(), "node n1") {
		t.Fatalf("n1 stopped: %d %s", w.Code, w.Body)
	}
}

func isCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// twoNodes opens two services on one backbone, as two nodes of a cluster
// see it: n1 and n2, each with its own disk, both running.
func twoNodes(t *testing.T) (n1, n2 *Service, stopN1 func()) {
	t.Helper()
	ns, stops := nodes(t, "n1", "n2")
	return ns[0], ns[1], stops[0]
}

// nodes opens a service per name on one backbone, each running.
func nodes(t testing.TB, names ...string) (ns []*Service, stops []func()) {
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
	for _, name := range names {
		s, stop := open(name)
		ns, stops = append(ns, s), append(stops, stop)
	}
	return ns, stops
}

// TestRelayServesAnotherNodesBucket: a bucket n1 holds is served through
// n2 — a body of several relay chunks up and down, ranges, listings,
// HEAD, deletes, a failed checksum storing nothing, ReadObject; once n1
// stops, n2 answers 503 naming it.
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

// TestCopyAcrossHolders: a copy whose source one node holds and whose
// destination another holds, asked of a third, streams the source from
// its holder to the destination's (CopyObject with its metadata, and
// UploadPartCopy of a range); the source's conditions and a missing
// source answer as on one node, and a failed copy stores nothing.
func TestCopyAcrossHolders(t *testing.T) {
	ns, stops := nodes(t, "n1", "n2", "n3")
	n1, n2, n3 := ns[0], ns[1], ns[2]
	for _, c := range []struct {
		n      *Service
		bucket string
	}{{n1, "/src"}, {n2, "/dst"}} {
		if w := call(t, c.n, "PUT", c.bucket, "", nil); w.Code != 200 {
			t.Fatalf("create %s: %d %s", c.bucket, w.Code, w.Body)
		}
	}
	big := bytes.Repeat([]byte("copied across three nodes "), (3*relayChunk+999)/26)
	r := httptest.NewRequest("PUT", "http://127.0.0.1:4566/src/a%20b", bytes.NewReader(big))
	r.Header.Set("Content-Type", "text/plain")
	r.Header.Set("x-amz-meta-colour", "blue")
	r.Header.Set("x-amz-tagging", "team=red")
	w := httptest.NewRecorder()
	n1.ServeHTTP(w, r)
	if w.Code != 200 {
		t.Fatalf("put source: %d %s", w.Code, w.Body)
	}
	etag := w.Header().Get("ETag")

	w = call(t, n3, "PUT", "/dst/copy", "", map[string]string{"x-amz-copy-source": "/src/a%20b", "x-amz-copy-source-if-match": etag})
	if w.Code != 200 || !strings.Contains(w.Body.String(), "<CopyObjectResult") || !strings.Contains(w.Body.String(), strings.Trim(etag, `"`)) {
		t.Fatalf("copy n1 → n2 through n3: %d %s", w.Code, w.Body)
	}
	got := call(t, n2, "GET", "/dst/copy", "", nil)
	if !bytes.Equal(got.Body.Bytes(), big) || got.Header().Get("Content-Type") != "text/plain" ||
		!strings.Contains(fmt.Sprint(got.Header()), "x-amz-meta-colour:[blue]") || got.Header().Get("x-amz-tagging-count") != "1" {
		t.Fatalf("the copy on n2: %d bytes, headers %v", got.Body.Len(), got.Header())
	}

	for _, c := range []struct {
		hdr  map[string]string
		code int
		want string
	}{
		{map[string]string{"x-amz-copy-source": "src/a%20b", "x-amz-copy-source-if-none-match": etag}, 412, "PreconditionFailed"},
		{map[string]string{"x-amz-copy-source": "src/nope"}, 404, "NoSuchKey"},
		{map[string]string{"x-amz-copy-source": "nobucket/k"}, 404, "NoSuchBucket"},
	} {
		if w := call(t, n3, "PUT", "/dst/failed", "", c.hdr); w.Code != c.code || !strings.Contains(w.Body.String(), c.want) {
			t.Errorf("copy %v: %d %s, want %d %s", c.hdr, w.Code, w.Body, c.code, c.want)
		}
	}
	if w := call(t, n2, "HEAD", "/dst/failed", "", nil); w.Code != 404 {
		t.Errorf("a failed copy stored an object: %d", w.Code)
	}

	w = call(t, n3, "POST", "/dst/parts?uploads", "", nil)
	id := between(w.Body.String(), "<UploadId>", "</UploadId>")
	if w.Code != 200 || id == "" {
		t.Fatalf("create upload through n3: %d %s", w.Code, w.Body)
	}
	w = call(t, n3, "PUT", "/dst/parts?partNumber=1&uploadId="+id, "", map[string]string{"x-amz-copy-source": "src/a%20b",
		"x-amz-copy-source-range": "bytes=100-" + strconv.Itoa(relayChunk+199)})
	petag := strings.ReplaceAll(between(w.Body.String(), "<ETag>", "</ETag>"), "&#34;", "")
	if w.Code != 200 || !strings.Contains(w.Body.String(), "<CopyPartResult") {
		t.Fatalf("upload part copy through n3: %d %s", w.Code, w.Body)
	}
	w = call(t, n3, "POST", "/dst/parts?uploadId="+id, "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"+petag+
		"</ETag></Part></CompleteMultipartUpload>", nil)
	if w.Code != 200 {
		t.Fatalf("complete through n3: %d %s", w.Code, w.Body)
	}
	if got := call(t, n2, "GET", "/dst/parts", "", nil); !bytes.Equal(got.Body.Bytes(), big[100:relayChunk+200]) {
		t.Fatalf("the part copy holds %d bytes, want %d", got.Body.Len(), relayChunk+100)
	}

	stops[0]()
	if w := call(t, n3, "PUT", "/dst/late", "", map[string]string{"x-amz-copy-source": "src/a%20b"}); w.Code != 503 ||
		!strings.Contains(w.Body.String(), "node n1") {
		t.Fatalf("copy from a stopped holder: %d %s", w.Code, w.Body)
	}
}

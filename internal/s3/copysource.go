package s3

import (
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// A copy's source (CopyObject, UploadPartCopy) may live on another node
// than its destination. The destination's holder then asks the source's
// holder, over the relay, for the source: the source's holder finds the
// object, checks the x-amz-copy-source-if-* conditions and the part
// copy's range, decrypts the body (judging kms:Decrypt for the caller,
// who travels with the request) and streams it back with the object's
// metadata; the destination's holder stores it under its own data key.
//
//	client ─► node X ─(relay: the copy)─► destination holder D
//	                                         ─(relay: source read)─► source holder S
//	                                         ◄─(metadata, body chunks)───┘
//
// Permission was judged by the node the client reached, as on AWS:
// s3:PutObject on the destination and s3:GetObject (GetObjectVersion)
// on the source (daemon s3Operation).

// hdrSourceMeta carries a copy source's metadata (base64 JSON) in the
// source holder's answer.
const hdrSourceMeta = "Nimbus-S3-Source-Meta"

// Relay kinds of source reads (relayOpen.Source).
const (
	sourceObject = "object" // CopyObject: the whole body
	sourcePart   = "part"   // UploadPartCopy: x-amz-copy-source-range
)

// CopySource parses an x-amz-copy-source header value: the bucket, key
// and version id ("" when none is named) a copy reads, for IAM.
func CopySource(v string) (bucket, key, versionID string, ok bool) {
	t, vid, err := copySource(v)
	return t.bucket, t.key, vid, err == nil
}

// copySource parses x-amz-copy-source: [/]bucket/key[?versionId=...],
// URL-encoded; the version id is "" when none is named.
func copySource(v string) (target, string, error) {
	src, ver, _ := strings.Cut(v, "?")
	dec, err := url.PathUnescape(strings.TrimPrefix(src, "/"))
	if err != nil {
		return target{}, "", invalidArgument("Copy Source must mention the source bucket and key: sourcebucket/sourcekey").with("ArgumentName", "x-amz-copy-source")
	}
	b, k, ok := strings.Cut(dec, "/")
	if !ok || b == "" || k == "" {
		return target{}, "", invalidArgument("Copy Source must mention the source bucket and key: sourcebucket/sourcekey").with("ArgumentName", "x-amz-copy-source")
	}
	vid := ""
	if ver != "" {
		var found bool
		if vid, found = strings.CutPrefix(ver, "versionId="); !found || !validVersionID(vid) {
			return target{}, "", invalidVersionID()
		}
	}
	return target{bucket: b, key: k}, vid, checkKey(k)
}

// copyCondition evaluates x-amz-copy-source-if-* against the source.
func copyCondition(h http.Header, om *objectMeta) error {
	c := http.Header{}
	for _, n := range []string{"Match", "None-Match", "Modified-Since", "Unmodified-Since"} {
		if v := h.Get("x-amz-copy-source-if-" + n); v != "" {
			c.Set("If-"+n, v)
		}
	}
	if status, _ := readCondition(c, om); status != 0 {
		return preconditionFailed("x-amz-copy-source-If")
	}
	return nil
}

// copyFrom is an open copy source: its object's metadata (File and SSE
// are the source holder's, not to be reused) and its decrypted body —
// the whole object, or a part copy's range.
type copyFrom struct {
	t      target
	om     *objectMeta
	body   io.ReadCloser
	length int64 // of body
}

// openSource opens the copy source r names (kind: sourceObject or
// sourcePart), on this node or through its holder.
func (s *Service) openSource(r *http.Request, kind string) (*copyFrom, error) {
	src, vid, err := copySource(r.Header.Get("x-amz-copy-source"))
	if err != nil {
		return nil, err
	}
	b, err := s.bucket(r.Context(), src.bucket)
	if err != nil {
		return nil, err
	}
	if b.Node != s.opts.Node {
		if s.st == nil || s.st.Conn() == nil || r.RemoteAddr == sourceRemote {
			// A source read relayed here for a bucket this node does not
			// hold (its record changed on the way): relaying on could loop.
			return nil, holderDown(src.bucket, b.Node)
		}
		return s.remoteSource(r, b.Node, src, kind)
	}
	om, err := s.localSource(src, vid)
	if err != nil {
		return nil, err
	}
	if err := copyCondition(r.Header, om); err != nil {
		return nil, err
	}
	start, length := int64(0), om.Size
	if kind == sourcePart {
		if rg := r.Header.Get("x-amz-copy-source-range"); rg != "" {
			st, l, ok, err := parseRange(rg, om.Size)
			if err != nil || !ok || strings.HasPrefix(strings.TrimPrefix(rg, "bytes="), "-") {
				return nil, invalidArgument("The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy").
					with("ArgumentName", "x-amz-copy-source-range")
			}
			start, length = st, l
		}
	}
	if length > MaxObjectSize {
		return nil, invalidRequest("The specified copy source is larger than the maximum allowable size for a copy source: 5368709120")
	}
	f, err := s.bodyReader(r.Context(), src.bucket, src.key, om)
	if err != nil {
		return nil, err
	}
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("seek copy source: %w", err)
	}
	return &copyFrom{t: src, om: om, body: readCloser{io.LimitReader(f, length), f}, length: length}, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// localSource finds a copy's source object on this node.
func (s *Service) localSource(src target, vid string) (*objectMeta, error) {
	var om *objectMeta
	var err error
	if vid != "" {
		om, _, err = s.meta.version(src.bucket, src.key, vid)
		if err == nil && om == nil {
			return nil, noSuchVersion(src.key, vid)
		}
		if err == nil && om.DeleteMarker {
			return nil, invalidRequest("The source of a copy request may not specifically refer to a delete marker by version id.")
		}
	} else {
		om, err = s.meta.object(src.bucket, src.key)
		if err == nil && om == nil {
			return nil, noSuchKey(src.key)
		}
	}
	return om, err
}

// sourceRemote is the RemoteAddr of a source read relayed to this node.
const sourceRemote = "relay-source"

// remoteSource reads a copy source from node, its bucket's holder.
func (s *Service) remoteSource(r *http.Request, node string, src target, kind string) (*copyFrom, error) {
	h := http.Header{}
	for name, v := range r.Header {
		if strings.HasPrefix(strings.ToLower(name), "x-amz-copy-source") {
			h[name] = v
		}
	}
	u := &url.URL{Path: "/" + src.bucket + "/" + src.key}
	req := (&http.Request{Method: http.MethodGet, URL: u, Header: h, Body: http.NoBody}).WithContext(r.Context())
	resp, wait, err := s.roundTrip(r.Context(), node, src.bucket, req, kind)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer wait()
		defer func() { _ = resp.Body.Close() }()
		return nil, remoteError(resp, node)
	}
	om := &objectMeta{}
	raw, err := base64.StdEncoding.DecodeString(resp.Header.Get(hdrSourceMeta))
	if err == nil {
		err = json.Unmarshal(raw, om)
	}
	if err != nil {
		_ = resp.Body.Close()
		wait()
		return nil, fmt.Errorf("copy source from node %s: metadata: %w", node, err)
	}
	n, err := strconv.ParseInt(resp.Header.Get("Content-Length"), 10, 64)
	if err != nil || n < 0 {
		_ = resp.Body.Close()
		wait()
		return nil, fmt.Errorf("copy source from node %s: no length", node)
	}
	body := &exactReader{r: resp.Body, left: n}
	return &copyFrom{t: src, om: om, body: closeFunc{body, func() error { err := resp.Body.Close(); wait(); return err }}, length: n}, nil
}

// exactReader fails unless exactly left bytes arrive: a source holder
// that breaks off mid-body ends the relayed answer early, and a short
// copy must not be stored.
type exactReader struct {
	r    io.Reader
	left int64
}

var errShortSource = errors.New("the copy source's holder sent a body of another length")

func (e *exactReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	e.left -= int64(n)
	switch {
	case e.left < 0:
		return n, errShortSource
	case errors.Is(err, io.EOF) && e.left != 0:
		return n, errShortSource
	}
	return n, err
}

type closeFunc struct {
	io.Reader
	close func() error
}

func (c closeFunc) Close() error { return c.close() }

// serveSource answers a source read relayed by a copy's destination
// holder: the source's metadata in a header, then its body.
func (s *Service) serveSource(w http.ResponseWriter, r *http.Request, kind string) {
	from, err := s.openSource(r, kind)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	defer func() { _ = from.body.Close() }()
	m := *from.om
	m.File, m.SSE = "", nil
	raw, err := json.Marshal(&m)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set(hdrSourceMeta, base64.StdEncoding.EncodeToString(raw))
	w.Header().Set("Content-Length", strconv.FormatInt(from.length, 10))
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, from.body); err != nil {
		s.log.Warn("serve copy source", "bucket", from.t.bucket, "err", err)
	}
}

// remoteError is the S3 error in another node's answer.
func remoteError(resp *http.Response, node string) error {
	var e struct{ Code, Message string }
	if err := xml.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&e); err != nil || e.Code == "" {
		return fmt.Errorf("node %s answers status %d", node, resp.StatusCode)
	}
	return errorf(resp.StatusCode, e.Code, "%s", e.Message)
}

package s3

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
)

// maxKeyBytes is S3's key length limit.
const maxKeyBytes = 1024

// maxUserMeta is S3's limit on user metadata (names and values, UTF-8).
const maxUserMeta = 2 << 10

func checkKey(k string) error {
	if len(k) > maxKeyBytes {
		return errorf(http.StatusBadRequest, "KeyTooLongError", "Your key is too long")
	}
	if !utf8.ValidString(k) {
		return invalidArgument("Object key must be valid UTF-8.")
	}
	return nil
}

func (s *Service) objectOp(w http.ResponseWriter, r *http.Request, t target, q url.Values) error {
	if err := checkKey(t.key); err != nil {
		return err
	}
	if err := methodAllowed(r, q, objectSubresources); err != nil {
		return err
	}
	if q.Has("versionId") {
		return s.versionOp(w, r, t, q)
	}
	switch r.Method {
	case http.MethodPut:
		switch {
		case q.Has("uploadId") || q.Has("partNumber"):
			return s.uploadPart(w, r, t, q)
		case q.Has("tagging"):
			return s.putObjectTagging(w, r, t, "")
		case q.Has("acl"):
			return s.putObjectACL(w, r, t, "")
		}
		if err := unsupported(q); err != nil {
			return err
		}
		if r.Header.Get("x-amz-copy-source") != "" {
			return s.copyObject(w, r, t)
		}
		return s.putObject(w, r, t)
	case http.MethodGet, http.MethodHead:
		switch {
		case q.Has("uploadId") && r.Method == http.MethodGet:
			return s.listParts(w, r, t, q)
		case q.Has("tagging") && r.Method == http.MethodGet:
			return s.getObjectTagging(w, r, t, "")
		case q.Has("attributes") && r.Method == http.MethodGet:
			return s.getObjectAttributes(w, r, t, "")
		case q.Has("acl") && r.Method == http.MethodGet:
			return s.getObjectACL(w, r, t, "")
		}
		if err := unsupported(q); err != nil {
			return err
		}
		return s.getObject(w, r, t, q)
	case http.MethodDelete:
		switch {
		case q.Has("uploadId"):
			return s.abortUpload(w, r, t, q)
		case q.Has("tagging"):
			return s.deleteObjectTagging(w, r, t, "")
		}
		if err := unsupported(q); err != nil {
			return err
		}
		return s.deleteObject(w, r, t)
	case http.MethodPost:
		switch {
		case q.Has("uploads"):
			return s.createUpload(w, r, t)
		case q.Has("uploadId"):
			return s.completeUpload(w, r, t, q)
		}
		if err := unsupported(q); err != nil {
			return err
		}
	}
	return methodNotAllowed(r.Method, "OBJECT")
}

// objectHeaders reads the content headers, user metadata and tags a
// request gives a new object.
func objectHeaders(h http.Header) (*objectMeta, error) {
	om := &objectMeta{
		ContentType:        h.Get("Content-Type"),
		ContentEncoding:    h.Get("Content-Encoding"),
		ContentDisposition: h.Get("Content-Disposition"),
		ContentLanguage:    h.Get("Content-Language"),
		CacheControl:       h.Get("Cache-Control"),
		Expires:            h.Get("Expires"),
	}
	// aws-chunked is the transfer's encoding, not the object's.
	if ce := om.ContentEncoding; ce != "" {
		var keep []string
		for p := range strings.SplitSeq(ce, ",") {
			if p = strings.TrimSpace(p); p != "" && !strings.EqualFold(p, "aws-chunked") {
				keep = append(keep, p)
			}
		}
		om.ContentEncoding = strings.Join(keep, ",")
	}
	size := 0
	for name, vals := range h {
		n, ok := strings.CutPrefix(strings.ToLower(name), "x-amz-meta-")
		if !ok || len(vals) == 0 {
			continue
		}
		if om.UserMeta == nil {
			om.UserMeta = map[string]string{}
		}
		om.UserMeta[n] = strings.Join(vals, ",")
		size += len(n) + len(om.UserMeta[n])
	}
	if size > maxUserMeta {
		return nil, errorf(http.StatusBadRequest, "MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size.")
	}
	if tg := h.Get("x-amz-tagging"); tg != "" {
		vals, err := url.ParseQuery(tg)
		if err != nil {
			return nil, invalidArgument("The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.")
		}
		var tags []Tag
		for k, vs := range vals {
			if len(vs) != 1 {
				return nil, invalidArgument("The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.")
			}
			tags = append(tags, Tag{Key: k, Value: vs[0]})
		}
		if err := checkTags(tags, 10); err != nil {
			return nil, err
		}
		om.Tags = tagMap(tags)
	}
	return om, nil
}

func tagMap(tags []Tag) map[string]string {
	if len(tags) == 0 {
		return nil
	}
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[t.Key] = t.Value
	}
	return m
}

// writeCondition is a conditional write's precondition (If-None-Match: *
// or If-Match: <etag>), checked before the body is read and again at
// commit.
type writeCondition struct{ ifNoneMatch, ifMatch string }

func writeConditionOf(h http.Header) (writeCondition, error) {
	c := writeCondition{ifNoneMatch: h.Get("If-None-Match"), ifMatch: h.Get("If-Match")}
	if c.ifNoneMatch != "" && c.ifNoneMatch != "*" {
		return c, errorf(http.StatusNotImplemented, "NotImplemented",
			"A header you provided implies functionality that is not implemented").with("Header", "If-None-Match")
	}
	return c, nil
}

func (c writeCondition) check(old *objectMeta, key string) error {
	if c.ifNoneMatch == "*" && old != nil {
		return preconditionFailed("If-None-Match")
	}
	if c.ifMatch != "" {
		if old == nil {
			return noSuchKey(key)
		}
		if !etagMatches(c.ifMatch, old.ETag) {
			return preconditionFailed("If-Match")
		}
	}
	return nil
}

// etagMatches reports whether an If-Match/If-None-Match list names etag.
func etagMatches(list, etag string) bool {
	for p := range strings.SplitSeq(list, ",") {
		p = strings.TrimSpace(p)
		p = strings.TrimPrefix(p, "W/")
		if p == "*" || strings.Trim(p, `"`) == etag {
			return true
		}
	}
	return false
}

func (s *Service) putObject(w http.ResponseWriter, r *http.Request, t target) error {
	b, err := s.localBucket(r.Context(), t.bucket)
	if err != nil {
		return err
	}
	cond, err := writeConditionOf(r.Header)
	if err != nil {
		return err
	}
	om, err := objectHeaders(r.Header)
	if err != nil {
		return err
	}
	if om.ACL, err = s.requestACL(r.Header, b, aclObject); err != nil {
		return err
	}
	if cond != (writeCondition{}) {
		old, err := s.meta.object(t.bucket, t.key)
		if err != nil {
			return err
		}
		if err := cond.check(old, t.key); err != nil {
			return err
		}
	}
	rule, err := requestEncryption(r.Header, b)
	if err != nil {
		return err
	}
	dk, sse, err := s.newDataKey(r.Context(), t.bucket, t.key, rule)
	if err != nil {
		return err
	}
	body, err := newBody(r, payloadOf(r), s.opts.MaxObjectSize)
	if err != nil {
		return err
	}
	var id string
	var n int64
	var iv, inline []byte
	if body.length >= 0 && body.length <= s.inlineMax {
		id, n, iv, inline, err = readInline(body, dk)
	} else {
		id, n, iv, err = s.writeFile(body, dk)
	}
	if err != nil {
		return bodyError(err)
	}
	sse.IV = iv
	om.File, om.Size, om.ETag, om.Modified, om.SSE = id, n, body.ETag(), s.now(), sse
	if body.alg != "" {
		om.ChecksumAlg, om.Checksum, om.ChecksumType = body.alg, body.Checksum, "FULL_OBJECT"
	}
	reqID := awsapi.NewRequestID()
	if err := s.commitObject(r, b, t, om, inline, cond, "ObjectCreated:Put", reqID); err != nil {
		if inline == nil { // an inline body went with the failed commit
			s.removeBodies(id)
		}
		return err
	}
	h := w.Header()
	h.Set("ETag", `"`+om.ETag+`"`)
	h.Set("x-amz-request-id", reqID)
	setVersionHeader(h, b, om)
	sseHeaders(h, om.SSE)
	if om.ChecksumAlg != "" {
		h.Set(checksumHeader(om.ChecksumAlg), om.Checksum)
		h.Set("x-amz-checksum-type", om.ChecksumType)
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// bodyError is the client's error of a failed body store (an *Error from
// the checks, or a read failure), or the server's.
func bodyError(err error) error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return entityTooLarge()
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("store object body: %w", err)
	}
	return errIncompleteBody
}

// commitObject makes om the current object of t in one transaction with
// the condition's check, its inline body (when not nil) and the
// notification's record, then removes the body it replaced.
func (s *Service) commitObject(r *http.Request, b *bucketRecord, t target, om *objectMeta, inline []byte, cond writeCondition, event, reqID string) error {
	var freed []string
	err := s.meta.db.Batch(func(tx *bolt.Tx) error {
		freed = nil
		if inline != nil {
			if err := putInline(tx, om.File, inline); err != nil {
				return err
			}
		}
		old, err := getObject(tx, t.bucket, t.key)
		if err != nil {
			return err
		}
		if err := cond.check(old, t.key); err != nil {
			return err
		}
		if freed, err = setCurrent(tx, b, t.key, om, old); err != nil {
			return err
		}
		return s.recordEvent(tx, b, event, t.key, om, reqID, r)
	})
	if err != nil {
		return err
	}
	s.kick()
	s.removeBodies(freed...)
	return nil
}

// setCurrent makes om key's current object in tx: in place of old in an
// unversioned bucket (old's body is returned, to be freed after the
// commit), as its newest version otherwise.
func setCurrent(tx *bolt.Tx, b *bucketRecord, key string, om, old *objectMeta) ([]string, error) {
	if b.Versioning == "" {
		if err := putObject(tx, b.Name, key, om); err != nil {
			return nil, err
		}
		if old != nil && old.File != om.File {
			return []string{old.File}, nil
		}
		return nil, nil
	}
	return putVersioned(tx, b.Versioning, b.Name, key, om)
}

// setVersionHeader names om's version in an answer, as S3 does for
// buckets that have had versioning.
func setVersionHeader(h http.Header, b *bucketRecord, om *objectMeta) {
	if b.Versioning != "" || om.VersionID != "" {
		h.Set("x-amz-version-id", versionOf(om))
	}
}

// objectResponseHeaders sets the headers of a GET/HEAD answer.
func objectResponseHeaders(h http.Header, om *objectMeta, q url.Values, checksums bool) {
	ct := om.ContentType
	if ct == "" {
		ct = "binary/octet-stream"
	}
	h.Set("Content-Type", ct)
	h.Set("ETag", `"`+om.ETag+`"`)
	h.Set("Last-Modified", om.Modified.UTC().Format(http.TimeFormat))
	h.Set("Accept-Ranges", "bytes")
	for name, v := range map[string]string{"Content-Encoding": om.ContentEncoding, "Content-Disposition": om.ContentDisposition,
		"Content-Language": om.ContentLanguage, "Cache-Control": om.CacheControl, "Expires": om.Expires} {
		if v != "" {
			h.Set(name, v)
		}
	}
	for k, v := range om.UserMeta {
		h["x-amz-meta-"+k] = []string{v}
	}
	if len(om.Tags) > 0 {
		h.Set("x-amz-tagging-count", strconv.Itoa(len(om.Tags)))
	}
	if checksums && om.ChecksumAlg != "" {
		h.Set(checksumHeader(om.ChecksumAlg), om.Checksum)
		h.Set("x-amz-checksum-type", om.ChecksumType)
	}
	// Overrides a presigned GET may ask for.
	for param, header := range map[string]string{"response-content-type": "Content-Type", "response-content-language": "Content-Language",
		"response-expires": "Expires", "response-cache-control": "Cache-Control", "response-content-disposition": "Content-Disposition",
		"response-content-encoding": "Content-Encoding"} {
		if v := q.Get(param); v != "" {
			h.Set(header, v)
		}
	}
}

// readCondition evaluates GET/HEAD's conditional headers: 412, 304 or
// nothing.
func readCondition(h http.Header, om *objectMeta) (int, error) {
	mod := om.Modified.Truncate(time.Second)
	im, inm := h.Get("If-Match"), h.Get("If-None-Match")
	if im != "" {
		if !etagMatches(im, om.ETag) {
			return http.StatusPreconditionFailed, nil
		}
	} else if v := h.Get("If-Unmodified-Since"); v != "" {
		if t, err := http.ParseTime(v); err == nil && mod.After(t) {
			return http.StatusPreconditionFailed, nil
		}
	}
	if inm != "" {
		if etagMatches(inm, om.ETag) {
			return http.StatusNotModified, nil
		}
	} else if v := h.Get("If-Modified-Since"); v != "" {
		if t, err := http.ParseTime(v); err == nil && !mod.After(t) {
			return http.StatusNotModified, nil
		}
	}
	return 0, nil
}

// parseRange parses a single-range Range header against size: the first
// byte and the length; ok false means serve the whole object, and a
// *Error an unsatisfiable range.
func parseRange(v string, size int64) (start, length int64, ok bool, err error) {
	spec, found := strings.CutPrefix(v, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false, nil
	}
	a, b, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return 0, 0, false, nil
	}
	unsat := errorf(http.StatusRequestedRangeNotSatisfiable, "InvalidRange", "The requested range is not satisfiable").
		with("RangeRequested", v).with("ActualObjectSize", strconv.FormatInt(size, 10))
	if a == "" {
		n, perr := strconv.ParseInt(b, 10, 64)
		if perr != nil || n < 0 {
			return 0, 0, false, nil
		}
		if n == 0 {
			return 0, 0, false, unsat
		}
		n = min(n, size)
		return size - n, n, true, nil
	}
	first, perr := strconv.ParseInt(a, 10, 64)
	if perr != nil || first < 0 {
		return 0, 0, false, nil
	}
	if first >= size {
		return 0, 0, false, unsat
	}
	last := size - 1
	if b != "" {
		l, perr := strconv.ParseInt(b, 10, 64)
		if perr != nil || l < first {
			return 0, 0, false, nil
		}
		last = min(l, size-1)
	}
	return first, last - first + 1, true, nil
}

func (s *Service) getObject(w http.ResponseWriter, r *http.Request, t target, q url.Values) error {
	b, err := s.localBucket(r.Context(), t.bucket)
	if err != nil {
		return err
	}
	om, err := s.meta.object(t.bucket, t.key)
	if err != nil {
		return err
	}
	if om == nil {
		if b.Versioning != "" {
			// A delete marker hides the key: S3 says so in the headers.
			if nm, err := s.meta.newest(t.bucket, t.key); err == nil && nm != nil && nm.DeleteMarker {
				w.Header().Set("x-amz-delete-marker", "true")
				w.Header().Set("x-amz-version-id", versionOf(nm))
			}
		}
		return noSuchKey(t.key)
	}
	return s.serveObject(w, r, b, t, q, om)
}

// serveObject answers GET or HEAD of om, one version of t.
func (s *Service) serveObject(w http.ResponseWriter, r *http.Request, b *bucketRecord, t target, q url.Values, om *objectMeta) error {
	if pn := q.Get("partNumber"); pn != "" {
		if n, err := strconv.Atoi(pn); err != nil || n < 1 || n > maxParts {
			return invalidArgument("Part number must be an integer between 1 and 10000, inclusive").with("ArgumentName", "partNumber")
		} else if n != 1 || om.Parts > 1 {
			return notImplemented("GetObject and HeadObject of one part of a multipart object (partNumber)")
		}
	}
	h := w.Header()
	switch status, _ := readCondition(r.Header, om); status {
	case http.StatusPreconditionFailed:
		return preconditionFailed("If-Match")
	case http.StatusNotModified:
		h.Set("ETag", `"`+om.ETag+`"`)
		h.Set("Last-Modified", om.Modified.UTC().Format(http.TimeFormat))
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	start, length, ranged, err := parseRange(r.Header.Get("Range"), om.Size)
	if err != nil {
		return err
	}
	var f io.ReadSeekCloser
	if r.Method == http.MethodHead {
		if f, err = s.openBody(om.File); err != nil {
			return fmt.Errorf("open object %s/%s: %w", t.bucket, t.key, err)
		}
	} else if f, err = s.bodyReader(r.Context(), t.bucket, t.key, om); err != nil {
		var e *Error
		if errors.As(err, &e) {
			return err
		}
		return fmt.Errorf("open object %s/%s: %w", t.bucket, t.key, err)
	}
	defer func() { _ = f.Close() }()
	objectResponseHeaders(h, om, q, strings.EqualFold(r.Header.Get("x-amz-checksum-mode"), "ENABLED") && !ranged)
	setVersionHeader(h, b, om)
	sseHeaders(h, om.SSE)
	status := http.StatusOK
	if !ranged {
		start, length = 0, om.Size
	} else {
		status = http.StatusPartialContent
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, start+length-1, om.Size))
	}
	h.Set("Content-Length", strconv.FormatInt(length, 10))
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return nil
	}
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return nil //nolint:nilerr // the answer has started: the client sees a short body
	}
	_, _ = io.Copy(w, io.LimitReader(f, length))
	return nil
}

func (s *Service) deleteObject(w http.ResponseWriter, r *http.Request, t target) error {
	b, err := s.localBucket(r.Context(), t.bucket)
	if err != nil {
		return err
	}
	res, err := s.removeObject(r, b, t.key, r.Header.Get("If-Match"))
	if err != nil {
		return err
	}
	res.headers(w.Header())
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// deleted is what a delete did: the version it removed or the delete
// marker it made.
type deleted struct {
	removed   bool
	versionID string // "" in a bucket that never had versioning
	marker    bool   // a delete marker was made, or removed
}

func (d deleted) headers(h http.Header) {
	if d.versionID != "" {
		h.Set("x-amz-version-id", d.versionID)
	}
	if d.marker {
		h.Set("x-amz-delete-marker", "true")
	}
}

// removeObject deletes one object (absent ones too, as S3 does) and
// records its notification; ifMatch, when set, must match its ETag. In a
// bucket with versioning it makes a delete marker instead, and every
// version stays.
func (s *Service) removeObject(r *http.Request, b *bucketRecord, key, ifMatch string) (deleted, error) {
	var freed []string
	var res deleted
	reqID := awsapi.NewRequestID()
	err := s.meta.db.Batch(func(tx *bolt.Tx) error {
		freed, res = nil, deleted{}
		old, err := getObject(tx, b.Name, key)
		if err != nil {
			return err
		}
		if ifMatch != "" {
			if old == nil {
				return noSuchKey(key)
			}
			if !etagMatches(ifMatch, old.ETag) {
				return preconditionFailed("If-Match")
			}
		}
		if b.Versioning != "" {
			marker := &objectMeta{DeleteMarker: true, Modified: s.now()}
			if freed, err = putVersioned(tx, b.Versioning, b.Name, key, marker); err != nil {
				return err
			}
			res = deleted{removed: true, versionID: versionOf(marker), marker: true}
			return s.recordEvent(tx, b, "ObjectRemoved:DeleteMarkerCreated", key, marker, reqID, r)
		}
		if old == nil {
			return nil
		}
		if err := deleteObject(tx, b.Name, key); err != nil {
			return err
		}
		freed, res = []string{old.File}, deleted{removed: true}
		return s.recordEvent(tx, b, "ObjectRemoved:Delete", key, nil, reqID, r)
	})
	if err != nil {
		return deleted{}, err
	}
	if res.removed {
		s.kick()
		s.removeBodies(freed...)
	}
	return res, nil
}

// removeVersion deletes one version of key for good (a delete marker
// too) and records the notification.
func (s *Service) removeVersion(r *http.Request, b *bucketRecord, key, vid string) (deleted, error) {
	var freed []string
	var res deleted
	reqID := awsapi.NewRequestID()
	err := s.meta.db.Batch(func(tx *bolt.Tx) error {
		freed, res = nil, deleted{versionID: vid}
		gone, f, err := deleteVersion(tx, b.Name, key, vid)
		if err != nil || gone == nil {
			return err
		}
		freed, res = f, deleted{removed: true, versionID: vid, marker: gone.DeleteMarker}
		return s.recordEvent(tx, b, "ObjectRemoved:Delete", key, &objectMeta{DeleteMarker: true, VersionID: gone.VersionID}, reqID, r)
	})
	if err != nil {
		return deleted{}, err
	}
	if res.removed {
		s.kick()
		s.removeBodies(freed...)
	}
	return res, nil
}

type deleteRequest struct {
	XMLName xml.Name `xml:"Delete"`
	Quiet   bool     `xml:"Quiet"`
	Objects []struct {
		Key       string `xml:"Key"`
		VersionID string `xml:"VersionId"`
		ETag      string `xml:"ETag"`
	} `xml:"Object"`
}

type deletedEntry struct {
	Key                   string `xml:"Key"`
	VersionID             string `xml:"VersionId,omitempty"`
	DeleteMarker          bool   `xml:"DeleteMarker,omitempty"`
	DeleteMarkerVersionID string `xml:"DeleteMarkerVersionId,omitempty"`
}

type deleteErrorEntry struct {
	Key     string `xml:"Key"`
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

func (s *Service) deleteObjects(w http.ResponseWriter, r *http.Request, bucket string) error {
	b, err := s.localBucket(r.Context(), bucket)
	if err != nil {
		return err
	}
	var req deleteRequest
	if err := readXML(r, &req, false); err != nil {
		return err
	}
	if len(req.Objects) == 0 || len(req.Objects) > 1000 {
		return malformedXML()
	}
	out := struct {
		XMLName xml.Name           `xml:"DeleteResult"`
		Xmlns   string             `xml:"xmlns,attr"`
		Deleted []deletedEntry     `xml:"Deleted"`
		Errors  []deleteErrorEntry `xml:"Error"`
	}{Xmlns: xmlns}
	for _, o := range req.Objects {
		if err := checkKey(o.Key); err != nil || o.Key == "" {
			out.Errors = append(out.Errors, deleteErrorEntry{Key: o.Key, Code: "InvalidArgument", Message: "Invalid key"})
			continue
		}
		var res deleted
		switch {
		case o.VersionID != "" && !validVersionID(o.VersionID):
			err = invalidVersionID()
		case o.VersionID != "":
			res, err = s.removeVersion(r, b, o.Key, o.VersionID)
		default:
			res, err = s.removeObject(r, b, o.Key, o.ETag)
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				e = errFor(err)
			}
			out.Errors = append(out.Errors, deleteErrorEntry{Key: o.Key, Code: e.Code, Message: e.Message})
			continue
		}
		if !req.Quiet {
			e := deletedEntry{Key: o.Key, VersionID: o.VersionID}
			if res.marker {
				e.DeleteMarker = true
				if o.VersionID == "" {
					e.DeleteMarkerVersionID = res.versionID
				}
			}
			out.Deleted = append(out.Deleted, e)
		}
	}
	return writeXML(w, http.StatusOK, out)
}

// copyBody stores a copy's body (decrypted, from the source) for t,
// encrypted as the request or t's bucket says: a copy has its own data
// key, bound to its own name.
func (s *Service) copyBody(r *http.Request, b *bucketRecord, t target, in io.Reader) (string, *sseMeta, error) {
	rule, err := requestEncryption(r.Header, b)
	if err != nil {
		return "", nil, err
	}
	dk, sse, err := s.newDataKey(r.Context(), t.bucket, t.key, rule)
	if err != nil {
		return "", nil, err
	}
	id, _, iv, err := s.writeFile(in, dk)
	if err != nil {
		return "", nil, fmt.Errorf("copy object body: %w", err)
	}
	sse.IV = iv
	return id, sse, nil
}

func (s *Service) copyObject(w http.ResponseWriter, r *http.Request, t target) error {
	b, err := s.localBucket(r.Context(), t.bucket)
	if err != nil {
		return err
	}
	from, err := s.openSource(r, sourceObject)
	if err != nil {
		return err
	}
	defer func() { _ = from.body.Close() }()
	src, som := from.t, from.om
	cond, err := writeConditionOf(r.Header)
	if err != nil {
		return err
	}
	directive := r.Header.Get("x-amz-metadata-directive")
	if directive != "" && directive != "COPY" && directive != "REPLACE" {
		return invalidArgument("Unknown metadata directive.").with("ArgumentName", "x-amz-metadata-directive")
	}
	om := *som
	if directive == "REPLACE" {
		nm, err := objectHeaders(r.Header)
		if err != nil {
			return err
		}
		nm.ChecksumAlg, nm.Checksum, nm.ChecksumType, nm.Parts = som.ChecksumAlg, som.Checksum, som.ChecksumType, som.Parts
		nm.Size, nm.ETag = som.Size, som.ETag
		om = *nm
	} else if src == t && r.Header.Get("x-amz-server-side-encryption") == "" {
		return invalidRequest("This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
	}
	if om.ACL, err = s.requestACL(r.Header, b, aclObject); err != nil {
		return err // a copy's ACL is the request's, never the source's
	}
	if td := r.Header.Get("x-amz-tagging-directive"); td == "REPLACE" {
		nm, err := objectHeaders(http.Header{"X-Amz-Tagging": r.Header.Values("x-amz-tagging")})
		if err != nil {
			return err
		}
		om.Tags = nm.Tags
	}
	om.Modified = s.now()
	om.VersionID, om.Seq, om.DeleteMarker = "", 0, false
	if om.File, om.SSE, err = s.copyBody(r, b, t, from.body); err != nil {
		return err
	}
	reqID := awsapi.NewRequestID()
	if err := s.commitObject(r, b, t, &om, nil, cond, "ObjectCreated:Copy", reqID); err != nil {
		s.removeBodies(om.File)
		return err
	}
	setVersionHeader(w.Header(), b, &om)
	sseHeaders(w.Header(), om.SSE)
	if som.VersionID != "" {
		w.Header().Set("x-amz-copy-source-version-id", som.VersionID)
	}
	res := struct {
		XMLName      xml.Name `xml:"CopyObjectResult"`
		Xmlns        string   `xml:"xmlns,attr"`
		ETag         string   `xml:"ETag"`
		LastModified string   `xml:"LastModified"`
		checksumFields
	}{Xmlns: xmlns, ETag: `"` + om.ETag + `"`, LastModified: om.Modified.Format(timeFormatXML)}
	res.set(om.ChecksumAlg, om.Checksum, om.ChecksumType)
	return writeXML(w, http.StatusOK, res)
}

// checksumFields are the Checksum* elements of XML answers.
type checksumFields struct {
	ChecksumCRC32     string `xml:"ChecksumCRC32,omitempty"`
	ChecksumCRC32C    string `xml:"ChecksumCRC32C,omitempty"`
	ChecksumCRC64NVME string `xml:"ChecksumCRC64NVME,omitempty"`
	ChecksumSHA1      string `xml:"ChecksumSHA1,omitempty"`
	ChecksumSHA256    string `xml:"ChecksumSHA256,omitempty"`
	ChecksumType      string `xml:"ChecksumType,omitempty"`
}

func (c *checksumFields) set(alg, v, typ string) {
	switch alg {
	case "crc32":
		c.ChecksumCRC32 = v
	case "crc32c":
		c.ChecksumCRC32C = v
	case "crc64nvme":
		c.ChecksumCRC64NVME = v
	case "sha1":
		c.ChecksumSHA1 = v
	case "sha256":
		c.ChecksumSHA256 = v
	default:
		return
	}
	c.ChecksumType = typ
}

func (s *Service) putObjectTagging(w http.ResponseWriter, r *http.Request, t target, vid string) error {
	if _, err := s.localBucket(r.Context(), t.bucket); err != nil {
		return err
	}
	var tg tagging
	if err := readXML(r, &tg, false); err != nil {
		return err
	}
	if err := checkTags(tg.Tags, 10); err != nil {
		return err
	}
	v, err := s.updateVersion(w, r, t, vid, func(om *objectMeta) { om.Tags = tagMap(tg.Tags) })
	if err != nil {
		return err
	}
	w.Header().Set("x-amz-version-id", v)
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Service) deleteObjectTagging(w http.ResponseWriter, r *http.Request, t target, vid string) error {
	if _, err := s.localBucket(r.Context(), t.bucket); err != nil {
		return err
	}
	v, err := s.updateVersion(w, r, t, vid, func(om *objectMeta) { om.Tags = nil })
	if err != nil {
		return err
	}
	w.Header().Set("x-amz-version-id", v)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Service) getObjectTagging(w http.ResponseWriter, r *http.Request, t target, vid string) error {
	if _, err := s.localBucket(r.Context(), t.bucket); err != nil {
		return err
	}
	om, err := s.objectVersion(w, r, t, vid)
	if err != nil {
		return err
	}
	out := tagging{Xmlns: xmlns, Tags: []Tag{}}
	for k, v := range om.Tags {
		out.Tags = append(out.Tags, Tag{Key: k, Value: v})
	}
	w.Header().Set("x-amz-version-id", versionOf(om))
	return writeXML(w, http.StatusOK, out)
}

// getObjectAttributes answers GetObjectAttributes with the attributes
// x-amz-object-attributes names.
func (s *Service) getObjectAttributes(w http.ResponseWriter, r *http.Request, t target, vid string) error {
	if _, err := s.localBucket(r.Context(), t.bucket); err != nil {
		return err
	}
	want := map[string]bool{}
	for _, a := range r.Header.Values("x-amz-object-attributes") {
		for p := range strings.SplitSeq(a, ",") {
			if p = strings.TrimSpace(p); p != "" {
				want[p] = true
			}
		}
	}
	if len(want) == 0 {
		return invalidArgument("Invalid attribute name specified.").with("ArgumentName", "x-amz-object-attributes")
	}
	for a := range want {
		switch a {
		case "ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize":
		default:
			return invalidArgument("Invalid attribute name specified.").with("ArgumentName", "x-amz-object-attributes").with("ArgumentValue", a)
		}
	}
	om, err := s.objectVersion(w, r, t, vid)
	if err != nil {
		return err
	}
	if om.VersionID != "" || vid != "" {
		w.Header().Set("x-amz-version-id", versionOf(om))
	}
	type parts struct {
		TotalPartsCount int `xml:"PartsCount"`
	}
	out := struct {
		XMLName      xml.Name        `xml:"GetObjectAttributesResponse"`
		Xmlns        string          `xml:"xmlns,attr"`
		ETag         string          `xml:"ETag,omitempty"`
		Checksum     *checksumFields `xml:"Checksum,omitempty"`
		ObjectParts  *parts          `xml:"ObjectParts,omitempty"`
		StorageClass string          `xml:"StorageClass,omitempty"`
		ObjectSize   *int64          `xml:"ObjectSize,omitempty"`
	}{Xmlns: xmlns}
	if want["ETag"] {
		out.ETag = om.ETag
	}
	if want["Checksum"] && om.ChecksumAlg != "" {
		out.Checksum = &checksumFields{}
		out.Checksum.set(om.ChecksumAlg, om.Checksum, om.ChecksumType)
	}
	if want["ObjectParts"] && om.Parts > 0 {
		out.ObjectParts = &parts{TotalPartsCount: om.Parts}
	}
	if want["StorageClass"] {
		out.StorageClass = "STANDARD"
	}
	if want["ObjectSize"] {
		size := om.Size
		out.ObjectSize = &size
	}
	w.Header().Set("Last-Modified", om.Modified.UTC().Format(http.TimeFormat))
	return writeXML(w, http.StatusOK, out)
}

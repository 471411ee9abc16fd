package s3

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/store"
)

const xmlns = "http://s3.amazonaws.com/doc/2006-03-01/"

// bucketKeyPrefix starts the backbone keys of bucket records.
const bucketKeyPrefix = "s3.bucket."

// bucketRecord is a bucket, as every node sees it.
type bucketRecord struct {
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	Region  string    `json:"region"`
	// Node holds the bucket's objects.
	Node         string                     `json:"node"`
	Notification *NotificationConfiguration `json:"notification,omitempty"`
	Policy       string                     `json:"policy,omitempty"`
	Tags         []Tag                      `json:"tags,omitempty"`
	CORS         *CORSConfiguration         `json:"cors,omitempty"`
	// Versioning is "", Enabled or Suspended.
	Versioning string                  `json:"versioning,omitempty"`
	Lifecycle  *LifecycleConfiguration `json:"lifecycle,omitempty"`
	// Encryption is the default encryption (nil: SSE-S3).
	Encryption *encryptionRule `json:"encryption,omitempty"`
	// Ownership is the Object Ownership setting ("": BucketOwnerEnforced,
	// AWS's default since April 2023); NoOwnership, after
	// DeleteBucketOwnershipControls, is ObjectWriter with no controls.
	Ownership   string `json:"ownership,omitempty"`
	NoOwnership bool   `json:"noOwnership,omitempty"`
	// ACL is the canned ACL set on the bucket (acl.go).
	ACL string `json:"acl,omitempty"`
	// PublicAccessBlock is the Block Public Access settings (nil: all on,
	// AWS's default); NoPublicAccessBlock, after DeletePublicAccessBlock,
	// is none (public.go).
	PublicAccessBlock   *PublicAccessBlockConfiguration `json:"publicAccessBlock,omitempty"`
	NoPublicAccessBlock bool                            `json:"noPublicAccessBlock,omitempty"`
	rev                 uint64
}

// Tag is an S3 tag.
type Tag struct {
	Key   string `xml:"Key" json:"k"`
	Value string `xml:"Value" json:"v"`
}

// validBucketName applies S3's general-purpose bucket naming rules.
func validBucketName(b string) bool {
	if len(b) < 3 || len(b) > 63 {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '.' && c != '-' {
			return false
		}
	}
	first, last := b[0], b[len(b)-1]
	if !isAlnum(first) || !isAlnum(last) || strings.Contains(b, "..") || strings.Contains(b, ".-") || strings.Contains(b, "-.") {
		return false
	}
	if net.ParseIP(b) != nil {
		return false
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(b, p) {
			return false
		}
	}
	for _, sfx := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(b, sfx) {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') }

func invalidBucketName(b string) *Error {
	return errorf(http.StatusBadRequest, "InvalidBucketName", "The specified bucket is not valid.").with("BucketName", b)
}

// bucket reads a bucket's record; a missing bucket is NoSuchBucket.
func (s *Service) bucket(ctx context.Context, name string) (*bucketRecord, error) {
	if !validBucketName(name) {
		return nil, noSuchBucket(name)
	}
	if b, ok := s.buckets.get(name); ok {
		return b, nil
	}
	e, err := s.st.Get(ctx, bucketKeyPrefix+name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, noSuchBucket(name)
	}
	if err != nil {
		return nil, fmt.Errorf("read bucket %s: %w", name, err)
	}
	var b bucketRecord
	if err := json.Unmarshal(e.Value, &b); err != nil {
		return nil, fmt.Errorf("decode bucket %s: %w", name, err)
	}
	b.rev = e.Revision
	return &b, nil
}

// localBucket is bucket for operations on its objects, which live on the
// node that created it (others relay such requests to it; this refuses
// one that reached the wrong node anyway, e.g. relayed on a stale record).
func (s *Service) localBucket(ctx context.Context, name string) (*bucketRecord, error) {
	b, err := s.bucket(ctx, name)
	if err != nil {
		return nil, err
	}
	if b.Node != s.opts.Node {
		return nil, errorf(http.StatusServiceUnavailable, "ServiceUnavailable",
			"The objects of bucket %s live on node %s, not on this Nimbus node (%s); please try again "+
				"(see docs/design/object-storage.md).", name, b.Node, s.opts.Node)
	}
	return b, nil
}

// updateBucket rewrites a bucket's record with f applied, retrying on a
// concurrent change.
func (s *Service) updateBucket(ctx context.Context, name string, f func(*bucketRecord) error) error {
	for range 8 {
		b, err := s.bucket(ctx, name)
		if err != nil {
			return err
		}
		if err := f(b); err != nil {
			return err
		}
		v, _ := json.Marshal(b)
		rev, err := s.st.Update(ctx, bucketKeyPrefix+name, v, b.rev)
		if errors.Is(err, store.ErrConflict) {
			s.buckets.remove(name, 0) // read the current record from the backbone
			continue
		}
		if errors.Is(err, store.ErrNotFound) {
			return noSuchBucket(name)
		}
		if err != nil {
			return fmt.Errorf("update bucket %s: %w", name, err)
		}
		b.rev = rev
		s.buckets.put(b)
		return nil
	}
	return errorf(http.StatusConflict, "OperationAborted", "A conflicting conditional operation is currently in progress against this resource. Please try again.")
}

func (s *Service) bucketOp(w http.ResponseWriter, r *http.Request, name string, q url.Values) error {
	if err := methodAllowed(r, q, bucketSubresources); err != nil {
		return err
	}
	switch r.Method {
	case http.MethodPut:
		switch {
		case q.Has("notification"):
			return s.putNotification(w, r, name)
		case q.Has("policy"):
			return s.putPolicy(w, r, name)
		case q.Has("tagging"):
			return s.putBucketTagging(w, r, name)
		case q.Has("cors"):
			return s.putCORS(w, r, name)
		case q.Has("versioning"):
			return s.putVersioning(w, r, name)
		case q.Has("lifecycle"):
			return s.putLifecycle(w, r, name)
		case q.Has("encryption"):
			return s.putEncryption(w, r, name)
		case q.Has("acl"):
			return s.putBucketACL(w, r, name)
		case q.Has("ownershipControls"):
			return s.putOwnership(w, r, name)
		case q.Has("publicAccessBlock"):
			return s.putPublicAccessBlock(w, r, name)
		}
		if err := unsupported(q); err != nil {
			return err
		}
		return s.createBucket(w, r, name)
	case http.MethodGet:
		switch {
		case q.Has("location"):
			return s.getLocation(w, r, name)
		case q.Has("notification"):
			return s.getNotification(w, r, name)
		case q.Has("policy"):
			return s.getPolicy(w, r, name)
		case q.Has("tagging"):
			return s.getBucketTagging(w, r, name)
		case q.Has("cors"):
			return s.getCORS(w, r, name)
		case q.Has("uploads"):
			return s.listUploads(w, r, name, q)
		case q.Get("list-type") == "2":
			return s.listObjectsV2(w, r, name, q)
		case q.Has("versioning"):
			return s.getVersioning(w, r, name)
		case q.Has("lifecycle"):
			return s.getLifecycle(w, r, name)
		case q.Has("encryption"):
			return s.getEncryption(w, r, name)
		case q.Has("versions"):
			return s.listObjectVersions(w, r, name, q)
		case q.Has("acl"):
			return s.getBucketACL(w, r, name)
		case q.Has("ownershipControls"):
			return s.getOwnership(w, r, name)
		case q.Has("publicAccessBlock"):
			return s.getPublicAccessBlock(w, r, name)
		}
		if err := unsupported(q); err != nil {
			return err
		}
		return s.listObjectsV1(w, r, name, q)
	case http.MethodHead:
		if _, err := s.bucket(r.Context(), name); err != nil {
			return err
		}
		w.Header().Set("x-amz-bucket-region", s.opts.Region)
		w.WriteHeader(http.StatusOK)
		return nil
	case http.MethodDelete:
		switch {
		case q.Has("policy"):
			return s.deletePolicy(w, r, name)
		case q.Has("tagging"):
			return s.deleteBucketTagging(w, r, name)
		case q.Has("cors"):
			return s.deleteCORS(w, r, name)
		case q.Has("lifecycle"):
			return s.deleteLifecycle(w, r, name)
		case q.Has("encryption"):
			return s.deleteEncryption(w, r, name)
		case q.Has("ownershipControls"):
			return s.deleteOwnership(w, r, name)
		case q.Has("publicAccessBlock"):
			return s.deletePublicAccessBlock(w, r, name)
		}
		if err := unsupported(q); err != nil {
			return err
		}
		return s.deleteBucket(w, r, name)
	case http.MethodPost:
		if q.Has("delete") {
			return s.deleteObjects(w, r, name)
		}
	}
	return methodNotAllowed(r.Method, "BUCKET")
}

// maxXMLBody bounds the XML documents of bucket requests (S3's own limit
// for DeleteObjects of 1,000 keys is about 2 MB).
const maxXMLBody = 4 << 20

// readXML reads and decodes a request's (checked) XML body into v; an
// empty body is allowed when optional.
func readXML(r *http.Request, v any, optional bool) error {
	b, err := readSmallBody(r, maxXMLBody)
	if err != nil {
		return err
	}
	if len(b) == 0 {
		if optional {
			return nil
		}
		return errorf(http.StatusBadRequest, "MissingRequestBodyError", "Request Body is empty")
	}
	if err := xml.Unmarshal(b, v); err != nil { //nolint:gosec // G709: into fixed request shapes, bounded by maxXMLBody
		return malformedXML()
	}
	return nil
}

// readSmallBody reads a request's body, checked as every body is, up to
// max bytes.
func readSmallBody(r *http.Request, max int64) ([]byte, error) {
	b, err := newBody(r, payloadOf(r), max)
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.Code == "EntityTooLarge" {
			return nil, errorf(http.StatusBadRequest, "MaxMessageLengthExceeded", "Your request was too big.")
		}
		return nil, err
	}
	data, err := io.ReadAll(b)
	if err != nil {
		return nil, readErr(err)
	}
	return data, nil
}

// writeXML writes v as an XML document.
func writeXML(w http.ResponseWriter, status int, v any) error {
	b, err := xml.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(b)
	return nil
}

type createBucketConfiguration struct {
	LocationConstraint string `xml:"LocationConstraint"`
}

func (s *Service) createBucket(w http.ResponseWriter, r *http.Request, name string) error {
	if !validBucketName(name) {
		return invalidBucketName(name)
	}
	var cfg createBucketConfiguration
	if err := readXML(r, &cfg, true); err != nil {
		return err
	}
	switch lc := cfg.LocationConstraint; {
	case lc == "us-east-1":
		return errorf(http.StatusBadRequest, "InvalidLocationConstraint", "The specified location-constraint is not valid").
			with("LocationConstraint", lc)
	case lc != "" && lc != s.opts.Region:
		return errorf(http.StatusBadRequest, "IllegalLocationConstraintException",
			"The %s location constraint is incompatible for the region specific endpoint this request was sent to.", lc)
	}
	rec := bucketRecord{Name: name, Created: s.now(), Region: s.opts.Region, Node: s.opts.Node}
	if o := r.Header.Get("x-amz-object-ownership"); o != "" {
		if !validOwnership(o) {
			return invalidArgument("Invalid x-amz-object-ownership header: %s", o).with("ArgumentName", "x-amz-object-ownership")
		}
		rec.Ownership = o
	}
	acl, err := s.requestACL(r.Header, &rec, aclNewBucket)
	if err != nil {
		return err
	}
	rec.ACL = acl
	v, _ := json.Marshal(rec)
	rev, err := s.st.Create(r.Context(), bucketKeyPrefix+name, v)
	if errors.Is(err, store.ErrExists) {
		return errorf(http.StatusConflict, "BucketAlreadyOwnedByYou",
			"Your previous request to create the named bucket succeeded and you already own it.").with("BucketName", name)
	}
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", name, err)
	}
	rec.rev = rev
	s.buckets.put(&rec)
	w.Header().Set("Location", "/"+name)
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Service) deleteBucket(w http.ResponseWriter, r *http.Request, name string) error {
	b, err := s.localBucket(r.Context(), name)
	if err != nil {
		return err
	}
	empty, err := s.meta.bucketEmpty(name)
	if err != nil {
		return err
	}
	if !empty {
		return errorf(http.StatusConflict, "BucketNotEmpty", "The bucket you tried to delete is not empty").with("BucketName", name)
	}
	if err := s.st.Delete(r.Context(), bucketKeyPrefix+name, b.rev); err != nil {
		s.buckets.remove(name, 0)
		if errors.Is(err, store.ErrNotFound) {
			return noSuchBucket(name)
		}
		if errors.Is(err, store.ErrConflict) {
			return errorf(http.StatusConflict, "OperationAborted",
				"A conflicting conditional operation is currently in progress against this resource. Please try again.")
		}
		return fmt.Errorf("delete bucket %s: %w", name, err)
	}
	s.buckets.remove(name, b.rev+1)
	files, err := s.meta.dropBucket(name)
	if err != nil {
		return err
	}
	s.removeBodies(files...)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type owner struct {
	ID          string `xml:"ID"`
	DisplayName string `xml:"DisplayName,omitempty"`
}

func (s *Service) owner() owner {
	return owner{ID: s.opts.AccountID, DisplayName: "nimbus"}
}

type bucketEntry struct {
	Name         string `xml:"Name"`
	CreationDate string `xml:"CreationDate"`
	BucketRegion string `xml:"BucketRegion"`
}

func (s *Service) listBuckets(w http.ResponseWriter, r *http.Request) error {
	keys, err := s.st.Keys(r.Context(), bucketKeyPrefix)
	if err != nil {
		return fmt.Errorf("list buckets: %w", err)
	}
	q := r.URL.Query()
	prefix := q.Get("prefix")
	maxN := 10000
	if v := q.Get("max-buckets"); v != "" {
		n, err := parseMaxKeys(v)
		if err != nil || n < 1 || n > 10000 {
			return invalidArgument("Argument max-buckets must be an integer between 1 and 10000").with("ArgumentName", "max-buckets")
		}
		maxN = n
	}
	after := ""
	if tok := q.Get("continuation-token"); tok != "" {
		after, err = decodeToken(tok)
		if err != nil {
			return invalidArgument("The continuation token provided is incorrect").with("ArgumentName", "continuation-token")
		}
	}
	names := make([]string, 0, len(keys))
	for _, k := range keys {
		n := strings.TrimPrefix(k, bucketKeyPrefix)
		if strings.HasPrefix(n, prefix) && n > after {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	out := struct {
		XMLName           xml.Name      `xml:"ListAllMyBucketsResult"`
		Xmlns             string        `xml:"xmlns,attr"`
		Owner             owner         `xml:"Owner"`
		Buckets           []bucketEntry `xml:"Buckets>Bucket"`
		ContinuationToken string        `xml:"ContinuationToken,omitempty"`
		Prefix            string        `xml:"Prefix,omitempty"`
	}{Xmlns: xmlns, Owner: s.owner(), Prefix: prefix}
	for _, n := range names {
		if len(out.Buckets) == maxN {
			out.ContinuationToken = encodeToken(out.Buckets[len(out.Buckets)-1].Name)
			break
		}
		b, err := s.bucket(r.Context(), n)
		if err != nil {
			continue // deleted meanwhile
		}
		out.Buckets = append(out.Buckets, bucketEntry{Name: n, CreationDate: b.Created.Format(timeFormatXML), BucketRegion: b.Region})
	}
	return writeXML(w, http.StatusOK, out)
}

// timeFormatXML is S3's timestamp format in XML bodies.
const timeFormatXML = "2006-01-02T15:04:05.000Z"

func (s *Service) getLocation(w http.ResponseWriter, r *http.Request, name string) error {
	b, err := s.bucket(r.Context(), name)
	if err != nil {
		return err
	}
	loc := b.Region
	if loc == "us-east-1" {
		loc = ""
	}
	return writeXML(w, http.StatusOK, struct {
		XMLName xml.Name `xml:"LocationConstraint"`
		Xmlns   string   `xml:"xmlns,attr"`
		Value   string   `xml:",chardata"`
	}{Xmlns: xmlns, Value: loc})
}

// maxPolicyBytes is S3's bucket policy size limit (20 KB).
const maxPolicyBytes = 20 << 10

func (s *Service) putPolicy(w http.ResponseWriter, r *http.Request, name string) error {
	body, err := readSmallBody(r, maxPolicyBytes+1)
	if err != nil {
		return err
	}
	if len(body) > maxPolicyBytes {
		return errorf(http.StatusBadRequest, "PolicyTooLarge", "Policy exceeds the maximum allowed document size.")
	}
	var doc struct {
		Statement json.RawMessage `json:"Statement"`
	}
	if json.Unmarshal(body, &doc) != nil || len(doc.Statement) == 0 {
		return errorf(http.StatusBadRequest, "MalformedPolicy", "Policies must be valid JSON and the first byte must be '{'")
	}
	public := publicPolicy(body)
	err = s.updateBucket(r.Context(), name, func(b *bucketRecord) error {
		if public && b.publicBlock().BlockPublicPolicy {
			return publicPolicyDenied()
		}
		b.Policy = string(body)
		return nil
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Service) getPolicy(w http.ResponseWriter, r *http.Request, name string) error {
	b, err := s.bucket(r.Context(), name)
	if err != nil {
		return err
	}
	if b.Policy == "" {
		return errorf(http.StatusNotFound, "NoSuchBucketPolicy", "The bucket policy does not exist").with("BucketName", name)
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, b.Policy)
	return nil
}

func (s *Service) deletePolicy(w http.ResponseWriter, r *http.Request, name string) error {
	if err := s.updateBucket(r.Context(), name, func(b *bucketRecord) error { b.Policy = ""; return nil }); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type tagging struct {
	XMLName xml.Name `xml:"Tagging"`
	Xmlns   string   `xml:"xmlns,attr,omitempty"`
	Tags    []Tag    `xml:"TagSet>Tag"`
}

// checkTags applies S3's tag rules (at most 50 on a bucket, 10 on an
// object; keys 1-128 and values 0-256 characters; keys unique).
func checkTags(tags []Tag, maxTags int) error {
	if len(tags) > maxTags {
		return errorf(http.StatusBadRequest, "BadRequest", "Object tags cannot be greater than %d", maxTags)
	}
	seen := map[string]bool{}
	for _, t := range tags {
		if t.Key == "" || len(t.Key) > 128 || len(t.Value) > 256 {
			return errorf(http.StatusBadRequest, "InvalidTag", "The TagKey you have provided is invalid")
		}
		if seen[t.Key] {
			return errorf(http.StatusBadRequest, "InvalidTag", "Cannot provide multiple Tags with the same key")
		}
		seen[t.Key] = true
	}
	return nil
}

func (s *Service) putBucketTagging(w http.ResponseWriter, r *http.Request, name string) error {
	var t tagging
	if err := readXML(r, &t, false); err != nil {
		return err
	}
	if err := checkTags(t.Tags, 50); err != nil {
		return err
	}
	if err := s.updateBucket(r.Context(), name, func(b *bucketRecord) error { b.Tags = t.Tags; return nil }); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Service) getBucketTagging(w http.ResponseWriter, r *http.Request, name string) error {
	b, err := s.bucket(r.Context(), name)
	if err != nil {
		return err
	}
	if len(b.Tags) == 0 {
		return errorf(http.StatusNotFound, "NoSuchTagSet", "The TagSet does not exist").with("BucketName", name)
	}
	return writeXML(w, http.StatusOK, tagging{Xmlns: xmlns, Tags: b.Tags})
}

func (s *Service) deleteBucketTagging(w http.ResponseWriter, r *http.Request, name string) error {
	if err := s.updateBucket(r.Context(), name, func(b *bucketRecord) error { b.Tags = nil; return nil }); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// BucketPolicy is the policy document of bucket name ("" when it has none
// or does not exist), for IAM's evaluation of calls on it.
func (s *Service) BucketPolicy(ctx context.Context, name string) string {
	b, err := s.bucket(ctx, name)
	if err != nil {
		return ""
	}
	return b.Policy
}

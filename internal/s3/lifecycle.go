package s3

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
)

// Lifecycle: a bucket's rules (PutBucketLifecycleConfiguration) live in
// its record; the node that holds the bucket's objects applies them with
// a sweep (at start and every LifecycleInterval): current objects expire
// by days or date, filtered by prefix, tags and size; noncurrent versions
// by days after they became noncurrent (keeping NewerNoncurrentVersions);
// lone delete markers go (ExpiredObjectDeleteMarker); incomplete multipart
// uploads are aborted. Objects live on one node, so exactly one node
// sweeps each bucket without a lease. As on AWS, a day boundary is
// midnight UTC: an object expires at the first midnight at least Days
// days after it was written.

// LifecycleConfiguration is S3's BucketLifecycleConfiguration document.
type LifecycleConfiguration struct {
	XMLName xml.Name        `xml:"LifecycleConfiguration" json:"-"`
	Xmlns   string          `xml:"xmlns,attr,omitempty" json:"-"`
	Rules   []LifecycleRule `xml:"Rule" json:"rules"`
}

// LifecycleRule is one rule.
type LifecycleRule struct {
	ID     string           `xml:"ID,omitempty" json:"id,omitempty"`
	Prefix *string          `xml:"Prefix" json:"prefix,omitempty"` // the older form of Filter.Prefix
	Filter *LifecycleFilter `xml:"Filter" json:"filter,omitempty"`
	Status string           `xml:"Status" json:"status"`

	Expiration *struct {
		Date                      string `xml:"Date,omitempty" json:"date,omitempty"`
		Days                      *int   `xml:"Days" json:"days,omitempty"`
		ExpiredObjectDeleteMarker *bool  `xml:"ExpiredObjectDeleteMarker" json:"eodm,omitempty"`
	} `xml:"Expiration" json:"expiration,omitempty"`
	NoncurrentVersionExpiration *struct {
		NoncurrentDays          *int `xml:"NoncurrentDays" json:"days,omitempty"`
		NewerNoncurrentVersions *int `xml:"NewerNoncurrentVersions" json:"newer,omitempty"`
	} `xml:"NoncurrentVersionExpiration" json:"noncurrent,omitempty"`
	AbortIncompleteMultipartUpload *struct {
		DaysAfterInitiation *int `xml:"DaysAfterInitiation" json:"days,omitempty"`
	} `xml:"AbortIncompleteMultipartUpload" json:"abort,omitempty"`
	Transitions                  []struct{} `xml:"Transition" json:"-"`
	NoncurrentVersionTransitions []struct{} `xml:"NoncurrentVersionTransition" json:"-"`
}

// LifecycleFilter is a rule's Filter.
type LifecycleFilter struct {
	Prefix                *string `xml:"Prefix" json:"prefix,omitempty"`
	Tag                   *Tag    `xml:"Tag" json:"tag,omitempty"`
	ObjectSizeGreaterThan *int64  `xml:"ObjectSizeGreaterThan" json:"gt,omitempty"`
	ObjectSizeLessThan    *int64  `xml:"ObjectSizeLessThan" json:"lt,omitempty"`
	And                   *struct {
		Prefix                *string `xml:"Prefix" json:"prefix,omitempty"`
		Tags                  []Tag   `xml:"Tag" json:"tags,omitempty"`
		ObjectSizeGreaterThan *int64  `xml:"ObjectSizeGreaterThan" json:"gt,omitempty"`
		ObjectSizeLessThan    *int64  `xml:"ObjectSizeLessThan" json:"lt,omitempty"`
	} `xml:"And" json:"and,omitempty"`
}

// maxLifecycleRules is S3's limit.
const maxLifecycleRules = 1000

// parseLifecycle decodes and checks a PutBucketLifecycleConfiguration
// body as S3 does.
func parseLifecycle(body []byte) (*LifecycleConfiguration, error) {
	var c LifecycleConfiguration
	if err := xml.Unmarshal(body, &c); err != nil { //nolint:gosec // G709: a fixed shape, bounded by maxXMLBody
		return nil, malformedXML()
	}
	if len(c.Rules) == 0 || len(c.Rules) > maxLifecycleRules {
		return nil, malformedXML()
	}
	ids := map[string]bool{}
	for i := range c.Rules {
		r := &c.Rules[i]
		if len(r.ID) > 255 {
			return nil, invalidArgument("ID length should not exceed allowed limit of 255")
		}
		if r.ID != "" {
			if ids[r.ID] {
				return nil, invalidArgument("Rule ID must be unique. Found same ID for more than one rule")
			}
			ids[r.ID] = true
		}
		if r.Status != "Enabled" && r.Status != "Disabled" {
			return nil, malformedXML()
		}
		if r.Prefix != nil && r.Filter != nil {
			return nil, malformedXML()
		}
		if len(r.Transitions) > 0 || len(r.NoncurrentVersionTransitions) > 0 {
			return nil, notImplemented("lifecycle transitions (Transition, NoncurrentVersionTransition): Nimbus has one storage class")
		}
		if r.Expiration == nil && r.NoncurrentVersionExpiration == nil && r.AbortIncompleteMultipartUpload == nil {
			return nil, invalidRequest("At least one action needs to be specified in a rule")
		}
		if err := r.checkFilter(); err != nil {
			return nil, err
		}
		if e := r.Expiration; e != nil {
			n := 0
			if e.Days != nil {
				n++
				if *e.Days <= 0 {
					return nil, invalidArgument("'Days' for Expiration action must be a positive integer")
				}
			}
			if e.Date != "" {
				n++
				d, err := time.Parse(time.RFC3339, e.Date)
				if err != nil || !d.Equal(d.UTC().Truncate(24*time.Hour)) {
					return nil, invalidArgument("'Date' must be at midnight GMT")
				}
			}
			if e.ExpiredObjectDeleteMarker != nil {
				n++
				if len(r.tags()) > 0 {
					return nil, invalidRequest("ExpiredObjectDeleteMarker cannot be specified with object tags")
				}
			}
			if n != 1 {
				return nil, malformedXML()
			}
		}
		if ne := r.NoncurrentVersionExpiration; ne != nil {
			if ne.NoncurrentDays == nil || *ne.NoncurrentDays <= 0 {
				return nil, invalidArgument("'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer")
			}
			if ne.NewerNoncurrentVersions != nil && (*ne.NewerNoncurrentVersions < 1 || *ne.NewerNoncurrentVersions > 100) {
				return nil, invalidArgument("NewerNoncurrentVersions must be between 1 and 100")
			}
		}
		if a := r.AbortIncompleteMultipartUpload; a != nil {
			if a.DaysAfterInitiation == nil || *a.DaysAfterInitiation <= 0 {
				return nil, invalidArgument("'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer")
			}
			if len(r.tags()) > 0 {
				return nil, invalidRequest("AbortIncompleteMultipartUpload cannot be specified with Tags.")
			}
		}
	}
	c.Xmlns = ""
	return &c, nil
}

func (r *LifecycleRule) checkFilter() error {
	f := r.Filter
	if f == nil {
		return nil
	}
	n := 0
	for _, set := range []bool{f.Prefix != nil, f.Tag != nil, f.ObjectSizeGreaterThan != nil, f.ObjectSizeLessThan != nil, f.And != nil} {
		if set {
			n++
		}
	}
	if n > 1 {
		return malformedXML()
	}
	if err := checkTags(r.tags(), 50); err != nil {
		return err
	}
	gt, lt := r.sizeBounds()
	if gt != nil && lt != nil && *gt >= *lt {
		return invalidArgument("ObjectSizeGreaterThan must be less than ObjectSizeLessThan")
	}
	return nil
}

// prefix is the rule's key prefix ("" for all keys).
func (r *LifecycleRule) prefix() string {
	switch f := r.Filter; {
	case r.Prefix != nil:
		return *r.Prefix
	case f == nil:
		return ""
	case f.Prefix != nil:
		return *f.Prefix
	case f.And != nil && f.And.Prefix != nil:
		return *f.And.Prefix
	}
	return ""
}

func (r *LifecycleRule) tags() []Tag {
	switch f := r.Filter; {
	case f == nil:
		return nil
	case f.Tag != nil:
		return []Tag{*f.Tag}
	case f.And != nil:
		return f.And.Tags
	}
	return nil
}

func (r *LifecycleRule) sizeBounds() (gt, lt *int64) {
	f := r.Filter
	if f == nil {
		return nil, nil
	}
	if f.And != nil {
		return f.And.ObjectSizeGreaterThan, f.And.ObjectSizeLessThan
	}
	return f.ObjectSizeGreaterThan, f.ObjectSizeLessThan
}

// applies reports whether the rule's filter takes key with om's tags and
// size.
func (r *LifecycleRule) applies(key string, om *objectMeta) bool {
	if !strings.HasPrefix(key, r.prefix()) {
		return false
	}
	for _, t := range r.tags() {
		if v, ok := om.Tags[t.Key]; !ok || v != t.Value {
			return false
		}
	}
	gt, lt := r.sizeBounds()
	return (gt == nil || om.Size > *gt) && (lt == nil || om.Size < *lt)
}

// dueAfter is when something that happened at t is due after days days:
// the first midnight UTC at least that long after it.
func dueAfter(t time.Time, days int) time.Time {
	d := t.UTC().Add(time.Duration(days) * 24 * time.Hour)
	if m := d.Truncate(24 * time.Hour); !m.Equal(d) {
		return m.Add(24 * time.Hour)
	}
	return d
}

func (s *Service) putLifecycle(w http.ResponseWriter, r *http.Request, name string) error {
	body, err := readSmallBody(r, maxXMLBody)
	if err != nil {
		return err
	}
	if len(body) == 0 {
		return errorf(http.StatusBadRequest, "MissingRequestBodyError", "Request Body is empty")
	}
	c, err := parseLifecycle(body)
	if err != nil {
		return err
	}
	if err := s.updateBucket(r.Context(), name, func(b *bucketRecord) error { b.Lifecycle = c; return nil }); err != nil {
		return err
	}
	w.Header().Set("x-amz-transition-default-minimum-object-size", "all_storage_classes_128K")
	w.WriteHeader(http.StatusOK)
	s.kickLifecycle()
	return nil
}

func (s *Service) getLifecycle(w http.ResponseWriter, r *http.Request, name string) error {
	b, err := s.bucket(r.Context(), name)
	if err != nil {
		return err
	}
	if b.Lifecycle == nil {
		return errorf(http.StatusNotFound, "NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist").with("BucketName", name)
	}
	out := *b.Lifecycle
	out.Xmlns = xmlns
	w.Header().Set("x-amz-transition-default-minimum-object-size", "all_storage_classes_128K")
	return writeXML(w, http.StatusOK, out)
}

func (s *Service) deleteLifecycle(w http.ResponseWriter, r *http.Request, name string) error {
	if err := s.updateBucket(r.Context(), name, func(b *bucketRecord) error { b.Lifecycle = nil; return nil }); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Service) kickLifecycle() {
	select {
	case s.lifecycleWake <- struct{}{}:
	default:
	}
}

// runLifecycle sweeps at start, every interval and when a configuration
// changes, until ctx ends.
func (s *Service) runLifecycle(ctx context.Context) {
	every := s.opts.LifecycleInterval
	if every <= 0 {
		every = time.Hour
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := s.SweepLifecycle(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("s3 lifecycle sweep", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.lifecycleWake:
		}
	}
}

// SweepLifecycle applies the lifecycle rules of the buckets whose objects
// this node holds, once.
func (s *Service) SweepLifecycle(ctx context.Context) error {
	keys, err := s.st.Keys(ctx, bucketKeyPrefix)
	if err != nil {
		return fmt.Errorf("list buckets: %w", err)
	}
	for _, k := range keys {
		b, err := s.bucket(ctx, strings.TrimPrefix(k, bucketKeyPrefix))
		if err != nil {
			continue // deleted meanwhile
		}
		if b.Node != s.opts.Node || b.Lifecycle == nil {
			continue
		}
		if err := s.sweepBucket(b); err != nil {
			return err
		}
	}
	return nil
}

// expiry is one thing a sweep removes.
type expiry struct {
	key, vid string
	marker   bool // the current object becomes a delete marker
	upload   string
}

func (s *Service) sweepBucket(b *bucketRecord) error {
	now := s.now()
	var todo []expiry
	err := s.meta.db.View(func(tx *bolt.Tx) error {
		for i := range b.Lifecycle.Rules {
			r := &b.Lifecycle.Rules[i]
			if r.Status != "Enabled" {
				continue
			}
			if err := s.dueObjects(tx, b, r, now, &todo); err != nil {
				return err
			}
			if a := r.AbortIncompleteMultipartUpload; a != nil && a.DaysAfterInitiation != nil {
				ups := tx.Bucket(rootUploads)
				err := ups.ForEachBucket(func(id []byte) error {
					var um uploadMeta
					if json.Unmarshal(ups.Bucket(id).Get([]byte("meta")), &um) == nil && um.Bucket == b.Name &&
						strings.HasPrefix(um.Key, r.prefix()) && !now.Before(dueAfter(um.Initiated, *a.DaysAfterInitiation)) {
						todo = append(todo, expiry{upload: string(id)})
					}
					return nil
				})
				if err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, e := range todo {
		if err := s.expire(b, e); err != nil {
			return err
		}
	}
	return nil
}

// dueObjects appends the current objects, noncurrent versions and lone
// delete markers rule r expires now.
func (s *Service) dueObjects(tx *bolt.Tx, b *bucketRecord, r *LifecycleRule, now time.Time, todo *[]expiry) error {
	e, ne := r.Expiration, r.NoncurrentVersionExpiration
	if ob := objectsOf(tx, b.Name); ob != nil && e != nil && (e.Days != nil || e.Date != "") {
		c := ob.Cursor()
		for k, v := c.Seek([]byte(r.prefix())); k != nil && strings.HasPrefix(string(k), r.prefix()); k, v = c.Next() {
			var om objectMeta
			if json.Unmarshal(v, &om) != nil || !r.applies(string(k), &om) {
				continue
			}
			var due time.Time
			if e.Days != nil {
				due = dueAfter(om.Modified, *e.Days)
			} else {
				due, _ = time.Parse(time.RFC3339, e.Date)
			}
			if !now.Before(due) {
				*todo = append(*todo, expiry{key: string(k), marker: true})
			}
		}
	}
	vb := tx.Bucket(rootVersions).Bucket([]byte(b.Name))
	if vb == nil || (ne == nil && (e == nil || e.ExpiredObjectDeleteMarker == nil || !*e.ExpiredObjectDeleteMarker)) {
		return nil
	}
	c := vb.Cursor()
	for k, _ := c.Seek([]byte(r.prefix())); k != nil && strings.HasPrefix(string(k), r.prefix()); k, _ = c.Next() {
		key := string(k)
		vs, err := versionsOfKey(tx, b.Name, key)
		if err != nil {
			return err
		}
		if len(vs) == 1 && vs[0].DeleteMarker && e != nil && e.ExpiredObjectDeleteMarker != nil && *e.ExpiredObjectDeleteMarker {
			*todo = append(*todo, expiry{key: key, vid: versionOf(vs[0])})
			continue
		}
		if ne == nil {
			continue
		}
		kept := 0
		for i := 1; i < len(vs); i++ { // vs[0] is current
			v := vs[i]
			if v.DeleteMarker || !r.applies(key, v) {
				continue
			}
			kept++
			if ne.NewerNoncurrentVersions != nil && kept <= *ne.NewerNoncurrentVersions {
				continue
			}
			// A version became noncurrent when the one after it was written.
			if !now.Before(dueAfter(vs[i-1].Modified, *ne.NoncurrentDays)) {
				*todo = append(*todo, expiry{key: key, vid: versionOf(v)})
			}
		}
	}
	return nil
}

// expire removes one due thing, as S3's lifecycle does: a current object
// is deleted (a delete marker in a versioned bucket), a version or marker
// for good, an upload aborted. It records the LifecycleExpiration event.
func (s *Service) expire(b *bucketRecord, e expiry) error {
	var freed []string
	reqID := awsapi.NewRequestID()
	err := s.meta.db.Update(func(tx *bolt.Tx) error {
		freed = nil
		switch {
		case e.upload != "":
			ups := tx.Bucket(rootUploads)
			ub := ups.Bucket([]byte(e.upload))
			if ub == nil {
				return nil
			}
			_ = ub.ForEach(func(k, v []byte) error {
				var pm partMeta
				if k[0] == 'p' && json.Unmarshal(v, &pm) == nil {
					freed = append(freed, pm.File)
				}
				return nil
			})
			return ups.DeleteBucket([]byte(e.upload))
		case e.vid != "":
			gone, f, err := deleteVersion(tx, b.Name, e.key, e.vid)
			if err != nil || gone == nil {
				return err
			}
			freed = f
			return s.recordEvent(tx, b, "LifecycleExpiration:Delete", e.key, &objectMeta{DeleteMarker: true, VersionID: gone.VersionID}, reqID, nil)
		}
		old, err := getObject(tx, b.Name, e.key)
		if err != nil || old == nil {
			return err
		}
		if b.Versioning != "" {
			marker := &objectMeta{DeleteMarker: true, Modified: s.now()}
			if freed, err = putVersioned(tx, b.Versioning, b.Name, e.key, marker); err != nil {
				return err
			}
			return s.recordEvent(tx, b, "LifecycleExpiration:DeleteMarkerCreated", e.key, marker, reqID, nil)
		}
		if err := deleteObject(tx, b.Name, e.key); err != nil {
			return err
		}
		freed = []string{old.File}
		return s.recordEvent(tx, b, "LifecycleExpiration:Delete", e.key, nil, reqID, nil)
	})
	if err != nil {
		return err
	}
	s.kick()
	s.removeBodies(freed...)
	return nil
}

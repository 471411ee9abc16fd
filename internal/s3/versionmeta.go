package s3

import (
	"encoding/json"
	"net/http"

	bolt "go.etcd.io/bbolt"
)

// Object tagging and GetObjectAttributes name a version with ?versionId=
// or, without one, the current version. A version's metadata is kept
// twice when it is current in a versioned bucket (objects/ and its
// version tree), so a change applies to both.

// deleteMarkerRefusal is S3's answer to a tagging or attributes call on a
// delete marker named by its version id.
func deleteMarkerRefusal(w http.ResponseWriter, r *http.Request, om *objectMeta) error {
	h := w.Header()
	h.Set("x-amz-delete-marker", "true")
	h.Set("x-amz-version-id", versionOf(om))
	return errorf(http.StatusMethodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource.").
		with("Method", r.Method).with("ResourceType", "DeleteMarker")
}

// objectVersion is the metadata of key's version vid ("" is the current
// version).
func (s *Service) objectVersion(w http.ResponseWriter, r *http.Request, t target, vid string) (*objectMeta, error) {
	if vid == "" {
		om, err := s.meta.object(t.bucket, t.key)
		if err == nil && om == nil {
			return nil, noSuchKey(t.key)
		}
		return om, err
	}
	if !validVersionID(vid) {
		return nil, invalidVersionID()
	}
	om, _, err := s.meta.version(t.bucket, t.key, vid)
	switch {
	case err != nil:
		return nil, err
	case om == nil:
		return nil, noSuchVersion(t.key, vid)
	case om.DeleteMarker:
		return nil, deleteMarkerRefusal(w, r, om)
	}
	return om, nil
}

// updateVersion applies f to key's version vid ("" is the current
// version), wherever its metadata is kept, and returns the version's id.
func (s *Service) updateVersion(w http.ResponseWriter, r *http.Request, t target, vid string, f func(*objectMeta)) (string, error) {
	if vid != "" && !validVersionID(vid) {
		return "", invalidVersionID()
	}
	var marker *objectMeta
	err := s.meta.db.Update(func(tx *bolt.Tx) error {
		cur, err := getObject(tx, t.bucket, t.key)
		if err != nil {
			return err
		}
		if vid == "" {
			if cur == nil {
				return noSuchKey(t.key)
			}
			vid = versionOf(cur)
		}
		found := false
		if cur != nil && versionOf(cur) == vid {
			found = true
			f(cur)
			if err := putObject(tx, t.bucket, t.key, cur); err != nil {
				return err
			}
		}
		kb, err := keyVersions(tx, t.bucket, t.key, false)
		if err != nil || kb == nil {
			if err == nil && !found {
				err = noSuchVersion(t.key, vid)
			}
			return err
		}
		c := kb.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var om objectMeta
			if err := json.Unmarshal(v, &om); err != nil {
				return err
			}
			if versionOf(&om) != vid {
				continue
			}
			if om.DeleteMarker {
				marker = &om
				return nil
			}
			f(&om)
			return putVersion(kb, &om)
		}
		if !found {
			return noSuchVersion(t.key, vid)
		}
		return nil
	})
	if err == nil && marker != nil {
		err = deleteMarkerRefusal(w, r, marker)
	}
	return vid, err
}

package s3

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// Versioning. A bucket's status (Enabled or Suspended, never back to
// unversioned) is in its record. The current version of each key stays in
// objects/<bucket>/<key>, so GET, HEAD and the listings read what they
// always read; every version of a key in a versioned bucket, delete
// markers included, is also in
//
//	versions/<bucket>/<key>/<^seq>   objectMeta (JSON)
//
// a nested bbolt bucket per key whose entries are ordered newest first
// (the key's own sequence, inverted). An object written before versioning
// was enabled has the version id "null" and no entry until the next write
// to its key adopts it. A version id is 32 hex digits or "null".

var rootVersions = []byte("versions")

// Bucket versioning states.
const (
	versioningEnabled   = "Enabled"
	versioningSuspended = "Suspended"
)

// nullVersion is the version id of objects written while a bucket was
// unversioned or suspended.
const nullVersion = "null"

// validVersionID reports whether v has the form of a Nimbus version id.
func validVersionID(v string) bool {
	return v == nullVersion || validID(v)
}

func invalidVersionID() *Error {
	return invalidArgument("Invalid version id specified").with("ArgumentName", "versionId")
}

func noSuchVersion(key, v string) *Error {
	return errorf(http.StatusNotFound, "NoSuchVersion", "The specified version does not exist.").with("Key", key).with("VersionId", v)
}

// versionOf is om's version id as S3 spells it.
func versionOf(om *objectMeta) string {
	if om.VersionID == "" {
		return nullVersion
	}
	return om.VersionID
}

// keyVersions is the version tree of one key (nil when it has none and
// create is false).
func keyVersions(tx *bolt.Tx, bucket, key string, create bool) (*bolt.Bucket, error) {
	root := tx.Bucket(rootVersions)
	bb := root.Bucket([]byte(bucket))
	if bb == nil {
		if !create {
			return nil, nil
		}
		var err error
		if bb, err = root.CreateBucket([]byte(bucket)); err != nil {
			return nil, err
		}
	}
	kb := bb.Bucket([]byte(key))
	if kb == nil && create {
		return bb.CreateBucket([]byte(key))
	}
	return kb, nil
}

func putVersion(kb *bolt.Bucket, om *objectMeta) error {
	v, err := json.Marshal(om)
	if err != nil {
		return err
	}
	return kb.Put(seqKey(^om.Seq), v)
}

// adopt records cur, an object written before its key had versions, as
// the key's oldest-so-far version (id "null").
func adopt(tx *bolt.Tx, kb *bolt.Bucket, bucket, key string, cur *objectMeta) error {
	if cur == nil || cur.Seq != 0 {
		return nil
	}
	seq, err := kb.NextSequence()
	if err != nil {
		return err
	}
	cur.Seq = seq
	if err := putVersion(kb, cur); err != nil {
		return err
	}
	return putObject(tx, bucket, key, cur)
}

// putVersioned makes om (an object or a delete marker) the newest version
// of key in a bucket whose versioning is status, in tx. It returns the
// bodies no version refers to any more (a suspended bucket's write
// replaces the "null" version).
func putVersioned(tx *bolt.Tx, status, bucket, key string, om *objectMeta) ([]string, error) {
	kb, err := keyVersions(tx, bucket, key, true)
	if err != nil {
		return nil, err
	}
	cur, err := getObject(tx, bucket, key)
	if err != nil {
		return nil, err
	}
	if err := adopt(tx, kb, bucket, key, cur); err != nil {
		return nil, err
	}
	var freed []string
	om.VersionID = ""
	if status == versioningSuspended {
		if freed, err = dropVersions(kb, func(v *objectMeta) bool { return v.VersionID == "" }); err != nil {
			return nil, err
		}
	} else {
		om.VersionID = newID()
	}
	if om.Seq, err = kb.NextSequence(); err != nil {
		return nil, err
	}
	if err := putVersion(kb, om); err != nil {
		return nil, err
	}
	if om.DeleteMarker {
		return freed, deleteObject(tx, bucket, key)
	}
	return freed, putObject(tx, bucket, key, om)
}

// dropVersions deletes the versions of kb that match, and returns their
// bodies.
func dropVersions(kb *bolt.Bucket, match func(*objectMeta) bool) ([]string, error) {
	var drop [][]byte
	var files []string
	c := kb.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		var om objectMeta
		if err := json.Unmarshal(v, &om); err != nil {
			return nil, err
		}
		if match(&om) {
			drop = append(drop, append([]byte(nil), k...))
			if !om.DeleteMarker {
				files = append(files, om.File)
			}
		}
	}
	for _, k := range drop {
		if err := kb.Delete(k); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// versionsOfKey lists key's versions, newest first: the adopted-or-not
// current object and the version tree's entries.
func versionsOfKey(tx *bolt.Tx, bucket, key string) ([]*objectMeta, error) {
	var out []*objectMeta
	cur, err := getObject(tx, bucket, key)
	if err != nil {
		return nil, err
	}
	if cur != nil && cur.Seq == 0 {
		out = append(out, cur)
	}
	kb, err := keyVersions(tx, bucket, key, false)
	if err != nil || kb == nil {
		return out, err
	}
	err = kb.ForEach(func(_, v []byte) error {
		var om objectMeta
		if err := json.Unmarshal(v, &om); err != nil {
			return fmt.Errorf("decode version of %s/%s: %w", bucket, key, err)
		}
		out = append(out, &om)
		return nil
	})
	return out, err
}

// version finds one version of key ("null" included); nil when absent.
// latest reports whether it is the key's newest version.
func (m *metaDB) version(bucket, key, vid string) (om *objectMeta, latest bool, err error) {
	err = m.db.View(func(tx *bolt.Tx) error {
		vs, err := versionsOfKey(tx, bucket, key)
		if err != nil {
			return err
		}
		for i, v := range vs {
			if versionOf(v) == vid {
				om, latest = v, i == 0
				return nil
			}
		}
		return nil
	})
	return om, latest, err
}

// newest is key's newest version (a delete marker, perhaps), nil when it
// has none.
func (m *metaDB) newest(bucket, key string) (*objectMeta, error) {
	var om *objectMeta
	err := m.db.View(func(tx *bolt.Tx) error {
		vs, err := versionsOfKey(tx, bucket, key)
		if err == nil && len(vs) > 0 {
			om = vs[0]
		}
		return err
	})
	return om, err
}

// deleteVersion removes one version of key for good, in tx, and makes the
// next newest the current object if it was the newest. It returns the
// removed version (nil if there was none) and the body to free.
func deleteVersion(tx *bolt.Tx, bucket, key, vid string) (*objectMeta, []string, error) {
	cur, err := getObject(tx, bucket, key)
	if err != nil {
		return nil, nil, err
	}
	if cur != nil && cur.Seq == 0 {
		// Written before the key had versions: the current object is its
		// only version.
		if versionOf(cur) != vid {
			return nil, nil, nil
		}
		return cur, []string{cur.File}, deleteObject(tx, bucket, key)
	}
	kb, err := keyVersions(tx, bucket, key, false)
	if err != nil || kb == nil {
		return nil, nil, err
	}
	var removed *objectMeta
	var rk []byte
	first := true
	wasNewest := false
	c := kb.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		var om objectMeta
		if err := json.Unmarshal(v, &om); err != nil {
			return nil, nil, err
		}
		if versionOf(&om) == vid {
			removed, rk, wasNewest = &om, append([]byte(nil), k...), first
			break
		}
		first = false
	}
	if removed == nil {
		return nil, nil, nil
	}
	if err := kb.Delete(rk); err != nil {
		return nil, nil, err
	}
	var freed []string
	if !removed.DeleteMarker {
		freed = []string{removed.File}
	}
	if !wasNewest {
		return removed, freed, nil
	}
	k, v := kb.Cursor().First()
	if k == nil {
		if err := tx.Bucket(rootVersions).Bucket([]byte(bucket)).DeleteBucket([]byte(key)); err != nil {
			return nil, nil, err
		}
		return removed, freed, deleteObject(tx, bucket, key)
	}
	var next objectMeta
	if err := json.Unmarshal(v, &next); err != nil {
		return nil, nil, err
	}
	if next.DeleteMarker {
		return removed, freed, deleteObject(tx, bucket, key)
	}
	return removed, freed, putObject(tx, bucket, key, &next)
}

// versionParams are ListObjectVersions' parameters.
type versionParams struct {
	prefix, delimiter    string
	keyMarker, vidMarker string
	maxKeys              int
}

type versionEntry struct {
	key    string
	om     *objectMeta
	latest bool
}

type versionPage struct {
	entries          []versionEntry
	prefixes         []string
	truncated        bool
	nextKey, nextVid string
}

// listVersions reads one page of ListObjectVersions: keys in order (the
// union of current objects and version trees), each key's versions newest
// first, common prefixes skipped with a seek as list does.
func (m *metaDB) listVersions(bucket string, p versionParams) (*versionPage, error) {
	page := &versionPage{}
	err := m.db.View(func(tx *bolt.Tx) error {
		ob := objectsOf(tx, bucket)
		vb := tx.Bucket(rootVersions).Bucket([]byte(bucket))
		var co, cv *bolt.Cursor
		if ob != nil {
			co = ob.Cursor()
		}
		if vb != nil {
			cv = vb.Cursor()
		}
		// seek returns the smallest key >= from (> from when after).
		seek := func(from string, after bool) (string, bool) {
			best, found := "", false
			for _, c := range []*bolt.Cursor{co, cv} {
				if c == nil {
					continue
				}
				k, _ := c.Seek([]byte(from))
				if k != nil && after && string(k) == from {
					k, _ = c.Next()
				}
				if k != nil && (!found || string(k) < best) {
					best, found = string(k), true
				}
			}
			return best, found
		}
		start := max(p.prefix, p.keyMarker)
		key, ok := seek(start, false)
		n := 0
		for ok && strings.HasPrefix(key, p.prefix) {
			if key == p.keyMarker && p.vidMarker == "" {
				key, ok = seek(key, true)
				continue
			}
			if p.delimiter != "" {
				if i := strings.Index(key[len(p.prefix):], p.delimiter); i >= 0 {
					cp := key[:len(p.prefix)+i+len(p.delimiter)]
					if cp != p.keyMarker {
						if n == p.maxKeys {
							page.truncated = true
							return nil
						}
						page.prefixes = append(page.prefixes, cp)
						page.nextKey, page.nextVid = cp, ""
						n++
					}
					end := prefixEnd(cp)
					if end == "" {
						return nil
					}
					key, ok = seek(end, false)
					continue
				}
			}
			vs, err := versionsOfKey(tx, bucket, key)
			if err != nil {
				return err
			}
			skipping := key == p.keyMarker && p.vidMarker != ""
			for i, v := range vs {
				if skipping {
					skipping = versionOf(v) != p.vidMarker
					continue
				}
				if n == p.maxKeys {
					page.truncated = true
					return nil
				}
				page.entries = append(page.entries, versionEntry{key: key, om: v, latest: i == 0})
				page.nextKey, page.nextVid = key, versionOf(v)
				n++
			}
			key, ok = seek(key, true)
		}
		return nil
	})
	return page, err
}

package s3

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The metadata store: one bbolt file (an ordered B+tree, so a listing is a
// seek and a scan) per node:
//
//	objects/<bucket>/<key>         objectMeta (JSON)
//	uploads/<upload id>/meta       uploadMeta
//	uploads/<upload id>/p<00001>   partMeta
//	outbox/<sequence>              a notification not yet delivered
//	versions/<bucket>/<key>/<^seq> every version of a key (versions.go)
//
// Every acknowledged write is one committed transaction (bbolt fsyncs on
// commit; concurrent writers share a commit through Batch).
var (
	rootObjects = []byte("objects")
	rootUploads = []byte("uploads")
	rootOutbox  = []byte("outbox")
)

// objectMeta is what is stored of an object beside its body.
type objectMeta struct {
	File               string            `json:"f"`
	Size               int64             `json:"s"`
	ETag               string            `json:"e"` // unquoted
	Modified           time.Time         `json:"m"`
	ContentType        string            `json:"ct,omitempty"`
	ContentEncoding    string            `json:"ce,omitempty"`
	ContentDisposition string            `json:"cd,omitempty"`
	ContentLanguage    string            `json:"cl,omitempty"`
	CacheControl       string            `json:"cc,omitempty"`
	Expires            string            `json:"ex,omitempty"`
	UserMeta           map[string]string `json:"u,omitempty"`
	ChecksumAlg        string            `json:"ka,omitempty"` // lower-case
	Checksum           string            `json:"k,omitempty"`
	ChecksumType       string            `json:"kt,omitempty"` // FULL_OBJECT or COMPOSITE
	Parts              int               `json:"p,omitempty"`
	PartSizes          []int64           `json:"ps,omitempty"`
	Tags               map[string]string `json:"t,omitempty"`
	// VersionID is the version's id ("" for the "null" version).
	VersionID    string `json:"v,omitempty"`
	DeleteMarker bool   `json:"dm,omitempty"`
	// Seq orders the key's versions (0: not in the version tree yet).
	Seq uint64 `json:"q,omitempty"`
	// SSE is how the body is encrypted (nil: in the clear, written before
	// Nimbus encrypted bodies).
	SSE *sseMeta `json:"x,omitempty"`
	// ACL is the canned ACL set on the object (acl.go).
	ACL string `json:"acl,omitempty"`
}

// uploadMeta is a multipart upload in progress.
type uploadMeta struct {
	Bucket      string      `json:"b"`
	Key         string      `json:"k"`
	Initiated   time.Time   `json:"i"`
	Object      *objectMeta `json:"o"` // the content headers, metadata and checksum algorithm to give the object
	ChecksumAlg string      `json:"ka,omitempty"`
	// ChecksumType is COMPOSITE or FULL_OBJECT.
	ChecksumType string `json:"kt,omitempty"`
}

// partMeta is one uploaded part.
type partMeta struct {
	File     string    `json:"f"`
	Size     int64     `json:"s"`
	ETag     string    `json:"e"`
	Modified time.Time `json:"m"`
	Checksum string    `json:"k,omitempty"`
	IV       []byte    `json:"iv,omitempty"` // the part file's CTR start, under its upload's data key
}

type metaDB struct{ db *bolt.DB }

func openMeta(path string) (*metaDB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open object metadata %s: %w", path, err)
	}
	db.MaxBatchDelay = 2 * time.Millisecond
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{rootObjects, rootUploads, rootOutbox, rootVersions} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("init object metadata: %w", err)
	}
	return &metaDB{db: db}, nil
}

func (m *metaDB) Close() error { return m.db.Close() }

// objectsOf is the bucket's object tree (nil when it holds none yet).
func objectsOf(tx *bolt.Tx, bucket string) *bolt.Bucket {
	return tx.Bucket(rootObjects).Bucket([]byte(bucket))
}

func getObject(tx *bolt.Tx, bucket, key string) (*objectMeta, error) {
	b := objectsOf(tx, bucket)
	if b == nil {
		return nil, nil
	}
	v := b.Get([]byte(key))
	if v == nil {
		return nil, nil
	}
	var om objectMeta
	if err := json.Unmarshal(v, &om); err != nil {
		return nil, fmt.Errorf("decode object %s/%s: %w", bucket, key, err)
	}
	return &om, nil
}

func putObject(tx *bolt.Tx, bucket, key string, om *objectMeta) error {
	b, err := tx.Bucket(rootObjects).CreateBucketIfNotExists([]byte(bucket))
	if err != nil {
		return err
	}
	v, err := json.Marshal(om)
	if err != nil {
		return err
	}
	return b.Put([]byte(key), v)
}

func deleteObject(tx *bolt.Tx, bucket, key string) error {
	b := objectsOf(tx, bucket)
	if b == nil {
		return nil
	}
	return b.Delete([]byte(key))
}

// object reads one object's metadata (nil when absent).
func (m *metaDB) object(bucket, key string) (*objectMeta, error) {
	var om *objectMeta
	err := m.db.View(func(tx *bolt.Tx) error {
		var err error
		om, err = getObject(tx, bucket, key)
		return err
	})
	return om, err
}

// bucketEmpty reports whether a bucket holds no object and no version.
func (m *metaDB) bucketEmpty(bucket string) (bool, error) {
	empty := true
	err := m.db.View(func(tx *bolt.Tx) error {
		for _, b := range []*bolt.Bucket{objectsOf(tx, bucket), tx.Bucket(rootVersions).Bucket([]byte(bucket))} {
			if b != nil {
				if k, _ := b.Cursor().First(); k != nil {
					empty = false
				}
			}
		}
		return nil
	})
	return empty, err
}

// dropBucket removes a bucket's (empty) object tree and its uploads, and
// returns the files of the uploads.
func (m *metaDB) dropBucket(bucket string) ([]string, error) {
	var files []string
	err := m.db.Update(func(tx *bolt.Tx) error {
		if objectsOf(tx, bucket) != nil {
			if err := tx.Bucket(rootObjects).DeleteBucket([]byte(bucket)); err != nil {
				return err
			}
		}
		if tx.Bucket(rootVersions).Bucket([]byte(bucket)) != nil {
			if err := tx.Bucket(rootVersions).DeleteBucket([]byte(bucket)); err != nil {
				return err
			}
		}
		ups := tx.Bucket(rootUploads)
		var drop [][]byte
		err := ups.ForEachBucket(func(id []byte) error {
			ub := ups.Bucket(id)
			var um uploadMeta
			if json.Unmarshal(ub.Get([]byte("meta")), &um) == nil && um.Bucket == bucket {
				drop = append(drop, append([]byte(nil), id...))
				_ = ub.ForEach(func(k, v []byte) error {
					var pm partMeta
					if k[0] == 'p' && json.Unmarshal(v, &pm) == nil {
						files = append(files, pm.File)
					}
					return nil
				})
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, id := range drop {
			if err := ups.DeleteBucket(id); err != nil {
				return err
			}
		}
		return nil
	})
	return files, err
}

// seqKey is an outbox key: the sequence, big-endian (ordered).
func seqKey(n uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return b[:]
}

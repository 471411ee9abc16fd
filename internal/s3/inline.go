package s3

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// Small bodies live in the metadata store, not in files: a PUT of at most
// inlineMax bytes is read whole, encrypted as a file would be (the
// object's data key, its own IV), and written in the same bbolt
// transaction as the object's metadata. So a small PUT costs one share of
// a group commit (bbolt's Batch: concurrent writers, one fsync pair)
// instead of its own file's create, fsync and rename before that commit,
// and a small GET reads the store's memory map instead of opening a file.
// The body is still durable before the answer and never half-visible: it
// commits with the metadata that names it.
//
//	bodies/<id>   the ciphertext of an inline body; its object's File is
//	              "i" + id (never a valid file id, so the disk never takes
//	              it for one)
//
// Only single PUTs inline; copies and multipart bodies are files. Readers
// go through openBody and removers through removeBodies, which tell the
// two apart. Listings do not touch bodies/.
var rootBodies = []byte("bodies")

// inlineMax is the largest body kept in the metadata store.
const inlineMax = 32 << 10

const inlinePrefix = "i"

func isInline(id string) bool {
	return strings.HasPrefix(id, inlinePrefix) && validID(id[len(inlinePrefix):])
}

// readInline reads a body of a known length of at most inlineMax, whole
// (the body's checks run at its end, as for a file), and encrypts it with
// dk (nil: in the clear). It returns the id to give the object and the
// bytes to store with it.
func readInline(body io.Reader, dk []byte) (id string, n int64, iv, stored []byte, err error) {
	plain, err := io.ReadAll(body)
	if err != nil {
		return "", 0, nil, nil, err
	}
	stored = plain
	if dk != nil {
		iv = newIV()
		er, err := encrypting(bytes.NewReader(plain), dk, iv)
		if err != nil {
			return "", 0, nil, nil, err
		}
		if stored, err = io.ReadAll(er); err != nil {
			return "", 0, nil, nil, err
		}
	}
	return inlinePrefix + newID(), int64(len(plain)), iv, stored, nil
}

// putInline stores an inline body in tx.
func putInline(tx *bolt.Tx, id string, stored []byte) error {
	b, err := tx.CreateBucketIfNotExists(rootBodies)
	if err != nil {
		return err
	}
	return b.Put([]byte(id), stored)
}

// openBody opens the body stored under id: a file, or an inline body.
func (s *Service) openBody(id string) (io.ReadSeekCloser, error) {
	if !isInline(id) {
		return s.disk.open(id)
	}
	var data []byte
	err := s.meta.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(rootBodies); b != nil {
			if v := b.Get([]byte(id)); v != nil {
				data = bytes.Clone(v)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read inline body %s: %w", id, err)
	}
	if data == nil {
		return nil, fmt.Errorf("inline body %s: %w", id, os.ErrNotExist)
	}
	return nopCloser{bytes.NewReader(data)}, nil
}

type nopCloser struct{ io.ReadSeeker }

func (nopCloser) Close() error { return nil }

// removeBodies deletes the bodies stored under ids, files and inline
// ones (absent ones are fine). Like a file's removal, an inline body's
// comes after the commit that stopped naming it; a crash between leaves
// an unreferenced entry, never a missing body.
func (s *Service) removeBodies(ids ...string) {
	var inline []string
	for _, id := range ids {
		if isInline(id) {
			inline = append(inline, id)
		}
	}
	s.disk.remove(ids...)
	if len(inline) == 0 {
		return
	}
	err := s.meta.db.Batch(func(tx *bolt.Tx) error {
		b := tx.Bucket(rootBodies)
		if b == nil {
			return nil
		}
		for _, id := range inline {
			if err := b.Delete([]byte(id)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.log.Warn("remove inline bodies", "err", err)
	}
}

package s3

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// disk holds object bodies as files under dir/data, named by random ids
// (never by key: no key can name a path), written to dir/tmp, fsynced and
// renamed into place, so a body is either whole or absent.
type disk struct {
	dir     string
	bufPool sync.Pool
}

func newDisk(dir string) (*disk, error) {
	for _, d := range []string{"data", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, fmt.Errorf("create object directory: %w", err)
		}
	}
	// Bodies left in tmp by a crash were never acknowledged.
	tmp := filepath.Join(dir, "tmp")
	if ents, err := os.ReadDir(tmp); err == nil {
		for _, e := range ents {
			_ = os.Remove(filepath.Join(tmp, e.Name()))
		}
	}
	return &disk{dir: dir, bufPool: sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}}, nil
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// validID: ids are 32 lower-case hex digits (they come from the metadata
// store, but a path is built from them).
func validID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func (d *disk) path(id string) string { return filepath.Join(d.dir, "data", id[:2], id) }

// write stores r's bytes durably under a new id. Nothing is left behind
// when r fails.
func (d *disk) write(r io.Reader) (string, int64, error) {
	id := newID()
	tmp := filepath.Join(d.dir, "tmp", id)
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return "", 0, fmt.Errorf("create object file: %w", err)
	}
	bp := d.bufPool.Get().(*[]byte)
	n, err := io.CopyBuffer(writerOnly{f}, readerOnly{r}, *bp)
	d.bufPool.Put(bp)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.MkdirAll(filepath.Dir(d.path(id)), 0o700)
	}
	if err == nil {
		err = os.Rename(tmp, d.path(id))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return "", 0, err
	}
	return id, n, nil
}

// open opens the body stored under id.
func (d *disk) open(id string) (*os.File, error) {
	if !validID(id) {
		return nil, fmt.Errorf("object file id %q: %w", id, os.ErrNotExist)
	}
	return os.Open(d.path(id))
}

// remove deletes the bodies stored under ids (absent ones are fine).
func (d *disk) remove(ids ...string) {
	for _, id := range ids {
		if validID(id) {
			if err := os.Remove(d.path(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
				continue
			}
		}
	}
}

type readerOnly struct{ io.Reader }
type writerOnly struct{ io.Writer }

package pool

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/code"
	"github.com/nimbus-serverless/nimbus/internal/errdefs"
)

// codeCache lays out code packages under dir/<key>, once per key: the
// package is fetched, checked against its key, extracted to a temporary
// directory and renamed into place, so a reader never sees a partial tree
// and two processes sharing dir cannot collide. Concurrent requests for the
// same key in this process wait for one extraction.
type codeCache struct {
	dir string
	src CodeSource

	mu       sync.Mutex
	inflight map[string]*codeFetch // guarded by mu
}

type codeFetch struct {
	done chan struct{}
	err  error // set before done is closed
}

func newCodeCache(dir string, src CodeSource) *codeCache {
	return &codeCache{dir: dir, src: src, inflight: map[string]*codeFetch{}}
}

var errCodeMismatch = errors.New("code package does not match its SHA-256")

// get returns the directory holding the extracted package key.
func (c *codeCache) get(ctx context.Context, key string) (string, error) {
	final := filepath.Join(c.dir, key)
	for {
		if fi, err := os.Stat(final); err == nil && fi.IsDir() {
			return final, nil
		}
		c.mu.Lock()
		f := c.inflight[key]
		if f == nil {
			f = &codeFetch{done: make(chan struct{})}
			c.inflight[key] = f
			c.mu.Unlock()
			f.err = c.fetch(ctx, key, final)
			c.mu.Lock()
			delete(c.inflight, key)
			c.mu.Unlock()
			close(f.done)
			if f.err != nil {
				return "", f.err
			}
			return final, nil
		}
		c.mu.Unlock()
		select {
		case <-f.done:
			if f.err != nil && ctx.Err() == nil && errors.Is(f.err, context.Canceled) {
				continue // the fetching caller gave up; try ourselves
			}
			if f.err != nil {
				return "", f.err
			}
			return final, nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

func (c *codeCache) fetch(ctx context.Context, key, final string) error {
	data, err := c.src.GetCode(ctx, key)
	if err != nil {
		return fmt.Errorf("get code %s: %w", key, err)
	}
	sum := sha256.Sum256(data)
	if hex.EncodeToString(sum[:]) != key {
		return fmt.Errorf("get code %s: %w", key, errCodeMismatch)
	}
	tmp, err := os.MkdirTemp(c.dir, ".extract-"+key+"-")
	if err != nil {
		return fmt.Errorf("extract code %s: %w", key, err)
	}
	defer os.RemoveAll(tmp) //nolint:errcheck // empty after a successful rename
	tree := filepath.Join(tmp, "tree")
	if err := code.Extract(data, tree, 0); err != nil {
		if awsapi.As(err) != nil { // the package is at fault, not the node
			return fmt.Errorf("extract code %s: %w: %w", key, errdefs.ErrBadCode, err)
		}
		return fmt.Errorf("extract code %s: %w", key, err)
	}
	if err := os.Rename(tree, final); err != nil {
		// Another process may have won the race; its tree is as good.
		if fi, serr := os.Stat(final); serr == nil && fi.IsDir() {
			return nil
		}
		if errors.Is(err, fs.ErrExist) {
			return nil
		}
		return fmt.Errorf("install code %s: %w", key, err)
	}
	return nil
}

package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ArtifactKeyPrefix namespaces deployment artifacts (package stack) in
// the code bucket: "artifact/<sha256>" lives apart from the function code
// packages the registry collects, so a deleted function never takes an
// artifact a stack's rollback still needs.
const ArtifactKeyPrefix = "artifact/"

// validCodeKey checks that key is a lowercase hex SHA-256 (function.CodeKey),
// optionally after ArtifactKeyPrefix.
func validCodeKey(key string) error {
	key = strings.TrimPrefix(key, ArtifactKeyPrefix)
	if len(key) != 2*sha256.Size {
		return fmt.Errorf("%w %q: not a hex sha256", ErrInvalidKey, key)
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return fmt.Errorf("%w %q: not a lowercase hex sha256", ErrInvalidKey, key)
		}
	}
	return nil
}

// PutCode stores a code package under key, the lowercase hex SHA-256 of
// data (after ArtifactKeyPrefix for an artifact). It is idempotent: if key is already stored it does nothing. It
// rejects data whose digest is not key, so a key always names its content.
func (s *Store) PutCode(ctx context.Context, key string, data []byte) error {
	if err := validCodeKey(key); err != nil {
		return fmt.Errorf("put code: %w", err)
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != strings.TrimPrefix(key, ArtifactKeyPrefix) {
		return fmt.Errorf("put code %s: content sha256 is %x", key, sum)
	}
	// Two concurrent uploads of one key would both write chunks, and the
	// loser's would never be purged.
	defer s.code.lock(key)()
	switch _, err := s.obj.GetInfo(ctx, key); {
	case err == nil:
		return nil
	case !errors.Is(err, jetstream.ErrObjectNotFound):
		return fmt.Errorf("put code %s: %w", key, err)
	}
	if err := s.StorageErr(); err != nil {
		return fmt.Errorf("put code %s: %w", key, err)
	}
	meta := jetstream.ObjectMeta{
		Name: key,
		Opts: &jetstream.ObjectMetaOptions{ChunkSize: codeChunkSize},
	}
	if _, err := s.obj.Put(ctx, meta, bytes.NewReader(data)); err != nil {
		return fmt.Errorf("put code %s: %w", key, s.writeErr(err))
	}
	return nil
}

// GetCode returns the code package stored under key, or an error wrapping
// ErrNotFound. The Object Store verifies the content digest on read.
func (s *Store) GetCode(ctx context.Context, key string) ([]byte, error) {
	if err := validCodeKey(key); err != nil {
		return nil, fmt.Errorf("get code: %w", err)
	}
	// A read is idempotent: one that timed out on a loaded machine (the
	// JetStream API's default request timeout, not the caller's context)
	// is tried again, twice.
	data, err := s.obj.GetBytes(ctx, key)
	for try := 0; try < 2 && err != nil && ctx.Err() == nil && errors.Is(err, nats.ErrTimeout); try++ {
		data, err = s.obj.GetBytes(ctx, key)
	}
	if err != nil {
		if errors.Is(err, jetstream.ErrObjectNotFound) {
			return nil, fmt.Errorf("get code %s: %w", key, ErrNotFound)
		}
		return nil, fmt.Errorf("get code %s: %w", key, err)
	}
	return data, nil
}

// DeleteCode removes the code package stored under key. Deleting an absent
// package is a no-op.
func (s *Store) DeleteCode(ctx context.Context, key string) error {
	if err := validCodeKey(key); err != nil {
		return fmt.Errorf("delete code: %w", err)
	}
	defer s.code.lock(key)()
	switch _, err := s.obj.GetInfo(ctx, key); {
	case errors.Is(err, jetstream.ErrObjectNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("delete code %s: %w", key, err)
	}
	if err := s.obj.Delete(ctx, key); err != nil {
		return fmt.Errorf("delete code %s: %w", key, err)
	}
	return nil
}

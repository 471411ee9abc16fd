package stack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/nimbus-serverless/nimbus/internal/store"
)

// ArtifactBucket is the bucket name a template uses for code that
// `nimbus deploy` uploaded: CodeUri s3://nimbus-artifacts/<sha256>, or
// Code {S3Bucket: nimbus-artifacts, S3Key: <sha256>}.
const ArtifactBucket = "nimbus-artifacts"

// CodeStore is the part of the backbone store artifacts live in (the
// Object Store bucket of code packages). *store.Store implements it; a
// missing object is an error wrapping store.ErrNotFound.
type CodeStore interface {
	PutCode(ctx context.Context, key string, data []byte) error
	GetCode(ctx context.Context, key string) ([]byte, error)
}

// Artifacts holds deployment artifacts (zipped code, uploaded by the
// CLI) by the hex SHA-256 of their content, under "artifact/<sha256>" in
// the code bucket, apart from the function code packages the registry
// collects.
type Artifacts struct{ Code CodeStore }

// ErrArtifactNotFound is wrapped by Get for an artifact that was never
// uploaded.
var ErrArtifactNotFound = errors.New("artifact not found")

// ValidArtifactKey reports whether sha is a lowercase hex SHA-256, the only
// form of artifact name.
func ValidArtifactKey(sha string) bool {
	if len(sha) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(sha); i++ {
		if c := sha[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func artifactKey(sha string) (string, error) {
	if !ValidArtifactKey(sha) {
		return "", validationError("Artifact name %q is not a lowercase hex SHA-256.", sha)
	}
	return store.ArtifactKeyPrefix + sha, nil
}

// Put stores data under sha after checking that sha is data's SHA-256. A
// bad name or a digest mismatch is a 400 ValidationError. Storing an
// artifact that exists is a no-op.
func (a *Artifacts) Put(ctx context.Context, sha string, data []byte) error {
	key, err := artifactKey(sha)
	if err != nil {
		return err
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != sha {
		return validationError("The content's SHA-256 is %x, not %s.", sum, sha)
	}
	if err := a.Code.PutCode(ctx, key, data); err != nil {
		return fmt.Errorf("put artifact %s: %w", sha, err)
	}
	return nil
}

// Get returns the artifact sha, or an error wrapping ErrArtifactNotFound.
func (a *Artifacts) Get(ctx context.Context, sha string) ([]byte, error) {
	key, err := artifactKey(sha)
	if err != nil {
		return nil, err
	}
	data, err := a.Code.GetCode(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("get artifact %s: %w", sha, ErrArtifactNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get artifact %s: %w", sha, err)
	}
	return data, nil
}

// Has reports whether the artifact sha is stored.
func (a *Artifacts) Has(ctx context.Context, sha string) (bool, error) {
	_, err := a.Get(ctx, sha)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrArtifactNotFound):
		return false, nil
	}
	return false, err
}

package stack

import "context"

// ArtifactBucket is the bucket name a template uses for code that
// `nimbus deploy` uploaded: CodeUri s3://nimbus-artifacts/<sha256>, or
// Code {S3Bucket: nimbus-artifacts, S3Key: <sha256>}.
const ArtifactBucket = "nimbus-artifacts"

// CodeStore is the part of the backbone store artifacts live in (the
// Object Store bucket of code packages). *store.Store implements it.
type CodeStore interface {
	PutCode(ctx context.Context, key string, data []byte) error
	GetCode(ctx context.Context, key string) ([]byte, error)
}

// Artifacts holds deployment artifacts (zipped code, uploaded by the
// CLI) by the hex SHA-256 of their content, under "artifact/<sha256>" in
// the code bucket.
type Artifacts struct{ Code CodeStore }

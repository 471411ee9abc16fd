package s3

import (
	"context"
	"fmt"
	"io"
	"net/http"
)

// ReadObject returns the body of bucket/key as the node's other services
// read it (Lambda's S3Bucket/S3Key code locations): an object of at most
// limit bytes, read on this node. versionID "" is the current version;
// Nimbus's objects have the version id "null" until a bucket enables
// versioning. It checks no permission: the caller judges whether its own
// caller may s3:GetObject the object. Errors are *Error with S3's code
// (NoSuchBucket, NoSuchKey, NoSuchVersion, EntityTooLarge, ...).
func (s *Service) ReadObject(ctx context.Context, bucket, key, versionID string, limit int64) ([]byte, error) {
	if _, err := s.localBucket(ctx, bucket); err != nil {
		return nil, err
	}
	if err := checkKey(key); err != nil {
		return nil, err
	}
	om, err := s.meta.object(bucket, key)
	if err != nil {
		return nil, err
	}
	if versionID != "" && versionID != "null" {
		return nil, errorf(http.StatusBadRequest, "InvalidArgument", "Invalid version id specified").with("ArgumentName", "versionId")
	}
	if om == nil {
		return nil, noSuchKey(key)
	}
	if om.Size > limit {
		return nil, errorf(http.StatusBadRequest, "EntityTooLarge",
			"The object is %d bytes, more than the %d bytes this reader takes.", om.Size, limit)
	}
	f, err := s.disk.open(om.File)
	if err != nil {
		return nil, fmt.Errorf("open object %s/%s: %w", bucket, key, err)
	}
	defer func() { _ = f.Close() }()
	b := make([]byte, om.Size)
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, fmt.Errorf("read object %s/%s: %w", bucket, key, err)
	}
	return b, nil
}

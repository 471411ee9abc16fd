package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// ReadObject returns the body of bucket/key as the node's other services
// read it (Lambda's S3Bucket/S3Key code locations): an object of at most
// limit bytes, read on this node or, for a bucket another node holds,
// from that node. versionID "" is the current version
// ("null" names an object written while the bucket was unversioned). It
// checks no permission: the caller judges whether its own
// caller may s3:GetObject the object. Errors are *Error with S3's code
// (NoSuchBucket, NoSuchKey, NoSuchVersion, EntityTooLarge, ...).
func (s *Service) ReadObject(ctx context.Context, bucket, key, versionID string, limit int64) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if node, ok := s.holderElsewhere(ctx, bucket); ok {
		return s.readRemote(ctx, node, bucket, key, versionID, limit)
	}
	if _, err := s.localBucket(ctx, bucket); err != nil {
		return nil, err
	}
	var om *objectMeta
	var err error
	switch {
	case versionID == "":
		if om, err = s.meta.object(bucket, key); err == nil && om == nil {
			return nil, noSuchKey(key)
		}
	case !validVersionID(versionID):
		return nil, invalidVersionID()
	default:
		if om, _, err = s.meta.version(bucket, key, versionID); err == nil && (om == nil || om.DeleteMarker) {
			return nil, noSuchVersion(key, versionID)
		}
	}
	if err != nil {
		return nil, err
	}
	if om.Size > limit {
		return nil, errorf(http.StatusBadRequest, "EntityTooLarge",
			"The object is %d bytes, more than the %d bytes this reader takes.", om.Size, limit)
	}
	f, err := s.bodyReader(ctx, bucket, key, om)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return nil, err
		}
		return nil, fmt.Errorf("open object %s/%s: %w", bucket, key, err)
	}
	defer func() { _ = f.Close() }()
	b := make([]byte, om.Size)
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, fmt.Errorf("read object %s/%s: %w", bucket, key, err)
	}
	return b, nil
}

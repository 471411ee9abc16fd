package s3

import (
	"context"

	bolt "go.etcd.io/bbolt"
)

// BucketTags are the tags of a bucket, for the aws:ResourceTag/<key>
// condition keys of a call on it (nil if there is no such bucket).
func (s *Service) BucketTags(ctx context.Context, name string) map[string]string {
	b, err := s.bucket(ctx, name)
	if err != nil {
		return nil
	}
	return tagMap(b.Tags)
}

// ObjectTags are the tags of an object as this node stores it, for the
// s3:ExistingObjectTag/<key> condition keys of a call on it (nil if
// there is no such object).
func (s *Service) ObjectTags(bucket, key string) map[string]string {
	var tags map[string]string
	_ = s.meta.db.View(func(tx *bolt.Tx) error {
		om, err := getObject(tx, bucket, key)
		if err == nil && om != nil {
			tags = om.Tags
		}
		return nil
	})
	return tags
}

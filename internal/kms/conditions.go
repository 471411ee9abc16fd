package kms

import (
	"context"
	"strings"
)

// KeyTags are the tags of a customer managed key (by id or ARN), for the
// aws:ResourceTag/<key> condition keys of a call on it (nil for an AWS
// managed key or one that does not exist: aliases are never resolved
// here, so a refused call creates nothing).
func (s *Service) KeyTags(ctx context.Context, keyID string) map[string]string {
	if strings.Contains(keyID, "alias/") {
		return nil
	}
	k, _, err := s.resolve(ctx, keyID)
	if err != nil || k.Manager == managerAWS {
		return nil
	}
	out := make(map[string]string, len(k.Tags))
	for _, t := range k.Tags {
		out[t.TagKey] = t.TagValue
	}
	return out
}

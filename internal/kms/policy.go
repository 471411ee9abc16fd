package kms

import (
	"context"
	"strings"
)

// KeyPolicy returns the key policy of the customer managed key keyID
// names (key id, key ARN, alias name or alias ARN) and the key's ARN, for
// the front door's evaluation of KMS calls. An AWS managed key, a key or
// alias that does not exist, or a malformed id gives "" (the operation
// answers those itself).
func (s *Service) KeyPolicy(ctx context.Context, keyID string) (policy, arn string) {
	if strings.HasPrefix(keyID, "alias/aws/") || strings.Contains(keyID, ":alias/aws/") {
		return "", "" // AWS managed: never resolved here, so never created by a refused call
	}
	k, _, err := s.resolve(ctx, keyID)
	if err != nil || k.Manager == managerAWS {
		return "", ""
	}
	return k.Policy, s.keyARN(k.ID)
}

// BlobKeyID is the id of the key a ciphertext blob (Decrypt's and
// ReEncrypt's CiphertextBlob) names, without decrypting it.
func BlobKeyID(b []byte) (string, bool) {
	bl, err := parseBlob(b)
	if err != nil {
		return "", false
	}
	return bl.keyID, true
}

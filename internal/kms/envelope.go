package kms

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
)

// Envelope encryption for the node's other services (Secrets Manager,
// Parameter Store), as AWS's services do it: a fresh 256-bit data key
// per value, generated and encrypted under the KMS key; the value
// encrypted under the data key. A sealed value is
//
//	uint16 n | data key's ciphertext blob (n bytes) | nonce || ciphertext || tag
//
// The encryption context binds both layers (the data key's blob, and the
// value's AAD), so a sealed value copied to another secret or parameter
// does not open.

// Sealer seals and opens values by envelope encryption; *Service
// implements it. Secrets Manager and Parameter Store take one.
type Sealer interface {
	SealValue(ctx context.Context, keyID string, value []byte, ectx map[string]string) ([]byte, string, error)
	OpenValue(ctx context.Context, sealed []byte, ectx map[string]string) ([]byte, string, error)
	KeyARN(ctx context.Context, keyID string) (string, error)
}

// ErrSealed is a sealed value that is damaged or does not open with the
// given encryption context.
var ErrSealed = errors.New("sealed value does not open")

// KeyARN resolves keyID (id, ARN, alias name or alias ARN; the AWS managed
// aliases are created on first use) to its key's ARN. Errors are KMS's
// (*awsapi.Error NotFoundException, ...).
func (s *Service) KeyARN(ctx context.Context, keyID string) (string, error) {
	k, _, err := s.resolve(ctx, keyID)
	if err != nil {
		return "", err
	}
	return s.keyARN(k.ID), nil
}

// SealValue encrypts value under a fresh data key encrypted under keyID,
// binding ectx, and returns the sealed value and the key's ARN. Errors
// are KMS's (NotFoundException, DisabledException, KMSInvalidStateException
// as *awsapi.Error) or internal.
func (s *Service) SealValue(ctx context.Context, keyID string, value []byte, ectx map[string]string) ([]byte, string, error) {
	k, _, err := s.resolve(ctx, keyID)
	if err != nil {
		return nil, "", err
	}
	if err := s.usable(k); err != nil {
		return nil, "", err
	}
	dk := make([]byte, 32)
	if _, err := rand.Read(dk); err != nil {
		return nil, "", err
	}
	blob, err := s.encrypt(k, dk, ectx)
	if err != nil {
		return nil, "", err
	}
	body, err := seal(dk, value, encodeContext(ectx))
	if err != nil {
		return nil, "", err
	}
	out := binary.BigEndian.AppendUint16(nil, uint16(len(blob))) //nolint:gosec // G115: a blob is < 6144 bytes
	out = append(out, blob...)
	return append(out, body...), s.keyARN(k.ID), nil
}

// OpenValue reverses SealValue and returns the value and the ARN of the
// key it was sealed under. A value that is damaged, or sealed with
// another encryption context, is ErrSealed; a key that is disabled,
// pending deletion or gone is KMS's error.
func (s *Service) OpenValue(ctx context.Context, sealed []byte, ectx map[string]string) ([]byte, string, error) {
	if len(sealed) < 2 {
		return nil, "", ErrSealed
	}
	n := int(binary.BigEndian.Uint16(sealed))
	if len(sealed) < 2+n {
		return nil, "", ErrSealed
	}
	b, err := parseBlob(sealed[2 : 2+n])
	if err != nil {
		return nil, "", ErrSealed
	}
	k, _, err := s.getKey(ctx, b.keyID)
	if err != nil {
		return nil, "", err
	}
	if err := s.usable(k); err != nil {
		return nil, "", err
	}
	mat, err := s.material(k)
	if err != nil {
		return nil, "", err
	}
	dk, err := open(mat, b.sealed, aad(b.header, ectx))
	if err != nil {
		return nil, "", ErrSealed
	}
	v, err := open(dk, sealed[2+n:], encodeContext(ectx))
	if err != nil {
		return nil, "", ErrSealed
	}
	return v, s.keyARN(k.ID), nil
}

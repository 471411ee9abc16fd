package kms

import (
	"encoding/binary"
	"errors"
	"slices"
)

// A ciphertext blob, as Encrypt returns it (opaque to clients, like
// AWS's, and like AWS's it names the KMS key, so Decrypt needs no KeyId):
//
//	offset  size  field
//	0       1     version (1)
//	1       1     n = length of the key id
//	2       n     key id (the key's UUID, ASCII)
//	2+n     12    AES-GCM nonce
//	14+n    ...   ciphertext, then the 16-byte GCM tag
//
// The additional authenticated data is bytes [0, 2+n) (version and key id)
// followed by the canonical encoding of the encryption context
// (encodeContext), so a blob moved to another key id, or decrypted with
// another context, fails authentication.
const (
	blobVersion  = 1
	nonceSize    = 12
	tagSize      = 16
	maxKeyIDLen  = 64
	maxBlobBytes = 6144 // the model's bound on CiphertextBlob
)

var errBlob = errors.New("malformed ciphertext blob")

// blob is a parsed ciphertext blob.
type blob struct {
	keyID  string
	header []byte // version and key id: the first part of the AAD
	sealed []byte // nonce || ciphertext || tag
}

// parseBlob parses b without decrypting it. It never panics and copies
// nothing it returns from a reused buffer.
func parseBlob(b []byte) (blob, error) {
	if len(b) < 2 || len(b) > maxBlobBytes || b[0] != blobVersion {
		return blob{}, errBlob
	}
	n := int(b[1])
	if n == 0 || n > maxKeyIDLen || len(b) < 2+n+nonceSize+tagSize {
		return blob{}, errBlob
	}
	id := b[2 : 2+n]
	for _, c := range id {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && c != '-' {
			return blob{}, errBlob
		}
	}
	return blob{keyID: string(id), header: slices.Clone(b[:2+n]), sealed: slices.Clone(b[2+n:])}, nil
}

// blobHeader is the header of a blob of key id.
func blobHeader(keyID string) []byte {
	h := make([]byte, 0, 2+len(keyID))
	h = append(h, blobVersion, byte(len(keyID))) //nolint:gosec // G115: key ids are 36-byte UUIDs
	return append(h, keyID...)
}

// encodeContext is the canonical form of an encryption context: its pairs
// sorted by key, each key and value length-prefixed (uint32), so that two
// contexts encode alike exactly when they are equal.
func encodeContext(ctx map[string]string) []byte {
	keys := make([]string, 0, len(ctx))
	for k := range ctx {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var out []byte
	for _, k := range keys {
		out = binary.BigEndian.AppendUint32(out, uint32(len(k))) //nolint:gosec // G115: bounded by the request size
		out = append(out, k...)
		v := ctx[k]
		out = binary.BigEndian.AppendUint32(out, uint32(len(v))) //nolint:gosec // G115: bounded by the request size
		out = append(out, v...)
	}
	return out
}

// aad is the additional authenticated data of a blob with header h under
// encryption context ctx.
func aad(h []byte, ctx map[string]string) []byte {
	return append(slices.Clone(h), encodeContext(ctx)...)
}

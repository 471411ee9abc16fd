// Package kms owns Nimbus's AWS Key Management Service: symmetric KMS
// keys (SYMMETRIC_DEFAULT, AES-256-GCM), aliases, key policies (stored),
// tags, the key lifecycle (Enabled, Disabled, PendingDeletion with its
// enforced waiting period), and the cryptographic operations Encrypt,
// Decrypt, ReEncrypt, GenerateDataKey(WithoutPlaintext) and
// GenerateRandom, over AWS JSON 1.1 (X-Amz-Target TrentService.*,
// signing name "kms"). It also serves the node's other services in
// process: Secrets Manager and Parameter Store seal their values through
// [Service.SealValue] and [Service.OpenValue] (envelope encryption under a
// KMS data key, as AWS's services do).
//
// At rest: a key's material is sealed (AES-256-GCM) under the node's
// master key ([LoadMasterKey]: a 0600 file in the data directory, a file
// given with --master-key-file, or on a cluster derived from the cluster's
// shared secret); the master key itself is never stored on the backbone,
// only a check value that makes a node with another master key refuse to
// start. Records live in the backbone's state bucket under "kms."
// (internal/store), so every node of a cluster sees every key.
//
// Ciphertext blobs name their key (blob.go), so Decrypt needs no KeyId;
// the encryption context is bound as additional authenticated data.
//
//	key state:  Enabled <──Enable/Disable──> Disabled
//	               │ ScheduleKeyDeletion (7..30 days)  ▲ CancelKeyDeletion
//	               ▼                                   │
//	          PendingDeletion ─────────────────────────┘
//	               │ DeletionDate passed
//	               ▼
//	            deleted (NotFoundException)
//
// Only the daemon (wiring), internal/secretsmanager and internal/ssm
// import this package. docs/design/secrets.md explains the decisions.
package kms

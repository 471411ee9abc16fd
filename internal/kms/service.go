package kms

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/store"
)

// TargetPrefix is the X-Amz-Target prefix of KMS requests.
const TargetPrefix = "TrentService."

// IsRequest reports whether r is a KMS API call.
func IsRequest(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("X-Amz-Target"), TargetPrefix)
}

// Options configure New.
type Options struct {
	Store     store.KV // required
	MasterKey []byte   // required: LoadMasterKey
	Region    string
	AccountID string
	Logger    *slog.Logger
	// Now is the clock of deletion windows (time.Now when nil).
	Now func() time.Time
}

// Service is the node's KMS.
type Service struct {
	kv      store.KV
	master  []byte
	region  string
	account string
	log     *slog.Logger
	now     func() time.Time
	api     *awsapi.JSONService
}

// Backbone keys.
const (
	keyPrefix   = "kms.key."
	aliasPrefix = "kms.alias."
	checkKey    = "kms.master-key-check"
)

// ErrMasterKeyMismatch: the node's master key is not the one the
// backbone's KMS keys are sealed with.
var ErrMasterKeyMismatch = errors.New("master key mismatch")

// New checks the master key against the backbone's check value (storing
// it on first start) and returns the service.
func New(ctx context.Context, o Options) (*Service, error) {
	if o.Store == nil || len(o.MasterKey) != MasterKeySize {
		return nil, errors.New("new kms: Store and a 32-byte MasterKey are required")
	}
	s := &Service{kv: o.Store, master: o.MasterKey, region: o.Region, account: o.AccountID, log: o.Logger, now: o.Now}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if err := s.checkMasterKey(ctx, checkValue(o.MasterKey)); err != nil {
		return nil, err
	}
	s.api = s.handler()
	return s, nil
}

// checkMasterKey stores want as the backbone's check value on first start,
// or compares it with the stored one. On a cluster whose nodes start
// together, Create can answer "exists" while the read that follows still
// finds nothing: another node's create is not yet applied where the read
// is served, or this node's own publish landed, lost its acknowledgement
// under load and was retried. Both settle, so "exists but not found" is
// retried, for at most two minutes.
func (s *Service) checkMasterKey(ctx context.Context, want []byte) error {
	const maxWait = time.Second
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	wait := 50 * time.Millisecond
	for {
		_, err := s.kv.Create(ctx, checkKey, want)
		if err == nil {
			return nil
		}
		if !errors.Is(err, store.ErrExists) {
			return fmt.Errorf("new kms: store the master key's check value: %w", err)
		}
		e, err := s.kv.Get(ctx, checkKey)
		if err == nil {
			if subtle.ConstantTimeCompare(e.Value, want) != 1 {
				return fmt.Errorf("%w: this node's master key is not the one the backbone's KMS keys, secrets and "+
					"SecureString parameters are sealed with: give every node the same --master-key-file (or the same "+
					"cluster secret), or restore %s in the data directory", ErrMasterKeyMismatch, MasterKeyFile)
			}
			return nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("new kms: read the master key's check value: %w", err)
		}
		s.log.Info("master key check value exists but is not readable yet; retrying", "wait", wait)
		select {
		case <-ctx.Done():
			return fmt.Errorf("new kms: read the master key's check value: %w (%w)", err, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, maxWait)
	}
}

// ServeHTTP serves the KMS API.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.api.ServeHTTP(w, r) }

// Key states and managers.
const (
	stateEnabled         = "Enabled"
	stateDisabled        = "Disabled"
	statePendingDeletion = "PendingDeletion"
	managerCustomer      = "CUSTOMER"
	managerAWS           = "AWS"
)

// tag is a resource tag.
type tag struct {
	TagKey   string
	TagValue string
}

// keyRecord is a KMS key on the backbone. Material is sealed under the
// master key (sealMaterial).
type keyRecord struct {
	ID           string
	Created      time.Time
	Description  string
	State        string
	DeletionDate time.Time `json:",omitzero"`
	Manager      string
	Material     []byte
	Policy       string
	Tags         []tag `json:",omitempty"`
}

// aliasRecord is an alias on the backbone.
type aliasRecord struct {
	Name    string // with its alias/ prefix
	Target  string // key id
	Created time.Time
	Updated time.Time
}

func (s *Service) keyARN(id string) string {
	return "arn:aws:kms:" + s.region + ":" + s.account + ":key/" + id
}

func (s *Service) aliasARN(name string) string {
	return "arn:aws:kms:" + s.region + ":" + s.account + ":" + name
}

func aliasKey(name string) string {
	return aliasPrefix + base64.RawURLEncoding.EncodeToString([]byte(name))
}

func materialAAD(id string) []byte { return []byte("nimbus kms key material v1 " + id) }

// The AWS managed keys that exist on first use, with their descriptions.
var managedKeys = map[string]string{
	"alias/aws/ssm":            "Default key that protects my SSM parameters when no other key is defined",
	"alias/aws/secretsmanager": "Default key that protects my Secrets Manager data when no other key is defined",
	"alias/aws/lambda":         "Default key that protects my Lambda functions when no other key is defined",
}

func (s *Service) notFoundKey(id string) error {
	return awsapi.ClientError("NotFoundException", "Key '%s' does not exist", s.keyARN(id))
}

// getKey reads key id. A key whose deletion date has passed is deleted
// now (with its aliases) and reported as not found.
func (s *Service) getKey(ctx context.Context, id string) (*keyRecord, uint64, error) {
	e, err := s.kv.Get(ctx, keyPrefix+id)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidKey) {
		return nil, 0, s.notFoundKey(id)
	}
	if err != nil {
		return nil, 0, err
	}
	var k keyRecord
	if err := json.Unmarshal(e.Value, &k); err != nil {
		return nil, 0, fmt.Errorf("kms key %s: %w", id, err)
	}
	if k.State == statePendingDeletion && !s.now().Before(k.DeletionDate) {
		if err := s.purge(ctx, &k, e.Revision); err != nil {
			return nil, 0, err
		}
		return nil, 0, s.notFoundKey(id)
	}
	return &k, e.Revision, nil
}

// purge deletes a key whose waiting period is over, and its aliases.
func (s *Service) purge(ctx context.Context, k *keyRecord, rev uint64) error {
	aliases, err := s.aliases(ctx)
	if err != nil {
		return err
	}
	for _, a := range aliases {
		if a.rec.Target == k.ID {
			if err := s.kv.Delete(ctx, aliasKey(a.rec.Name), 0); err != nil {
				return err
			}
		}
	}
	if err := s.kv.Delete(ctx, keyPrefix+k.ID, rev); err != nil && !errors.Is(err, store.ErrNotFound) &&
		!errors.Is(err, store.ErrConflict) {
		return err
	}
	s.log.Info("kms key deleted after its waiting period", "key_id", k.ID)
	return nil
}

type storedAlias struct {
	rec aliasRecord
	rev uint64
}

func (s *Service) aliases(ctx context.Context) ([]storedAlias, error) {
	keys, err := s.kv.Keys(ctx, aliasPrefix)
	if err != nil {
		return nil, err
	}
	out := make([]storedAlias, 0, len(keys))
	for _, k := range keys {
		e, err := s.kv.Get(ctx, k)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var a aliasRecord
		if err := json.Unmarshal(e.Value, &a); err != nil {
			return nil, fmt.Errorf("kms alias %s: %w", k, err)
		}
		out = append(out, storedAlias{a, e.Revision})
	}
	return out, nil
}

func (s *Service) getAlias(ctx context.Context, name string) (*aliasRecord, uint64, error) {
	e, err := s.kv.Get(ctx, aliasKey(name))
	if err != nil {
		return nil, 0, err
	}
	var a aliasRecord
	if err := json.Unmarshal(e.Value, &a); err != nil {
		return nil, 0, fmt.Errorf("kms alias %s: %w", name, err)
	}
	return &a, e.Revision, nil
}

// resolve finds the key a KeyId names: a key id, a key ARN, an alias name
// or an alias ARN. The AWS managed aliases are created on first use.
func (s *Service) resolve(ctx context.Context, keyID string) (*keyRecord, uint64, error) {
	if keyID == "" || len(keyID) > 2048 {
		return nil, 0, awsapi.Validation("1 validation error detected: Value at 'keyId' failed to satisfy constraint: Member must have length between 1 and 2048")
	}
	name := ""
	arnPrefix := "arn:aws:kms:" + s.region + ":" + s.account + ":"
	switch {
	case strings.HasPrefix(keyID, "alias/"):
		name = keyID
	case strings.HasPrefix(keyID, arnPrefix+"alias/"):
		name = strings.TrimPrefix(keyID, arnPrefix)
	case strings.HasPrefix(keyID, arnPrefix+"key/"):
		keyID = strings.TrimPrefix(keyID, arnPrefix+"key/")
	case strings.HasPrefix(keyID, "arn:"):
		return nil, 0, awsapi.ClientError("NotFoundException", "Invalid arn %s", keyID)
	}
	if name == "" {
		if _, err := uuid.Parse(keyID); err != nil {
			return nil, 0, awsapi.ClientError("NotFoundException", "Invalid keyId '%s'", keyID)
		}
		return s.getKey(ctx, keyID)
	}
	a, _, err := s.getAlias(ctx, name)
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidKey) {
		if desc, ok := managedKeys[name]; ok {
			return s.createManaged(ctx, name, desc)
		}
		return nil, 0, awsapi.ClientError("NotFoundException", "Alias %s is not found.", s.aliasARN(name))
	}
	if err != nil {
		return nil, 0, err
	}
	return s.getKey(ctx, a.Target)
}

// createManaged creates an AWS managed key and its alias; if another
// request (or node) created the alias first, that one wins.
func (s *Service) createManaged(ctx context.Context, name, desc string) (*keyRecord, uint64, error) {
	k, err := s.newKey(desc, managerAWS, "")
	if err != nil {
		return nil, 0, err
	}
	now := s.now().UTC()
	ab, _ := json.Marshal(aliasRecord{Name: name, Target: k.ID, Created: now, Updated: now})
	kb, _ := json.Marshal(k)
	rev, err := s.kv.Create(ctx, keyPrefix+k.ID, kb)
	if err != nil {
		return nil, 0, err
	}
	if _, err := s.kv.Create(ctx, aliasKey(name), ab); err != nil {
		_ = s.kv.Delete(ctx, keyPrefix+k.ID, 0)
		if errors.Is(err, store.ErrExists) {
			return s.resolve(ctx, name)
		}
		return nil, 0, err
	}
	return k, rev, nil
}

// newKey makes a key record with fresh material sealed under the master
// key.
func (s *Service) newKey(desc, manager, policy string) (*keyRecord, error) {
	id := uuid.NewString()
	mat := make([]byte, 32)
	if _, err := rand.Read(mat); err != nil {
		return nil, fmt.Errorf("key material: %w", err)
	}
	sealed, err := seal(s.master, mat, materialAAD(id))
	if err != nil {
		return nil, err
	}
	if policy == "" {
		policy = s.defaultPolicy()
	}
	return &keyRecord{ID: id, Created: s.now().UTC(), Description: desc, State: stateEnabled, Manager: manager,
		Material: sealed, Policy: policy}, nil
}

func (s *Service) defaultPolicy() string {
	return `{"Version":"2012-10-17","Id":"key-default-1","Statement":[{"Sid":"Enable IAM User Permissions",` +
		`"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + s.account + `:root"},"Action":"kms:*","Resource":"*"}]}`
}

// putKey writes k over revision rev.
func (s *Service) putKey(ctx context.Context, k *keyRecord, rev uint64) error {
	b, err := json.Marshal(k)
	if err != nil {
		return err
	}
	if _, err := s.kv.Update(ctx, keyPrefix+k.ID, b, rev); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return awsapi.ClientError("ConflictException", "The key was changed by another request; retry.")
		}
		return err
	}
	return nil
}

// material opens k's key material.
func (s *Service) material(k *keyRecord) ([]byte, error) {
	m, err := open(s.master, k.Material, materialAAD(k.ID))
	if err != nil {
		return nil, fmt.Errorf("kms key %s: material: %w", k.ID, err)
	}
	return m, nil
}

// usable refuses a key that cannot encrypt or decrypt now.
func (s *Service) usable(k *keyRecord) error {
	switch k.State {
	case stateDisabled:
		return awsapi.ClientError("DisabledException", "%s is disabled.", s.keyARN(k.ID))
	case statePendingDeletion:
		return awsapi.ClientError("KMSInvalidStateException", "%s is pending deletion.", s.keyARN(k.ID))
	}
	return nil
}

// encrypt seals plaintext under k with encryption context ectx into a
// ciphertext blob.
func (s *Service) encrypt(k *keyRecord, plaintext []byte, ectx map[string]string) ([]byte, error) {
	mat, err := s.material(k)
	if err != nil {
		return nil, err
	}
	h := blobHeader(k.ID)
	sealed, err := seal(mat, plaintext, aad(h, ectx))
	if err != nil {
		return nil, err
	}
	return append(h, sealed...), nil
}

func invalidCiphertext() error {
	return awsapi.ClientError("InvalidCiphertextException", "The ciphertext is not valid, or the encryption context does not match the one it was encrypted with.")
}

// decrypt opens a ciphertext blob. want, when set, is the KeyId the
// caller expects the blob to be under.
func (s *Service) decrypt(ctx context.Context, ciphertext []byte, ectx map[string]string, want string) ([]byte, *keyRecord, error) {
	b, err := parseBlob(ciphertext)
	if err != nil {
		return nil, nil, invalidCiphertext()
	}
	if want != "" {
		wk, _, err := s.resolve(ctx, want)
		if err != nil {
			return nil, nil, err
		}
		if wk.ID != b.keyID {
			return nil, nil, awsapi.ClientError("IncorrectKeyException",
				"The key ID in the request does not identify a CMK that can perform this operation.")
		}
	}
	k, _, err := s.getKey(ctx, b.keyID)
	if err != nil {
		if awsapi.As(err) != nil {
			return nil, nil, invalidCiphertext()
		}
		return nil, nil, err
	}
	if err := s.usable(k); err != nil {
		return nil, nil, err
	}
	mat, err := s.material(k)
	if err != nil {
		return nil, nil, err
	}
	p, err := open(mat, b.sealed, aad(b.header, ectx))
	if err != nil {
		return nil, nil, invalidCiphertext()
	}
	return p, k, nil
}

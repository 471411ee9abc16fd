package kms

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/store"
)

const algorithm = "SYMMETRIC_DEFAULT"

// refusedOps name the features of the operations Nimbus does not serve.
var refusedOps = map[string]string{
	"Sign": "asymmetric KMS keys", "Verify": "asymmetric KMS keys", "GetPublicKey": "asymmetric KMS keys",
	"GenerateDataKeyPair": "asymmetric data key pairs", "GenerateDataKeyPairWithoutPlaintext": "asymmetric data key pairs",
	"DeriveSharedSecret": "key agreement keys", "GenerateMac": "HMAC KMS keys", "VerifyMac": "HMAC KMS keys",
	"CreateGrant": "grants", "ListGrants": "grants", "ListRetirableGrants": "grants", "RetireGrant": "grants", "RevokeGrant": "grants",
	"EnableKeyRotation": "automatic key rotation", "DisableKeyRotation": "automatic key rotation",
	"RotateKeyOnDemand": "key rotation", "ListKeyRotations": "key rotation",
	"ImportKeyMaterial": "imported key material", "GetParametersForImport": "imported key material",
	"DeleteImportedKeyMaterial": "imported key material",
	"ReplicateKey":              "multi-Region keys", "UpdatePrimaryRegion": "multi-Region keys",
	"CreateCustomKeyStore": "custom key stores", "DeleteCustomKeyStore": "custom key stores",
	"DescribeCustomKeyStores": "custom key stores", "UpdateCustomKeyStore": "custom key stores",
	"ConnectCustomKeyStore": "custom key stores", "DisconnectCustomKeyStore": "custom key stores",
}

func (s *Service) handler() *awsapi.JSONService {
	ops := map[string]func(*Service, context.Context, []byte) (any, error){
		"CreateKey":                       (*Service).createKey,
		"DescribeKey":                     (*Service).describeKey,
		"ListKeys":                        (*Service).listKeys,
		"UpdateKeyDescription":            (*Service).updateKeyDescription,
		"EnableKey":                       (*Service).enableKey,
		"DisableKey":                      (*Service).disableKey,
		"ScheduleKeyDeletion":             (*Service).scheduleKeyDeletion,
		"CancelKeyDeletion":               (*Service).cancelKeyDeletion,
		"CreateAlias":                     (*Service).createAlias,
		"UpdateAlias":                     (*Service).updateAlias,
		"DeleteAlias":                     (*Service).deleteAlias,
		"ListAliases":                     (*Service).listAliases,
		"Encrypt":                         (*Service).encryptOp,
		"Decrypt":                         (*Service).decryptOp,
		"ReEncrypt":                       (*Service).reEncrypt,
		"GenerateDataKey":                 (*Service).generateDataKey,
		"GenerateDataKeyWithoutPlaintext": (*Service).generateDataKeyWithoutPlaintext,
		"GenerateRandom":                  (*Service).generateRandom,
		"GetKeyPolicy":                    (*Service).getKeyPolicy,
		"PutKeyPolicy":                    (*Service).putKeyPolicy,
		"ListKeyPolicies":                 (*Service).listKeyPolicies,
		"GetKeyRotationStatus":            (*Service).getKeyRotationStatus,
		"TagResource":                     (*Service).tagResource,
		"UntagResource":                   (*Service).untagResource,
		"ListResourceTags":                (*Service).listResourceTags,
	}
	h := &awsapi.JSONService{Name: "AWS KMS", Prefix: TargetPrefix, Protocol: awsapi.ProtocolJSON11,
		Ops: map[string]awsapi.JSONOp{}, Refused: refusedOps, Internal: "KMSInternalException", MaxBody: 1 << 20, Log: s.log}
	for name, f := range ops {
		h.Ops[name] = func(ctx context.Context, _ *http.Request, body []byte) (any, error) { return f(s, ctx, body) }
	}
	return h
}

// keyMetadata is AWS's KeyMetadata.
type keyMetadata struct {
	AWSAccountID          string        `json:"AWSAccountId"`
	KeyID                 string        `json:"KeyId"`
	Arn                   string        `json:"Arn"`
	CreationDate          awsapi.Epoch  `json:"CreationDate"`
	Enabled               bool          `json:"Enabled"`
	Description           string        `json:"Description"`
	KeyUsage              string        `json:"KeyUsage"`
	KeyState              string        `json:"KeyState"`
	DeletionDate          *awsapi.Epoch `json:"DeletionDate,omitempty"`
	Origin                string        `json:"Origin"`
	KeyManager            string        `json:"KeyManager"`
	CustomerMasterKeySpec string        `json:"CustomerMasterKeySpec"`
	KeySpec               string        `json:"KeySpec"`
	EncryptionAlgorithms  []string      `json:"EncryptionAlgorithms"`
	MultiRegion           bool          `json:"MultiRegion"`
}

func (s *Service) metadata(k *keyRecord) keyMetadata {
	m := keyMetadata{AWSAccountID: s.account, KeyID: k.ID, Arn: s.keyARN(k.ID), CreationDate: awsapi.Epoch(k.Created),
		Enabled: k.State == stateEnabled, Description: k.Description, KeyUsage: "ENCRYPT_DECRYPT", KeyState: k.State,
		Origin: "AWS_KMS", KeyManager: k.Manager, CustomerMasterKeySpec: algorithm, KeySpec: algorithm,
		EncryptionAlgorithms: []string{algorithm}}
	if k.State == statePendingDeletion {
		d := awsapi.Epoch(k.DeletionDate)
		m.DeletionDate = &d
	}
	return m
}

var (
	tagKeyPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`) })
	aliasPattern  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9:/_-]+$`) })
)

func checkTags(tags []tag) error {
	if len(tags) > 50 {
		return awsapi.ClientError("TagException", "A resource can have at most 50 tags.")
	}
	for _, t := range tags {
		if t.TagKey == "" || len(t.TagKey) > 128 || !tagKeyPattern().MatchString(t.TagKey) {
			return awsapi.ClientError("TagException", "Tag key '%s' is not valid.", t.TagKey)
		}
		if len(t.TagValue) > 256 {
			return awsapi.ClientError("TagException", "Tag value of key '%s' is longer than 256 characters.", t.TagKey)
		}
		if strings.HasPrefix(t.TagKey, "aws:") {
			return awsapi.ClientError("TagException", "Tags beginning with aws: are reserved.")
		}
	}
	return nil
}

func mergeTags(have, add []tag) []tag {
	for _, t := range add {
		i := slices.IndexFunc(have, func(h tag) bool { return h.TagKey == t.TagKey })
		if i >= 0 {
			have[i] = t
		} else {
			have = append(have, t)
		}
	}
	return have
}

func checkPolicy(p string) error {
	if len(p) > 32768 {
		return awsapi.ClientError("LimitExceededException", "The key policy is larger than 32 KB.")
	}
	var v map[string]any
	if json.Unmarshal([]byte(p), &v) != nil {
		return awsapi.ClientError("MalformedPolicyDocumentException", "The key policy is not a JSON document.")
	}
	if _, ok := v["Statement"]; !ok {
		return awsapi.ClientError("MalformedPolicyDocumentException", "The key policy has no Statement.")
	}
	return nil
}

func (s *Service) createKey(ctx context.Context, body []byte) (any, error) {
	var in struct {
		Description           string
		KeyUsage              string
		KeySpec               string
		CustomerMasterKeySpec string
		Origin                string
		Policy                string
		MultiRegion           bool
		CustomKeyStoreID      string `json:"CustomKeyStoreId"`
		Tags                  []tag
	}
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	if len(in.Description) > 8192 {
		return nil, awsapi.Validation("1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 8192")
	}
	if u := in.KeyUsage; u != "" && u != "ENCRYPT_DECRYPT" {
		return nil, awsapi.ClientError("UnsupportedOperationException", "Nimbus serves symmetric encryption keys only; KeyUsage %s is not supported.", u)
	}
	for _, spec := range []string{in.KeySpec, in.CustomerMasterKeySpec} {
		if spec != "" && spec != algorithm {
			return nil, awsapi.ClientError("UnsupportedOperationException", "Nimbus serves symmetric encryption keys only; KeySpec %s is not supported.", spec)
		}
	}
	switch {
	case in.Origin != "" && in.Origin != "AWS_KMS":
		return nil, awsapi.ClientError("UnsupportedOperationException", "Nimbus does not support Origin %s (imported or external key material).", in.Origin)
	case in.MultiRegion:
		return nil, awsapi.ClientError("UnsupportedOperationException", "Nimbus does not support multi-Region keys.")
	case in.CustomKeyStoreID != "":
		return nil, awsapi.ClientError("UnsupportedOperationException", "Nimbus does not support custom key stores.")
	}
	if in.Policy != "" {
		if err := checkPolicy(in.Policy); err != nil {
			return nil, err
		}
	}
	if err := checkTags(in.Tags); err != nil {
		return nil, err
	}
	k, err := s.newKey(in.Description, managerCustomer, in.Policy)
	if err != nil {
		return nil, err
	}
	k.Tags = mergeTags(nil, in.Tags)
	b, err := json.Marshal(k)
	if err != nil {
		return nil, err
	}
	if _, err := s.kv.Create(ctx, keyPrefix+k.ID, b); err != nil {
		return nil, err
	}
	return map[string]any{"KeyMetadata": s.metadata(k)}, nil
}

type keyIDInput struct {
	KeyID string `json:"KeyId"`
}

func (s *Service) describeKey(ctx context.Context, body []byte) (any, error) {
	var in keyIDInput
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	k, _, err := s.resolve(ctx, in.KeyID)
	if err != nil {
		return nil, err
	}
	return map[string]any{"KeyMetadata": s.metadata(k)}, nil
}

// page cuts a sorted list at marker (the first item to return) and limit.
func page[T any](items []T, id func(T) string, marker string, limit int32, dflt int32) ([]T, string, error) {
	if limit == 0 {
		limit = dflt
	}
	if limit < 1 || limit > 1000 {
		return nil, "", awsapi.Validation("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and 1000", limit)
	}
	start := 0
	if marker != "" {
		start = slices.IndexFunc(items, func(t T) bool { return id(t) >= marker })
		if start < 0 {
			start = len(items)
		}
	}
	items = items[start:]
	if len(items) > int(limit) {
		return items[:limit], id(items[limit]), nil
	}
	return items, "", nil
}

func (s *Service) listKeys(ctx context.Context, body []byte) (any, error) {
	var in struct {
		Limit  int32
		Marker string
	}
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	names, err := s.kv.Keys(ctx, keyPrefix)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(names))
	for _, n := range names {
		id := strings.TrimPrefix(n, keyPrefix)
		if _, _, err := s.getKey(ctx, id); err != nil {
			if awsapi.As(err) != nil {
				continue // deleted meanwhile, or its waiting period ended
			}
			return nil, err
		}
		ids = append(ids, id)
	}
	got, next, err := page(ids, func(id string) string { return id }, in.Marker, in.Limit, 100)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]string, 0, len(got))
	for _, id := range got {
		out = append(out, map[string]string{"KeyId": id, "KeyArn": s.keyARN(id)})
	}
	res := map[string]any{"Keys": out, "Truncated": next != ""}
	if next != "" {
		res["NextMarker"] = next
	}
	return res, nil
}

// customerKey resolves a key a caller may manage: AWS managed keys are
// refused.
func (s *Service) customerKey(ctx context.Context, keyID string) (*keyRecord, uint64, error) {
	k, rev, err := s.resolve(ctx, keyID)
	if err != nil {
		return nil, 0, err
	}
	if k.Manager == managerAWS {
		return nil, 0, awsapi.ClientError("UnsupportedOperationException", "%s is an AWS managed key; it cannot be changed.", s.keyARN(k.ID))
	}
	return k, rev, nil
}

func (s *Service) updateKeyDescription(ctx context.Context, body []byte) (any, error) {
	var in struct {
		KeyID       string `json:"KeyId"`
		Description *string
	}
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	if in.Description == nil || len(*in.Description) > 8192 {
		return nil, awsapi.Validation("1 validation error detected: Value at 'description' failed to satisfy constraint: Member must not be null and have length less than or equal to 8192")
	}
	k, rev, err := s.customerKey(ctx, in.KeyID)
	if err != nil {
		return nil, err
	}
	k.Description = *in.Description
	return struct{}{}, s.putKey(ctx, k, rev)
}

func (s *Service) setEnabled(ctx context.Context, body []byte, enabled bool) (any, error) {
	var in keyIDInput
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	k, rev, err := s.customerKey(ctx, in.KeyID)
	if err != nil {
		return nil, err
	}
	if k.State == statePendingDeletion {
		return nil, awsapi.ClientError("KMSInvalidStateException", "%s is pending deletion.", s.keyARN(k.ID))
	}
	k.State = stateDisabled
	if enabled {
		k.State = stateEnabled
	}
	return struct{}{}, s.putKey(ctx, k, rev)
}

func (s *Service) enableKey(ctx context.Context, body []byte) (any, error) {
	return s.setEnabled(ctx, body, true)
}

func (s *Service) disableKey(ctx context.Context, body []byte) (any, error) {
	return s.setEnabled(ctx, body, false)
}

func (s *Service) scheduleKeyDeletion(ctx context.Context, body []byte) (any, error) {
	var in struct {
		KeyID               string `json:"KeyId"`
		PendingWindowInDays *int32
	}
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	days := int32(30)
	if in.PendingWindowInDays != nil {
		days = *in.PendingWindowInDays
	}
	if days < 7 || days > 30 {
		return nil, awsapi.Validation("1 validation error detected: Value '%d' at 'pendingWindowInDays' failed to satisfy constraint: Member must have value between 7 and 30", days)
	}
	k, rev, err := s.customerKey(ctx, in.KeyID)
	if err != nil {
		return nil, err
	}
	if k.State == statePendingDeletion {
		return nil, awsapi.ClientError("KMSInvalidStateException", "%s is pending deletion.", s.keyARN(k.ID))
	}
	k.State = statePendingDeletion
	k.DeletionDate = s.now().UTC().Add(time.Duration(days) * 24 * time.Hour)
	if err := s.putKey(ctx, k, rev); err != nil {
		return nil, err
	}
	return map[string]any{"KeyId": s.keyARN(k.ID), "DeletionDate": awsapi.Epoch(k.DeletionDate),
		"KeyState": statePendingDeletion, "PendingWindowInDays": days}, nil
}

func (s *Service) cancelKeyDeletion(ctx context.Context, body []byte) (any, error) {
	var in keyIDInput
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	k, rev, err := s.customerKey(ctx, in.KeyID)
	if err != nil {
		return nil, err
	}
	if k.State != statePendingDeletion {
		return nil, awsapi.ClientError("KMSInvalidStateException", "%s is not pending deletion.", s.keyARN(k.ID))
	}
	k.State, k.DeletionDate = stateDisabled, time.Time{}
	if err := s.putKey(ctx, k, rev); err != nil {
		return nil, err
	}
	return map[string]string{"KeyId": s.keyARN(k.ID)}, nil
}

func checkAliasName(name string) error {
	switch {
	case name == "" || len(name) > 256:
		return awsapi.Validation("1 validation error detected: Value '%s' at 'aliasName' failed to satisfy constraint: Member must have length between 1 and 256", name)
	case !aliasPattern().MatchString(name):
		return awsapi.Validation("1 validation error detected: Value '%s' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$", name)
	case !strings.HasPrefix(name, "alias/") || name == "alias/":
		return awsapi.ClientError("InvalidAliasNameException", "Alias must start with the prefix \"alias/\". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html")
	case strings.HasPrefix(name, "alias/aws/"):
		return awsapi.ClientError("NotAuthorizedException", "%s must not begin with alias/aws/, which is reserved for AWS managed keys.", name)
	}
	return nil
}

func (s *Service) createAlias(ctx context.Context, body []byte) (any, error) {
	var in struct {
		AliasName   string
		TargetKeyID string `json:"TargetKeyId"`
	}
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	if err := checkAliasName(in.AliasName); err != nil {
		return nil, err
	}
	if strings.HasPrefix(in.TargetKeyID, "alias/") || strings.Contains(in.TargetKeyID, ":alias/") {
		return nil, awsapi.Validation("Aliases must refer to keys. Not aliases")
	}
	k, _, err := s.customerKey(ctx, in.TargetKeyID)
	if err != nil {
		return nil, err
	}
	if k.State == statePendingDeletion {
		return nil, awsapi.ClientError("KMSInvalidStateException", "%s is pending deletion.", s.keyARN(k.ID))
	}
	now := s.now().UTC()
	b, _ := json.Marshal(aliasRecord{Name: in.AliasName, Target: k.ID, Created: now, Updated: now})
	if _, err := s.kv.Create(ctx, aliasKey(in.AliasName), b); err != nil {
		if errors.Is(err, store.ErrExists) {
			return nil, awsapi.ClientError("AlreadyExistsException", "An alias with the name %s already exists", s.aliasARN(in.AliasName))
		}
		return nil, err
	}
	return struct{}{}, nil
}

func (s *Service) existingAlias(ctx context.Context, name string) (*aliasRecord, uint64, error) {
	if err := checkAliasName(name); err != nil {
		return nil, 0, err
	}
	a, rev, err := s.getAlias(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, 0, awsapi.ClientError("NotFoundException", "Alias %s is not found.", s.aliasARN(name))
	}
	return a, rev, err
}

func (s *Service) updateAlias(ctx context.Context, body []byte) (any, error) {
	var in struct {
		AliasName   string
		TargetKeyID string `json:"TargetKeyId"`
	}
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	a, rev, err := s.existingAlias(ctx, in.AliasName)
	if err != nil {
		return nil, err
	}
	k, _, err := s.customerKey(ctx, in.TargetKeyID)
	if err != nil {
		return nil, err
	}
	if k.State == statePendingDeletion {
		return nil, awsapi.ClientError("KMSInvalidStateException", "%s is pending deletion.", s.keyARN(k.ID))
	}
	a.Target, a.Updated = k.ID, s.now().UTC()
	b, _ := json.Marshal(a)
	if _, err := s.kv.Update(ctx, aliasKey(a.Name), b, rev); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

func (s *Service) deleteAlias(ctx context.Context, body []byte) (any, error) {
	var in struct{ AliasName string }
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	a, rev, err := s.existingAlias(ctx, in.AliasName)
	if err != nil {
		return nil, err
	}
	if err := s.kv.Delete(ctx, aliasKey(a.Name), rev); err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	return struct{}{}, nil
}

func (s *Service) listAliases(ctx context.Context, body []byte) (any, error) {
	var in struct {
		KeyID  string `json:"KeyId"`
		Limit  int32
		Marker string
	}
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	filter := ""
	if in.KeyID != "" {
		k, _, err := s.resolve(ctx, in.KeyID)
		if err != nil {
			return nil, err
		}
		filter = k.ID
	}
	all, err := s.aliases(ctx)
	if err != nil {
		return nil, err
	}
	var list []aliasRecord
	for _, a := range all {
		if filter == "" || a.rec.Target == filter {
			list = append(list, a.rec)
		}
	}
	slices.SortFunc(list, func(a, b aliasRecord) int { return strings.Compare(a.Name, b.Name) })
	got, next, err := page(list, func(a aliasRecord) string { return a.Name }, in.Marker, in.Limit, 50)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]any, 0, len(got))
	for _, a := range got {
		out = append(out, map[string]any{"AliasName": a.Name, "AliasArn": s.aliasARN(a.Name), "TargetKeyId": a.Target,
			"CreationDate": awsapi.Epoch(a.Created), "LastUpdatedDate": awsapi.Epoch(a.Updated)})
	}
	res := map[string]any{"Aliases": out, "Truncated": next != ""}
	if next != "" {
		res["NextMarker"] = next
	}
	return res, nil
}

func checkAlgorithm(a string) error {
	if a != "" && a != algorithm {
		return awsapi.ClientError("InvalidKeyUsageException", "The encryption algorithm %s is not valid for symmetric KMS keys; use SYMMETRIC_DEFAULT.", a)
	}
	return nil
}

func checkPlaintext(p []byte, member string) error {
	if len(p) == 0 || len(p) > 4096 {
		return awsapi.Validation("1 validation error detected: Value at '%s' failed to satisfy constraint: Member must have length between 1 and 4096", member)
	}
	return nil
}

func (s *Service) encryptOp(ctx context.Context, body []byte) (any, error) {
	var in struct {
		KeyID               string `json:"KeyId"`
		Plaintext           []byte
		EncryptionContext   map[string]string
		EncryptionAlgorithm string
		DryRun              bool
	}
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	if err := checkPlaintext(in.Plaintext, "plaintext"); err != nil {
		return nil, err
	}
	if err := checkAlgorithm(in.EncryptionAlgorithm); err != nil {
		return nil, err
	}
	k, _, err := s.resolve(ctx, in.KeyID)
	if err != nil {
		return nil, err
	}
	if err := s.usable(k); err != nil {
		return nil, err
	}
	if in.DryRun {
		return nil, awsapi.ClientError("DryRunOperationException", "The request would have succeeded, but the DryRun option is set.")
	}
	blob, err := s.encrypt(k, in.Plaintext, in.EncryptionContext)
	if err != nil {
		return nil, err
	}
	return map[string]any{"CiphertextBlob": blob, "KeyId": s.keyARN(k.ID), "EncryptionAlgorithm": algorithm}, nil
}

func (s *Service) decryptOp(ctx context.Context, body []byte) (any, error) {
	var in struct {
		CiphertextBlob      []byte
		KeyID               string `json:"KeyId"`
		EncryptionContext   map[string]string
		EncryptionAlgorithm string
		Recipient           json.RawMessage
		DryRun              bool
	}
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	if len(in.CiphertextBlob) == 0 || len(in.CiphertextBlob) > maxBlobBytes {
		return nil, awsapi.Validation("1 validation error detected: Value at 'ciphertextBlob' failed to satisfy constraint: Member must have length between 1 and 6144")
	}
	if err := checkAlgorithm(in.EncryptionAlgorithm); err != nil {
		return nil, err
	}
	if len(in.Recipient) > 0 {
		return nil, awsapi.ClientError("UnsupportedOperationException", "Nimbus does not support Nitro Enclaves attestation (Recipient).")
	}
	p, k, err := s.decrypt(ctx, in.CiphertextBlob, in.EncryptionContext, in.KeyID)
	if err != nil {
		return nil, err
	}
	if in.DryRun {
		return nil, awsapi.ClientError("DryRunOperationException", "The request would have succeeded, but the DryRun option is set.")
	}
	return map[string]any{"Plaintext": p, "KeyId": s.keyARN(k.ID), "EncryptionAlgorithm": algorithm}, nil
}

func (s *Service) reEncrypt(ctx context.Context, body []byte) (any, error) {
	var in struct {
		CiphertextBlob                 []byte
		SourceEncryptionContext        map[string]string
		SourceKeyID                    string `json:"SourceKeyId"`
		DestinationKeyID               string `json:"DestinationKeyId"`
		DestinationEncryptionContext   map[string]string
		SourceEncryptionAlgorithm      string
		DestinationEncryptionAlgorithm string
	}
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	if len(in.CiphertextBlob) == 0 || len(in.CiphertextBlob) > maxBlobBytes {
		return nil, awsapi.Validation("1 validation error detected: Value at 'ciphertextBlob' failed to satisfy constraint: Member must have length between 1 and 6144")
	}
	if err := checkAlgorithm(in.SourceEncryptionAlgorithm); err != nil {
		return nil, err
	}
	if err := checkAlgorithm(in.DestinationEncryptionAlgorithm); err != nil {
		return nil, err
	}
	dst, _, err := s.resolve(ctx, in.DestinationKeyID)
	if err != nil {
		return nil, err
	}
	if err := s.usable(dst); err != nil {
		return nil, err
	}
	p, src, err := s.decrypt(ctx, in.CiphertextBlob, in.SourceEncryptionContext, in.SourceKeyID)
	if err != nil {
		return nil, err
	}
	blob, err := s.encrypt(dst, p, in.DestinationEncryptionContext)
	if err != nil {
		return nil, err
	}
	return map[string]any{"CiphertextBlob": blob, "SourceKeyId": s.keyARN(src.ID), "KeyId": s.keyARN(dst.ID),
		"SourceEncryptionAlgorithm": algorithm, "DestinationEncryptionAlgorithm": algorithm}, nil
}

type dataKeyInput struct {
	KeyID             string `json:"KeyId"`
	EncryptionContext map[string]string
	NumberOfBytes     *int32
	KeySpec           string
	DryRun            bool
}

// dataKey makes a data key under in.KeyId: its plaintext and its blob.
func (s *Service) dataKey(ctx context.Context, body []byte) ([]byte, []byte, *keyRecord, error) {
	var in dataKeyInput
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, nil, nil, err
	}
	n := 0
	switch {
	case in.NumberOfBytes != nil && in.KeySpec != "":
		return nil, nil, nil, awsapi.Validation("Please specify either number of bytes or key spec.")
	case in.NumberOfBytes != nil:
		if *in.NumberOfBytes < 1 || *in.NumberOfBytes > 1024 {
			return nil, nil, nil, awsapi.Validation("1 validation error detected: Value '%d' at 'numberOfBytes' failed to satisfy constraint: Member must have value between 1 and 1024", *in.NumberOfBytes)
		}
		n = int(*in.NumberOfBytes)
	case in.KeySpec == "AES_256":
		n = 32
	case in.KeySpec == "AES_128":
		n = 16
	case in.KeySpec == "":
		return nil, nil, nil, awsapi.Validation("Please specify either number of bytes or key spec.")
	default:
		return nil, nil, nil, awsapi.Validation("1 validation error detected: Value '%s' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]", in.KeySpec)
	}
	k, _, err := s.resolve(ctx, in.KeyID)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := s.usable(k); err != nil {
		return nil, nil, nil, err
	}
	if in.DryRun {
		return nil, nil, nil, awsapi.ClientError("DryRunOperationException", "The request would have succeeded, but the DryRun option is set.")
	}
	p := make([]byte, n)
	if _, err := rand.Read(p); err != nil {
		return nil, nil, nil, err
	}
	blob, err := s.encrypt(k, p, in.EncryptionContext)
	if err != nil {
		return nil, nil, nil, err
	}
	return p, blob, k, nil
}

func (s *Service) generateDataKey(ctx context.Context, body []byte) (any, error) {
	p, blob, k, err := s.dataKey(ctx, body)
	if err != nil {
		return nil, err
	}
	return map[string]any{"Plaintext": p, "CiphertextBlob": blob, "KeyId": s.keyARN(k.ID)}, nil
}

func (s *Service) generateDataKeyWithoutPlaintext(ctx context.Context, body []byte) (any, error) {
	_, blob, k, err := s.dataKey(ctx, body)
	if err != nil {
		return nil, err
	}
	return map[string]any{"CiphertextBlob": blob, "KeyId": s.keyARN(k.ID)}, nil
}

func (s *Service) generateRandom(_ context.Context, body []byte) (any, error) {
	var in struct {
		NumberOfBytes    *int32
		CustomKeyStoreID string `json:"CustomKeyStoreId"`
	}
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	if in.CustomKeyStoreID != "" {
		return nil, awsapi.ClientError("UnsupportedOperationException", "Nimbus does not support custom key stores.")
	}
	if in.NumberOfBytes == nil || *in.NumberOfBytes < 1 || *in.NumberOfBytes > 1024 {
		return nil, awsapi.Validation("1 validation error detected: Value at 'numberOfBytes' failed to satisfy constraint: Member must have value between 1 and 1024")
	}
	p := make([]byte, *in.NumberOfBytes)
	if _, err := rand.Read(p); err != nil {
		return nil, err
	}
	return map[string]any{"Plaintext": p}, nil
}

func checkPolicyName(n string) error {
	if n != "" && n != "default" {
		return awsapi.ClientError("NotFoundException", "Policy %s does not exist; a KMS key has one policy, named default.", n)
	}
	return nil
}

func (s *Service) getKeyPolicy(ctx context.Context, body []byte) (any, error) {
	var in struct {
		KeyID      string `json:"KeyId"`
		PolicyName string
	}
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	if err := checkPolicyName(in.PolicyName); err != nil {
		return nil, err
	}
	k, _, err := s.resolve(ctx, in.KeyID)
	if err != nil {
		return nil, err
	}
	return map[string]string{"Policy": k.Policy, "PolicyName": "default"}, nil
}

func (s *Service) putKeyPolicy(ctx context.Context, body []byte) (any, error) {
	var in struct {
		KeyID      string `json:"KeyId"`
		PolicyName string
		Policy     string
	}
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	if err := checkPolicyName(in.PolicyName); err != nil {
		return nil, err
	}
	if err := checkPolicy(in.Policy); err != nil {
		return nil, err
	}
	k, rev, err := s.customerKey(ctx, in.KeyID)
	if err != nil {
		return nil, err
	}
	k.Policy = in.Policy
	return struct{}{}, s.putKey(ctx, k, rev)
}

func (s *Service) listKeyPolicies(ctx context.Context, body []byte) (any, error) {
	var in keyIDInput
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	if _, _, err := s.resolve(ctx, in.KeyID); err != nil {
		return nil, err
	}
	return map[string]any{"PolicyNames": []string{"default"}, "Truncated": false}, nil
}

func (s *Service) getKeyRotationStatus(ctx context.Context, body []byte) (any, error) {
	var in keyIDInput
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	if _, _, err := s.resolve(ctx, in.KeyID); err != nil {
		return nil, err
	}
	return map[string]any{"KeyRotationEnabled": false}, nil
}

func (s *Service) tagResource(ctx context.Context, body []byte) (any, error) {
	var in struct {
		KeyID string `json:"KeyId"`
		Tags  []tag
	}
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	if err := checkTags(in.Tags); err != nil {
		return nil, err
	}
	k, rev, err := s.customerKey(ctx, in.KeyID)
	if err != nil {
		return nil, err
	}
	k.Tags = mergeTags(k.Tags, in.Tags)
	if err := checkTags(k.Tags); err != nil {
		return nil, err
	}
	return struct{}{}, s.putKey(ctx, k, rev)
}

func (s *Service) untagResource(ctx context.Context, body []byte) (any, error) {
	var in struct {
		KeyID   string `json:"KeyId"`
		TagKeys []string
	}
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	k, rev, err := s.customerKey(ctx, in.KeyID)
	if err != nil {
		return nil, err
	}
	k.Tags = slices.DeleteFunc(k.Tags, func(t tag) bool { return slices.Contains(in.TagKeys, t.TagKey) })
	return struct{}{}, s.putKey(ctx, k, rev)
}

func (s *Service) listResourceTags(ctx context.Context, body []byte) (any, error) {
	var in struct {
		KeyID  string `json:"KeyId"`
		Limit  int32
		Marker string
	}
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	k, _, err := s.resolve(ctx, in.KeyID)
	if err != nil {
		return nil, err
	}
	tags := slices.Clone(k.Tags)
	slices.SortFunc(tags, func(a, b tag) int { return strings.Compare(a.TagKey, b.TagKey) })
	got, next, err := page(tags, func(t tag) string { return t.TagKey }, in.Marker, in.Limit, 50)
	if err != nil {
		return nil, err
	}
	if got == nil {
		got = []tag{}
	}
	res := map[string]any{"Tags": got, "Truncated": next != ""}
	if next != "" {
		res["NextMarker"] = next
	}
	return res, nil
}

package secretsmanager

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
)

var refusedOps = map[string]string{
	"ReplicateSecretToRegions":     "replica secrets in other Regions",
	"RemoveRegionsFromReplication": "replica secrets in other Regions",
	"StopReplicationToReplica":     "replica secrets in other Regions",
}

func (s *Service) handler() *awsapi.JSONService {
	ops := map[string]func(*Service, context.Context, []byte) (any, error){
		"CreateSecret":             (*Service).createSecret,
		"GetSecretValue":           (*Service).getSecretValue,
		"BatchGetSecretValue":      (*Service).batchGetSecretValue,
		"PutSecretValue":           (*Service).putSecretValue,
		"UpdateSecret":             (*Service).updateSecret,
		"DescribeSecret":           (*Service).describeSecret,
		"ListSecrets":              (*Service).listSecrets,
		"ListSecretVersionIds":     (*Service).listSecretVersionIDs,
		"DeleteSecret":             (*Service).deleteSecret,
		"RestoreSecret":            (*Service).restoreSecret,
		"UpdateSecretVersionStage": (*Service).updateSecretVersionStage,
		"RotateSecret":             (*Service).rotateSecret,
		"CancelRotateSecret":       (*Service).cancelRotateSecret,
		"GetRandomPassword":        (*Service).getRandomPassword,
		"GetResourcePolicy":        (*Service).getResourcePolicy,
		"PutResourcePolicy":        (*Service).putResourcePolicy,
		"DeleteResourcePolicy":     (*Service).deleteResourcePolicy,
		"ValidateResourcePolicy":   (*Service).validateResourcePolicy,
		"TagResource":              (*Service).tagResource,
		"UntagResource":            (*Service).untagResource,
	}
	h := &awsapi.JSONService{Name: "AWS Secrets Manager", Prefix: TargetPrefix, Protocol: awsapi.ProtocolJSON11,
		Ops: map[string]awsapi.JSONOp{}, Refused: refusedOps, Internal: "InternalServiceError", MaxBody: 1 << 20, Log: s.log}
	for name, f := range ops {
		h.Ops[name] = func(ctx context.Context, _ *http.Request, body []byte) (any, error) { return f(s, ctx, body) }
	}
	return h
}

func epoch(t time.Time) *awsapi.Epoch {
	if t.IsZero() {
		return nil
	}
	e := awsapi.Epoch(t)
	return &e
}

func checkTags(tags []Tag) error {
	if len(tags) > 50 {
		return invalidParam("A secret can have at most 50 tags.")
	}
	for _, t := range tags {
		if t.Key == "" || len(t.Key) > 128 || len(t.Value) > 256 {
			return awsapi.Validation("1 validation error detected: Value at 'tags' failed to satisfy constraint: tag keys have 1 to 128 characters, values up to 256")
		}
		if strings.HasPrefix(strings.ToLower(t.Key), "aws:") {
			return invalidParam("Tag keys beginning with aws: are reserved.")
		}
	}
	return nil
}

func mergeTags(have, add []Tag) []Tag {
	for _, t := range add {
		if i := slices.IndexFunc(have, func(h Tag) bool { return h.Key == t.Key }); i >= 0 {
			have[i] = t
		} else {
			have = append(have, t)
		}
	}
	return have
}

func (s *Service) checkKey(ctx context.Context, keyID string) error {
	if keyID == "" {
		return nil
	}
	if len(keyID) > 2048 {
		return awsapi.Validation("1 validation error detected: Value at 'kmsKeyId' failed to satisfy constraint: Member must have length less than or equal to 2048")
	}
	if _, err := s.keys.KeyARN(ctx, keyID); err != nil {
		return kmsError(err, true)
	}
	return nil
}

func (s *Service) createSecret(ctx context.Context, body []byte) (any, error) {
	var in struct {
		Name                        string
		ClientRequestToken          string
		Description                 string
		KmsKeyID                    string `json:"KmsKeyId"`
		SecretString                *string
		SecretBinary                []byte
		Tags                        []Tag
		AddReplicaRegions           []json.RawMessage
		ForceOverwriteReplicaSecret bool
		Type                        string
	}
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	if err := checkName(in.Name); err != nil {
		return nil, err
	}
	if len(in.AddReplicaRegions) > 0 {
		return nil, awsapi.ClientError("UnknownOperationException", "Nimbus does not replicate secrets to other Regions (AddReplicaRegions).")
	}
	if in.Type != "" {
		return nil, invalidParam("Nimbus does not serve managed external secrets (Type %s).", in.Type)
	}
	if len(in.Description) > 2048 {
		return nil, awsapi.Validation("1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 2048")
	}
	v, err := checkValue(in.SecretString, in.SecretBinary)
	if err != nil {
		return nil, err
	}
	token := in.ClientRequestToken
	if token == "" {
		token = newToken()
	} else if err := checkToken(token); err != nil {
		return nil, err
	}
	if err := checkTags(in.Tags); err != nil {
		return nil, err
	}
	if err := s.checkKey(ctx, in.KmsKeyID); err != nil {
		return nil, err
	}
	if old, _, err := s.get(ctx, in.Name); err == nil {
		if !old.Deleted.IsZero() {
			return nil, awsapi.ClientError("InvalidRequestException",
				"You can't create this secret because a secret with this name is already scheduled for deletion.")
		}
		if v.present() && old.version(token) != nil {
			if same, err := s.sameValue(ctx, old, token, v); err == nil && same {
				return map[string]any{"ARN": old.ARN, "Name": old.Name, "VersionId": token}, nil // an idempotent retry
			}
		}
		return nil, awsapi.ClientError("ResourceExistsException", "The operation failed because the secret %s already exists.", in.Name)
	}
	arn, err := s.newARN(in.Name)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	sec := &secret{ID: uuid.NewString(), ARN: arn, Name: in.Name, Description: in.Description, KmsKeyID: in.KmsKeyID,
		Created: now, LastChanged: now, Tags: mergeTags(nil, in.Tags)}
	out := map[string]any{"ARN": arn, "Name": in.Name}
	if v.present() {
		if _, err := s.addVersion(ctx, sec, token, v, []string{stageCurrent}); err != nil {
			return nil, err
		}
		out["VersionId"] = token
	}
	if _, err := s.save(ctx, sec, 0); err != nil {
		return nil, err
	}
	return out, nil
}

// sameValue reports whether version token of sec holds v.
func (s *Service) sameValue(ctx context.Context, sec *secret, token string, v value) (bool, error) {
	ver := sec.version(token)
	if ver == nil {
		return false, nil
	}
	got, err := s.open(ctx, sec, ver)
	if err != nil {
		return false, err
	}
	return (got.str == nil) == (v.str == nil) && bytes.Equal(got.bytes(), v.bytes()), nil
}

// pick finds the version a GetSecretValue names.
func pick(sec *secret, versionID, stage string) (*version, error) {
	if versionID == "" && stage == "" {
		stage = stageCurrent
	}
	var v *version
	if versionID != "" {
		v = sec.version(versionID)
		if v == nil {
			return nil, awsapi.ClientError("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for VersionId: %s", versionID)
		}
	}
	if stage != "" {
		sv := sec.staged(stage)
		if sv == nil || v != nil && sv != v {
			return nil, awsapi.ClientError("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for staging label: %s", stage)
		}
		v = sv
	}
	return v, nil
}

type valueEntry struct {
	ARN           string
	Name          string
	VersionID     string `json:"VersionId"`
	SecretString  *string
	SecretBinary  []byte `json:",omitempty"`
	VersionStages []string
	CreatedDate   *awsapi.Epoch
}

func (s *Service) readValue(ctx context.Context, id, versionID, stage string) (*valueEntry, error) {
	sec, _, err := s.live(ctx, id)
	if err != nil {
		return nil, err
	}
	v, err := pick(sec, versionID, stage)
	if err != nil {
		return nil, err
	}
	val, err := s.open(ctx, sec, v)
	if err != nil {
		return nil, err
	}
	return &valueEntry{ARN: sec.ARN, Name: sec.Name, VersionID: v.ID, SecretString: val.str, SecretBinary: val.binary,
		VersionStages: v.Stages, CreatedDate: epoch(v.Created)}, nil
}

func (s *Service) getSecretValue(ctx context.Context, body []byte) (any, error) {
	var in struct {
		SecretID     string `json:"SecretId"`
		VersionID    string `json:"VersionId"`
		VersionStage string
	}
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	return s.readValue(ctx, in.SecretID, in.VersionID, in.VersionStage)
}

// GetValue reads a secret's value for the node's other services (SSM's
// /aws/reference/secretsmanager/ parameters, CloudFormation's dynamic
// references): the string, or the binary value, of the version named by
// versionID or stage (AWSCURRENT by default), and its version id. Errors
// are Secrets Manager's (*awsapi.Error).
func (s *Service) GetValue(ctx context.Context, id, versionID, stage string) (str *string, bin []byte, ver string, arn string, err error) {
	e, err := s.readValue(ctx, id, versionID, stage)
	if err != nil {
		return nil, nil, "", "", err
	}
	return e.SecretString, e.SecretBinary, e.VersionID, e.ARN, nil
}

// CreateValue creates a secret with a string value, for CloudFormation's
// AWS::SecretsManager::Secret, and returns its ARN.
func (s *Service) CreateValue(ctx context.Context, name, description, kmsKeyID, value string) (string, error) {
	b, _ := json.Marshal(map[string]any{"Name": name, "Description": description, "KmsKeyId": kmsKeyID, "SecretString": value})
	out, err := s.createSecret(ctx, b)
	if err != nil {
		return "", err
	}
	return out.(map[string]any)["ARN"].(string), nil
}

func (s *Service) batchGetSecretValue(ctx context.Context, body []byte) (any, error) {
	var in struct {
		SecretIDList []string `json:"SecretIdList"`
		Filters      []filter
		MaxResults   *int
		NextToken    string
	}
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	if (len(in.SecretIDList) == 0) == (len(in.Filters) == 0) {
		return nil, invalidParam("Either 'SecretIdList' or 'Filters' must be provided, but not both.")
	}
	if in.MaxResults != nil && len(in.Filters) == 0 {
		return nil, invalidParam("'Filters' must be provided with 'MaxResults'.")
	}
	ids := in.SecretIDList
	next := ""
	if len(in.Filters) > 0 {
		list, nt, err := s.list(ctx, in.Filters, false, in.NextToken, in.MaxResults, 20, "asc")
		if err != nil {
			return nil, err
		}
		next = nt
		ids = ids[:0]
		for _, sec := range list {
			ids = append(ids, sec.ARN)
		}
	} else if len(ids) > 20 {
		return nil, awsapi.Validation("1 validation error detected: Value at 'secretIdList' failed to satisfy constraint: Member must have length less than or equal to 20")
	}
	values := []*valueEntry{}
	errs := []map[string]string{}
	for _, id := range ids {
		e, err := s.readValue(ctx, id, "", "")
		if err != nil {
			ae := awsapi.As(err)
			if ae == nil {
				return nil, err
			}
			errs = append(errs, map[string]string{"SecretId": id, "ErrorCode": ae.Code, "Message": ae.Message})
			continue
		}
		values = append(values, e)
	}
	out := map[string]any{"SecretValues": values, "Errors": errs}
	if next != "" {
		out["NextToken"] = next
	}
	return out, nil
}

func checkStages(stages []string) error {
	if len(stages) > 20 {
		return awsapi.Validation("1 validation error detected: Value at 'versionStages' failed to satisfy constraint: Member must have length less than or equal to 20")
	}
	for _, st := range stages {
		if st == "" || len(st) > 256 {
			return awsapi.Validation("1 validation error detected: Value at 'versionStages' failed to satisfy constraint: Member must have length between 1 and 256")
		}
	}
	return nil
}

func (s *Service) putSecretValue(ctx context.Context, body []byte) (any, error) {
	var in struct {
		SecretID           string `json:"SecretId"`
		ClientRequestToken string
		SecretString       *string
		SecretBinary       []byte
		VersionStages      []string
	}
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	v, err := checkValue(in.SecretString, in.SecretBinary)
	if err != nil {
		return nil, err
	}
	if !v.present() {
		return nil, invalidParam("You must provide either SecretString or SecretBinary.")
	}
	if err := checkStages(in.VersionStages); err != nil {
		return nil, err
	}
	token := in.ClientRequestToken
	if token == "" {
		token = newToken()
	} else if err := checkToken(token); err != nil {
		return nil, err
	}
	stages := in.VersionStages
	if len(stages) == 0 {
		stages = []string{stageCurrent}
	}
	sec, rev, err := s.live(ctx, in.SecretID)
	if err != nil {
		return nil, err
	}
	if old := sec.version(token); old != nil && !old.Empty {
		same, err := s.sameValue(ctx, sec, token, v)
		if err != nil {
			return nil, err
		}
		if !same {
			return nil, awsapi.ClientError("ResourceExistsException", "You can't modify an existing version, you can only create a new version.")
		}
		return map[string]any{"ARN": sec.ARN, "Name": sec.Name, "VersionId": token, "VersionStages": old.Stages}, nil
	}
	_ = s.kv.Delete(ctx, valueKey(sec.ID, token), 0) // a value a crash left unacknowledged
	ver, err := s.addVersion(ctx, sec, token, v, stages)
	if err != nil {
		return nil, err
	}
	if _, err := s.save(ctx, sec, rev); err != nil {
		return nil, err
	}
	return map[string]any{"ARN": sec.ARN, "Name": sec.Name, "VersionId": token, "VersionStages": ver.Stages}, nil
}

func (s *Service) updateSecret(ctx context.Context, body []byte) (any, error) {
	var in struct {
		SecretID           string `json:"SecretId"`
		ClientRequestToken string
		Description        *string
		KmsKeyID           *string `json:"KmsKeyId"`
		SecretString       *string
		SecretBinary       []byte
	}
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	v, err := checkValue(in.SecretString, in.SecretBinary)
	if err != nil {
		return nil, err
	}
	sec, rev, err := s.live(ctx, in.SecretID)
	if err != nil {
		return nil, err
	}
	if in.Description != nil {
		if len(*in.Description) > 2048 {
			return nil, awsapi.Validation("1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length less than or equal to 2048")
		}
		sec.Description = *in.Description
	}
	if in.KmsKeyID != nil {
		if err := s.checkKey(ctx, *in.KmsKeyID); err != nil {
			return nil, err
		}
		sec.KmsKeyID = *in.KmsKeyID
	}
	sec.LastChanged = s.now().UTC()
	out := map[string]any{"ARN": sec.ARN, "Name": sec.Name}
	if v.present() {
		token := in.ClientRequestToken
		if token == "" {
			token = newToken()
		} else if err := checkToken(token); err != nil {
			return nil, err
		}
		if sec.version(token) != nil {
			return nil, awsapi.ClientError("ResourceExistsException", "You can't modify an existing version, you can only create a new version.")
		}
		_ = s.kv.Delete(ctx, valueKey(sec.ID, token), 0)
		if _, err := s.addVersion(ctx, sec, token, v, []string{stageCurrent}); err != nil {
			return nil, err
		}
		out["VersionId"] = token
	}
	if _, err := s.save(ctx, sec, rev); err != nil {
		return nil, err
	}
	return out, nil
}

// stagesMap is VersionIdsToStages: versions with a stage.
func stagesMap(sec *secret) map[string][]string {
	m := map[string][]string{}
	for _, v := range sec.Versions {
		if len(v.Stages) > 0 {
			m[v.ID] = v.Stages
		}
	}
	return m
}

func (s *Service) describe(sec *secret) map[string]any {
	out := map[string]any{"ARN": sec.ARN, "Name": sec.Name, "CreatedDate": epoch(sec.Created),
		"LastChangedDate": epoch(sec.LastChanged), "VersionIdsToStages": stagesMap(sec), "PrimaryRegion": s.region}
	if sec.Description != "" {
		out["Description"] = sec.Description
	}
	if sec.KmsKeyID != "" {
		out["KmsKeyId"] = sec.KmsKeyID
	}
	if !sec.LastAccessed.IsZero() {
		out["LastAccessedDate"] = epoch(sec.LastAccessed)
	}
	if !sec.DeletedAt.IsZero() {
		out["DeletedDate"] = epoch(sec.DeletedAt)
	}
	if sec.RotationARN != "" {
		out["RotationEnabled"] = sec.Rotation
		out["RotationLambdaARN"] = sec.RotationARN
	}
	if sec.Rules != nil {
		out["RotationRules"] = sec.Rules
	}
	if !sec.LastRotated.IsZero() {
		out["LastRotatedDate"] = epoch(sec.LastRotated)
	}
	switch {
	case !sec.Rotation:
	case !sec.NextRotation.IsZero():
		out["NextRotationDate"] = epoch(sec.NextRotation)
	case sec.Rules != nil && !sec.LastRotated.IsZero():
		if next := nextRotation(sec.Rules, sec.LastRotated); !next.IsZero() {
			out["NextRotationDate"] = epoch(next)
		}
	}
	if len(sec.Tags) > 0 {
		out["Tags"] = sec.Tags
	}
	return out
}

type secretIDInput struct {
	SecretID string `json:"SecretId"`
}

func (s *Service) describeSecret(ctx context.Context, body []byte) (any, error) {
	var in secretIDInput
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	sec, _, err := s.load(ctx, in.SecretID)
	if err != nil {
		return nil, err
	}
	return s.describe(sec), nil
}

// filter is AWS's Filter of ListSecrets.
type filter struct {
	Key    string
	Values []string
}

func matchesFilter(sec *secret, f filter) bool {
	for _, raw := range f.Values {
		neg := strings.HasPrefix(raw, "!")
		val := strings.TrimPrefix(raw, "!")
		prefix := func(s string) bool { return strings.HasPrefix(strings.ToLower(s), strings.ToLower(val)) }
		hit := false
		switch f.Key {
		case "name":
			hit = prefix(sec.Name)
		case "description":
			hit = prefix(sec.Description)
		case "tag-key":
			hit = slices.ContainsFunc(sec.Tags, func(t Tag) bool { return prefix(t.Key) })
		case "tag-value":
			hit = slices.ContainsFunc(sec.Tags, func(t Tag) bool { return prefix(t.Value) })
		case "primary-region":
			hit = val == ""
		case "owning-service":
			hit = false
		case "all":
			hit = prefix(sec.Name) || prefix(sec.Description) ||
				slices.ContainsFunc(sec.Tags, func(t Tag) bool { return prefix(t.Key) || prefix(t.Value) })
		}
		if hit != neg {
			return true
		}
	}
	return false
}

func checkFilters(fs []filter) error {
	if len(fs) > 10 {
		return awsapi.Validation("1 validation error detected: Value at 'filters' failed to satisfy constraint: Member must have length less than or equal to 10")
	}
	for _, f := range fs {
		switch f.Key {
		case "description", "name", "tag-key", "tag-value", "primary-region", "owning-service", "all":
		default:
			return awsapi.Validation("1 validation error detected: Value '%s' at 'filters.key' failed to satisfy constraint: Member must satisfy enum value set: [all, name, tag-key, description, primary-region, owning-service, tag-value]", f.Key)
		}
		if len(f.Values) == 0 || len(f.Values) > 10 {
			return invalidParam("Invalid filter values: a filter has 1 to 10 values.")
		}
	}
	return nil
}

// list returns a page of secrets matching every filter, in creation
// order, and the next token (an index, opaque to clients).
func (s *Service) list(ctx context.Context, fs []filter, includeDeleted bool, token string, maxResults *int, dflt int, order string) ([]*secret, string, error) {
	if err := checkFilters(fs); err != nil {
		return nil, "", err
	}
	n := dflt
	if maxResults != nil {
		n = *maxResults
		if n < 1 || n > 100 {
			return nil, "", awsapi.Validation("1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 100", n)
		}
	}
	keys, err := s.kv.Keys(ctx, secretPrefix)
	if err != nil {
		return nil, "", err
	}
	var all []*secret
	for _, k := range keys {
		e, err := s.kv.Get(ctx, k)
		if err != nil {
			continue // deleted meanwhile
		}
		var sec secret
		if json.Unmarshal(e.Value, &sec) != nil {
			continue
		}
		if !sec.Deleted.IsZero() && !s.now().Before(sec.Deleted) {
			_ = s.purge(ctx, &sec, e.Revision)
			continue
		}
		if !sec.Deleted.IsZero() && !includeDeleted {
			continue
		}
		ok := true
		for _, f := range fs {
			ok = ok && matchesFilter(&sec, f)
		}
		if ok {
			all = append(all, &sec)
		}
	}
	sort.SliceStable(all, func(i, j int) bool {
		if !all[i].Created.Equal(all[j].Created) {
			return all[i].Created.Before(all[j].Created)
		}
		return all[i].Name < all[j].Name
	})
	if order == "desc" {
		slices.Reverse(all)
	}
	start := 0
	if token != "" {
		i, err := strconv.Atoi(token)
		if err != nil || i < 0 || i > len(all) {
			return nil, "", awsapi.ClientError("InvalidNextTokenException", "The NextToken value is invalid.")
		}
		start = i
	}
	end := min(start+n, len(all))
	next := ""
	if end < len(all) {
		next = strconv.Itoa(end)
	}
	return all[start:end], next, nil
}

func (s *Service) listSecrets(ctx context.Context, body []byte) (any, error) {
	var in struct {
		IncludePlannedDeletion bool
		MaxResults             *int
		NextToken              string
		Filters                []filter
		SortOrder              string
		SortBy                 string
	}
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	if in.SortOrder != "" && in.SortOrder != "asc" && in.SortOrder != "desc" {
		return nil, awsapi.Validation("1 validation error detected: Value '%s' at 'sortOrder' failed to satisfy constraint: Member must satisfy enum value set: [asc, desc]", in.SortOrder)
	}
	list, next, err := s.list(ctx, in.Filters, in.IncludePlannedDeletion, in.NextToken, in.MaxResults, 100, in.SortOrder)
	if err != nil {
		return nil, err
	}
	entries := make([]map[string]any, 0, len(list))
	for _, sec := range list {
		e := s.describe(sec)
		e["SecretVersionsToStages"] = e["VersionIdsToStages"]
		delete(e, "VersionIdsToStages")
		entries = append(entries, e)
	}
	out := map[string]any{"SecretList": entries}
	if next != "" {
		out["NextToken"] = next
	}
	return out, nil
}

func (s *Service) listSecretVersionIDs(ctx context.Context, body []byte) (any, error) {
	var in struct {
		SecretID          string `json:"SecretId"`
		MaxResults        *int
		NextToken         string
		IncludeDeprecated bool
	}
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	sec, _, err := s.live(ctx, in.SecretID)
	if err != nil {
		return nil, err
	}
	var vs []map[string]any
	for _, v := range sec.Versions {
		if len(v.Stages) == 0 && !in.IncludeDeprecated {
			continue
		}
		e := map[string]any{"VersionId": v.ID, "VersionStages": v.Stages, "CreatedDate": epoch(v.Created), "KmsKeyIds": []string{v.KeyARN}}
		if !v.LastAccessed.IsZero() {
			e["LastAccessedDate"] = epoch(v.LastAccessed)
		}
		vs = append(vs, e)
	}
	n := 100
	if in.MaxResults != nil {
		n = max(1, min(*in.MaxResults, 100))
	}
	start := 0
	if in.NextToken != "" {
		i, err := strconv.Atoi(in.NextToken)
		if err != nil || i < 0 || i > len(vs) {
			return nil, awsapi.ClientError("InvalidNextTokenException", "The NextToken value is invalid.")
		}
		start = i
	}
	end := min(start+n, len(vs))
	out := map[string]any{"ARN": sec.ARN, "Name": sec.Name, "Versions": vs[start:end]}
	if end < len(vs) {
		out["NextToken"] = strconv.Itoa(end)
	}
	return out, nil
}

func (s *Service) deleteSecret(ctx context.Context, body []byte) (any, error) {
	var in struct {
		SecretID                   string `json:"SecretId"`
		RecoveryWindowInDays       *int64
		ForceDeleteWithoutRecovery bool
	}
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	if in.ForceDeleteWithoutRecovery && in.RecoveryWindowInDays != nil {
		return nil, invalidParam("You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.")
	}
	days := int64(30)
	if in.RecoveryWindowInDays != nil {
		days = *in.RecoveryWindowInDays
		if days < 7 || days > 30 {
			return nil, invalidParam("The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).")
		}
	}
	sec, rev, err := s.load(ctx, in.SecretID)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	if in.ForceDeleteWithoutRecovery {
		if err := s.purge(ctx, sec, rev); err != nil {
			return nil, err
		}
		return map[string]any{"ARN": sec.ARN, "Name": sec.Name, "DeletionDate": awsapi.Epoch(now)}, nil
	}
	if !sec.Deleted.IsZero() {
		return nil, markedForDeletion()
	}
	sec.DeletedAt, sec.Deleted = now, now.Add(time.Duration(days)*24*time.Hour)
	sec.LastChanged = now
	if _, err := s.save(ctx, sec, rev); err != nil {
		return nil, err
	}
	return map[string]any{"ARN": sec.ARN, "Name": sec.Name, "DeletionDate": awsapi.Epoch(sec.Deleted)}, nil
}

func (s *Service) restoreSecret(ctx context.Context, body []byte) (any, error) {
	var in secretIDInput
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	sec, rev, err := s.load(ctx, in.SecretID)
	if err != nil {
		return nil, err
	}
	sec.Deleted, sec.DeletedAt = time.Time{}, time.Time{}
	sec.LastChanged = s.now().UTC()
	if _, err := s.save(ctx, sec, rev); err != nil {
		return nil, err
	}
	return map[string]any{"ARN": sec.ARN, "Name": sec.Name}, nil
}

func (s *Service) updateSecretVersionStage(ctx context.Context, body []byte) (any, error) {
	var in struct {
		SecretID            string `json:"SecretId"`
		VersionStage        string
		RemoveFromVersionID string `json:"RemoveFromVersionId"`
		MoveToVersionID     string `json:"MoveToVersionId"`
	}
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	if err := checkStages([]string{in.VersionStage}); err != nil {
		return nil, err
	}
	sec, rev, err := s.live(ctx, in.SecretID)
	if err != nil {
		return nil, err
	}
	if cur := sec.staged(in.VersionStage); cur != nil && cur.ID != in.RemoveFromVersionID && cur.ID != in.MoveToVersionID {
		return nil, invalidParam("The staging label %s is currently attached to version %s, so you must explicitly reference that version in RemoveFromVersionId.",
			in.VersionStage, cur.ID)
	}
	if in.MoveToVersionID != "" {
		to := sec.version(in.MoveToVersionID)
		if to == nil {
			return nil, awsapi.ClientError("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for VersionId: %s", in.MoveToVersionID)
		}
		sec.moveStage(in.VersionStage, to)
	} else if in.RemoveFromVersionID != "" {
		if in.VersionStage == stageCurrent {
			return nil, invalidParam("You can't remove the staging label AWSCURRENT; move it to another version instead.")
		}
		from := sec.version(in.RemoveFromVersionID)
		if from == nil || !slices.Contains(from.Stages, in.VersionStage) {
			return nil, invalidParam("The staging label %s is not attached to version %s.", in.VersionStage, in.RemoveFromVersionID)
		}
		from.Stages = slices.DeleteFunc(from.Stages, func(x string) bool { return x == in.VersionStage })
	}
	sec.LastChanged = s.now().UTC()
	if _, err := s.save(ctx, sec, rev); err != nil {
		return nil, err
	}
	return map[string]any{"ARN": sec.ARN, "Name": sec.Name}, nil
}

func (s *Service) policyOf(ctx context.Context, body []byte) (*secret, uint64, string, error) {
	var in struct {
		SecretID       string `json:"SecretId"`
		ResourcePolicy string
	}
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, 0, "", err
	}
	sec, rev, err := s.live(ctx, in.SecretID)
	return sec, rev, in.ResourcePolicy, err
}

func (s *Service) getResourcePolicy(ctx context.Context, body []byte) (any, error) {
	sec, _, _, err := s.policyOf(ctx, body)
	if err != nil {
		return nil, err
	}
	out := map[string]any{"ARN": sec.ARN, "Name": sec.Name}
	if sec.Policy != "" {
		out["ResourcePolicy"] = sec.Policy
	}
	return out, nil
}

func checkPolicy(p string) error {
	if p == "" || len(p) > 20480 {
		return awsapi.Validation("1 validation error detected: Value at 'resourcePolicy' failed to satisfy constraint: Member must have length between 1 and 20480")
	}
	var v map[string]any
	if json.Unmarshal([]byte(p), &v) != nil || v["Statement"] == nil {
		return awsapi.ClientError("MalformedPolicyDocumentException", "The resource policy is not a JSON policy document with a Statement.")
	}
	return nil
}

func (s *Service) putResourcePolicy(ctx context.Context, body []byte) (any, error) {
	sec, rev, p, err := s.policyOf(ctx, body)
	if err != nil {
		return nil, err
	}
	if err := checkPolicy(p); err != nil {
		return nil, err
	}
	sec.Policy = p
	if _, err := s.save(ctx, sec, rev); err != nil {
		return nil, err
	}
	return map[string]any{"ARN": sec.ARN, "Name": sec.Name}, nil
}

func (s *Service) deleteResourcePolicy(ctx context.Context, body []byte) (any, error) {
	sec, rev, _, err := s.policyOf(ctx, body)
	if err != nil {
		return nil, err
	}
	sec.Policy = ""
	if _, err := s.save(ctx, sec, rev); err != nil {
		return nil, err
	}
	return map[string]any{"ARN": sec.ARN, "Name": sec.Name}, nil
}

func (s *Service) validateResourcePolicy(_ context.Context, body []byte) (any, error) {
	var in struct {
		SecretID       string `json:"SecretId"`
		ResourcePolicy string
	}
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	if err := checkPolicy(in.ResourcePolicy); err != nil {
		return map[string]any{"PolicyValidationPassed": false, "ValidationErrors": []map[string]string{
			{"CheckName": "JSON_SYNTAX", "ErrorMessage": awsapi.As(err).Message}}}, nil
	}
	return map[string]any{"PolicyValidationPassed": true, "ValidationErrors": []any{}}, nil
}

func (s *Service) tagResource(ctx context.Context, body []byte) (any, error) {
	var in struct {
		SecretID string `json:"SecretId"`
		Tags     []Tag
	}
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	if err := checkTags(in.Tags); err != nil {
		return nil, err
	}
	sec, rev, err := s.live(ctx, in.SecretID)
	if err != nil {
		return nil, err
	}
	sec.Tags = mergeTags(sec.Tags, in.Tags)
	if err := checkTags(sec.Tags); err != nil {
		return nil, err
	}
	_, err = s.save(ctx, sec, rev)
	return struct{}{}, err
}

func (s *Service) untagResource(ctx context.Context, body []byte) (any, error) {
	var in struct {
		SecretID string `json:"SecretId"`
		TagKeys  []string
	}
	if err := awsapi.DecodeJSON(body, &in); err != nil {
		return nil, err
	}
	sec, rev, err := s.live(ctx, in.SecretID)
	if err != nil {
		return nil, err
	}
	sec.Tags = slices.DeleteFunc(sec.Tags, func(t Tag) bool { return slices.Contains(in.TagKeys, t.Key) })
	_, err = s.save(ctx, sec, rev)
	return struct{}{}, err
}

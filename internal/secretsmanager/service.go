// Package secretsmanager owns Nimbus's AWS Secrets Manager (AWS JSON 1.1,
// X-Amz-Target secretsmanager.*, signing name "secretsmanager"): secrets
// with versions and staging labels (AWSCURRENT, AWSPREVIOUS, AWSPENDING),
// deletion with a recovery window, rotation driven through a Lambda
// function's four steps, random passwords, resource policies (stored) and
// tags.
//
// A secret's metadata (its versions' ids and stages included) is one
// record under "sm.secret.<name>" of the backbone's state bucket, written
// by compare-and-swap; each version's value is its own record under
// "sm.value.<secret id>.<version id>", sealed by KMS (envelope encryption
// under aws/secretsmanager or the secret's KmsKeyId, bound to the secret's
// ARN and version id). A value is stored before the metadata that names
// it, so a crash loses no acknowledged version and never leaves two
// versions AWSCURRENT (the stages move in one CAS write).
//
//	RotateSecret ──> [createSecret] ─> [setSecret] ─> [testSecret] ─> [finishSecret]
//	                 each step: the rotation function invoked synchronously
//	                 with {SecretId, ClientRequestToken, Step}; a failure
//	                 stops the rotation (AWSPENDING stays, as on AWS)
//
// Rotation schedules are driven by RunRotations (schedule.go), which the
// daemon runs on one node of a cluster; the next rotation time is stored
// in the secret's record.
//
// Only the daemon (wiring) and internal/ssm (the /aws/reference/
// secretsmanager/ parameters) import this package. docs/design/secrets.md
// explains the decisions.
package secretsmanager

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/kms"
	"github.com/nimbus-serverless/nimbus/internal/store"
)

// TargetPrefix is the X-Amz-Target prefix of Secrets Manager requests.
const TargetPrefix = "secretsmanager."

// IsRequest reports whether r is a Secrets Manager API call.
func IsRequest(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("X-Amz-Target"), TargetPrefix)
}

// Functions invoke a rotation function synchronously and report its
// function error ("" when it succeeded).
type Functions interface {
	InvokeRotation(ctx context.Context, functionARN string, payload []byte) (functionError string, err error)
}

// Options configure New.
type Options struct {
	Store     store.KV   // required
	Keys      kms.Sealer // required
	Functions Functions
	Region    string
	AccountID string
	Logger    *slog.Logger
	// Now is the clock of recovery windows and rotation schedules
	// (time.Now when nil).
	Now func() time.Time
	// After fires once d has passed on the clock of Now (time.After when
	// nil): RunRotations waits on it.
	After func(d time.Duration) <-chan time.Time
}

// Service is the node's Secrets Manager.
type Service struct {
	kv      store.KV
	keys    kms.Sealer
	fns     Functions
	region  string
	account string
	log     *slog.Logger
	now     func() time.Time
	after   func(time.Duration) <-chan time.Time
	api     *awsapi.JSONService

	rotations sync.WaitGroup // running rotations (Close waits)
	ctx       context.Context
	cancel    context.CancelFunc
}

// New returns the service.
func New(o Options) (*Service, error) {
	if o.Store == nil || o.Keys == nil {
		return nil, errors.New("new secretsmanager: Store and Keys are required")
	}
	s := &Service{kv: o.Store, keys: o.Keys, fns: o.Functions, region: o.Region, account: o.AccountID, log: o.Logger, now: o.Now,
		after: o.After}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.after == nil {
		s.after = time.After
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.api = s.handler()
	return s, nil
}

// Close stops running rotations and waits for them.
func (s *Service) Close() {
	s.cancel()
	s.rotations.Wait()
}

// ServeHTTP serves the Secrets Manager API.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.api.ServeHTTP(w, r) }

// Staging labels.
const (
	stageCurrent  = "AWSCURRENT"
	stagePrevious = "AWSPREVIOUS"
	stagePending  = "AWSPENDING"
)

// Tag is a resource tag.
type Tag struct {
	Key   string
	Value string
}

// RotationRules are AWS's RotationRulesType.
type RotationRules struct {
	AutomaticallyAfterDays *int64  `json:",omitempty"`
	Duration               *string `json:",omitempty"`
	ScheduleExpression     *string `json:",omitempty"`
}

// version is one version's metadata.
type version struct {
	ID           string
	Stages       []string
	Created      time.Time
	LastAccessed time.Time `json:",omitzero"`
	Binary       bool
	KeyARN       string
	// Empty: a version RotateSecret labelled AWSPENDING before the
	// rotation function's createSecret step stores its value.
	Empty bool `json:",omitempty"`
}

// secret is a secret's record.
type secret struct {
	ID           string // internal, names its value records
	ARN          string
	Name         string
	Description  string `json:",omitempty"`
	KmsKeyID     string `json:",omitempty"` // as the client gave it; "" = aws/secretsmanager
	Created      time.Time
	LastChanged  time.Time
	LastAccessed time.Time `json:",omitzero"`
	Deleted      time.Time `json:",omitzero"` // the deletion date (when it is purged)
	DeletedAt    time.Time `json:",omitzero"`
	Rotation     bool
	RotationARN  string         `json:",omitempty"`
	Rules        *RotationRules `json:",omitempty"`
	LastRotated  time.Time      `json:",omitzero"`
	// NextRotation is when the schedule rotates the secret next (zero:
	// not scheduled); schedule.go.
	NextRotation time.Time `json:",omitzero"`
	Tags         []Tag     `json:",omitempty"`
	Policy       string    `json:",omitempty"`
	Versions     []*version
}

func (sec *secret) version(id string) *version {
	for _, v := range sec.Versions {
		if v.ID == id {
			return v
		}
	}
	return nil
}

func (sec *secret) staged(stage string) *version {
	for _, v := range sec.Versions {
		if slices.Contains(v.Stages, stage) {
			return v
		}
	}
	return nil
}

// moveStage attaches stage to v alone; moving AWSCURRENT gives the old
// current version AWSPREVIOUS (which leaves the version before it).
func (sec *secret) moveStage(stage string, to *version) {
	var from *version
	for _, v := range sec.Versions {
		if v != to && slices.Contains(v.Stages, stage) {
			from = v
			v.Stages = slices.DeleteFunc(v.Stages, func(x string) bool { return x == stage })
		}
	}
	if !slices.Contains(to.Stages, stage) {
		to.Stages = append(to.Stages, stage)
	}
	if stage == stageCurrent && from != nil {
		for _, v := range sec.Versions {
			if v != from {
				v.Stages = slices.DeleteFunc(v.Stages, func(x string) bool { return x == stagePrevious })
			}
		}
		if !slices.Contains(from.Stages, stagePrevious) {
			from.Stages = append(from.Stages, stagePrevious)
		}
		to.Stages = slices.DeleteFunc(to.Stages, func(x string) bool { return x == stagePrevious })
	}
}

// maxVersions bounds the versions a secret keeps: the oldest versions
// without a stage go first, as AWS deprecates them.
const maxVersions = 100

// Backbone keys.
const (
	secretPrefix = "sm.secret."
	valuePrefix  = "sm.value."
)

func secretKey(name string) string {
	return secretPrefix + base64.RawURLEncoding.EncodeToString([]byte(name))
}

func valueKey(secretID, versionID string) string {
	return valuePrefix + secretID + "." + base64.RawURLEncoding.EncodeToString([]byte(versionID))
}

var (
	namePattern  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9/_+=.@-]+$`) })
	arnSuffixLen = 6
)

func notFound() error {
	return awsapi.ClientError("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
}

func markedForDeletion() error {
	return awsapi.ClientError("InvalidRequestException",
		"You can't perform this operation on the secret because it was marked for deletion.")
}

func invalidParam(format string, args ...any) error {
	return awsapi.ClientError("InvalidParameterException", format, args...)
}

// checkName enforces AWS's name rules, and refuses "." and ".." path
// segments: names are keys here, never paths, but a name that reads like
// a traversal is refused rather than stored.
func checkName(name string) error {
	if name == "" || len(name) > 512 {
		return awsapi.Validation("1 validation error detected: Value at 'name' failed to satisfy constraint: Member must have length between 1 and 512")
	}
	if !namePattern().MatchString(name) {
		return awsapi.Validation("Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!")
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == "." || seg == ".." {
			return invalidParam("The secret name %q has a '.' or '..' path segment; Nimbus refuses names that read as path traversal.", name)
		}
	}
	return nil
}

func (s *Service) arnPrefix() string {
	return "arn:aws:secretsmanager:" + s.region + ":" + s.account + ":secret:"
}

// load reads a secret by its SecretId (name, full ARN or partial ARN).
// A secret whose recovery window has ended is purged now and not found.
func (s *Service) load(ctx context.Context, id string) (*secret, uint64, error) {
	if id == "" || len(id) > 2048 {
		return nil, 0, awsapi.Validation("1 validation error detected: Value at 'secretId' failed to satisfy constraint: Member must have length between 1 and 2048")
	}
	name, arn := id, ""
	if strings.HasPrefix(id, "arn:") {
		if !strings.HasPrefix(id, s.arnPrefix()) {
			return nil, 0, notFound()
		}
		name = strings.TrimPrefix(id, s.arnPrefix())
		arn = id
	}
	sec, rev, err := s.get(ctx, name)
	if err != nil && arn != "" && len(name) > arnSuffixLen+1 && name[len(name)-arnSuffixLen-1] == '-' {
		sec, rev, err = s.get(ctx, name[:len(name)-arnSuffixLen-1]) // a full ARN
	}
	if err != nil {
		return nil, 0, err
	}
	if arn != "" && arn != sec.ARN && arn != s.arnPrefix()+sec.Name {
		return nil, 0, notFound()
	}
	if !sec.Deleted.IsZero() && !s.now().Before(sec.Deleted) {
		if err := s.purge(ctx, sec, rev); err != nil {
			return nil, 0, err
		}
		return nil, 0, notFound()
	}
	return sec, rev, nil
}

func (s *Service) get(ctx context.Context, name string) (*secret, uint64, error) {
	if name == "" || len(name) > 512 {
		return nil, 0, notFound()
	}
	e, err := s.kv.Get(ctx, secretKey(name))
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidKey) {
		return nil, 0, notFound()
	}
	if err != nil {
		return nil, 0, err
	}
	sec, err := decodeSecret(e.Value)
	if err != nil {
		return nil, 0, err
	}
	return sec, e.Revision, nil
}

func decodeSecret(b []byte) (*secret, error) {
	var sec secret
	if err := json.Unmarshal(b, &sec); err != nil {
		return nil, fmt.Errorf("secret record: %w", err)
	}
	return &sec, nil
}

// purge deletes a secret and its values.
func (s *Service) purge(ctx context.Context, sec *secret, rev uint64) error {
	if err := s.kv.Delete(ctx, secretKey(sec.Name), rev); err != nil && !errors.Is(err, store.ErrNotFound) {
		if errors.Is(err, store.ErrConflict) {
			return awsapi.ClientError("InternalServiceError", "The secret changed while it was being deleted; retry.")
		}
		return err
	}
	for _, v := range sec.Versions {
		if err := s.kv.Delete(ctx, valueKey(sec.ID, v.ID), 0); err != nil {
			s.log.Warn("delete a secret version's value", "err", err)
		}
	}
	return nil
}

// save writes sec over revision rev (0: create).
func (s *Service) save(ctx context.Context, sec *secret, rev uint64) (uint64, error) {
	b, err := json.Marshal(sec)
	if err != nil {
		return 0, err
	}
	if rev == 0 {
		r, err := s.kv.Create(ctx, secretKey(sec.Name), b)
		if errors.Is(err, store.ErrExists) {
			return 0, awsapi.ClientError("ResourceExistsException", "The operation failed because the secret %s already exists.", sec.Name)
		}
		return r, err
	}
	r, err := s.kv.Update(ctx, secretKey(sec.Name), b, rev)
	if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
		return 0, awsapi.ClientError("InternalServiceError", "The secret was changed by another request; retry.")
	}
	return r, err
}

// live loads a secret that is not marked for deletion.
func (s *Service) live(ctx context.Context, id string) (*secret, uint64, error) {
	sec, rev, err := s.load(ctx, id)
	if err != nil {
		return nil, 0, err
	}
	if !sec.Deleted.IsZero() {
		return nil, 0, markedForDeletion()
	}
	return sec, rev, nil
}

func (s *Service) ectx(sec *secret, versionID string) map[string]string {
	return map[string]string{"SecretARN": sec.ARN, "SecretVersionId": versionID}
}

// keyID is the KMS key a secret's values are sealed under.
func (sec *secret) keyID() string {
	if sec.KmsKeyID != "" {
		return sec.KmsKeyID
	}
	return "alias/aws/secretsmanager"
}

// kmsError turns KMS's refusal into Secrets Manager's.
func kmsError(err error, encrypt bool) error {
	if errors.Is(err, kms.ErrSealed) {
		return awsapi.ClientError("DecryptionFailure", "Secrets Manager can't decrypt the protected secret text: it does not authenticate under this secret's encryption context.")
	}
	e := awsapi.As(err)
	if e == nil {
		return err
	}
	code := "DecryptionFailure"
	if encrypt {
		code = "EncryptionFailure"
	}
	if e.Code == "NotFoundException" && encrypt {
		return invalidParam("The KMS key %s", strings.TrimSuffix(e.Message, "."))
	}
	return awsapi.ClientError(code, "Secrets Manager can't %s the protected secret text using the provided KMS key: %s",
		map[bool]string{true: "encrypt", false: "decrypt"}[encrypt], e.Message)
}

// value is a secret value as a client gives it.
type value struct {
	str    *string
	binary []byte
}

func (v value) bytes() []byte {
	if v.str != nil {
		return []byte(*v.str)
	}
	return v.binary
}

func (v value) present() bool { return v.str != nil || v.binary != nil }

func checkValue(str *string, bin []byte) (value, error) {
	if str != nil && bin != nil {
		return value{}, invalidParam("You can't specify both a binary secret value and a string secret value in the same secret.")
	}
	v := value{str: str, binary: bin}
	if v.present() && (len(v.bytes()) == 0 || len(v.bytes()) > 65536) {
		return value{}, awsapi.Validation("1 validation error detected: Value at 'secretString' failed to satisfy constraint: Member must have length between 1 and 65536")
	}
	return v, nil
}

// addVersion seals v as a new version of sec with token and stages
// (the value record is written before the caller saves sec).
func (s *Service) addVersion(ctx context.Context, sec *secret, token string, v value, stages []string) (*version, error) {
	sealed, keyARN, err := s.keys.SealValue(ctx, sec.keyID(), v.bytes(), s.ectx(sec, token))
	if err != nil {
		return nil, kmsError(err, true)
	}
	if _, err := s.kv.Create(ctx, valueKey(sec.ID, token), sealed); err != nil {
		if errors.Is(err, store.ErrExists) {
			return nil, awsapi.ClientError("ResourceExistsException", "A version with this ClientRequestToken already exists with different contents.")
		}
		return nil, err
	}
	ver := sec.version(token)
	if ver == nil {
		ver = &version{ID: token, Created: s.now().UTC()}
		sec.Versions = append(sec.Versions, ver)
	}
	ver.Binary, ver.KeyARN, ver.Empty = v.str == nil, keyARN, false
	for _, st := range stages {
		sec.moveStage(st, ver)
	}
	sec.LastChanged = s.now().UTC()
	s.trim(ctx, sec)
	return ver, nil
}

// trim drops the oldest versions without a stage beyond maxVersions.
func (s *Service) trim(ctx context.Context, sec *secret) {
	for len(sec.Versions) > maxVersions {
		i := slices.IndexFunc(sec.Versions, func(v *version) bool { return len(v.Stages) == 0 })
		if i < 0 {
			return
		}
		if err := s.kv.Delete(ctx, valueKey(sec.ID, sec.Versions[i].ID), 0); err != nil {
			s.log.Warn("delete a deprecated secret version", "err", err)
		}
		sec.Versions = slices.Delete(sec.Versions, i, i+1)
	}
}

// open reads a version's value.
func (s *Service) open(ctx context.Context, sec *secret, v *version) (value, error) {
	if v.Empty {
		return value{}, awsapi.ClientError("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for VersionId: %s", v.ID)
	}
	e, err := s.kv.Get(ctx, valueKey(sec.ID, v.ID))
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return value{}, awsapi.ClientError("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for VersionId: %s", v.ID)
		}
		return value{}, err
	}
	b, _, err := s.keys.OpenValue(ctx, e.Value, s.ectx(sec, v.ID))
	if err != nil {
		return value{}, kmsError(err, false)
	}
	if v.Binary {
		return value{binary: b}, nil
	}
	str := string(b)
	return value{str: &str}, nil
}

func (s *Service) newARN(name string) (string, error) {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	b := make([]byte, arnSuffixLen)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return s.arnPrefix() + name + "-" + string(b), nil
}

func newToken() string { return uuid.NewString() }

func checkToken(t string) error {
	if len(t) < 32 || len(t) > 64 {
		return awsapi.Validation("1 validation error detected: Value at 'clientRequestToken' failed to satisfy constraint: Member must have length between 32 and 64")
	}
	return nil
}

// ResourcePolicy is the resource policy of the secret id (its name or
// ARN; "" when it has none or does not exist), for IAM's evaluation of
// calls on it.
func (s *Service) ResourcePolicy(ctx context.Context, id string) string {
	sec, _, err := s.load(ctx, id)
	if err != nil {
		return ""
	}
	return sec.Policy
}

// Package ssm owns Nimbus's AWS Systems Manager Parameter Store (AWS JSON
// 1.1, X-Amz-Target AmazonSSM.*, signing name "ssm"): String, StringList
// and SecureString parameters with versions, labels, tiers, hierarchies
// (GetParametersByPath), history, tags, and the /aws/reference/
// secretsmanager/ parameters that read Secrets Manager. Every other
// Systems Manager operation is refused with a message naming its feature.
//
// A parameter's metadata and versions are one record under
// "ssm.param.<name>" of the backbone's state bucket (compare-and-swap
// writes); each version's value is its own record under
// "ssm.value.<name>.<version>" — SecureString values sealed by KMS under
// aws/ssm or the parameter's KeyId with the encryption context
// {PARAMETER_ARN}, as AWS seals them. The value is written before the
// metadata that names it.
//
// Only the daemon (wiring) imports this package;
// docs/design/secrets.md explains the decisions.
package ssm

import (
	"context"
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

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/kms"
	"github.com/nimbus-serverless/nimbus/internal/store"
)

// TargetPrefix is the X-Amz-Target prefix of SSM requests.
const TargetPrefix = "AmazonSSM."

// IsRequest reports whether r is an SSM API call.
func IsRequest(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("X-Amz-Target"), TargetPrefix)
}

// Secrets reads Secrets Manager secrets (*secretsmanager.Service) for the
// /aws/reference/secretsmanager/ parameters.
type Secrets interface {
	GetValue(ctx context.Context, id, versionID, stage string) (str *string, bin []byte, version, arn string, err error)
}

// Options configure New.
type Options struct {
	Store     store.KV   // required
	Keys      kms.Sealer // required
	Secrets   Secrets
	Region    string
	AccountID string
	Logger    *slog.Logger
	Now       func() time.Time
}

// Service is the node's Parameter Store.
type Service struct {
	kv      store.KV
	keys    kms.Sealer
	secrets Secrets
	region  string
	account string
	log     *slog.Logger
	now     func() time.Time
	api     *awsapi.JSONService
}

// New returns the service.
func New(o Options) (*Service, error) {
	if o.Store == nil || o.Keys == nil {
		return nil, errors.New("new ssm: Store and Keys are required")
	}
	s := &Service{kv: o.Store, keys: o.Keys, secrets: o.Secrets, region: o.Region, account: o.AccountID, log: o.Logger, now: o.Now}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.api = s.handler()
	return s, nil
}

// ServeHTTP serves the Parameter Store API.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.api.ServeHTTP(w, r) }

// Parameter types and tiers.
const (
	typeString       = "String"
	typeStringList   = "StringList"
	typeSecureString = "SecureString"
	tierStandard     = "Standard"
	tierAdvanced     = "Advanced"
	tierIntelligent  = "Intelligent-Tiering"
	maxStandardValue = 4096
	maxAdvancedValue = 8192
	maxVersions      = 100
	maxDepth         = 15
	maxNameLen       = 1011
	referencePrefix  = "/aws/reference/secretsmanager/"
)

// Tag is a resource tag.
type Tag struct {
	Key   string
	Value string
}

// pversion is one version of a parameter (its value is a record of its
// own).
type pversion struct {
	Version        int64
	Type           string
	KeyID          string `json:",omitempty"`
	Description    string `json:",omitempty"`
	AllowedPattern string `json:",omitempty"`
	Tier           string
	DataType       string
	Labels         []string `json:",omitempty"`
	Modified       time.Time
	User           string
}

// param is a parameter's record.
type param struct {
	Name     string
	Tags     []Tag `json:",omitempty"`
	Versions []*pversion
}

func (p *param) latest() *pversion { return p.Versions[len(p.Versions)-1] }

func (p *param) version(n int64) *pversion {
	for _, v := range p.Versions {
		if v.Version == n {
			return v
		}
	}
	return nil
}

func (p *param) labelled(l string) *pversion {
	for _, v := range p.Versions {
		if slices.Contains(v.Labels, l) {
			return v
		}
	}
	return nil
}

const (
	paramPrefix = "ssm.param."
	valuePrefix = "ssm.value."
)

func enc(name string) string { return base64.RawURLEncoding.EncodeToString([]byte(name)) }

func paramKey(name string) string { return paramPrefix + enc(name) }

func valueKey(name string, v int64) string { return fmt.Sprintf("%s%s.%d", valuePrefix, enc(name), v) }

func (s *Service) arn(name string) string {
	if !strings.HasPrefix(name, "/") {
		name = "/" + name
	}
	return "arn:aws:ssm:" + s.region + ":" + s.account + ":parameter" + name
}

var namePattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9_.\-/]+$`) })

func validation(format string, args ...any) error { return awsapi.Validation(format, args...) }

func notFound(name string) error {
	return awsapi.ClientError("ParameterNotFound", "Parameter %s not found.", name)
}

// checkName enforces AWS's parameter name rules: letters, digits and
// ._-/, a hierarchy starts with "/" and has at most 15 levels, no level is
// empty, ".", or ".." (no path traversal), and "aws"/"ssm" prefixes are
// reserved.
func checkName(name string) error {
	if name == "" || len(name) > maxNameLen {
		return validation("Parameter name must be between 1 and %d characters.", maxNameLen)
	}
	if !namePattern().MatchString(name) {
		return validation("Parameter name: can't be prefixed with \"aws\" or \"ssm\" (case-insensitive). It must use only letters, numbers, or the following symbols: . (period), - (hyphen), _ (underscore). Special characters are not allowed. All sub-paths, if specified, must use the forward slash symbol \"/\". Valid example: /get/parameters2-/by1./path0_.")
	}
	if strings.Contains(name, "/") {
		if !strings.HasPrefix(name, "/") {
			return validation("Parameter name must be a fully qualified name.")
		}
		segs := strings.Split(name[1:], "/")
		if len(segs) > maxDepth {
			return awsapi.ClientError("HierarchyLevelLimitExceededException",
				"A hierarchy can have a maximum of 15 levels. For more information, see Requirements and constraints for parameter names in the Amazon Web Services Systems Manager User Guide.")
		}
		for _, seg := range segs {
			if seg == "" || seg == "." || seg == ".." {
				return validation("Parameter name %q has an empty, '.' or '..' level; a parameter name is not a path to traverse.", name)
			}
		}
	}
	first := strings.ToLower(strings.TrimPrefix(name, "/"))
	if strings.HasPrefix(first, "aws") || strings.HasPrefix(first, "ssm") {
		return validation("No access to reserved parameter name: %s.", name)
	}
	return nil
}

// selector splits "name:version" or "name:label" (a name or a
// parameter ARN).
func selector(raw string) (name, sel string) {
	if strings.HasPrefix(raw, "arn:") {
		j := strings.Index(raw, ":parameter/")
		if j < 0 {
			return raw, ""
		}
		n, sl := splitSelector(raw[j+len(":parameter"):])
		if strings.Count(n, "/") == 1 {
			n = n[1:] // a top-level name's ARN adds the one slash
		}
		return n, sl
	}
	return splitSelector(raw)
}

func splitSelector(s string) (string, string) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return s, ""
	}
	return s[:i], s[i+1:]
}

func (s *Service) load(ctx context.Context, name string) (*param, uint64, error) {
	e, err := s.kv.Get(ctx, paramKey(name))
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalidKey) {
		return nil, 0, notFound(name)
	}
	if err != nil {
		return nil, 0, err
	}
	var p param
	if err := json.Unmarshal(e.Value, &p); err != nil {
		return nil, 0, fmt.Errorf("parameter record: %w", err)
	}
	if len(p.Versions) == 0 {
		return nil, 0, notFound(name)
	}
	return &p, e.Revision, nil
}

func (s *Service) save(ctx context.Context, p *param, rev uint64) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	if rev == 0 {
		_, err = s.kv.Create(ctx, paramKey(p.Name), b)
		if errors.Is(err, store.ErrExists) {
			return awsapi.ClientError("TooManyUpdates", "There are concurrent updates for the resource that you are trying to modify. Retry the request.")
		}
		return err
	}
	_, err = s.kv.Update(ctx, paramKey(p.Name), b, rev)
	if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
		return awsapi.ClientError("TooManyUpdates", "There are concurrent updates for the resource that you are trying to modify. Retry the request.")
	}
	return err
}

func (s *Service) ectx(name string) map[string]string {
	return map[string]string{"PARAMETER_ARN": s.arn(name)}
}

// value reads version v of p: plaintext, or for a SecureString the
// decrypted value (decrypt) or its ciphertext in base64 (as AWS answers
// without WithDecryption).
func (s *Service) value(ctx context.Context, p *param, v *pversion, decrypt bool) (string, error) {
	e, err := s.kv.Get(ctx, valueKey(p.Name, v.Version))
	if err != nil {
		return "", fmt.Errorf("parameter value %s:%d: %w", p.Name, v.Version, err)
	}
	if v.Type != typeSecureString {
		return string(e.Value), nil
	}
	if !decrypt {
		return base64.StdEncoding.EncodeToString(e.Value), nil
	}
	b, _, err := s.keys.OpenValue(ctx, e.Value, s.ectx(p.Name))
	if err != nil {
		if errors.Is(err, kms.ErrSealed) {
			return "", awsapi.ClientError("InvalidKeyId", "The SecureString of %s does not decrypt under its KMS key and parameter ARN.", p.Name)
		}
		if e := awsapi.As(err); e != nil {
			return "", awsapi.ClientError("InvalidKeyId", "%s", e.Message)
		}
		return "", err
	}
	return string(b), nil
}

// ParameterTags are the tags of the parameter name (its ARN's
// "parameter/…" part, with or without the leading "/"); nil if it does
// not exist. IAM reads them for aws:ResourceTag.
func (s *Service) ParameterTags(ctx context.Context, name string) map[string]string {
	p, _, err := s.load(ctx, name)
	if err != nil {
		p, _, err = s.load(ctx, "/"+name)
	}
	if err != nil || len(p.Tags) == 0 {
		return nil
	}
	out := make(map[string]string, len(p.Tags))
	for _, t := range p.Tags {
		out[t.Key] = t.Value
	}
	return out
}

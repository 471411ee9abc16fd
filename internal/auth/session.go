package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/sigv4"
)

// Function credentials are temporary credentials in the shape AWS STS
// gives a Lambda function: an "ASIA…" access key id, a secret and a
// session token. Nothing is stored per credential: the session token is a
// grant
//
//	v1|<access key id>|<expiry, unix seconds>|<role ARN>|<function ARN>
//
// MAC-protected (HMAC-SHA256) with the node's session key, and the secret
// is HMAC(session key, access key id). A token therefore cannot be forged,
// extended or moved to another access key without the session key, which
// lives in the data directory (0600) and survives restarts.

// DefaultSessionTTL is how long function credentials are valid (Lambda's
// are valid for up to 12 hours as well).
const DefaultSessionTTL = 12 * time.Hour

// Grant versions: v1 (a function's session: key, expiry, role, function)
// and v2 (v1's fields, then the session name, the user name and the
// session policy, base64url).
const (
	grantVersion   = "v1"
	grantVersionV2 = "v2"
)

// Grant is what a session token says.
type Grant struct {
	AccessKeyID string
	Expiration  time.Time
	RoleArn     string
	FunctionArn string
	// SessionName is an AssumeRole session's name (a function's session
	// is named after the function).
	SessionName string
	// UserName is set for GetSessionToken's sessions of an IAM user.
	UserName string
	// Policy is an AssumeRole session policy (JSON), if one was passed.
	Policy string
}

// Issuer issues and checks function credentials.
type Issuer struct {
	key []byte
	ttl time.Duration
	now func() time.Time
}

// NewIssuer returns an Issuer keyed by key (at least 32 bytes). ttl is
// DefaultSessionTTL when zero; now is time.Now when nil.
func NewIssuer(key []byte, ttl time.Duration, now func() time.Time) (*Issuer, error) {
	if len(key) < 32 {
		return nil, errors.New("session key must have at least 32 bytes")
	}
	if ttl <= 0 {
		ttl = DefaultSessionTTL
	}
	if now == nil {
		now = time.Now
	}
	return &Issuer{key: key, ttl: ttl, now: now}, nil
}

// LoadOrCreateSessionKey returns the session key of dataDir, creating it
// (32 random bytes, 0600) on first use.
func LoadOrCreateSessionKey(dataDir string) ([]byte, error) {
	p := filepath.Join(dataDir, Dir, sessionKeyFile)
	key, err := os.ReadFile(p) //nolint:gosec // under the data directory
	if err == nil && len(key) >= 32 {
		return key, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read session key: %w", err)
	}
	key = make([]byte, 32)
	_, _ = rand.Read(key)
	if err := writePrivate(p, key, true); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return LoadOrCreateSessionKey(dataDir)
		}
		return nil, fmt.Errorf("store session key: %w", err)
	}
	return key, nil
}

// TTL is how long issued credentials are valid.
func (i *Issuer) TTL() time.Duration { return i.ttl }

// Issue returns new credentials for a function running as roleArn.
func (i *Issuer) Issue(roleArn, functionArn string) (Credentials, error) {
	if strings.Contains(roleArn, "|") || strings.Contains(functionArn, "|") {
		return Credentials{}, fmt.Errorf("issue credentials for %s: ARN contains '|'", functionArn)
	}
	g := Grant{AccessKeyID: NewAccessKeyID("ASIA"), Expiration: i.now().Add(i.ttl).Truncate(time.Second).UTC(),
		RoleArn: roleArn, FunctionArn: functionArn}
	return Credentials{AccessKeyID: g.AccessKeyID, SecretAccessKey: i.secret(g.AccessKeyID), SessionToken: i.token(g),
		Expiration: g.Expiration}, nil
}

// IssueSession returns credentials for an STS session (AssumeRole of
// roleArn as sessionName, or GetSessionToken of userName), valid for ttl,
// limited by the session policy if not "".
func (i *Issuer) IssueSession(g Grant, ttl time.Duration) (Credentials, error) {
	for _, f := range []string{g.RoleArn, g.SessionName, g.UserName} {
		if strings.Contains(f, "|") {
			return Credentials{}, errors.New("issue session credentials: a name contains '|'")
		}
	}
	g.AccessKeyID = NewAccessKeyID("ASIA")
	g.Expiration = i.now().Add(ttl).Truncate(time.Second).UTC()
	return Credentials{AccessKeyID: g.AccessKeyID, SecretAccessKey: i.secret(g.AccessKeyID), SessionToken: i.token(g),
		Expiration: g.Expiration}, nil
}

// UserSecret is the secret of an IAM user's long-term access key id:
// derived from the session key, never stored.
func (i *Issuer) UserSecret(akid string) string {
	return base64.StdEncoding.EncodeToString(i.mac("user-key", akid))[:40]
}

// token is the session token of g.
func (i *Issuer) token(g Grant) string {
	fields := []string{grantVersion, g.AccessKeyID, strconv.FormatInt(g.Expiration.Unix(), 10), g.RoleArn, g.FunctionArn}
	if g.SessionName != "" || g.UserName != "" || g.Policy != "" {
		fields[0] = grantVersionV2
		fields = append(fields, g.SessionName, g.UserName, base64.RawURLEncoding.EncodeToString([]byte(g.Policy)))
	}
	payload := strings.Join(fields, "|")
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(payload)) + "." + enc.EncodeToString(i.mac("token", payload))
}

func (i *Issuer) mac(purpose, data string) []byte {
	m := hmac.New(sha256.New, i.key)
	m.Write([]byte(purpose + "\n" + data))
	return m.Sum(nil)
}

func (i *Issuer) secret(akid string) string {
	return base64.StdEncoding.EncodeToString(i.mac("secret", akid))[:40]
}

// Check validates token for accessKeyID and returns its grant and the
// secret of the key. Errors wrap sigv4.ErrUnknownKey (forged, damaged or
// for another key) or sigv4.ErrExpiredToken.
func (i *Issuer) Check(accessKeyID, token string) (Grant, string, error) {
	g, err := i.parse(token)
	if err != nil || g.AccessKeyID != accessKeyID {
		return Grant{}, "", fmt.Errorf("session token of %s: %w", accessKeyID, sigv4.ErrUnknownKey)
	}
	if !i.now().Before(g.Expiration) {
		return Grant{}, "", fmt.Errorf("session token of %s: %w", accessKeyID, sigv4.ErrExpiredToken)
	}
	return g, i.secret(accessKeyID), nil
}

func (i *Issuer) parse(token string) (Grant, error) {
	p, m, ok := strings.Cut(token, ".")
	if !ok {
		return Grant{}, errors.New("no MAC")
	}
	enc := base64.RawURLEncoding
	payload, err1 := enc.Strict().DecodeString(p)
	mac, err2 := enc.Strict().DecodeString(m)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, i.mac("token", string(payload))) {
		return Grant{}, errors.New("bad MAC")
	}
	f := strings.Split(string(payload), "|")
	v1 := len(f) == 5 && f[0] == grantVersion
	v2 := len(f) == 8 && f[0] == grantVersionV2
	if !v1 && !v2 {
		return Grant{}, errors.New("bad grant")
	}
	exp, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil {
		return Grant{}, errors.New("bad expiry")
	}
	g := Grant{AccessKeyID: f[1], Expiration: time.Unix(exp, 0), RoleArn: f[3], FunctionArn: f[4]}
	if len(f) == 8 {
		pol, err := base64.RawURLEncoding.DecodeString(f[7])
		if err != nil {
			return Grant{}, errors.New("bad policy")
		}
		g.SessionName, g.UserName, g.Policy = f[5], f[6], string(pol)
	}
	return g, nil
}

// SaveSessionKey replaces the session key stored in dataDir (0600): a
// cluster node keeps the cluster's there, so credentials any node issued
// verify on every node.
func SaveSessionKey(dataDir string, key []byte) error {
	if len(key) < 32 {
		return errors.New("store session key: shorter than 32 bytes")
	}
	if err := writePrivate(filepath.Join(dataDir, Dir, sessionKeyFile), key, false); err != nil {
		return fmt.Errorf("store session key: %w", err)
	}
	return nil
}

package auth

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/sigv4"
)

const (
	role = "arn:aws:iam::000000000000:role/lambda"
	fn   = "arn:aws:lambda:us-east-1:000000000000:function:hello"
)

func TestIssuerGrants(t *testing.T) {
	now := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	clock := now
	key := []byte(strings.Repeat("k", 32))
	is, err := NewIssuer(key, time.Hour, func() time.Time { return clock })
	if err != nil {
		t.Fatal(err)
	}
	c, err := is.Issue(role, fn)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c.AccessKeyID, "ASIA") || len(c.AccessKeyID) != 20 || len(c.SecretAccessKey) != 40 || !c.Expiration.Equal(now.Add(time.Hour)) {
		t.Fatalf("issued %+v", c)
	}
	g, secret, err := is.Check(c.AccessKeyID, c.SessionToken)
	if err != nil || secret != c.SecretAccessKey || g.RoleArn != role || g.FunctionArn != fn {
		t.Fatalf("check: %+v %q %v", g, secret, err)
	}
	other, _ := is.Issue(role, fn)
	bad := map[string][2]string{
		"token of another key":  {other.AccessKeyID, c.SessionToken},
		"payload changed":       {c.AccessKeyID, "x" + c.SessionToken},
		"mac changed":           {c.AccessKeyID, c.SessionToken[:len(c.SessionToken)-2] + "AA"},
		"no mac":                {c.AccessKeyID, strings.Split(c.SessionToken, ".")[0]},
		"empty":                 {c.AccessKeyID, ""},
		"key of another issuer": {c.AccessKeyID, otherToken(t, []byte(strings.Repeat("o", 32)))},
	}
	for name, b := range bad {
		if _, _, err := is.Check(b[0], b[1]); !errors.Is(err, sigv4.ErrUnknownKey) {
			t.Errorf("%s: %v, want ErrUnknownKey", name, err)
		}
	}
	clock = now.Add(time.Hour)
	if _, _, err := is.Check(c.AccessKeyID, c.SessionToken); !errors.Is(err, sigv4.ErrExpiredToken) {
		t.Errorf("at expiry: %v, want ErrExpiredToken", err)
	}
}

// otherToken returns a token issued with another session key.
func otherToken(t *testing.T, key []byte) string {
	t.Helper()
	is, _ := NewIssuer(key, 0, nil)
	c, err := is.Issue(role, fn)
	if err != nil {
		t.Fatal(err)
	}
	return c.SessionToken
}

func TestAssumedRoleArn(t *testing.T) {
	got := assumedRoleArn("123456789012", "arn:aws:iam::123456789012:role/service-role/my-role", "arn:aws:lambda:us-east-1:123456789012:function:hello:live")
	if want := "arn:aws:sts::123456789012:assumed-role/my-role/hello"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestLoadRootRefusesOpenFile(t *testing.T) {
	dir := t.TempDir()
	c, created, err := EnsureRoot(dir, Credentials{})
	if err != nil || !created {
		t.Fatal(err, created)
	}
	again, created, err := EnsureRoot(dir, Credentials{})
	if err != nil || created || again != c {
		t.Fatalf("second EnsureRoot: %+v %v %v", again, created, err)
	}
	if err := os.Chmod(RootPath(dir), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadRoot(dir); err == nil || !strings.Contains(err.Error(), "readable by others") {
		t.Errorf("world-readable credentials accepted: %v", err)
	}
}

func FuzzSessionToken(f *testing.F) {
	is, _ := NewIssuer([]byte(strings.Repeat("k", 32)), 0, nil)
	c, _ := is.Issue(role, fn)
	f.Add(c.AccessKeyID, c.SessionToken)
	f.Add(c.AccessKeyID, c.SessionToken+"=")
	f.Add("ASIA", "djF8QVNJQXwxfHJ8Zg.AAAA")
	f.Add("", ".")
	f.Fuzz(func(t *testing.T, akid, token string) {
		g, secret, err := is.Check(akid, token)
		// Only the issuer's own encoding of a grant is accepted: no
		// alternative spelling of a token passes the MAC check.
		if err == nil && (g.AccessKeyID != akid || secret == "" || token != is.token(g)) {
			t.Fatalf("accepted a token the issuer did not issue: %q for %q", token, akid)
		}
	})
}

package config

import (
	"strings"
	"testing"
)

func TestDefaultIsValid(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("default config invalid: %v", err)
	}
	if c.Listen != "127.0.0.1:4566" {
		t.Errorf("default listen = %q, want loopback 4566", c.Listen)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := Default()
	c.Listen = "nope"
	c.Region = "Mars"
	c.AccountID = "12"
	c.AccessKeyID = "AKID"
	c.TLSCert = "cert.pem"
	c.TLSSelfSigned = true
	err := c.Validate()
	if err == nil {
		t.Fatal("want error")
	}
	for _, want := range []string{"listen address", "region", "account id", "must be set together", "--tls-cert and --tls-key go together",
		"--tls-self-signed and --tls-cert exclude each other"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv("NIMBUS_LISTEN", "127.0.0.1:9999")
	t.Setenv("NIMBUS_ACCOUNT_ID", "123456789012")
	t.Setenv("NIMBUS_ACCESS_KEY_ID", "AKID")
	t.Setenv("NIMBUS_SECRET_ACCESS_KEY", "secret")
	c := FromEnv()
	if c.Listen != "127.0.0.1:9999" || c.AccountID != "123456789012" || c.AccessKeyID != "AKID" || c.SecretAccessKey != "secret" {
		t.Fatalf("env not applied: %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestInsecureNoAuthFromEnv(t *testing.T) {
	t.Setenv("NIMBUS_INSECURE_NO_AUTH", "1")
	if c := FromEnv(); !c.InsecureNoAuth || c.Validate() != nil {
		t.Errorf("NIMBUS_INSECURE_NO_AUTH=1: %v %v", c.InsecureNoAuth, c.Validate())
	}
	t.Setenv("NIMBUS_INSECURE_NO_AUTH", "sure")
	if c := FromEnv(); c.InsecureNoAuth || c.Validate() == nil {
		t.Errorf("NIMBUS_INSECURE_NO_AUTH=sure must be refused, got %v %v", c.InsecureNoAuth, c.Validate())
	}
	t.Setenv("NIMBUS_INSECURE_NO_AUTH", "")
	if c := FromEnv(); c.InsecureNoAuth {
		t.Error("verification is on by default")
	}
}

func TestClientBounds(t *testing.T) {
	t.Setenv("NIMBUS_BODY_MIN_RATE", "4096")
	t.Setenv("NIMBUS_BODY_GRACE", "5s")
	t.Setenv("NIMBUS_MAX_CONNECTIONS", "100")
	c := FromEnv()
	if err := c.Validate(); err != nil || c.BodyMinRate != 4096 || c.BodyGrace.String() != "5s" || c.MaxConnections != 100 {
		t.Fatalf("from env: %+v %v", c, err)
	}
	t.Setenv("NIMBUS_BODY_GRACE", "soon")
	bad := FromEnv()
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "NIMBUS_BODY_GRACE") {
		t.Fatalf("malformed grace: %v", err)
	}
	c = Default()
	c.BodyMinRate, c.HeaderTimeout, c.MaxConnections, c.BodySpoolSlots = 0, 0, -1, 0
	err := c.Validate()
	for _, want := range []string{"body minimum rate", "header timeout", "max connections", "spool slots"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %q", err, want)
		}
	}
}

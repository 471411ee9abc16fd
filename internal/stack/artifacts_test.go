package stack

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestArtifacts(t *testing.T) {
	st := storetest.Open(t)
	a := &Artifacts{Code: st}
	ctx := t.Context()
	data := []byte("PK\x03\x04 a zip, as far as the store cares")
	key := sha(data)

	if ok, err := a.Has(ctx, key); err != nil || ok {
		t.Fatalf("Has before Put = %v, %v; want false, nil", ok, err)
	}
	if _, err := a.Get(ctx, key); !errors.Is(err, ErrArtifactNotFound) {
		t.Fatalf("Get before Put: err = %v, want ErrArtifactNotFound", err)
	}
	if err := a.Put(ctx, key, data); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if err := a.Put(ctx, key, data); err != nil {
		t.Fatalf("second Put: %v", err)
	}
	if ok, err := a.Has(ctx, key); err != nil || !ok {
		t.Fatalf("Has after Put = %v, %v; want true, nil", ok, err)
	}
	got, err := a.Get(ctx, key)
	if err != nil || string(got) != string(data) {
		t.Fatalf("Get = %q, %v", got, err)
	}
	// Artifacts live apart from function code packages of the same content.
	if storetest.HasCode(t, st, key) {
		t.Fatalf("artifact stored under the bare code key %s", key)
	}

	for _, bad := range []string{"", "abc", strings.ToUpper(key), key + "0", "../" + key[3:], "artifact/" + key} {
		var e *awsapi.Error
		if err := a.Put(ctx, bad, data); !errors.As(err, &e) || e.Code != CodeValidationError || e.Status != 400 {
			t.Errorf("Put(%q) err = %v, want 400 ValidationError", bad, err)
		}
		if _, err := a.Get(ctx, bad); !errors.As(err, &e) || e.Code != CodeValidationError {
			t.Errorf("Get(%q) err = %v, want ValidationError", bad, err)
		}
		if _, err := a.Has(ctx, bad); err == nil {
			t.Errorf("Has(%q) accepted a bad name", bad)
		}
	}
	other := sha([]byte("other"))
	var e *awsapi.Error
	if err := a.Put(ctx, other, data); !errors.As(err, &e) || e.Code != CodeValidationError {
		t.Fatalf("Put with another content's sha: err = %v, want ValidationError", err)
	}
	if ok, _ := a.Has(ctx, other); ok {
		t.Fatalf("a refused Put stored something")
	}
}

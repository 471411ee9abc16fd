package awsapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestParseFunctionRef(t *testing.T) {
	good := []struct {
		in   string
		want FunctionRef
	}{
		{"hello", FunctionRef{Name: "hello"}},
		{"hello:live", FunctionRef{Name: "hello", Qualifier: "live"}},
		{"hello:$LATEST", FunctionRef{Name: "hello", Qualifier: "$LATEST"}},
		{"123456789012:function:hello", FunctionRef{Name: "hello", Account: "123456789012"}},
		{"123456789012:function:hello:7", FunctionRef{Name: "hello", Qualifier: "7", Account: "123456789012"}},
		{"arn:aws:lambda:us-east-1:123456789012:function:hello", FunctionRef{Name: "hello", Region: "us-east-1", Account: "123456789012"}},
		{"arn:aws:lambda:eu-west-2:123456789012:function:my-fn_1:prod", FunctionRef{Name: "my-fn_1", Qualifier: "prod", Region: "eu-west-2", Account: "123456789012"}},
	}
	for _, c := range good {
		got, err := ParseFunctionRef(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseFunctionRef(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	bad := []string{
		"", "bad name", "a/b", "hello:", "hello::x", "hello:a:b",
		"arn:aws:lambda:us-east-1:123:function:hello",
		"arn:aws:s3:us-east-1:123456789012:function:hello",
		"arn:aws:lambda:nowhere:123456789012:function:hello",
		"12345:function:hello",
		string(make([]byte, 65)),
		strings.Repeat("a", 65),
	}
	for _, in := range bad {
		_, err := ParseFunctionRef(in)
		var e *Error
		if !errors.As(err, &e) || e.Code != CodeValidation || e.Status != 400 {
			t.Errorf("ParseFunctionRef(%q) error = %v, want 400 ValidationException", in, err)
		}
	}
}

func FuzzParseFunctionRef(f *testing.F) {
	for _, s := range []string{"hello", "hello:1", "arn:aws:lambda:us-east-1:123456789012:function:hello:live", "123456789012:function:x", ":::", "arn:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := ParseFunctionRef(s)
		if err != nil {
			return
		}
		if !ValidFunctionName(ref.Name) {
			t.Fatalf("accepted %q with invalid name %q", s, ref.Name)
		}
		// A parsed reference round-trips through its ARN.
		arn := FunctionARN("us-east-1", "123456789012", ref.Name, ref.Qualifier)
		back, err := ParseFunctionRef(arn)
		if err != nil || back.Name != ref.Name || back.Qualifier != ref.Qualifier {
			t.Fatalf("round trip of %q via %q = %+v, %v", s, arn, back, err)
		}
	})
}

func TestWriteError(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteError(rec, nil, TooManyRequests("ReservedFunctionConcurrentInvocationLimitExceeded", 2, "Rate exceeded"))
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("X-Amzn-ErrorType") != CodeTooManyRequests || rec.Header().Get("Retry-After") != "2" {
		t.Fatalf("got %d %v", rec.Code, rec.Header())
	}
	var body map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body["message"] != "Rate exceeded" || body["Type"] != "User" || body["Reason"] == "" {
		t.Fatalf("body %s: %v", rec.Body, err)
	}

	rec = httptest.NewRecorder()
	WriteError(rec, nil, errors.New("disk on fire at /var/secret"))
	if rec.Code != 500 || rec.Header().Get("X-Amzn-ErrorType") != CodeService {
		t.Fatalf("internal error mapped to %d %v", rec.Code, rec.Header())
	}
	if got := rec.Body.String(); !json.Valid([]byte(got)) || strings.Contains(got, "/var/secret") {
		t.Fatalf("internal error text leaked or invalid JSON: %s", got)
	}

	// A full disk is the service's 500 with its message; a backbone
	// electing a leader (Transient) is a 503 clients retry.
	for _, tc := range []struct {
		err    error
		status int
	}{
		{fmt.Errorf("put: %w", fullDisk{}), 500},
		{fmt.Errorf("put: %w", electing{}), 503},
	} {
		if msg, ok := TransientMessage(tc.err); ok != (tc.status == 503) || ok && msg != (electing{}).Unavailable() {
			t.Errorf("TransientMessage(%v) = %q, %v", tc.err, msg, ok)
		}
		rec = httptest.NewRecorder()
		WriteError(rec, nil, tc.err)
		if rec.Code != tc.status || rec.Header().Get("X-Amzn-ErrorType") != CodeService || !strings.Contains(rec.Body.String(), "Retry") {
			t.Errorf("%v answered %d %v %s, want %d ServiceException with the category's message", tc.err, rec.Code, rec.Header(), rec.Body, tc.status)
		}
	}

	// The text travels under the member name of the exception's shape.
	for _, tc := range []struct {
		err  *Error
		want string
	}{
		{NotFound("Function not found: x"), `{"Type":"User","Message":"Function not found: x"}`},
		{Service("boom"), `{"Type":"Service","Message":"boom"}`},
		{InvalidParameter("bad"), `{"Type":"User","message":"bad"}`},
		{Conflict("busy"), `{"Type":"User","message":"busy"}`},
	} {
		rec = httptest.NewRecorder()
		WriteError(rec, nil, tc.err)
		if got := strings.TrimSpace(rec.Body.String()); got != tc.want {
			t.Errorf("%s body %s, want %s", tc.err.Code, got, tc.want)
		}
	}
}

func TestErrorIs(t *testing.T) {
	err := NotFound("Function not found: x")
	wrapped := errors.Join(errors.New("ctx"), err)
	if !errors.Is(wrapped, &Error{Code: CodeResourceNotFound}) {
		t.Fatal("errors.Is by code failed")
	}
	if errors.Is(wrapped, &Error{Code: CodeResourceConflict}) {
		t.Fatal("errors.Is matched the wrong code")
	}
}

type fullDisk struct{}

func (fullDisk) Error() string       { return "storage is full" }
func (fullDisk) Unavailable() string { return "Storage is full. Retry once space has been freed." }

type electing struct{ fullDisk }

func (electing) Unavailable() string { return "Briefly unavailable. Retry the request." }
func (electing) Transient()          {}

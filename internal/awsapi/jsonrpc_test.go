package awsapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type echoIn struct {
	Name  string `json:"Name"`
	Count int    `json:"Count"`
}

type diskFull struct{}

func (diskFull) Error() string       { return "disk full: /var/lib/secret-path" }
func (diskFull) Unavailable() string { return "storage is full" }

var errMine = errors.New("mine")

func testService() *JSONService {
	return &JSONService{
		Prefix: "Test_20260101.", Protocol: ProtocolJSON10, Name: "Test",
		Ops: map[string]JSONOp{
			"Echo": Op(func(_ context.Context, in *echoIn) (any, error) { return in, nil }),
			"Fail": Op(func(context.Context, *struct{}) (any, error) { return nil, errors.New("secret internal text") }),
			"Full": Op(func(context.Context, *struct{}) (any, error) { return nil, diskFull{} }),
			"Mine": Op(func(context.Context, *struct{}) (any, error) { return nil, errMine }),
			"Nope": Op(func(context.Context, *struct{}) (any, error) { return nil, NotFound("no such thing") }),
		},
		Refused: map[string]string{"Teleport": "teleports"},
		MaxBody: 64,
		MapError: func(err error) *Error {
			if errors.Is(err, errMine) {
				return &Error{Status: 409, Code: "MineException", Message: "it is mine"}
			}
			return nil
		},
		QueryCode: func(code string) string {
			if code == CodeResourceNotFound {
				return "AWS.Test.NotFound"
			}
			return ""
		},
	}
}

func call(s *JSONService, method, op, body string) (*httptest.ResponseRecorder, map[string]string) {
	r := httptest.NewRequest(method, "/", strings.NewReader(body))
	if op != "" {
		r.Header.Set("X-Amz-Target", s.Prefix+op)
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	var m map[string]string
	_ = json.Unmarshal(w.Body.Bytes(), &m)
	return w, m
}

// TestJSONService: each way a JSON-protocol request can go, answered in
// the protocol's shape with AWS's exception names; internal text never
// reaches the client.
func TestJSONService(t *testing.T) {
	s := testService()
	w, _ := call(s, "POST", "Echo", `{"Name":"a","Count":2}`)
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/x-amz-json-1.0" || !strings.Contains(w.Body.String(), `"Count":2`) {
		t.Fatalf("echo: %d %v %s", w.Code, w.Header(), w.Body)
	}
	if w, _ := call(s, "POST", "Echo", ""); w.Code != 200 {
		t.Errorf("empty body: %d %s", w.Code, w.Body)
	}
	for _, c := range []struct {
		name, method, op, body string
		status                 int
		code, msg              string
	}{
		{"GET", "GET", "Echo", "{}", 400, CodeUnknownOperation, "POST"},
		{"unknown", "POST", "Frobnicate", "{}", 400, CodeUnknownOperation, "Frobnicate is not an operation of Test"},
		{"no target", "POST", "", "{}", 400, CodeUnknownOperation, "names no Test operation"},
		{"prefix only", "POST", "", "{}", 400, CodeUnknownOperation, ""},
		{"refused", "POST", "Teleport", "{}", 400, CodeUnknownOperation, "teleports are not implemented"},
		{"bad json", "POST", "Echo", "{", 400, CodeSerialization, "not valid JSON"},
		{"wrong type", "POST", "Echo", `{"Count":"x"}`, 400, CodeSerialization, "field Count"},
		{"array", "POST", "Echo", `[1]`, 400, CodeSerialization, ""},
		{"too large", "POST", "Echo", `{"Name":"` + strings.Repeat("x", 100) + `"}`, 413, CodeSerializedRequestLarge, ""},
		{"internal", "POST", "Fail", "{}", 500, "InternalServerError", "retry"},
		{"unavailable", "POST", "Full", "{}", 503, "ServiceUnavailableException", "storage is full"},
		{"mapped", "POST", "Mine", "{}", 409, "MineException", "it is mine"},
		{"client error", "POST", "Nope", "{}", 404, CodeResourceNotFound, "no such thing"},
	} {
		w, m := call(s, c.method, c.op, c.body)
		if w.Code != c.status || m["__type"] != c.code || w.Header().Get("X-Amzn-ErrorType") != c.code || !strings.Contains(m["message"], c.msg) {
			t.Errorf("%s: %d %v %s", c.name, w.Code, w.Header(), w.Body)
		}
		if strings.Contains(w.Body.String(), "secret") {
			t.Errorf("%s: internal text reached the client: %s", c.name, w.Body)
		}
	}
	if w, _ := call(s, "POST", "Nope", "{}"); w.Header().Get("x-amzn-query-error") != "AWS.Test.NotFound;Sender" {
		t.Errorf("query code: %v", w.Header())
	}
}

// FuzzJSONService: whatever the target and body, the answer is a JSON
// object, and an error carries __type and X-Amzn-ErrorType alike.
func FuzzJSONService(f *testing.F) {
	s := testService()
	for _, seed := range [][2]string{{"Echo", `{"Name":"a"}`}, {"Echo", `{"Count":1e400}`}, {"Fail", ""}, {"x", "\x00"}, {"Echo", `{"Name":{"a":[[[]]]}}`}} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, op, body string) {
		w, _ := call(s, "POST", op, body)
		var m map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
			t.Fatalf("answer is not a JSON object: %q", w.Body)
		}
		if w.Code != http.StatusOK && (m["__type"] == nil || m["__type"] != w.Header().Get("X-Amzn-ErrorType")) {
			t.Fatalf("error without its name: %d %v %q", w.Code, w.Header(), w.Body)
		}
	})
}

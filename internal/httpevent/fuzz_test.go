package httpevent

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzMapResponse feeds function answers to both mappers: they return a
// response or ErrMalformed, never panic, and never produce a status or
// header net/http would refuse to send.
func FuzzMapResponse(f *testing.F) {
	for _, s := range []string{
		`{"statusCode":200,"body":"x"}`, `{"statusCode":"201","headers":{"A":"b"},"cookies":["c=d"]}`,
		`{"statusCode":200,"isBase64Encoded":true,"body":"AAE="}`, `"text"`, `{"a":1}`, `null`, `[]`, ``, `{`,
		`{"statusCode":200,"multiValueHeaders":{"X":["1",2,true]}}`, `{"statusCode":1e3}`, `{"statusCode":200,"headers":{"":"x"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		for _, m := range []func([]byte) (*Response, error){
			MapV2,
			func(b []byte) (*Response, error) { return MapV1(b, V1Options{}) },
			func(b []byte) (*Response, error) {
				return MapV1(b, V1Options{REST: true, BinaryMediaTypes: []string{"*/*"}})
			},
		} {
			r, err := m(payload)
			if err != nil {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("error %v is not ErrMalformed", err)
				}
				continue
			}
			if r.StatusCode < 100 || r.StatusCode > 599 {
				t.Fatalf("status %d", r.StatusCode)
			}
			for k, vs := range r.Header {
				for _, v := range vs {
					if !validHeader(k, v) {
						t.Fatalf("header %q: %q", k, v)
					}
				}
			}
			w := httptest.NewRecorder()
			r.Write(w)
		}
	})
}

// FuzzBuildEvents builds every event kind from arbitrary targets, headers
// and bodies: it never panics and the result always marshals.
func FuzzBuildEvents(f *testing.F) {
	f.Add("/a/b?x=1&x=2", "Cookie", "a=1; b=2", "application/json", []byte(`{}`))
	f.Add("/%ZZ?%=&==", "X-Y", "", "", []byte{0xff, 0})
	f.Fuzz(func(t *testing.T, target, hk, hv, ct string, body []byte) {
		if !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \r\n\t#") {
			return
		}
		r, err := newFuzzRequest(target)
		if err != nil {
			return
		}
		if validHeader(hk, hv) {
			r.Header.Add(hk, hv)
		}
		if validHeader("Content-Type", ct) {
			r.Header.Set("Content-Type", ct)
		}
		for _, k := range []Kind{HTTPAPI, REST, FunctionURL} {
			o := Options{Kind: k, BinaryMediaTypes: []string{"image/*"}}
			if _, err := Marshal(BuildV2(r, body, o)); err != nil {
				t.Fatal(err)
			}
			if _, err := Marshal(BuildV1(r, body, o)); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func newFuzzRequest(target string) (r *http.Request, err error) {
	defer func() {
		if recover() != nil {
			err = errors.New("httptest refused the target")
		}
	}()
	return httptest.NewRequest("GET", target, nil), nil
}

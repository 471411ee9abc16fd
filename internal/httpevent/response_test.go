package httpevent

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
)

func TestMapV2(t *testing.T) {
	for _, tc := range []struct {
		name, payload string
		status        int
		body          string
		header        map[string][]string
	}{
		{"structured", `{"statusCode":201,"headers":{"X-A":"1","Content-Type":"text/plain"},"body":"made"}`, 201, "made",
			map[string][]string{"X-A": {"1"}, "Content-Type": {"text/plain"}}},
		{"cookies", `{"statusCode":200,"cookies":["a=1; Path=/","b=2"],"body":""}`, 200, "",
			map[string][]string{"Set-Cookie": {"a=1; Path=/", "b=2"}}},
		{"base64", `{"statusCode":200,"isBase64Encoded":true,"body":"` + base64.StdEncoding.EncodeToString([]byte{0, 1, 0xff}) + `"}`, 200, "\x00\x01\xff", nil},
		{"object without statusCode", `{"message":"hi"}`, 200, `{"message":"hi"}`, map[string][]string{"Content-Type": {"application/json"}}},
		{"string", `"Hello from Lambda!"`, 200, "Hello from Lambda!", map[string][]string{"Content-Type": {"application/json"}}},
		{"number", `42`, 200, "42", nil},
		{"null body", `{"statusCode":204,"body":null}`, 204, "", nil},
		{"numeric header", `{"statusCode":200,"headers":{"X-N":5,"X-B":true}}`, 200, "", map[string][]string{"X-N": {"5"}, "X-B": {"true"}}},
		{"string status", `{"statusCode":"404"}`, 404, "", nil},
		{"multiValueHeaders ignored", `{"statusCode":200,"multiValueHeaders":{"X-M":["a","b"]}}`, 200, "", map[string][]string{"X-M": nil}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := MapV2([]byte(tc.payload))
			if err != nil {
				t.Fatal(err)
			}
			if r.StatusCode != tc.status || string(r.Body) != tc.body {
				t.Errorf("got %d %q, want %d %q", r.StatusCode, r.Body, tc.status, tc.body)
			}
			for k, v := range tc.header {
				if got := r.Header.Values(k); !slices.Equal(got, v) {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestMalformed(t *testing.T) {
	for _, p := range []string{
		`not json`, `{"statusCode":"abc"}`, `{"statusCode":99}`, `{"statusCode":200.5}`, `{"statusCode":200,"body":5}`,
		`{"statusCode":200,"headers":"x"}`, `{"statusCode":200,"headers":{"X":{"a":1}}}`, `{"statusCode":200,"headers":{"Bad Name":"x"}}`,
		`{"statusCode":200,"headers":{"X":"a\r\nInjected: 1"}}`, `{"statusCode":200,"isBase64Encoded":true,"body":"***"}`,
		`{"statusCode":200,"cookies":"a=1"}`, `{"statusCode":200,"isBase64Encoded":"yes"}`,
	} {
		if _, err := MapV2([]byte(p)); !errors.Is(err, ErrMalformed) {
			t.Errorf("MapV2(%s) = %v, want ErrMalformed", p, err)
		}
	}
	for _, p := range []string{`"text"`, `{"body":"x"}`, `[1]`, `{"statusCode":200,"extra":1}`, ``} {
		if _, err := MapV1([]byte(p), V1Options{REST: true}); !errors.Is(err, ErrMalformed) {
			t.Errorf("MapV1(%s) = %v, want ErrMalformed", p, err)
		}
	}
	// HTTP APIs with payload 1.0 tolerate unknown members.
	if _, err := MapV1([]byte(`{"statusCode":200,"extra":1}`), V1Options{}); err != nil {
		t.Errorf("HTTP API 1.0 with an extra member: %v", err)
	}
}

func TestMapV1(t *testing.T) {
	p := `{"statusCode":200,"headers":{"X-A":"1","Content-Type":"image/png"},"multiValueHeaders":{"Set-Cookie":["a=1","b=2"],"X-A":["2"]},"body":"AAH/","isBase64Encoded":true}`
	// A REST API without binary media types returns the base64 text.
	r, err := MapV1([]byte(p), V1Options{REST: true})
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Body) != "AAH/" {
		t.Errorf("REST without binary types: body %q, want the base64 text", r.Body)
	}
	// The first Accept type decides, not the response's Content-Type.
	if r, _ := MapV1([]byte(p), V1Options{REST: true, BinaryMediaTypes: []string{"image/png"}, Accept: "text/html, image/png"}); string(r.Body) != "AAH/" {
		t.Errorf("REST with Accept text/html first: body %q, want the base64 text", r.Body)
	}
	if got := r.Header.Values("Set-Cookie"); !slices.Equal(got, []string{"a=1", "b=2"}) {
		t.Errorf("Set-Cookie = %q", got)
	}
	if got := r.Header.Values("X-A"); !slices.Equal(got, []string{"1", "2"}) {
		t.Errorf("X-A = %q, want headers then multiValueHeaders", got)
	}
	for _, o := range []V1Options{
		{REST: true, BinaryMediaTypes: []string{"image/png"}, Accept: "image/png"},
		{REST: true, BinaryMediaTypes: []string{"image/*"}, Accept: "image/png, text/html"},
		{REST: true, BinaryMediaTypes: []string{"*/*"}},
		{}, // HTTP APIs decode always
	} {
		r, err := MapV1([]byte(p), o)
		if err != nil {
			t.Fatal(err)
		}
		if string(r.Body) != "\x00\x01\xff" {
			t.Errorf("%+v: body %q, want decoded bytes", o, r.Body)
		}
	}
}

func TestResponseWrite(t *testing.T) {
	w := httptest.NewRecorder()
	(&Response{StatusCode: 202, Header: http.Header{"X-A": {"1"}}, Body: []byte("<html>")}).Write(w)
	if w.Code != 202 || w.Body.String() != "<html>" || w.Header().Get("X-A") != "1" {
		t.Errorf("got %d %q %v", w.Code, w.Body, w.Header())
	}
	if ct, ok := w.Header()["Content-Type"]; ok && len(ct) > 0 {
		t.Errorf("Content-Type %q was sniffed; API Gateway sends none", ct)
	}
	w = httptest.NewRecorder()
	BadGateway().Write(w)
	if w.Code != 502 || w.Body.String() != `{"message":"Internal server error"}` {
		t.Errorf("BadGateway: %d %s", w.Code, w.Body)
	}
}

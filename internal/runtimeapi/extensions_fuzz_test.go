package runtimeapi

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// FuzzParseRegister: any body is accepted or refused with an Extensions
// API error, never a panic; internal extensions never get SHUTDOWN.
func FuzzParseRegister(f *testing.F) {
	f.Add([]byte(`{"events":["INVOKE","SHUTDOWN"]}`), false)
	f.Add([]byte(`{"events":["SHUTDOWN"]}`), true)
	f.Add([]byte(`{"events":["invoke"]}`), false)
	f.Add([]byte(`{"events":null}`), false)
	f.Add([]byte(``), true)
	f.Fuzz(func(t *testing.T, body []byte, internal bool) {
		_, shut, err := parseRegister(body, internal)
		if err != nil {
			if err.status != http.StatusForbidden || !strings.Contains(err.errorType, "Extension.") && err.errorType != errInvalidFormat {
				t.Fatalf("error %+v", err)
			}
			return
		}
		if internal && shut {
			t.Fatal("an internal extension registered for SHUTDOWN")
		}
	})
}

// FuzzParseSubscription: an accepted subscription always points into the
// environment, at a port that is not reserved, with buffering in Lambda's
// ranges.
func FuzzParseSubscription(f *testing.F) {
	f.Add([]byte(`{"schemaVersion":"2022-12-13","types":["platform","function"],"buffering":{"maxItems":1000,"maxBytes":262144,"timeoutMs":25},"destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:8080/x?y=1"}}`), false)
	f.Add([]byte(`{"schemaVersion":"2021-03-18","types":["platform"],"destination":{"protocol":"HTTP","URI":"http://sandbox:1234"}}`), true)
	f.Add([]byte(`{"schemaVersion":"2022-07-01","types":["extension"],"destination":{"protocol":"HTTP","URI":"http://user@sandbox.localdomain:9001@evil.com:80/"}}`), false)
	f.Add([]byte(`{"schemaVersion":"2022-07-01","types":["function"],"destination":{"protocol":"TCP","URI":"sandbox.localdomain:4243"}}`), false)
	f.Fuzz(func(t *testing.T, body []byte, logs bool) {
		sub, err := parseSubscription(body, logs, []int{9001, 4566})
		if err != nil {
			if err.status != http.StatusBadRequest || !json.Valid(marshalError(err.message, err.errorType)) {
				t.Fatalf("error %+v", err)
			}
			return
		}
		if sub.port < 1 || sub.port > 65535 || sub.port == 9001 || sub.port == 4566 {
			t.Fatalf("port %d", sub.port)
		}
		if sub.maxItems < minMaxItems || sub.maxItems > maxMaxItems || sub.maxBytes < minMaxBytes || sub.maxBytes > maxMaxBytes ||
			sub.timeout.Milliseconds() < minTimeoutMs || sub.timeout.Milliseconds() > maxTimeoutMs {
			t.Fatalf("buffering %+v", sub)
		}
		if len(sub.types) == 0 {
			t.Fatal("no types")
		}
		// The URL the deliveries use names the environment and the port.
		u, perr := url.Parse("http://sandbox.localdomain:" + strconv.Itoa(sub.port) + sub.path)
		if perr != nil || u.Host != "sandbox.localdomain:"+strconv.Itoa(sub.port) {
			t.Fatalf("delivery URL %q from path %q: %v", u, sub.path, perr)
		}
	})
}

// FuzzExtensionRequests sends arbitrary Extensions and Telemetry API
// requests (method, path, headers, body) to a Server during and after
// init: every answer is 2xx or a Runtime API error body, nothing panics
// or blocks (parked requests have an ended context).
func FuzzExtensionRequests(f *testing.F) {
	f.Add("POST", "register", "probe", "", []byte(`{"events":["INVOKE","SHUTDOWN"]}`), uint8(0))
	f.Add("GET", "event/next", "", "id", []byte{}, uint8(1))
	f.Add("POST", "init/error", "", "id", []byte(`{"errorMessage":"x"}`), uint8(2))
	f.Add("POST", "exit/error", "", "id", []byte(`not json`), uint8(3))
	f.Add("PUT", "telemetry", "", "id", []byte(`{"schemaVersion":"2022-12-13","types":["platform"],"destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:8080/"}}`), uint8(4))
	f.Fuzz(func(t *testing.T, method, path, name, idSel string, body []byte, when uint8) {
		s := New(testLogger(), Options{ExternalExtensions: []string{"probe"}, FunctionName: "fn",
			Dial: func(context.Context, int) (net.Conn, error) { return nil, errors.New("no dial in the fuzz test") }})
		defer s.Close() //nolint:errcheck // test
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // parked requests return at once
		do := func(method, target string, hdr map[string]string, body []byte) *httptest.ResponseRecorder {
			req := httptest.NewRequestWithContext(ctx, method, "http://127.0.0.1:9001"+target, strings.NewReader(string(body)))
			for k, v := range hdr {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			s.serveHTTP(rec, req)
			return rec
		}
		id := ""
		if when%2 == 1 {
			rec := do(http.MethodPost, extPrefix+"register", map[string]string{hdrExtName: "probe"}, []byte(`{"events":["INVOKE","SHUTDOWN"]}`))
			id = rec.Header().Get(hdrExtID)
		}
		if idSel == "id" {
			idSel = id
		}
		target := extPrefix + path
		if path == "telemetry" {
			target = telemetryPath
		}
		if u, err := url.ParseRequestURI(target); err != nil || u.Path != target || strings.ContainsAny(target, " ") {
			return
		}
		if method == "" || strings.TrimLeft(method, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") != "" {
			return
		}
		hdr := map[string]string{}
		if validHeaderValue(name) && name != "" {
			hdr[hdrExtName] = name
		}
		if validHeaderValue(idSel) && idSel != "" {
			hdr[hdrExtID] = idSel
			hdr[hdrExtErrorType] = "Extension.Fuzz"
		}
		rec := do(method, target, hdr, body)
		if rec.Code >= 300 && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %s = %d %q", method, target, rec.Code, rec.Body.Bytes())
		}
		s.Publish("platform.start", map[string]any{"requestId": "r"})
	})
}

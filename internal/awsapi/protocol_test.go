package awsapi

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestWriteProtocolError checks each protocol's error shape: where the
// code travels and the body an SDK parses.
func TestWriteProtocolError(t *testing.T) {
	e := ProtocolError{Error: &Error{Status: 501, Code: "NotImplemented", Message: "no <such> thing"}}
	for _, c := range []struct {
		p     Protocol
		ctype string
		check func(t *testing.T, w *httptest.ResponseRecorder)
	}{
		{ProtocolRESTJSON, "application/json", func(t *testing.T, w *httptest.ResponseRecorder) {
			var m map[string]string
			if json.Unmarshal(w.Body.Bytes(), &m) != nil || m["message"] != "no <such> thing" || w.Header().Get("X-Amzn-ErrorType") != "NotImplemented" {
				t.Errorf("%s %v", w.Body, w.Header())
			}
		}},
		{ProtocolJSON10, "application/x-amz-json-1.0", func(t *testing.T, w *httptest.ResponseRecorder) {
			var m map[string]string
			if json.Unmarshal(w.Body.Bytes(), &m) != nil || m["__type"] != "NotImplemented" {
				t.Errorf("%s", w.Body)
			}
		}},
		{ProtocolQuery, "text/xml", func(t *testing.T, w *httptest.ResponseRecorder) {
			var v struct {
				Error struct{ Type, Code, Message string }
			}
			if xml.Unmarshal(w.Body.Bytes(), &v) != nil || v.Error.Code != "NotImplemented" || v.Error.Type != "Receiver" ||
				v.Error.Message != "no <such> thing" {
				t.Errorf("%s", w.Body)
			}
		}},
		{ProtocolRESTXML, "application/xml", func(t *testing.T, w *httptest.ResponseRecorder) {
			var v struct {
				XMLName   xml.Name `xml:"Error"`
				Code      string
				RequestID string `xml:"RequestId"`
			}
			if xml.Unmarshal(w.Body.Bytes(), &v) != nil || v.Code != "NotImplemented" || v.RequestID == "" {
				t.Errorf("%s", w.Body)
			}
		}},
		{ProtocolRPCv2CBOR, "application/cbor", func(t *testing.T, w *httptest.ResponseRecorder) {
			// {"__type": "NotImplemented", "message": "no <such> thing"}
			want, _ := hex.DecodeString("a266" + hex.EncodeToString([]byte("__type")) + "6e" + hex.EncodeToString([]byte("NotImplemented")) +
				"67" + hex.EncodeToString([]byte("message")) + "6f" + hex.EncodeToString([]byte("no <such> thing")))
			if !bytes.Equal(w.Body.Bytes(), want) || w.Header().Get("Smithy-Protocol") != "rpc-v2-cbor" {
				t.Errorf("% x", w.Body.Bytes())
			}
		}},
	} {
		w := httptest.NewRecorder()
		WriteProtocolError(w, c.p, e)
		if w.Code != http.StatusNotImplemented || !strings.HasPrefix(w.Header().Get("Content-Type"), c.ctype) ||
			w.Header().Get(HeaderRequestID) == "" {
			t.Errorf("%v: %d %v", c.p, w.Code, w.Header())
		}
		c.check(t, w)
	}
	w := httptest.NewRecorder()
	WriteProtocolError(w, ProtocolJSON10, ProtocolError{Error: e.Error, QueryCode: "AWS.SimpleQueueService.UnsupportedOperation"})
	if got := w.Header().Get("x-amzn-query-error"); got != "AWS.SimpleQueueService.UnsupportedOperation;Receiver" {
		t.Errorf("x-amzn-query-error %q", got)
	}
}

func TestCBORHead(t *testing.T) {
	for _, c := range []struct {
		n    uint64
		want string
	}{{0, "60"}, {23, "77"}, {24, "7818"}, {255, "78ff"}, {256, "790100"}, {65536, "7a00010000"}, {1 << 32, "7b0000000100000000"}} {
		if got := hex.EncodeToString(cborHead(nil, 3, c.n)); got != c.want {
			t.Errorf("%d: %s, want %s", c.n, got, c.want)
		}
	}
}

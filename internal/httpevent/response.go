package httpevent

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// ErrMalformed is returned for a function answer API Gateway would not
// accept as a proxy response; the front door answers 502.
var ErrMalformed = errors.New("malformed Lambda proxy response")

// Response is a function's answer mapped to HTTP.
type Response struct {
	StatusCode int
	Header     http.Header
	Body       []byte
}

// Write sends r. A response without Content-Type is sent without one, as
// API Gateway does (no sniffing).
func (r *Response) Write(w http.ResponseWriter) {
	h := w.Header()
	for k, vs := range r.Header {
		h[k] = append(h[k], vs...)
	}
	if _, ok := h["Content-Type"]; !ok {
		h["Content-Type"] = nil
	}
	h.Set("Content-Length", strconv.Itoa(len(r.Body)))
	w.WriteHeader(r.StatusCode)
	_, _ = w.Write(r.Body)
}

// Message is API Gateway's error body: {"message":"..."}.
func Message(status int, msg string) *Response {
	b, _ := json.Marshal(map[string]string{"message": msg})
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	return &Response{StatusCode: status, Header: h, Body: b}
}

// Errors API Gateway answers for Lambda integrations.
var (
	// BadGateway is a function error or malformed response: 502.
	BadGateway = func() *Response { return Message(http.StatusBadGateway, "Internal server error") }
	// InvokeFailed is an Invoke the Lambda service refused (throttled,
	// missing function): 500.
	InvokeFailed = func() *Response { return Message(http.StatusInternalServerError, "Internal server error") }
)

// MapV2 maps a payload format 2.0 answer (HTTP APIs, function URLs): an
// object with statusCode is a structured response; any other JSON (an
// object without statusCode, a string, a number) is the body of a 200
// application/json response, a JSON string unquoted.
func MapV2(payload []byte) (*Response, error) {
	payload = bytes.TrimSpace(payload)
	if !json.Valid(payload) {
		return nil, fmt.Errorf("%w: not JSON", ErrMalformed)
	}
	var obj map[string]json.RawMessage
	if payload[0] == '{' {
		if err := json.Unmarshal(payload, &obj); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
		}
	}
	if _, ok := obj["statusCode"]; !ok {
		h := http.Header{}
		h.Set("Content-Type", "application/json")
		body := payload
		if payload[0] == '"' {
			var s string
			if err := json.Unmarshal(payload, &s); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
			}
			body = []byte(s)
		}
		return &Response{StatusCode: http.StatusOK, Header: h, Body: body}, nil
	}
	resp, err := structured(obj, true)
	if err != nil {
		return nil, err
	}
	if raw, ok := obj["cookies"]; ok && !isNull(raw) {
		var cookies []string
		if err := json.Unmarshal(raw, &cookies); err != nil {
			return nil, fmt.Errorf("%w: cookies: %w", ErrMalformed, err)
		}
		for _, c := range cookies {
			resp.Header.Add("Set-Cookie", c)
		}
	}
	return resp, nil
}

// V1Options says how a REST API treats a 1.0 answer's base64 body.
type V1Options struct {
	// REST is set for REST APIs: only the known members are accepted, and
	// a base64 body is decoded only if BinaryMediaTypes has the request's
	// first Accept type (otherwise the client gets the base64 text, as
	// from API Gateway). HTTP APIs always decode.
	REST             bool
	BinaryMediaTypes []string
	Accept           string
}

var v1Members = map[string]bool{"statusCode": true, "headers": true, "multiValueHeaders": true, "body": true, "isBase64Encoded": true}

// MapV1 maps a payload format 1.0 answer: an object with statusCode,
// headers, multiValueHeaders, body and isBase64Encoded.
func MapV1(payload []byte, o V1Options) (*Response, error) {
	payload = bytes.TrimSpace(payload)
	var obj map[string]json.RawMessage
	if len(payload) == 0 || payload[0] != '{' {
		return nil, fmt.Errorf("%w: not a JSON object", ErrMalformed)
	}
	if err := json.Unmarshal(payload, &obj); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if _, ok := obj["statusCode"]; !ok {
		return nil, fmt.Errorf("%w: no statusCode", ErrMalformed)
	}
	if o.REST {
		for k := range obj {
			if !v1Members[k] {
				return nil, fmt.Errorf("%w: unknown member %q", ErrMalformed, k)
			}
		}
	}
	decode := !o.REST
	if o.REST {
		first, _, _ := strings.Cut(o.Accept, ",")
		if strings.TrimSpace(first) == "" {
			first = "*/*" // no Accept: anything
		}
		decode = matchesMediaType(first, o.BinaryMediaTypes)
	}
	resp, err := structured(obj, decode)
	if err != nil {
		return nil, err
	}
	if raw, ok := obj["multiValueHeaders"]; ok && !isNull(raw) {
		var mv map[string][]json.RawMessage
		if err := json.Unmarshal(raw, &mv); err != nil {
			return nil, fmt.Errorf("%w: multiValueHeaders: %w", ErrMalformed, err)
		}
		for k, vs := range mv {
			for _, v := range vs {
				s, err := scalar(v)
				if err != nil {
					return nil, fmt.Errorf("%w: multiValueHeaders %s: %w", ErrMalformed, k, err)
				}
				resp.Header.Add(k, s)
			}
		}
	}
	return resp, nil
}

// structured reads statusCode, headers, body and isBase64Encoded.
func structured(obj map[string]json.RawMessage, decode bool) (*Response, error) {
	status, err := statusCode(obj["statusCode"])
	if err != nil {
		return nil, err
	}
	resp := &Response{StatusCode: status, Header: http.Header{}}
	if raw, ok := obj["headers"]; ok && !isNull(raw) {
		var hs map[string]json.RawMessage
		if err := json.Unmarshal(raw, &hs); err != nil {
			return nil, fmt.Errorf("%w: headers: %w", ErrMalformed, err)
		}
		for k, v := range hs {
			s, err := scalar(v)
			if err != nil {
				return nil, fmt.Errorf("%w: header %s: %w", ErrMalformed, k, err)
			}
			if !validHeader(k, s) {
				return nil, fmt.Errorf("%w: header %q is not a valid HTTP header", ErrMalformed, k)
			}
			resp.Header.Set(k, s)
		}
	}
	var body string
	if raw, ok := obj["body"]; ok && !isNull(raw) {
		if err := json.Unmarshal(raw, &body); err != nil {
			return nil, fmt.Errorf("%w: body is not a string", ErrMalformed)
		}
	}
	if raw, ok := obj["isBase64Encoded"]; ok && !isNull(raw) {
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return nil, fmt.Errorf("%w: isBase64Encoded is not a boolean", ErrMalformed)
		}
	}
	resp.Body = []byte(body)
	if decode && isTrue(obj["isBase64Encoded"]) {
		b, err := base64.StdEncoding.DecodeString(body)
		if err != nil {
			return nil, fmt.Errorf("%w: body is not base64: %w", ErrMalformed, err)
		}
		resp.Body = b
	}
	return resp, nil
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

func isTrue(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "true" }

// statusCode accepts a JSON integer (or a string of one) from 100 to 599.
func statusCode(raw json.RawMessage) (int, error) {
	var n json.Number
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return 0, fmt.Errorf("%w: statusCode: %w", ErrMalformed, err)
	}
	switch t := v.(type) {
	case json.Number:
		n = t
	case string:
		n = json.Number(t)
	default:
		return 0, fmt.Errorf("%w: statusCode is not a number", ErrMalformed)
	}
	c, err := strconv.Atoi(n.String())
	if err != nil || c < 100 || c > 599 {
		return 0, fmt.Errorf("%w: statusCode %s", ErrMalformed, n)
	}
	return c, nil
}

// scalar turns a header value (string, number or boolean) into text.
func scalar(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", errors.New("empty value")
	}
	switch raw[0] {
	case '"':
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	case '{', '[', 'n':
		return "", errors.New("not a string, number or boolean")
	}
	return string(raw), nil
}

// validHeader checks a header name and value net/http can send.
func validHeader(name, value string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return !strings.ContainsAny(value, "\r\n\x00")
}

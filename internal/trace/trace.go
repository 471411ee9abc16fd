// Package trace owns the trace context of an invocation as the front doors
// accept it: the X-Ray header X-Amzn-Trace-Id (Root=1-…;Parent=…;Sampled=…)
// parsed, or created when a request has none, the W3C traceparent derived
// from it (and accepted in its place), and Lambda's sampling decision under
// a function's TracingConfig (Active samples when the caller made no
// decision; PassThrough follows the caller). Every front door (lambdaapi's
// Invoke, function URLs, API Gateway, the async dispatcher) calls Accept
// and hands Header.String() to the function as Lambda-Runtime-Trace-Id.
//
// It is a leaf: it imports nothing from this module, and any package may
// import it.
package trace

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// HTTP headers.
const (
	HeaderXRay        = "X-Amzn-Trace-Id"
	HeaderTraceparent = "Traceparent"
)

// TracingConfig modes.
const (
	ModeActive      = "Active"
	ModePassThrough = "PassThrough"
)

// Sampling is a header's sampling decision.
type Sampling int8

// Sampling decisions: none made yet (Sampled absent or "?"), not sampled,
// sampled.
const (
	SamplingUnknown Sampling = iota
	NotSampled
	Sampled
)

// maxHeader bounds what Parse reads; X-Ray's own limit is far below it.
const maxHeader = 2048

// Header is one X-Ray trace header.
type Header struct {
	// Root is "1-<8 hex: epoch seconds>-<24 hex random>".
	Root string
	// Parent is the 16-hex id of the calling segment (span), or "".
	Parent string
	// Sampled is the sampling decision.
	Sampled Sampling
	// Extra holds other fields (Lineage=…, Self=…) in order, as "Key=value".
	Extra []string
}

// Errors of Parse and ParseTraceparent.
var (
	ErrMalformed = errors.New("malformed trace header")
)

// Parse reads an X-Amzn-Trace-Id value. Keys are matched without regard to
// case (load balancers write "Root", some SDKs "root"); a Root is required.
func Parse(s string) (Header, error) {
	var h Header
	if len(s) > maxHeader {
		return h, fmt.Errorf("parse trace header: %w: longer than %d bytes", ErrMalformed, maxHeader)
	}
	for field := range strings.SplitSeq(s, ";") {
		field = strings.TrimSpace(field)
		if field == "" {
			continue
		}
		k, v, ok := strings.Cut(field, "=")
		if !ok {
			return Header{}, fmt.Errorf("parse trace header: %w: field %q has no value", ErrMalformed, field)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch strings.ToLower(k) {
		case "root":
			if !validRoot(v) {
				return Header{}, fmt.Errorf("parse trace header: %w: root %q", ErrMalformed, v)
			}
			h.Root = strings.ToLower(v)
		case "parent":
			if !isHex(v, 16) {
				return Header{}, fmt.Errorf("parse trace header: %w: parent %q", ErrMalformed, v)
			}
			h.Parent = strings.ToLower(v)
		case "sampled":
			switch v {
			case "1":
				h.Sampled = Sampled
			case "0":
				h.Sampled = NotSampled
			case "?", "":
				h.Sampled = SamplingUnknown
			default:
				return Header{}, fmt.Errorf("parse trace header: %w: sampled %q", ErrMalformed, v)
			}
		default:
			if !printable(field) {
				return Header{}, fmt.Errorf("parse trace header: %w: unprintable field", ErrMalformed)
			}
			h.Extra = append(h.Extra, k+"="+v)
		}
	}
	if h.Root == "" {
		return Header{}, fmt.Errorf("parse trace header: %w: no root", ErrMalformed)
	}
	return h, nil
}

// ParseTraceparent reads a W3C traceparent (version 00, or a later version
// read as 00 as the spec asks) into an X-Ray header: the first 8 hex digits
// of the trace id become the Root's epoch part.
func ParseTraceparent(s string) (Header, error) {
	s = strings.TrimSpace(s)
	if len(s) > maxHeader {
		return Header{}, fmt.Errorf("parse traceparent: %w: too long", ErrMalformed)
	}
	parts := strings.Split(s, "-")
	if len(parts) < 4 || !isHex(parts[0], 2) || parts[0] == "ff" || (parts[0] == "00" && len(parts) != 4) ||
		!isHex(parts[1], 32) || !isHex(parts[2], 16) || !isHex(parts[3], 2) {
		return Header{}, fmt.Errorf("parse traceparent: %w: %q", ErrMalformed, s)
	}
	tid, sid := strings.ToLower(parts[1]), strings.ToLower(parts[2])
	if tid == strings.Repeat("0", 32) || sid == strings.Repeat("0", 16) {
		return Header{}, fmt.Errorf("parse traceparent: %w: all-zero id", ErrMalformed)
	}
	var flags [1]byte
	_, _ = hex.Decode(flags[:], []byte(parts[3]))
	h := Header{Root: "1-" + tid[:8] + "-" + tid[8:], Parent: sid, Sampled: NotSampled}
	if flags[0]&1 == 1 {
		h.Sampled = Sampled
	}
	return h, nil
}

// New makes a header for a request that came without one, as Lambda does:
// Root=1-<epoch hex>-<96 random bits>, no parent, no decision yet.
func New(now time.Time) Header {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return Header{Root: fmt.Sprintf("1-%08x-%s", uint32(now.Unix()), hex.EncodeToString(b[:]))} // #nosec G115 -- epoch seconds fit until 2106
}

// NewSpanID returns 16 random hex digits, never all zero.
func NewSpanID() string {
	var b [8]byte
	for {
		_, _ = rand.Read(b[:])
		if b != [8]byte{} {
			return hex.EncodeToString(b[:])
		}
	}
}

// FromHTTP returns the trace header of an incoming request: its
// X-Amzn-Trace-Id, else its traceparent, else a new one. A malformed header
// is replaced, not refused (Lambda does not fail an invoke over it).
func FromHTTP(hd http.Header, now time.Time) Header {
	if v := hd.Get(HeaderXRay); v != "" {
		if h, err := Parse(v); err == nil {
			return h
		}
	}
	if v := hd.Get(HeaderTraceparent); v != "" {
		if h, err := ParseTraceparent(v); err == nil {
			return h
		}
	}
	return New(now)
}

// Invocation is the trace context a front door decided for one invocation.
type Invocation struct {
	// Header goes to the function (Lambda-Runtime-Trace-Id, _X_AMZN_TRACE_ID):
	// the caller's Root, Parent = the platform's invoke span, and a
	// sampling decision.
	Header Header
	// CallerParent is the Parent the caller sent ("" if none): the parent
	// of the platform's front-door span.
	CallerParent string
}

// Accept decides the trace context of an invocation arriving with the
// headers hd, for a function whose TracingConfig mode is mode ("" is
// PassThrough, Lambda's default): the sampling decision is the caller's
// when it made one, else sampled under Active and not sampled under
// PassThrough.
func Accept(hd http.Header, mode string, now time.Time) Invocation {
	h := FromHTTP(hd, now)
	inv := Invocation{CallerParent: h.Parent}
	if h.Sampled == SamplingUnknown {
		h.Sampled = NotSampled
		if mode == ModeActive {
			h.Sampled = Sampled
		}
	}
	h.Parent = NewSpanID()
	inv.Header = h
	return inv
}

// String formats h as X-Amzn-Trace-Id writes it.
func (h Header) String() string {
	var b strings.Builder
	b.WriteString("Root=")
	b.WriteString(h.Root)
	if h.Parent != "" {
		b.WriteString(";Parent=")
		b.WriteString(h.Parent)
	}
	switch h.Sampled {
	case Sampled:
		b.WriteString(";Sampled=1")
	case NotSampled:
		b.WriteString(";Sampled=0")
	}
	for _, e := range h.Extra {
		b.WriteByte(';')
		b.WriteString(e)
	}
	return b.String()
}

// TraceID is the W3C / OpenTelemetry trace id of h's Root: its epoch and
// random parts concatenated.
func (h Header) TraceID() ([16]byte, bool) {
	var id [16]byte
	if !validRoot(h.Root) {
		return id, false
	}
	_, err := hex.Decode(id[:], []byte(h.Root[2:10]+h.Root[11:]))
	return id, err == nil
}

// SpanID is h's Parent as 8 bytes.
func (h Header) SpanID() ([8]byte, bool) {
	var id [8]byte
	if !isHex(h.Parent, 16) {
		return id, false
	}
	_, err := hex.Decode(id[:], []byte(h.Parent))
	return id, err == nil && id != [8]byte{}
}

// Traceparent is the W3C traceparent of h ("" without a Parent).
func (h Header) Traceparent() string {
	tid, ok := h.TraceID()
	if !ok || !isHex(h.Parent, 16) {
		return ""
	}
	flags := "00"
	if h.Sampled == Sampled {
		flags = "01"
	}
	return "00-" + hex.EncodeToString(tid[:]) + "-" + h.Parent + "-" + flags
}

func validRoot(v string) bool {
	return len(v) == 35 && v[0] == '1' && v[1] == '-' && v[10] == '-' && isHex(v[2:10], 8) && isHex(v[11:], 24)
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return true
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

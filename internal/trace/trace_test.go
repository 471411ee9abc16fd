package trace

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

const awsExample = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"

func TestParseRoundTrip(t *testing.T) {
	for _, s := range []string{
		awsExample,
		"Root=1-5759e988-bd862e3fe1be46a994272793",
		"Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0",
		"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1|68fd508a:5",
	} {
		h, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q): %v", s, err)
		}
		if got := h.String(); got != s {
			t.Errorf("String() = %q, want %q", got, s)
		}
	}
}

func TestParseVariants(t *testing.T) {
	h, err := Parse(" root=1-5759E988-BD862E3FE1BE46A994272793 ; parent=53995C3F42CD8AD8; sampled=? ")
	if err != nil {
		t.Fatal(err)
	}
	if h.Root != "1-5759e988-bd862e3fe1be46a994272793" || h.Parent != "53995c3f42cd8ad8" || h.Sampled != SamplingUnknown {
		t.Errorf("got %+v", h)
	}
	for _, bad := range []string{
		"", "Parent=53995c3f42cd8ad8", "Root=2-5759e988-bd862e3fe1be46a994272793",
		"Root=1-5759e988-bd862e3fe1be46a99427279", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=xyz",
		"Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=2", "Root=1-5759e988-bd862e3fe1be46a994272793;junk",
		"Root=1-5759e988-bd862e3fe1be46a994272793;Self=\x00",
	} {
		if _, err := Parse(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("Parse(%q) = %v, want ErrMalformed", bad, err)
		}
	}
}

func TestTraceparentBothWays(t *testing.T) {
	h, _ := Parse(awsExample)
	tp := h.Traceparent()
	if tp != "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01" {
		t.Fatalf("Traceparent() = %q", tp)
	}
	back, err := ParseTraceparent(tp)
	if err != nil {
		t.Fatal(err)
	}
	if back.String() != awsExample {
		t.Errorf("round trip = %q", back.String())
	}
	for _, bad := range []string{"", "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8",
		"00-00000000000000000000000000000000-53995c3f42cd8ad8-01",
		"ff-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01",
		"00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01-extra"} {
		if _, err := ParseTraceparent(bad); err == nil {
			t.Errorf("ParseTraceparent(%q) accepted", bad)
		}
	}
	// A future version may carry more fields.
	if _, err := ParseTraceparent("01-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-00-more"); err != nil {
		t.Errorf("future version refused: %v", err)
	}
}

func TestAcceptSamplingFollowsTracingConfig(t *testing.T) {
	now := time.Unix(0x5759e988, 0)
	cases := []struct {
		name, header, mode string
		want               Sampling
	}{
		{"no header, PassThrough", "", ModePassThrough, NotSampled},
		{"no header, default mode", "", "", NotSampled},
		{"no header, Active", "", ModeActive, Sampled},
		{"undecided, Active", "Root=1-5759e988-bd862e3fe1be46a994272793", ModeActive, Sampled},
		{"caller said 0, Active", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0", ModeActive, NotSampled},
		{"caller said 1, PassThrough", awsExample, ModePassThrough, Sampled},
	}
	for _, c := range cases {
		hd := http.Header{}
		if c.header != "" {
			hd.Set(HeaderXRay, c.header)
		}
		inv := Accept(hd, c.mode, now)
		if inv.Header.Sampled != c.want {
			t.Errorf("%s: sampled %v, want %v", c.name, inv.Header.Sampled, c.want)
		}
		if !isHex(inv.Header.Parent, 16) {
			t.Errorf("%s: parent %q", c.name, inv.Header.Parent)
		}
		if c.header != "" && !strings.HasPrefix(inv.Header.String(), "Root=1-5759e988-bd862e3fe1be46a994272793;") {
			t.Errorf("%s: root not kept: %s", c.name, inv.Header)
		}
		if c.header == "" && !strings.HasPrefix(inv.Header.Root, "1-5759e988-") {
			t.Errorf("%s: new root %q does not carry the epoch", c.name, inv.Header.Root)
		}
	}
	hd := http.Header{}
	hd.Set(HeaderXRay, awsExample)
	if inv := Accept(hd, "", now); inv.CallerParent != "53995c3f42cd8ad8" || inv.Header.Parent == inv.CallerParent {
		t.Errorf("caller parent %q, function parent %q", inv.CallerParent, inv.Header.Parent)
	}
	// traceparent alone is accepted.
	hd = http.Header{}
	hd.Set("traceparent", "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01")
	if inv := Accept(hd, "", now); inv.Header.Root != "1-5759e988-bd862e3fe1be46a994272793" || inv.Header.Sampled != Sampled {
		t.Errorf("from traceparent: %s", inv.Header)
	}
	// A malformed header is replaced, not refused.
	hd = http.Header{}
	hd.Set(HeaderXRay, "garbage")
	if inv := Accept(hd, "", now); !validRoot(inv.Header.Root) {
		t.Errorf("malformed header kept: %s", inv.Header)
	}
}

// FuzzParse: Parse never panics, and what it accepts formats to a header it
// parses again to the same value, with a traceparent that parses back.
func FuzzParse(f *testing.F) {
	for _, s := range []string{awsExample, "Root=1-5759e988-bd862e3fe1be46a994272793", "root=1-5759e988-bd862e3fe1be46a994272793;sampled=?",
		"Root=1-5759e988-bd862e3fe1be46a994272793;Lineage=a:1|b:2;Self=1-x", ";;", "Root=;Parent=", "Sampled=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := Parse(s)
		if err != nil {
			return
		}
		again, err := Parse(h.String())
		if err != nil {
			t.Fatalf("Parse(String()) of %q: %v", h.String(), err)
		}
		if again.String() != h.String() {
			t.Fatalf("not stable: %q vs %q", again.String(), h.String())
		}
		if tp := h.Traceparent(); tp != "" {
			back, err := ParseTraceparent(tp)
			if err != nil || back.Root != h.Root || back.Parent != h.Parent {
				t.Fatalf("traceparent %q of %q: %+v %v", tp, h.String(), back, err)
			}
		}
	})
}

// FuzzParseTraceparent: accepted values give a header with a valid root
// whose traceparent is the input's ids.
func FuzzParseTraceparent(f *testing.F) {
	for _, s := range []string{"00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01", "00-0-0-0", "cc-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-00-x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseTraceparent(s)
		if err != nil {
			return
		}
		if _, ok := h.TraceID(); !ok {
			t.Fatalf("root %q invalid", h.Root)
		}
		tp := h.Traceparent()
		if !strings.EqualFold(tp[3:52], strings.TrimSpace(s)[3:52]) {
			t.Fatalf("ids changed: %q -> %q", s, tp)
		}
	})
}

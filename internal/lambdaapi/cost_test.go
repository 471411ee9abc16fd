package lambdaapi

import (
	"testing"
	"time"
)

func TestParseSince(t *testing.T) {
	for in, want := range map[string]time.Duration{"90m": 90 * time.Minute, "24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour} {
		if got, err := parseSince(in); err != nil || got != want {
			t.Errorf("parseSince(%q) = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "d", "-1d", "1y", "9223372036854775807d", "forever"} {
		if d, err := parseSince(in); err == nil && d > 0 && d <= maxCostSince {
			t.Errorf("parseSince(%q) = %v, accepted", in, d)
		}
	}
}

// FuzzParseSince: whatever the query says, an accepted period is what its
// text means (no overflow lands inside the allowed range).
func FuzzParseSince(f *testing.F) {
	for _, s := range []string{"24h", "7d", "366d", "106751d", "9223372036854775807d", "1e9h", "-5m"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseSince(s)
		if err != nil || d <= 0 || d > maxCostSince {
			return
		}
		if n := len(s); n > 0 && s[n-1] == 'd' {
			if d%(24*time.Hour) != 0 {
				t.Fatalf("%q -> %v", s, d)
			}
			return
		}
		if back, err := time.ParseDuration(s); err != nil || back != d {
			t.Fatalf("%q -> %v (%v)", s, d, err)
		}
	})
}

package store

import (
	"strings"
	"testing"
)

// subjectMatches reports whether the NATS filter (with "*" and ">"
// wildcards) matches subject.
func subjectMatches(filter, subject string) bool {
	ft, st := strings.Split(filter, "."), strings.Split(subject, ".")
	for i, f := range ft {
		if f == ">" {
			return len(st) > i
		}
		if i >= len(st) || (f != "*" && f != st[i]) {
			return false
		}
	}
	return len(ft) == len(st)
}

func FuzzKeyAndPrefixFilter(f *testing.F) {
	for _, s := range []string{"fn.hello", "ver.f.1", "alias.f.PROD", "a", "a.b.c", "a..b", ".a", "a.", "a*b", "a>", "x y", "k=v-_"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if validKey(key) != nil {
			return
		}
		// A valid key is a valid NATS subject without wildcards.
		if strings.ContainsAny(key, "*> \t\r\n/\x00") {
			t.Fatalf("valid key %q holds a wildcard, space or slash", key)
		}
		for tok := range strings.SplitSeq(key, ".") {
			if tok == "" {
				t.Fatalf("valid key %q has an empty token", key)
			}
		}
		// Every prefix of a valid key is a valid prefix whose filter
		// selects the key, so Keys and Watch cannot miss it.
		for i := 0; i <= len(key); i++ {
			p := key[:i]
			if err := validPrefix(p); err != nil {
				t.Fatalf("prefix %q of valid key %q rejected: %v", p, key, err)
			}
			if filter := prefixFilter(p); !subjectMatches(filter, key) {
				t.Fatalf("filter %q for prefix %q does not match key %q", filter, p, key)
			}
		}
	})
}

package eventpattern

import (
	"strings"
	"testing"
)

// The expectations of event-ruler's MachineComplexityEvaluatorTest.
func TestWildcardComplexity(t *testing.T) {
	cases := []struct {
		wildcards string // space-separated
		want      int
	}{
		{"*", 1}, {"abc", 1}, {"* ab*c", 3},
		{"*ab", 2}, {"*aa", 3}, {"a*b", 2}, {"aa*", 2}, {"a*bc", 2}, {"a*bb", 3}, {"a*bcb", 3}, {"a*bbb", 4},
		{"*ab*ad", 4}, {"*ab*d", 3}, {"*aba*", 4}, {"a*b*bb", 5}, {"a*b*cb", 4}, {"a*b*cd", 3}, {"a*b*b", 4},
		{"a*bb*", 4}, {"ab*b*", 3}, {"ab*c x*xx", 3}, {"*abc *abcde", 4}, {"a*bcd ab*cd", 4}, {"a*bc a*bcde", 4},
		{"a*aaa aa*aa", 7}, {"a*bc abc*d", 4}, {"a*aaa aaa*a", 6}, {"a*aax aaa*x", 5}, {"a*bc abc*", 4},
		{"a*aa aaa*", 5}, {"abc* abcde*", 3}, {"ab*cd ab*wx ab*yz", 6}, {"*ab*b*b*", 7}, {"*a*a*a*a*a*a*a*a*", 17},
	}
	c := compiler{d: EventBridge, s: EventBridge.spec()}
	for _, tc := range cases {
		var pats [][]int16
		for _, w := range strings.Fields(tc.wildcards) {
			wc, err := c.wildcard(w)
			if err != nil {
				t.Fatal(err)
			}
			pats = append(pats, wc.tokens())
		}
		if got := wildcardComplexity(pats, 1000); got != tc.want {
			t.Errorf("complexity of %q = %d, want %d", tc.wildcards, got, tc.want)
		}
	}
}

// A rule with four two-wildcard paths on one field is refused by AWS (a
// public Terraform module splits it into two rules of two for that reason);
// one-wildcard suffixes are fine.
func TestWildcardComplexityLimit(t *testing.T) {
	ok := `{"detail":{"object":{"key":[{"wildcard":"*.bif"},{"wildcard":"*.tiff"},{"wildcard":"*.tif"},{"wildcard":"*.svs"}]}}}`
	if _, err := Compile(EventBridge, []byte(ok)); err != nil {
		t.Errorf("four suffix wildcards: %v", err)
	}
	two := `{"detail":{"object":{"key":[{"wildcard":"*/datasync/*.bif"},{"wildcard":"*/datasync/*.tif"}]}}}`
	if _, err := Compile(EventBridge, []byte(two)); err != nil {
		t.Errorf("two datasync wildcards: %v", err)
	}
	four := `{"detail":{"object":{"key":[{"wildcard":"*/datasync/*.bif"},{"wildcard":"*/datasync/*.tif"},{"wildcard":"*/datasync/*.svs"},{"wildcard":"*/datasync/*.tiff"}]}}}`
	_, err := Compile(EventBridge, []byte(four))
	if err == nil || !strings.Contains(err.Error(), "Rule is too complex") {
		t.Errorf("four datasync wildcards: %v, want Rule is too complex", err)
	}
	// The same paths split across $or alternatives share the field.
	or := `{"$or":[{"k":[{"wildcard":"*/d/*.a"},{"wildcard":"*/d/*.b"}]},{"k":[{"wildcard":"*/d/*.c"},{"wildcard":"*/d/*.e"}]}]}`
	if _, err := Compile(EventBridge, []byte(or)); err == nil {
		t.Error("wildcards of one field across $or alternatives were not counted together")
	}
}

// TestManyWildcardsOnOneField: 150 values "*<x>" all match any input with
// their "*" prefix at once, so the field is far over the limit.
func TestManyWildcardsOnOneField(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"k":[`)
	for i := 0; i < 150; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"wildcard":"*` + string(rune('a'+i%26)) + string(rune('a'+i/26)) + `"}`)
	}
	b.WriteString(`]}`)
	_, err := Compile(EventBridge, []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "Rule is too complex") {
		t.Fatalf("150 leading wildcards: %v, want Rule is too complex", err)
	}
}

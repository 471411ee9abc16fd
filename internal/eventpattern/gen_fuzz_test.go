package eventpattern

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// FuzzGenerated drives a small generator with the fuzzer's bytes: a pattern
// and an event over a shared vocabulary (so they often meet), every operator
// of the language, nested objects and arrays. The compiled matcher and the
// naive evaluator must agree on every pair EventBridge accepts.
func FuzzGenerated(f *testing.F) {
	for _, s := range []string{"", "\x00\x01\x02", "abcdefghijklmnop", "\xff\xfe\xfd\xfc\xfb\xfa", "0123456789abcdefghijklmnopqrstuvwxyz"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		g := &gen{b: data}
		pattern := g.patternObject(0)
		other := g.patternObject(0)
		event := g.eventValue(0, true)
		p, err := Compile(EventBridge, []byte(pattern))
		if err != nil {
			return
		}
		got, err := p.Match([]byte(event))
		if err != nil {
			t.Fatalf("Match(%s): %v", event, err)
		}
		want, err := naiveMatch([]byte(pattern), []byte(event))
		if err != nil {
			t.Fatalf("naive: %v", err)
		}
		if got != want {
			t.Fatalf("pattern %s\nevent   %s\ncompiled %v, naive %v", pattern, event, got, want)
		}
		// In a Set beside another pattern, the answer is the same.
		q, err := Compile(EventBridge, []byte(other))
		if err != nil {
			return
		}
		qok, _ := q.Match([]byte(event))
		var want2 []int
		if got {
			want2 = append(want2, 0)
		}
		if qok {
			want2 = append(want2, 1)
		}
		inSet, err := NewSet(p, q).Match([]byte(event), nil)
		if err != nil || !slices.Equal(inSet, want2) {
			t.Fatalf("set of %s and %s on %s: %v %v, want %v", pattern, other, event, inSet, err, want2)
		}
	})
}

type gen struct {
	b []byte
	i int
}

func (g *gen) next(n int) int {
	if g.i >= len(g.b) {
		return 0
	}
	v := int(g.b[g.i]) % n
	g.i++
	return v
}

var (
	genKeys    = []string{"a", "b", "c", "$or"}
	genStrings = []string{"", "x", "xy", "X", "yx", "10.0.0.1", "2001:db8::1", "a*b", "K", "\u212a"}
	genNums    = []string{"0", "1", "1.5", "-1", "1e2", "100"}
)

func q(s string) string { b, _ := json.Marshal(s); return string(b) }

func (g *gen) str() string { return q(genStrings[g.next(len(genStrings))]) }
func (g *gen) num() string { return genNums[g.next(len(genNums))] }

func (g *gen) patternObject(depth int) string {
	n := 1 + g.next(3)
	var parts []string
	for i := 0; i < n; i++ {
		k := genKeys[g.next(len(genKeys))]
		var v string
		switch {
		case k == "$or":
			v = "[" + g.patternObject(depth+1) + "," + g.patternObject(depth+1) + "]"
		case depth < 2 && g.next(3) == 0:
			v = g.patternObject(depth + 1)
		default:
			v = g.leaf()
		}
		parts = append(parts, q(k)+":"+v)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func (g *gen) leaf() string {
	n := 1 + g.next(3)
	var vals []string
	for i := 0; i < n; i++ {
		vals = append(vals, g.matchValue())
	}
	return "[" + strings.Join(vals, ",") + "]"
}

func (g *gen) matchValue() string {
	switch g.next(20) {
	case 0:
		return g.str()
	case 1:
		return g.num()
	case 2:
		return []string{"null", "true", "false"}[g.next(3)]
	case 3:
		return `{"prefix":` + g.str() + `}`
	case 4:
		return `{"suffix":` + g.str() + `}`
	case 5:
		return `{"prefix":{"equals-ignore-case":` + g.str() + `}}`
	case 6:
		return `{"suffix":{"equals-ignore-case":` + g.str() + `}}`
	case 7:
		return `{"equals-ignore-case":` + g.str() + `}`
	case 8:
		return `{"wildcard":` + q([]string{"*", "x*", "*y", "x*y", "*x*", "a\\*b", "*\\\\*"}[g.next(7)]) + `}`
	case 9:
		return `{"anything-but":` + g.str() + `}`
	case 10:
		return `{"anything-but":` + g.num() + `}`
	case 11:
		return `{"anything-but":[` + g.str() + `,` + g.str() + `]}`
	case 12:
		op := []string{"prefix", "suffix", "equals-ignore-case", "wildcard"}[g.next(4)]
		return `{"anything-but":{` + q(op) + `:[` + g.str() + `,` + q([]string{"x", "y*", "X"}[g.next(3)]) + `]}}`
	case 13:
		return `{"numeric":[` + q([]string{"=", "<", "<=", ">", ">="}[g.next(5)]) + `,` + g.num() + `]}`
	case 14:
		return `{"numeric":[` + q([]string{">", ">="}[g.next(2)]) + `,-5,` + q([]string{"<", "<="}[g.next(2)]) + `,` + g.num() + `]}`
	case 15, 16:
		return `{"exists":` + []string{"true", "false"}[g.next(2)] + `}`
	case 17:
		return `{"cidr":` + q([]string{"10.0.0.0/8", "10.0.0.1/32", "2001:db8::/32", "0.0.0.0/0"}[g.next(4)]) + `}`
	case 18:
		return `{"anything-but":[` + g.num() + `,` + g.num() + `]}`
	default:
		return g.str()
	}
}

func (g *gen) eventValue(depth int, object bool) string {
	k := g.next(10)
	if object || (depth < 4 && k < 3) {
		n := g.next(4)
		if object {
			n++
		}
		var parts []string
		for i := 0; i < n; i++ {
			parts = append(parts, q(genKeys[g.next(len(genKeys))])+":"+g.eventValue(depth+1, false))
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	switch {
	case depth < 4 && k < 5:
		n := g.next(4)
		var parts []string
		for i := 0; i < n; i++ {
			parts = append(parts, g.eventValue(depth+1, false))
		}
		return "[" + strings.Join(parts, ",") + "]"
	case k < 7:
		return g.str()
	case k < 9:
		return g.num()
	default:
		return []string{"null", "true", "false"}[g.next(3)]
	}
}

package logsapi

import (
	"testing"
)

func TestPatterns(t *testing.T) {
	cases := []struct {
		pattern, msg string
		want         bool
	}{
		{"", "anything", true},
		{"ERROR", "an ERROR here", true},
		{"ERROR", "an error here", false},
		{"ERROR timeout", "ERROR: timeout", true},
		{"ERROR timeout", "ERROR: ok", false},
		{`"two words"`, "has two words in it", true},
		{`"two words"`, "two and words", false},
		{"ERROR -DEBUG", "ERROR in DEBUG", false},
		{"ERROR -DEBUG", "ERROR in prod", true},
		{"?ERROR ?WARN", "a WARN", true},
		{"?ERROR ?WARN", "INFO", false},
		{`{ $.level = "ERROR" }`, `{"level":"ERROR","msg":"x"}`, true},
		{`{ $.level = "ERROR" }`, `{"level":"INFO"}`, false},
		{`{ $.level = "ERROR" }`, `level ERROR`, false},
		{`{ $.level = ERR* }`, `{"level":"ERROR"}`, true},
		{`{ $.ms > 100 && $.user.id = 7 }`, `{"ms":150,"user":{"id":7}}`, true},
		{`{ $.ms > 100 && $.user.id = 7 }`, `{"ms":50,"user":{"id":7}}`, false},
		{`{ ($.ms > 100) || ($.level = "ERROR") }`, `{"ms":50,"level":"ERROR"}`, true},
		{`{ $.ms != 3 }`, `{"ms":4}`, true},
		{`{ $.ok IS TRUE }`, `{"ok":true}`, true},
		{`{ $.ok IS FALSE }`, `{"ok":true}`, false},
		{`{ $.v IS NULL }`, `{"v":null}`, true},
		{`{ $.gone NOT EXISTS }`, `{"v":1}`, true},
		{`{ $.a[1] = "y" }`, `{"a":["x","y"]}`, true},
		{`{ $.a[0].b = 2 }`, `{"a":[{"b":2}]}`, true},
		{`{ $.type = "platform.report" && $.record.metrics.durationMs >= 0 }`, `{"time":"t","type":"platform.report","record":{"metrics":{"durationMs":1.5}}}`, true},
		{`[ip, user, ..., status = 404, size]`, `10.0.0.1 bob GET /x 404 512`, true},
		{`[ip, user, ..., status = 404, size]`, `10.0.0.1 bob GET /x 200 512`, false},
		{`[ip, user, ..., status = 4*, size > 100]`, `1.1.1.1 al "GET /x" 403 512`, true},
		{`[a, b = x || b = y]`, `1 y`, true},
		{`[a, b = x || b = y]`, `1 z`, false},
		{`[a, b]`, `1 2 3`, false},
		{`[..., last = "end"]`, `1 2 end`, true},
		{`[]`, ``, true},
	}
	for _, c := range cases {
		p, err := ParsePattern(c.pattern)
		if err != nil {
			t.Errorf("ParsePattern(%q): %v", c.pattern, err)
			continue
		}
		if got := p.Match(c.msg); got != c.want {
			t.Errorf("%q matching %q = %v, want %v", c.pattern, c.msg, got, c.want)
		}
	}
}

func TestBadPatterns(t *testing.T) {
	for _, s := range []string{`"open`, `{ $.a = }`, `{ level = 1 }`, `{ $.a = 1`, `[a, b`, `[a b]`, `{ $.a IS MAYBE }`, `-`, `{ $.a[x] = 1 }`, `[a = 1 && b = 2]`} {
		if _, err := ParsePattern(s); err == nil {
			t.Errorf("ParsePattern(%q) accepted a bad pattern", s)
		}
	}
}

func FuzzParsePattern(f *testing.F) {
	for _, s := range []string{"", "ERROR", `"a b" -c ?d`, `{ $.level = "ERROR" && ($.x > 1 || $.y NOT EXISTS) }`,
		`{ $.a[0].b IS TRUE }`, `[ip, ..., status = 4* || status = 5*, size > 10]`, `[`, `{`, `{ $.a = "\"" }`} {
		f.Add(s, `{"level":"ERROR","x":2,"a":[{"b":true}]} 1.2.3.4 - 404 20`)
	}
	f.Fuzz(func(t *testing.T, pattern, msg string) {
		p, err := ParsePattern(pattern)
		if err != nil {
			return
		}
		_ = p.Match(msg) // must not panic or hang
	})
}

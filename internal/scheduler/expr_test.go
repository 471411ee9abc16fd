package scheduler

import (
	"testing"
	"time"
)

func TestExpressions(t *testing.T) {
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct {
		expr, tz, anchor, after, want string
	}{
		{"at(2026-03-01T10:00:00)", "", "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z", "2026-03-01T10:00:00Z"},
		{"at(2026-03-01T10:00:00)", "Europe/Paris", "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z", "2026-03-01T09:00:00Z"},
		{"at(2026-03-01T10:00:00)", "", "2026-01-01T00:00:00Z", "2026-03-01T10:00:00Z", ""},
		{"rate(5 minutes)", "America/New_York", "2026-01-01T00:00:00Z", "2026-01-01T00:07:00Z", "2026-01-01T00:10:00Z"},
		{"cron(0 9 * * ? *)", "Europe/Paris", "2026-01-01T00:00:00Z", "2026-01-10T00:00:00Z", "2026-01-10T08:00:00Z"},
		{"cron(0 9 * * ? *)", "Europe/Paris", "2026-01-01T00:00:00Z", "2026-07-10T00:00:00Z", "2026-07-10T07:00:00Z"},
		// Spring forward in New York (2026-03-08 02:00 -> 03:00): 02:30
		// does not exist that night and fires at 03:30 EDT.
		{"cron(30 2 * * ? *)", "America/New_York", "2026-01-01T00:00:00Z", "2026-03-08T05:00:00Z", "2026-03-08T07:30:00Z"},
		// Fall back (2026-11-01 02:00 -> 01:00): 01:30 occurs twice and
		// fires at its first occurrence (EDT) only.
		{"cron(30 1 * * ? *)", "America/New_York", "2026-01-01T00:00:00Z", "2026-11-01T04:00:00Z", "2026-11-01T05:30:00Z"},
		{"cron(30 1 * * ? *)", "America/New_York", "2026-01-01T00:00:00Z", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"},
		{"cron(0 0 1 1 ? 2020)", "", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z", ""},
	} {
		e, err := ParseExpr(c.expr, c.tz)
		if err != nil {
			t.Errorf("%s in %q: %v", c.expr, c.tz, err)
			continue
		}
		got, ok := e.Next(utc(c.anchor), utc(c.after))
		if c.want == "" {
			if ok {
				t.Errorf("%s in %q after %s = %s, want none", c.expr, c.tz, c.after, got)
			}
			continue
		}
		if !ok || !got.Equal(utc(c.want)) {
			t.Errorf("%s in %q after %s = %s %v, want %s", c.expr, c.tz, c.after, got.UTC(), ok, c.want)
		}
	}
	for _, c := range [][2]string{
		{"at(2026-02-30T10:00:00)", ""}, {"at(2026-01-01 10:00:00)", ""}, {"at()", ""},
		{"rate(1 minutes)", ""}, {"rate(0 minutes)", ""}, {"rate(1 second)", ""},
		{"cron(0 12 * * * *)", ""}, {"cron(* * * * ?)", ""},
		{"rate(5 minutes)", "Mars/Olympus"}, {"rate(5 minutes)", "Local"}, {"rate(5 minutes)", "../../etc/passwd"},
		{"rate(5 minutes)", "/etc/localtime"},
	} {
		if _, err := ParseExpr(c[0], c[1]); err == nil {
			t.Errorf("%s in %q accepted", c[0], c[1])
		}
	}
}

// FuzzParseExpr: any expression and zone parse or are refused without
// panicking, and a parsed expression's next due time is after the time
// asked about, and the one after that later still.
func FuzzParseExpr(f *testing.F) {
	for _, s := range []string{"at(2026-03-01T10:00:00)", "rate(5 minutes)", "cron(0/5 8-17 ? * MON-FRI *)",
		"cron(0 0 L * ? *)", "cron(0 0 ? * 6#3 *)", "cron(15 10 LW * ? 2026-2199)", "at(9999-12-31T23:59:59)"} {
		f.Add(s, "Europe/Paris", int64(0))
		f.Add(s, "", int64(1_800_000_000))
	}
	f.Fuzz(func(t *testing.T, expr, tz string, sec int64) {
		e, err := ParseExpr(expr, tz)
		if err != nil {
			return
		}
		from := time.Unix(sec%(1<<34), 0).UTC()
		anchor := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		n, ok := e.Next(anchor, from)
		if !ok {
			return
		}
		if !n.After(from) {
			t.Fatalf("%s in %q: next after %s is %s", expr, tz, from, n)
		}
		if n2, ok := e.Next(anchor, n); ok && !n2.After(n) {
			t.Fatalf("%s in %q: next after %s is %s", expr, tz, n, n2)
		}
	})
}

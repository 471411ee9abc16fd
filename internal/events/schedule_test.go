package events

import (
	"testing"
	"time"
)

func TestScheduleNext(t *testing.T) {
	base := time.Date(2026, 3, 1, 12, 0, 30, 0, time.UTC) // a Sunday
	for _, c := range []struct {
		expr string
		from time.Time
		want string
	}{
		{"rate(5 minutes)", base.Add(time.Minute), "2026-03-01T12:05:30Z"},
		{"rate(1 hour)", base, "2026-03-01T13:00:30Z"},
		{"cron(0 10 * * ? *)", base, "2026-03-02T10:00:00Z"},
		{"cron(15 12 * * ? *)", base, "2026-03-01T12:15:00Z"},
		{"cron(0/15 * * * ? *)", base, "2026-03-01T12:15:00Z"},
		{"cron(0 18 ? * MON-FRI *)", base, "2026-03-02T18:00:00Z"},
		{"cron(0 8 1 * ? *)", base, "2026-04-01T08:00:00Z"},
		{"cron(0 0 L * ? *)", base, "2026-03-31T00:00:00Z"},
		{"cron(0 0 LW * ? *)", time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC), "2026-05-29T00:00:00Z"},  // May 31 is a Sunday
		{"cron(0 0 15W * ? *)", time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC), "2026-08-14T00:00:00Z"}, // Aug 15 is a Saturday
		{"cron(0 0 ? * 6#3 *)", base, "2026-03-20T00:00:00Z"},                                        // third Friday
		{"cron(0 0 ? * 2L *)", base, "2026-03-30T00:00:00Z"},                                         // last Monday
		{"cron(0 0 ? * 1 *)", base, "2026-03-08T00:00:00Z"},                                          // Sunday is 1
		{"cron(0 0 1 1 ? 2030)", base, "2030-01-01T00:00:00Z"},                                       // years
		{"cron(0 12 29 FEB ? *)", base, "2028-02-29T12:00:00Z"},
	} {
		s, err := ParseSchedule(c.expr)
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		got, ok := s.Next(base, c.from)
		if !ok || got.Format(time.RFC3339) != c.want {
			t.Errorf("%s after %s = %s %v, want %s", c.expr, c.from.Format(time.RFC3339), got.Format(time.RFC3339), ok, c.want)
		}
	}
}

func TestScheduleNoFiringLeft(t *testing.T) {
	for _, expr := range []string{"cron(0 0 30 2 ? *)", "cron(0 0 1 1 ? 1999)"} {
		s, err := ParseSchedule(expr)
		if err != nil {
			t.Fatal(err)
		}
		if at, ok := s.Next(time.Unix(0, 0), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)); ok {
			t.Errorf("%s fires at %s", expr, at)
		}
	}
}

func TestScheduleRefusals(t *testing.T) {
	for _, expr := range []string{
		"", "rate()", "rate(1 minutes)", "rate(2 minute)", "rate(0 minutes)", "rate(-1 minutes)", "rate(1 second)",
		"rate(01 minute)", "rate(1  minute)", "rate(99999999999999999 days)",
		"cron(* * * * * *)", "cron(* * ? * ? *)", "cron(0 0 * *)", "cron(60 * * * ? *)", "cron(0 24 * * ? *)",
		"cron(0 0 32 * ? *)", "cron(0 0 ? * 8 *)", "cron(0 0 ? * 6#6 *)", "cron(0 0 5-1 * ? *)", "cron(0/0 * * * ? *)",
		"cron(0 0 ? * * 1969)", "cron(0 0 * FOO ? *)", "cron(0 0 0W * ? *)",
	} {
		if _, err := ParseSchedule(expr); err == nil {
			t.Errorf("%q accepted", expr)
		}
	}
}

// FuzzParseSchedule: no expression panics, and a parsed one always
// answers Next with a time after its argument.
func FuzzParseSchedule(f *testing.F) {
	for _, s := range []string{"rate(1 minute)", "rate(7 days)", "cron(0 10 * * ? *)", "cron(0/5 8-17 ? * MON-FRI 2026-2030)",
		"cron(0 0 LW * ? *)", "cron(0 0 ? * 6#3 *)", "cron(0 0 ? * 2L *)", "cron(1,2,3 * 15W JAN,DEC ? *)"} {
		f.Add(s)
	}
	from := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, expr string) {
		s, err := ParseSchedule(expr)
		if err != nil {
			return
		}
		if at, ok := s.Next(from, from); ok && !at.After(from) {
			t.Fatalf("%s: next %s is not after %s", expr, at, from)
		}
	})
}

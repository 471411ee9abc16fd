package scheduler

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // IANA zones even where the host has no zoneinfo

	"github.com/nimbus-serverless/nimbus/internal/events"
)

// Expr is a parsed ScheduleExpression with its time zone.
type Expr struct {
	at    time.Time // an at() expression's instant; zero otherwise
	sched *events.Schedule
	loc   *time.Location
}

var tzPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_+\-/]{0,49}$`) })

// loadZone reads an IANA time zone name ("" is UTC). Only zone names are
// accepted: not "Local", not a path.
func loadZone(tz string) (*time.Location, error) {
	if tz == "" || tz == "UTC" {
		return time.UTC, nil
	}
	if !tzPattern().MatchString(tz) || tz == "Local" || strings.Contains(tz, "..") {
		return nil, fmt.Errorf("invalid time zone %q", tz)
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("invalid time zone %q", tz)
	}
	return loc, nil
}

// ParseExpr parses a ScheduleExpression as EventBridge Scheduler accepts
// it, in the time zone tz (an IANA name, "" for UTC). The error is the
// reason, for a ValidationException.
func ParseExpr(expr, tz string) (*Expr, error) {
	loc, err := loadZone(tz)
	if err != nil {
		return nil, err
	}
	if len(expr) > 256 {
		return nil, fmt.Errorf("the expression is longer than 256 characters")
	}
	if v, ok := strings.CutPrefix(expr, "at("); ok && strings.HasSuffix(v, ")") {
		t, err := time.ParseInLocation("2006-01-02T15:04:05", v[:len(v)-1], loc)
		if err != nil {
			return nil, fmt.Errorf("at() expects yyyy-mm-ddThh:mm:ss")
		}
		return &Expr{at: t, loc: loc}, nil
	}
	s, err := events.ParseSchedule(expr)
	if err != nil {
		return nil, err
	}
	return &Expr{sched: s, loc: loc}, nil
}

// OneTime reports whether e is an at() expression.
func (e *Expr) OneTime() bool { return !e.at.IsZero() }

// Next is the first due time strictly after t. A rate's due times are
// anchor + k*period; a cron's are the wall-clock minutes it names in the
// expression's zone; an at() is due once. ok is false when none is left.
func (e *Expr) Next(anchor, t time.Time) (time.Time, bool) {
	if !e.at.IsZero() {
		return e.at, e.at.After(t)
	}
	return e.sched.NextIn(anchor, t, e.loc)
}

// NextFiring is when a schedule as GetSchedule answers it next comes due
// after now (the firing loop's rule: due times from StartDate, else the
// creation, up to EndDate); ok is false when it has none left or its
// expression does not parse. `nimbus schedules` prints it.
func NextFiring(s *Schedule, now time.Time) (time.Time, bool) {
	e, err := ParseExpr(s.ScheduleExpression, s.ScheduleExpressionTimezone)
	if err != nil {
		return time.Time{}, false
	}
	anchor := fromEpoch(s.CreationDate)
	from := now
	if s.StartDate != nil {
		anchor = fromEpoch(*s.StartDate)
		if start := anchor.Add(-time.Millisecond); start.After(from) {
			from = start
		}
	}
	due, ok := e.Next(anchor, from)
	if !ok || s.EndDate != nil && due.After(fromEpoch(*s.EndDate)) {
		return time.Time{}, false
	}
	return due, true
}

package events

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Schedule is a rule's ScheduleExpression, parsed: rate(value unit) or
// cron(minutes hours day-of-month month day-of-week year), evaluated in
// UTC as EventBridge rules are.
type Schedule struct {
	// period is a rate's interval (0 for cron).
	period time.Duration
	cron   *cronSpec
}

// ParseSchedule parses a ScheduleExpression as EventBridge accepts it.
// The error text is the reason, for a ValidationException.
func ParseSchedule(expr string) (*Schedule, error) {
	switch {
	case strings.HasPrefix(expr, "rate(") && strings.HasSuffix(expr, ")"):
		d, err := parseRate(expr[len("rate(") : len(expr)-1])
		if err != nil {
			return nil, err
		}
		return &Schedule{period: d}, nil
	case strings.HasPrefix(expr, "cron(") && strings.HasSuffix(expr, ")"):
		c, err := parseCron(expr[len("cron(") : len(expr)-1])
		if err != nil {
			return nil, err
		}
		return &Schedule{cron: c}, nil
	}
	return nil, fmt.Errorf("expected rate(value unit) or cron(minutes hours day-of-month month day-of-week year)")
}

// parseRate reads "value unit": a positive integer and minute(s), hour(s)
// or day(s), singular exactly when the value is 1.
func parseRate(s string) (time.Duration, error) {
	f := strings.Fields(s)
	if len(f) != 2 || strings.Join(f, " ") != s {
		return 0, fmt.Errorf("rate expects a value and a unit separated by one space")
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n <= 0 || f[0][0] == '0' || f[0][0] == '+' {
		return 0, fmt.Errorf("rate value must be a positive whole number")
	}
	unit := f[1]
	singular := strings.TrimSuffix(unit, "s")
	if (n == 1) != (singular == unit) {
		return 0, fmt.Errorf("rate unit must be singular for a value of 1 and plural otherwise")
	}
	var d time.Duration
	switch singular {
	case "minute":
		d = time.Minute
	case "hour":
		d = time.Hour
	case "day":
		d = 24 * time.Hour
	default:
		return 0, fmt.Errorf("rate unit must be minute(s), hour(s) or day(s)")
	}
	if int64(n) > int64(1<<62)/int64(d) {
		return 0, fmt.Errorf("rate value is too large")
	}
	return time.Duration(n) * d, nil
}

// Next is the first firing strictly after t. For a rate the firings are
// anchor + k*period (anchor: when the rule was created); a cron fires on
// the minutes it names. ok is false when no firing is left (a cron whose
// years have passed, or a date that never exists).
func (s *Schedule) Next(anchor, t time.Time) (next time.Time, ok bool) {
	if s.period > 0 {
		if t.Before(anchor) {
			return anchor.Add(s.period), true
		}
		k := t.Sub(anchor)/s.period + 1
		return anchor.Add(k * s.period), true
	}
	return s.cron.next(t.UTC())
}

// NextIn is Next with a cron read on loc's wall clock, as EventBridge
// Scheduler reads one with a ScheduleExpressionTimezone: cron(0 9 * * ? *)
// in Europe/Paris fires at 09:00 Paris time, summer and winter. A wall
// time that a daylight-saving jump skips fires at the same offset after
// the jump (02:30 on a spring-forward night fires at 03:30); a wall time
// that occurs twice fires at its first occurrence only. A rate ignores
// loc.
func (s *Schedule) NextIn(anchor, t time.Time, loc *time.Location) (time.Time, bool) {
	if s.period > 0 || loc == nil || loc == time.UTC {
		return s.Next(anchor, t)
	}
	w := t.In(loc)
	wall := time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), w.Nanosecond(), time.UTC)
	// A wall minute after t's can still map to an instant before t in
	// the repeated hour of a fall-back night: step on (at most an hour's
	// worth of minutes).
	for range 24 * 60 {
		n, ok := s.cron.next(wall)
		if !ok {
			return time.Time{}, false
		}
		at := time.Date(n.Year(), n.Month(), n.Day(), n.Hour(), n.Minute(), 0, 0, loc)
		if w := at.In(loc); w.Hour() != n.Hour() || w.Minute() != n.Minute() {
			// n is skipped on loc's clock; time.Date may have read it
			// with the offset before the jump: move by what its wall
			// clock is short of n.
			at = at.Add(n.Sub(time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), 0, 0, time.UTC)))
		}
		if at.After(t) {
			return at, true
		}
		wall = n
	}
	return time.Time{}, false
}

// cronSpec is a parsed six-field cron expression.
type cronSpec struct {
	minutes, hours uint64 // bit i: minute/hour i
	months         uint16 // bit i: month i (1-12)
	years          [maxYear - minYear + 1]bool
	dom            domSpec // used when dow.any is false... see matchDay
	dow            dowSpec
}

const (
	minYear = 1970
	maxYear = 2199
)

// domSpec is the day-of-month field.
type domSpec struct {
	skip    bool   // "?"
	days    uint32 // bit i: day i
	last    bool   // "L"
	lastW   bool   // "LW": the last weekday of the month
	nearest int    // "nW": the weekday nearest day n (0: none)
}

// dowSpec is the day-of-week field (0 = Sunday in days, AWS numbers 1-7).
type dowSpec struct {
	skip  bool  // "?"
	days  uint8 // bit i: weekday i
	lastN int   // "nL": the last weekday n of the month (1-7, 0: none)
	nth   [2]int
	// nth: "n#k": the k-th weekday n of the month (n 1-7; 0: none)
}

var monthNames = map[string]int{"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6,
	"JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12}

var dayNames = map[string]int{"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}

func parseCron(s string) (*cronSpec, error) {
	f := strings.Fields(s)
	if len(f) != 6 {
		return nil, fmt.Errorf("cron expects six fields (minutes hours day-of-month month day-of-week year), got %d", len(f))
	}
	c := &cronSpec{}
	var err error
	var bits []bool
	if bits, err = parseList(f[0], 0, 59, nil, "minutes"); err != nil {
		return nil, err
	}
	for i, b := range bits {
		if b {
			c.minutes |= 1 << uint(i)
		}
	}
	if bits, err = parseList(f[1], 0, 23, nil, "hours"); err != nil {
		return nil, err
	}
	for i, b := range bits {
		if b {
			c.hours |= 1 << uint(i)
		}
	}
	if bits, err = parseList(f[3], 1, 12, monthNames, "month"); err != nil {
		return nil, err
	}
	for i, b := range bits {
		if b {
			c.months |= 1 << uint(i)
		}
	}
	if bits, err = parseList(f[5], minYear, maxYear, nil, "year"); err != nil {
		return nil, err
	}
	copy(c.years[:], bits[minYear:])
	domQ, dowQ := f[2] == "?", f[4] == "?"
	if domQ == dowQ {
		return nil, fmt.Errorf("exactly one of day-of-month and day-of-week must be ?")
	}
	if domQ {
		c.dom.skip = true
		if err := c.parseDow(f[4]); err != nil {
			return nil, err
		}
	} else {
		c.dow.skip = true
		if err := c.parseDom(f[2]); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *cronSpec) parseDom(s string) error {
	switch {
	case s == "L":
		c.dom.last = true
		return nil
	case s == "LW":
		c.dom.lastW = true
		return nil
	case strings.HasSuffix(s, "W"):
		n, err := strconv.Atoi(s[:len(s)-1])
		if err != nil || n < 1 || n > 31 || s[0] == '+' {
			return fmt.Errorf("day-of-month %q: W needs a day 1-31 before it", s)
		}
		c.dom.nearest = n
		return nil
	}
	bits, err := parseList(s, 1, 31, nil, "day-of-month")
	if err != nil {
		return err
	}
	for i, b := range bits {
		if b {
			c.dom.days |= 1 << uint(i)
		}
	}
	return nil
}

func (c *cronSpec) parseDow(s string) error {
	day := func(v string) (int, bool) {
		if n, ok := dayNames[v]; ok {
			return n, true
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 7 || v[0] == '+' {
			return 0, false
		}
		return n, true
	}
	switch {
	case s == "L":
		c.dow.days = 1 << 6 // Saturday, the last day of the week
		return nil
	case len(s) > 1 && strings.HasSuffix(s, "L"):
		n, ok := day(s[:len(s)-1])
		if !ok {
			return fmt.Errorf("day-of-week %q: L needs a day 1-7 or SUN-SAT before it", s)
		}
		c.dow.lastN = n
		return nil
	case strings.Contains(s, "#"):
		a, b, _ := strings.Cut(s, "#")
		n, ok := day(a)
		k, err := strconv.Atoi(b)
		if !ok || err != nil || k < 1 || k > 5 || b[0] == '+' {
			return fmt.Errorf("day-of-week %q: expected day#week with a day 1-7 and a week 1-5", s)
		}
		c.dow.nth = [2]int{n, k}
		return nil
	}
	bits, err := parseList(s, 1, 7, dayNames, "day-of-week")
	if err != nil {
		return err
	}
	for i, b := range bits {
		if b {
			c.dow.days |= 1 << uint(i-1)
		}
	}
	return nil
}

// parseList reads a comma-separated list of *, n, n-m, */k, n/k and n-m/k
// (names allowed for values) into a set indexed by value.
func parseList(s string, lo, hi int, names map[string]int, field string) ([]bool, error) {
	set := make([]bool, hi+1)
	val := func(v string) (int, error) {
		if n, ok := names[v]; ok {
			return n, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || v == "" || v[0] == '+' || v[0] == '-' || n < lo || n > hi {
			return 0, fmt.Errorf("%s %q: values are %d-%d", field, v, lo, hi)
		}
		return n, nil
	}
	for part := range strings.SplitSeq(s, ",") {
		rng, step, hasStep := strings.Cut(part, "/")
		k := 1
		if hasStep {
			n, err := strconv.Atoi(step)
			if err != nil || n < 1 || step[0] == '+' || n > hi-lo+1 {
				return nil, fmt.Errorf("%s %q: the increment after / must be 1-%d", field, part, hi-lo+1)
			}
			k = n
		}
		a, b := lo, hi
		switch {
		case rng == "*":
		case strings.Contains(rng, "-"):
			x, y, _ := strings.Cut(rng, "-")
			var err error
			if a, err = val(x); err != nil {
				return nil, err
			}
			if b, err = val(y); err != nil {
				return nil, err
			}
			if b < a {
				return nil, fmt.Errorf("%s %q: a range must go upward", field, part)
			}
		default:
			var err error
			if a, err = val(rng); err != nil {
				return nil, err
			}
			b = a
			if hasStep {
				b = hi
			}
		}
		for v := a; v <= b; v += k {
			set[v] = true
		}
	}
	return set, nil
}

// next finds the first minute after t (UTC) the cron names.
func (c *cronSpec) next(t time.Time) (time.Time, bool) {
	t = t.Truncate(time.Minute).Add(time.Minute)
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	for ; day.Year() <= maxYear; day = day.AddDate(0, 0, 1) {
		if day.Year() < minYear || !c.years[day.Year()-minYear] {
			if day.Year() < minYear {
				day = time.Date(minYear, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -1)
				continue
			}
			day = time.Date(day.Year()+1, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -1)
			continue
		}
		if c.months&(1<<uint(day.Month())) == 0 {
			day = time.Date(day.Year(), day.Month()+1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -1)
			continue
		}
		if !c.matchDay(day) {
			continue
		}
		for h := 0; h < 24; h++ {
			if c.hours&(1<<uint(h)) == 0 {
				continue
			}
			for m := 0; m < 60; m++ {
				if c.minutes&(1<<uint(m)) == 0 {
					continue
				}
				at := day.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
				if !at.Before(t) {
					return at, true
				}
			}
		}
	}
	return time.Time{}, false
}

func daysIn(day time.Time) int {
	return time.Date(day.Year(), day.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func (c *cronSpec) matchDay(day time.Time) bool {
	d, last := day.Day(), daysIn(day)
	if !c.dom.skip {
		switch {
		case c.dom.last:
			return d == last
		case c.dom.lastW:
			return d == nearestWeekday(day, last)
		case c.dom.nearest > 0:
			if c.dom.nearest > last {
				return false
			}
			return d == nearestWeekday(day, c.dom.nearest)
		}
		return c.dom.days&(1<<uint(d)) != 0
	}
	wd := int(day.Weekday()) + 1 // AWS: 1 = Sunday
	switch {
	case c.dow.lastN > 0:
		return wd == c.dow.lastN && d+7 > last
	case c.dow.nth[0] > 0:
		return wd == c.dow.nth[0] && (d-1)/7+1 == c.dow.nth[1]
	}
	return c.dow.days&(1<<uint(wd-1)) != 0
}

// nearestWeekday is the weekday (Mon-Fri) nearest day n of day's month,
// not leaving the month (Quartz's W).
func nearestWeekday(day time.Time, n int) int {
	t := time.Date(day.Year(), day.Month(), n, 0, 0, 0, 0, time.UTC)
	switch t.Weekday() {
	case time.Saturday:
		if n == 1 {
			return 3
		}
		return n - 1
	case time.Sunday:
		if n == daysIn(day) {
			return n - 2
		}
		return n + 1
	}
	return n
}

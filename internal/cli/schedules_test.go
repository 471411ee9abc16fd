package cli

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/scheduler"
)

// TestPrintSchedules: next firings from each schedule's expression, time
// zone, start and end; the soonest first, finished schedules last.
func TestPrintSchedules(t *testing.T) {
	now := time.Date(2026, 3, 7, 10, 0, 30, 0, time.UTC)
	created := float64(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).Unix())
	past := float64(time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC).Unix())
	ss := []*scheduler.Schedule{
		{Name: "daily", GroupName: "default", State: "ENABLED", ScheduleExpression: "cron(0 9 * * ? *)", ScheduleExpressionTimezone: "Europe/Paris", CreationDate: created},
		{Name: "often", GroupName: "ops", State: "ENABLED", ScheduleExpression: "rate(5 minutes)", CreationDate: created},
		{Name: "once", GroupName: "default", State: "DISABLED", ScheduleExpression: "at(2026-03-01T12:00:00)", CreationDate: created},
		{Name: "ended", GroupName: "default", State: "ENABLED", ScheduleExpression: "rate(1 hour)", CreationDate: created, EndDate: &past},
	}
	var b bytes.Buffer
	if err := printSchedules(&b, ss, now); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 5 {
		t.Fatalf("%d lines:\n%s", len(lines), b.String())
	}
	for i, want := range []string{
		"often ", "2026-03-07T10:05:00Z", // rate: anchored at creation, every 5 minutes
	} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("line 1 (%d) lacks %q:\n%s", i, want, b.String())
		}
	}
	// 09:00 in Paris (UTC+1 in March before DST) is 08:00 UTC, tomorrow.
	if !strings.HasPrefix(lines[2], "daily ") || !strings.Contains(lines[2], "2026-03-08T08:00:00Z") {
		t.Errorf("daily: %s", lines[2])
	}
	for _, l := range lines[3:] {
		if !strings.Contains(l, " - ") {
			t.Errorf("a schedule with no due time left shows one: %s", l)
		}
	}
}

// TestSchedulesCommand: `nimbus schedules` lists a deployed schedule with
// its next firing, through the node's Scheduler API.
func TestSchedulesCommand(t *testing.T) {
	n := startTestNode(t)
	n.deployApp(t, "ticker", map[string]string{"template.yaml": `Resources:
  Inbox:
    Type: AWS::SQS::Queue
  Tick:
    Type: AWS::Scheduler::Schedule
    Properties:
      Name: hourly-tick
      ScheduleExpression: rate(1 hour)
      FlexibleTimeWindow: {Mode: "OFF"}
      Target:
        Arn: !GetAtt Inbox.Arn
        RoleArn: arn:aws:iam::000000000000:role/scheduler
`})
	out, code := n.run(t, "", "schedules")
	if code != 0 || !strings.Contains(out, "hourly-tick") || !strings.Contains(out, "rate(1 hour)") || !strings.Contains(out, "ENABLED") {
		t.Fatalf("nimbus schedules (%d):\n%s", code, out)
	}
	if !regexp.MustCompile(`hourly-tick\s+default\s+ENABLED\s+rate\(1 hour\)\s+UTC\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\s+\S+`).MatchString(out) {
		t.Fatalf("no next firing shown:\n%s", out)
	}
}

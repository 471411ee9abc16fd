package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// TestPrintPath: an execution's path lists each state entered with its
// offset, duration and outcome; a caught task failure and the failing
// last state are named.
func TestPrintPath(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) *time.Time { v := t0.Add(time.Duration(ms) * time.Millisecond); return &v }
	entered := func(ms int, typ types.HistoryEventType, name string) types.HistoryEvent {
		return types.HistoryEvent{Type: typ, Timestamp: at(ms), StateEnteredEventDetails: &types.StateEnteredEventDetails{Name: aws.String(name)}}
	}
	exited := func(ms int, typ types.HistoryEventType, name string) types.HistoryEvent {
		return types.HistoryEvent{Type: typ, Timestamp: at(ms), StateExitedEventDetails: &types.StateExitedEventDetails{Name: aws.String(name)}}
	}
	evs := []types.HistoryEvent{
		{Type: types.HistoryEventTypeExecutionStarted, Timestamp: at(0)},
		entered(1, types.HistoryEventTypeTaskStateEntered, "Book"),
		{Type: types.HistoryEventTypeTaskFailed, Timestamp: at(30), TaskFailedEventDetails: &types.TaskFailedEventDetails{Error: aws.String("NoRooms")}},
		exited(31, types.HistoryEventTypeTaskStateExited, "Book"),
		entered(32, types.HistoryEventTypePassStateEntered, "Compensate"),
		exited(33, types.HistoryEventTypePassStateExited, "Compensate"),
		entered(34, types.HistoryEventTypeFailStateEntered, "Give up"),
		{Type: types.HistoryEventTypeExecutionFailed, Timestamp: at(35), ExecutionFailedEventDetails: &types.ExecutionFailedEventDetails{Error: aws.String("Booking")}},
	}
	var buf bytes.Buffer
	if err := printPath(&buf, evs); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"+1ms", "Book", "Task", "30ms", "TaskFailed: NoRooms, caught", "Compensate", "Pass", "exited",
		"Give up", "ExecutionFailed: Booking", "FAILED"} {
		if !strings.Contains(out, want) {
			t.Errorf("path lacks %q:\n%s", want, out)
		}
	}
	if lines := strings.Count(out, "\n"); lines != 5 {
		t.Errorf("%d lines, want a header, 3 states and the end:\n%s", lines, out)
	}
}

package events

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/nimbus-serverless/nimbus/internal/fakeclock"
	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

// TestArchiveAndReplay: an archive keeps the bus's events that match its
// pattern; a replay of a window far larger than the archive (attack: it
// is bounded by what the archive holds) puts them back with replay-name
// set, only to the rule named in FilterArns; replayed events are not
// archived again; archives and replays are described, listed, updated,
// cancelled and deleted, and bad requests are refused.
func TestArchiveAndReplay(t *testing.T) {
	h := start(t, storetest.Open(t), nil, true)
	ctx := t.Context()
	c := h.client
	busArn := "arn:aws:events:us-east-1:000000000000:event-bus/default"
	putRuleWithTarget(t, h, &eventbridge.PutRuleInput{Name: aws.String("orders"), EventPattern: aws.String(`{"source": ["shop"]}`)},
		ebtypes.Target{Id: aws.String("fn"), Arn: aws.String(fnArn)})
	putRuleWithTarget(t, h, &eventbridge.PutRuleInput{Name: aws.String("other"), EventPattern: aws.String(`{"source": ["shop"]}`)},
		ebtypes.Target{Id: aws.String("fn"), Arn: aws.String(fnArn)})
	a, err := c.CreateArchive(ctx, &eventbridge.CreateArchiveInput{ArchiveName: aws.String("paid"), EventSourceArn: aws.String(busArn),
		EventPattern: aws.String(`{"detail": {"status": ["paid"]}}`), RetentionDays: aws.Int32(7)})
	if err != nil || aws.ToString(a.ArchiveArn) != "arn:aws:events:us-east-1:000000000000:archive/paid" || a.State != ebtypes.ArchiveStateEnabled {
		t.Fatalf("CreateArchive = %+v, %v", a, err)
	}
	from := time.Now().Add(-time.Minute)
	for i, status := range []string{"paid", "open", "paid"} {
		if _, err := c.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{Source: aws.String("shop"),
			DetailType: aws.String("Order"), Detail: aws.String(fmt.Sprintf(`{"status": %q, "n": %d}`, status, i))}}}); err != nil {
			t.Fatal(err)
		}
	}
	h.rec.wait(t, 6) // two rules, three events
	h.drained(t)
	d, err := c.DescribeArchive(ctx, &eventbridge.DescribeArchiveInput{ArchiveName: aws.String("paid")})
	if err != nil || d.EventCount != 2 || aws.ToInt32(d.RetentionDays) != 7 || aws.ToString(d.EventPattern) == "" {
		t.Fatalf("DescribeArchive = %+v, %v", d, err)
	}
	_, err = c.StartReplay(ctx, &eventbridge.StartReplayInput{ReplayName: aws.String("r"), EventSourceArn: a.ArchiveArn,
		EventStartTime: aws.Time(time.Unix(0, 0)), EventEndTime: aws.Time(time.Now()),
		Destination: &ebtypes.ReplayDestination{Arn: aws.String(busArn),
			FilterArns: []string{"arn:aws:events:us-east-1:000000000000:rule/orders"}}})
	if err != nil {
		t.Fatal(err)
	}
	got := h.rec.wait(t, 8)
	var replayed []map[string]any
	for _, ev := range got[6:] {
		var env map[string]any
		if err := json.Unmarshal(ev.Payload, &env); err != nil {
			t.Fatal(err)
		}
		replayed = append(replayed, env)
		if env["replay-name"] != "r" || !strings.HasSuffix(ev.DedupID, "/default/orders/fn/replay/r") {
			t.Errorf("replayed event %s (dedup %s)", ev.Payload, ev.DedupID)
		}
	}
	if len(replayed) != 2 || replayed[0]["detail"].(map[string]any)["n"] != 0.0 || replayed[1]["detail"].(map[string]any)["n"] != 2.0 {
		t.Errorf("replayed %v, want the two paid events in order", replayed)
	}
	var rp *eventbridge.DescribeReplayOutput
	for range 500 {
		if rp, err = c.DescribeReplay(ctx, &eventbridge.DescribeReplayInput{ReplayName: aws.String("r")}); err == nil && rp.State == ebtypes.ReplayStateCompleted {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if rp == nil || rp.State != ebtypes.ReplayStateCompleted || rp.EventLastReplayedTime == nil || rp.EventLastReplayedTime.Before(from) {
		t.Errorf("DescribeReplay = %+v, %v", rp, err)
	}
	h.drained(t)
	if d, _ := c.DescribeArchive(ctx, &eventbridge.DescribeArchiveInput{ArchiveName: aws.String("paid")}); d.EventCount != 2 {
		t.Errorf("replayed events were archived again: %d events", d.EventCount)
	}
	if l, err := c.ListReplays(ctx, &eventbridge.ListReplaysInput{}); err != nil || len(l.Replays) != 1 {
		t.Errorf("ListReplays = %+v, %v", l, err)
	}
	if _, err := c.CancelReplay(ctx, &eventbridge.CancelReplayInput{ReplayName: aws.String("r")}); apiCode(err) != "IllegalStatusException" {
		t.Errorf("cancelling a completed replay: %v", err)
	}
	for name, in := range map[string]*eventbridge.StartReplayInput{
		"end in the future": {ReplayName: aws.String("x"), EventSourceArn: a.ArchiveArn, EventStartTime: aws.Time(time.Unix(0, 0)),
			EventEndTime: aws.Time(time.Now().Add(time.Hour)), Destination: &ebtypes.ReplayDestination{Arn: aws.String(busArn)}},
		"start after end": {ReplayName: aws.String("x"), EventSourceArn: a.ArchiveArn, EventStartTime: aws.Time(time.Now()),
			EventEndTime: aws.Time(time.Now().Add(-time.Hour)), Destination: &ebtypes.ReplayDestination{Arn: aws.String(busArn)}},
		"another bus": {ReplayName: aws.String("x"), EventSourceArn: a.ArchiveArn, EventStartTime: aws.Time(time.Unix(0, 0)),
			EventEndTime: aws.Time(time.Now()), Destination: &ebtypes.ReplayDestination{Arn: aws.String("arn:aws:events:us-east-1:000000000000:event-bus/b")}},
		"another account's archive": {ReplayName: aws.String("x"), EventSourceArn: aws.String("arn:aws:events:us-east-1:999999999999:archive/paid"),
			EventStartTime: aws.Time(time.Unix(0, 0)), EventEndTime: aws.Time(time.Now()), Destination: &ebtypes.ReplayDestination{Arn: aws.String(busArn)}},
	} {
		if _, err := c.StartReplay(ctx, in); apiCode(err) != "ValidationException" {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := c.CreateArchive(ctx, &eventbridge.CreateArchiveInput{ArchiveName: aws.String("x"),
		EventSourceArn: aws.String("arn:aws:events:us-east-1:999999999999:event-bus/default")}); apiCode(err) != "ValidationException" {
		t.Errorf("an archive of another account's bus: %v", err)
	}
	if _, err := c.CreateArchive(ctx, &eventbridge.CreateArchiveInput{ArchiveName: aws.String("paid"), EventSourceArn: aws.String(busArn)}); apiCode(err) != "ResourceAlreadyExistsException" {
		t.Errorf("a second archive of the same name: %v", err)
	}
	if _, err := c.UpdateArchive(ctx, &eventbridge.UpdateArchiveInput{ArchiveName: aws.String("paid"), RetentionDays: aws.Int32(1)}); err != nil {
		t.Error(err)
	}
	if l, err := c.ListArchives(ctx, &eventbridge.ListArchivesInput{}); err != nil || len(l.Archives) != 1 || aws.ToInt32(l.Archives[0].RetentionDays) != 1 {
		t.Errorf("ListArchives = %+v, %v", l, err)
	}
	if _, err := c.DeleteArchive(ctx, &eventbridge.DeleteArchiveInput{ArchiveName: aws.String("paid")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DescribeArchive(ctx, &eventbridge.DescribeArchiveInput{ArchiveName: aws.String("paid")}); apiCode(err) != "ResourceNotFoundException" {
		t.Errorf("a deleted archive: %v", err)
	}
}

// TestArchiveRetentionSweep: the sweep (driven by the service's clock)
// deletes the events older than RetentionDays from the archive itself and
// reports the rest's SizeBytes and EventCount.
func TestArchiveRetentionSweep(t *testing.T) {
	clock := fakeclock.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	h := start(t, storetest.Open(t), clock, true)
	ctx := t.Context()
	c := h.client
	clock.WaitFor(t, 1, time.Time{}) // the first sweep (no archives) is done
	if _, err := c.CreateArchive(ctx, &eventbridge.CreateArchiveInput{ArchiveName: aws.String("short"),
		EventSourceArn: aws.String("arn:aws:events:us-east-1:000000000000:event-bus/default"), RetentionDays: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	put := func() {
		t.Helper()
		if _, err := c.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: []ebtypes.PutEventsRequestEntry{{Source: aws.String("shop"),
			DetailType: aws.String("Order"), Detail: aws.String(`{"n": 1}`)}}}); err != nil {
			t.Fatal(err)
		}
	}
	describe := func() *eventbridge.DescribeArchiveOutput {
		t.Helper()
		d, err := c.DescribeArchive(ctx, &eventbridge.DescribeArchiveInput{ArchiveName: aws.String("short")})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := describe(); d.EventCount != 0 || d.SizeBytes != 0 {
		t.Fatalf("new archive: EventCount %d, SizeBytes %d", d.EventCount, d.SizeBytes)
	}
	put()
	put()
	h.drained(t)
	clock.Advance(12 * time.Hour) // a sweep: nothing expired yet
	clock.WaitFor(t, 1, time.Time{})
	two := describe()
	if two.EventCount != 2 || two.SizeBytes <= 0 {
		t.Fatalf("after 12h: EventCount %d, SizeBytes %d", two.EventCount, two.SizeBytes)
	}
	put()
	h.drained(t)
	clock.Advance(18 * time.Hour) // the first two are 30h old, the third 18h
	clock.WaitFor(t, 1, time.Time{})
	one := describe()
	if one.EventCount != 1 || 2*one.SizeBytes != two.SizeBytes {
		t.Fatalf("after 30h: EventCount %d, SizeBytes %d (two events were %d bytes)", one.EventCount, one.SizeBytes, two.SizeBytes)
	}
	list, err := c.ListArchives(ctx, &eventbridge.ListArchivesInput{})
	if err != nil || len(list.Archives) != 1 || list.Archives[0].EventCount != 1 || list.Archives[0].SizeBytes != one.SizeBytes {
		t.Fatalf("ListArchives = %+v, %v", list, err)
	}
	info, err := h.svc.archiveStr.Info(ctx)
	if err != nil || info.State.Msgs != 1 {
		t.Fatalf("archive stream holds %d messages (%v); want the one retained", info.State.Msgs, err)
	}
}

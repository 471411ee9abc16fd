package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/eventpattern"
)

// Events is EventBridge's part of the run: durable PutEvents entries per
// second from many clients (one entry per call, answered once fsynced,
// with 100 rules on the bus the router matches every event against)
// beside the echo server at the same concurrency, and the matcher's rate:
// events per second matched against the same 100 rules in one process.
type Events struct {
	Clients          int     `json:"clients"`
	Rules            int     `json:"rules"`
	EntriesPerSecond float64 `json:"put_events_entries_per_second"`
	EchoRPS          float64 `json:"echo_rps"`
	Ratio            float64 `json:"ratio_to_echo"`
	Errors           int     `json:"errors"`
	MatchesPerSecond float64 `json:"matcher_events_per_second"`
}

const (
	eventClients = 16
	eventRules   = 100
)

// benchRule is rule i of the 100: equality, prefix, numeric range,
// anything-but and exists patterns, a fifth each.
func benchRule(i int) string {
	switch i % 5 {
	case 0:
		return fmt.Sprintf(`{"source":["shop.%d"],"detail-type":["OrderPlaced"]}`, i)
	case 1:
		return fmt.Sprintf(`{"source":[{"prefix":"shop."}],"detail":{"region":["eu-%d"]}}`, i)
	case 2:
		return fmt.Sprintf(`{"detail":{"amount":[{"numeric":[">",%d,"<=",%d]}]}}`, i*10, i*10+10)
	case 3:
		return fmt.Sprintf(`{"detail":{"status":[{"anything-but":["cancelled","s%d"]}],"tier":["gold"]}}`, i)
	}
	return fmt.Sprintf(`{"detail":{"coupon%d":[{"exists":true}]}}`, i)
}

// benchEvent is event i as the router sees it (AWS's envelope).
func benchEvent(i int) []byte {
	detail := fmt.Sprintf(`{"order":"o-%d","amount":%d,"region":"eu-%d","status":"paid","tier":"gold","items":["a","b"]}`, i, i%1000, i%100)
	return fmt.Appendf(nil, `{"version":"0","id":"%08d-0000-0000-0000-000000000000","detail-type":"OrderPlaced","source":"shop.%d","account":"000000000000","time":"2026-01-01T00:00:00Z","region":"us-east-1","resources":[],"detail":%s}`,
		i, i%100, detail)
}

// events measures PutEvents and the matcher (see Events).
func (r *runner) events(ctx context.Context, rep *Report, echo string) error {
	target := map[string]string{"X-Amz-Target": "AWSEvents.PutRule", "Content-Type": "application/x-amz-json-1.1"}
	pats := make([]*eventpattern.Pattern, 0, eventRules)
	for i := range eventRules {
		body, _ := json.Marshal(map[string]string{"Name": fmt.Sprintf("bench-%d", i), "EventPattern": benchRule(i)})
		if _, _, _, err := r.callAs(ctx, "events", r.api+"/", body, target); err != nil {
			return fmt.Errorf("create rule %d: %w", i, err)
		}
		p, err := eventpattern.Compile(eventpattern.EventBridge, []byte(benchRule(i)))
		if err != nil {
			return fmt.Errorf("compile rule %d: %w", i, err)
		}
		pats = append(pats, p)
	}
	put := map[string]string{"X-Amz-Target": "AWSEvents.PutEvents", "Content-Type": "application/x-amz-json-1.1"}
	entry := []byte(`{"Entries":[{"Source":"shop.7","DetailType":"OrderPlaced","Detail":"{\"order\":\"o-1\",\"amount\":42,\"region\":\"eu-7\",\"status\":\"paid\",\"tier\":\"gold\"}"}]}`)
	do := func(ctx context.Context) error {
		_, body, _, err := r.callAs(ctx, "events", r.api+"/", entry, put)
		if err != nil {
			return err
		}
		var out struct{ FailedEntryCount int }
		if err := json.Unmarshal(body, &out); err != nil || out.FailedEntryCount != 0 {
			return fmt.Errorf("PutEvents: %s", body)
		}
		return nil
	}
	r.logf("events: PutEvents from %d clients for %s with %d rules, beside the echo", eventClients, r.opts.Duration, eventRules)
	if _, err := r.load(ctx, eventClients, r.opts.Duration/5, do); err != nil {
		return err
	}
	n, err := r.load(ctx, eventClients, r.opts.Duration, do)
	if err != nil {
		return err
	}
	e, err := r.load(ctx, eventClients, r.opts.Duration, r.post(echo))
	if err != nil {
		return err
	}
	ev := Events{Clients: eventClients, Rules: eventRules, Errors: n.errs,
		EntriesPerSecond: math.Round(float64(n.ok) / r.opts.Duration.Seconds()),
		EchoRPS:          math.Round(float64(e.ok) / r.opts.Duration.Seconds())}
	ev.Ratio = ratio(ev.EntriesPerSecond, ev.EchoRPS)

	r.logf("events: the matcher against %d rules for %s", eventRules, r.opts.Duration)
	set := eventpattern.NewSet(pats...)
	evs := make([][]byte, 1000)
	for i := range evs {
		evs[i] = benchEvent(i)
	}
	var dst []int
	matched, start := 0, time.Now()
	for time.Since(start) < r.opts.Duration && ctx.Err() == nil {
		for _, b := range evs {
			if dst, err = set.Match(b, dst[:0]); err != nil {
				return fmt.Errorf("match: %w", err)
			}
		}
		matched += len(evs)
	}
	ev.MatchesPerSecond = math.Round(float64(matched) / time.Since(start).Seconds())
	rep.Events = &ev
	return ctx.Err()
}

package events

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

var replayNamePattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[\.\-_A-Za-z0-9]{1,64}$`) })

// A replay's states: STARTING ─> RUNNING ─> COMPLETED, or ─> CANCELLING
// (CancelReplay) ─> CANCELLED, or ─> FAILED.
const (
	replayStarting   = "STARTING"
	replayRunning    = "RUNNING"
	replayCompleted  = "COMPLETED"
	replayCancelling = "CANCELLING"
	replayCancelled  = "CANCELLED"
	replayFailed     = "FAILED"
)

func activeReplay(state string) bool {
	return state == replayStarting || state == replayRunning || state == replayCancelling
}

func (s *Service) getReplay(ctx context.Context, name string) (*Replay, uint64, error) {
	return getStored[Replay](ctx, s.kv, replayKey(name), notFound("Replay %s does not exist.", name))
}

// setReplay changes a stored replay with f (compare-and-swap, retried).
func (s *Service) setReplay(ctx context.Context, name string, f func(*Replay)) (*Replay, error) {
	for range 10 {
		rp, rev, err := s.getReplay(ctx, name)
		if err != nil {
			return nil, err
		}
		f(rp)
		b, _ := json.Marshal(rp)
		if _, err := s.kv.Update(ctx, replayKey(name), b, rev); err == nil {
			return rp, nil
		}
	}
	return nil, errors.New("replay kept changing")
}

func (s *Service) replays(ctx context.Context) ([]*Replay, error) {
	ks, err := s.keys(ctx, "replay.>")
	if err != nil {
		return nil, err
	}
	var out []*Replay
	for _, k := range ks {
		e, err := s.kv.Get(ctx, k)
		if err != nil {
			continue
		}
		var rp Replay
		if json.Unmarshal(e.Value(), &rp) == nil {
			out = append(out, &rp)
		}
	}
	return out, nil
}

func (s *Service) startReplay(r *http.Request, body []byte) (any, error) {
	var in struct {
		ReplayName, Description, EventSourceArn string
		EventStartTime, EventEndTime            *float64
		Destination                             *ReplayDestination
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	switch {
	case !replayNamePattern().MatchString(in.ReplayName):
		return nil, constraint(in.ReplayName, "replayName", `Member must satisfy regular expression pattern: [\.\-_A-Za-z0-9]+`)
	case in.EventStartTime == nil || in.EventEndTime == nil || in.Destination == nil:
		return nil, validation("Parameter(s) EventStartTime, EventEndTime and Destination must be specified.")
	case *in.EventStartTime >= *in.EventEndTime:
		return nil, validation("Parameter EventStartTime must be before EventEndTime.")
	case *in.EventEndTime > float64(s.now().Unix())+1:
		return nil, validation("Parameter EventEndTime cannot be in the future.")
	}
	name, ok := strings.CutPrefix(in.EventSourceArn, "arn:aws:events:"+s.region+":"+s.account+":archive/")
	if !ok {
		return nil, validation("Parameter EventSourceArn is not valid: it must be an archive ARN of this account and region.")
	}
	ctx := r.Context()
	a, _, err := s.getArchive(ctx, name)
	if err != nil {
		return nil, err
	}
	if in.Destination.Arn != a.EventSourceArn {
		return nil, validation("Parameter Destination.Arn is not valid: a replay goes to the archive's own event bus %s.", a.EventSourceArn)
	}
	if len(in.Destination.FilterArns) > 100 {
		return nil, validation("Parameter Destination.FilterArns has more than 100 entries.")
	}
	for _, fa := range in.Destination.FilterArns {
		if !strings.HasPrefix(fa, "arn:aws:events:"+s.region+":"+s.account+":rule/") {
			return nil, validation("Parameter Destination.FilterArns holds %s, which is not a rule ARN of this account and region.", fa)
		}
	}
	all, err := s.replays(ctx)
	if err != nil {
		return nil, err
	}
	active := 0
	for _, rp := range all {
		if activeReplay(rp.State) {
			active++
		}
	}
	if active >= maxActiveReplays {
		return nil, limitExceeded("At most %d replays may run at once.", maxActiveReplays)
	}
	now := float64(s.now().UnixMilli()) / 1000
	rp := Replay{ReplayName: in.ReplayName, Description: in.Description, EventSourceArn: in.EventSourceArn, Archive: a.ArchiveName,
		Destination: *in.Destination, EventStartTime: *in.EventStartTime, EventEndTime: *in.EventEndTime,
		State: replayStarting, ReplayStartTime: now}
	b, _ := json.Marshal(rp)
	if _, err := s.kv.Create(ctx, replayKey(rp.ReplayName), b); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return nil, &apiError{http.StatusBadRequest, "ResourceAlreadyExistsException", fmt.Sprintf("Replay %s already exists.", rp.ReplayName)}
		}
		return nil, fmt.Errorf("create replay: %w", err)
	}
	s.runReplay(rp.ReplayName)
	return map[string]any{"ReplayArn": s.arns.replay(rp.ReplayName), "State": replayStarting, "ReplayStartTime": now}, nil
}

func (s *Service) replayOut(rp *Replay, full bool) map[string]any {
	out := map[string]any{"ReplayName": rp.ReplayName, "EventSourceArn": rp.EventSourceArn, "State": rp.State,
		"EventStartTime": rp.EventStartTime, "EventEndTime": rp.EventEndTime, "ReplayStartTime": rp.ReplayStartTime}
	if rp.StateReason != "" {
		out["StateReason"] = rp.StateReason
	}
	if rp.ReplayEndTime != 0 {
		out["ReplayEndTime"] = rp.ReplayEndTime
	}
	if rp.EventLastReplayedTime != 0 {
		out["EventLastReplayedTime"] = rp.EventLastReplayedTime
	}
	if full {
		out["ReplayArn"] = s.arns.replay(rp.ReplayName)
		out["Destination"] = rp.Destination
		if rp.Description != "" {
			out["Description"] = rp.Description
		}
	}
	return out
}

func (s *Service) describeReplay(r *http.Request, body []byte) (any, error) {
	var in struct{ ReplayName string }
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	rp, _, err := s.getReplay(r.Context(), in.ReplayName)
	if err != nil {
		return nil, err
	}
	return s.replayOut(rp, true), nil
}

func (s *Service) listReplays(r *http.Request, body []byte) (any, error) {
	var in struct {
		NamePrefix, State, EventSourceArn, NextToken string
		Limit                                        int
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	all, err := s.replays(r.Context())
	if err != nil {
		return nil, err
	}
	var keep []*Replay
	for _, rp := range all {
		if strings.HasPrefix(rp.ReplayName, in.NamePrefix) && (in.State == "" || rp.State == in.State) &&
			(in.EventSourceArn == "" || rp.EventSourceArn == in.EventSourceArn) {
			keep = append(keep, rp)
		}
	}
	if in.Limit <= 0 || in.Limit > 100 {
		in.Limit = 100
	}
	page, next, err := paginate(keep, func(rp *Replay) string { return rp.ReplayName }, in.NextToken, in.Limit)
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	for _, rp := range page {
		out = append(out, s.replayOut(rp, false))
	}
	res := map[string]any{"Replays": out}
	if next != "" {
		res["NextToken"] = next
	}
	return res, nil
}

func (s *Service) cancelReplay(r *http.Request, body []byte) (any, error) {
	var in struct{ ReplayName string }
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	ctx := r.Context()
	rp, _, err := s.getReplay(ctx, in.ReplayName)
	if err != nil {
		return nil, err
	}
	if !activeReplay(rp.State) {
		return nil, &apiError{http.StatusBadRequest, "IllegalStatusException", fmt.Sprintf("Replay %s is %s and cannot be cancelled.", rp.ReplayName, rp.State)}
	}
	if _, err := s.setReplay(ctx, in.ReplayName, func(rp *Replay) {
		if activeReplay(rp.State) {
			rp.State = replayCancelling
		}
	}); err != nil {
		return nil, err
	}
	return map[string]any{"ReplayArn": s.arns.replay(in.ReplayName), "State": replayCancelling}, nil
}

// runReplay starts (or resumes) a replay on this node, owned by the
// service's replay group; it stops with the service.
func (s *Service) runReplay(name string) {
	s.replayMu.Lock()
	defer s.replayMu.Unlock()
	if s.replayCtx == nil || s.replayCtx.Err() != nil || s.replaying[name] {
		return // not running: Run resumes it
	}
	s.replaying[name] = true
	ctx := s.replayCtx
	s.replayWG.Go(func() {
		defer func() {
			s.replayMu.Lock()
			delete(s.replaying, name)
			s.replayMu.Unlock()
		}()
		if err := s.replay(ctx, name); err != nil && ctx.Err() == nil {
			s.log.Warn("replay failed", "replay", name, "err", err)
			_, _ = s.setReplay(context.WithoutCancel(ctx), name, func(rp *Replay) {
				rp.State, rp.StateReason = replayFailed, "The replay could not read its archive."
			})
		}
	})
}

// replay reads the archive in order and puts each event of the window
// back on the stream, marked with replay-name and limited to the bus's
// (or FilterArns') pattern rules. It reads at most what the archive
// holds, once: a window of any size is bounded by the archive.
func (s *Service) replay(ctx context.Context, name string) error {
	rp, err := s.setReplay(ctx, name, func(rp *Replay) {
		if rp.State == replayStarting {
			rp.State = replayRunning
		}
	})
	if err != nil {
		return err
	}
	if rp.State != replayRunning {
		if rp.State == replayCancelling {
			_, err = s.setReplay(ctx, name, func(rp *Replay) { rp.State = replayCancelled })
		}
		return err
	}
	a, _, err := s.getArchive(ctx, rp.Archive)
	if err != nil {
		return err
	}
	var rules []string
	for _, fa := range rp.Destination.FilterArns {
		_, rest, _ := strings.Cut(fa, ":rule/")
		if !strings.Contains(rest, "/") {
			rest = DefaultBus + "/" + rest
		}
		rules = append(rules, rest)
	}
	subj := archiveSubject(a.ArchiveName)
	info, err := s.archiveStr.Info(ctx, jetstream.WithSubjectFilter(subj))
	if err != nil {
		return fmt.Errorf("archive info: %w", err)
	}
	total := info.State.Subjects[subj]
	start := time.UnixMilli(int64(rp.EventStartTime * 1000))
	end := time.UnixMilli(int64(rp.EventEndTime * 1000))
	var retainedFrom time.Time
	if a.RetentionDays > 0 {
		retainedFrom = s.now().Add(-time.Duration(a.RetentionDays) * 24 * time.Hour)
	}
	var last int64 // the latest event replayed (Unix ms)
	finish := func(state string) error {
		_, err := s.setReplay(context.WithoutCancel(ctx), name, func(rp *Replay) {
			rp.State = state
			rp.ReplayEndTime = float64(s.now().UnixMilli()) / 1000
			if last > 0 {
				rp.EventLastReplayedTime = float64(last) / 1000
			}
		})
		return err
	}
	if total == 0 {
		return finish(replayCompleted)
	}
	cons, err := s.archiveStr.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subj}})
	if err != nil {
		return fmt.Errorf("read archive: %w", err)
	}
	var read uint64
	for read < total {
		if read%100 == 0 {
			if cur, _, err := s.getReplay(ctx, name); err == nil && cur.State == replayCancelling {
				return finish(replayCancelled)
			}
			if last > 0 {
				_, _ = s.setReplay(ctx, name, func(rp *Replay) { rp.EventLastReplayedTime = float64(last) / 1000 })
			}
		}
		m, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("read archive: %w", err)
		}
		read++
		md, _ := m.Metadata()
		var am archivedMsg
		if json.Unmarshal(m.Data(), &am) != nil {
			continue
		}
		at := time.UnixMilli(am.Accepted)
		if at.Before(start) || !at.Before(end) || (!retainedFrom.IsZero() && at.Before(retainedFrom)) {
			continue
		}
		var env map[string]json.RawMessage
		if json.Unmarshal(am.Event, &env) != nil {
			continue
		}
		env["replay-name"], _ = json.Marshal(name)
		ev, _ := json.Marshal(env)
		msg := putMsg{Events: []stored{{Bus: a.Bus, Event: ev, Accepted: s.now().UnixMilli(), Replay: name, Rules: rules}}}
		id := fmt.Sprintf("replay/%s/%d", hex.EncodeToString([]byte(name)), md.Sequence.Stream)
		if err := s.publish(ctx, subjectPut, &msg, id); err != nil {
			return err
		}
		last = am.Accepted
		if md.NumPending == 0 {
			break
		}
	}
	return finish(replayCompleted)
}

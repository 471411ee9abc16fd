package secretsmanager

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/events"
)

// Scheduled rotation. A secret whose rotation is on keeps its next
// rotation time in its own record (NextRotation), so the schedule
// survives a restart and every node sees it. One node of a cluster (the
// daemon runs RunRotations under a lease) looks for due secrets every
// minute; starting a rotation labels a new version AWSPENDING and moves
// NextRotation forward in one compare-and-swap write, so two nodes that
// both believe they hold the lease still start a due rotation once.
//
//	rotation on ──> NextRotation = next(now) ──(clock passes it)──> start:
//	   CAS {AWSPENDING on a new token (or the unfinished rotation's),
//	        NextRotation = next(now)} ──> the four steps (rotate)
//	   a failed rotation is reattempted at the next due time with the
//	   same token, as Secrets Manager reattempts it.

// DefaultRotationCheck is how often RunRotations looks for due secrets.
const DefaultRotationCheck = time.Minute

// checkRules validates RotationRules as Secrets Manager does.
func checkRules(r *RotationRules) error {
	if r == nil {
		return nil
	}
	if r.AutomaticallyAfterDays != nil && (*r.AutomaticallyAfterDays < 1 || *r.AutomaticallyAfterDays > 1000) {
		return invalidParam("AutomaticallyAfterDays must be between 1 and 1000.")
	}
	if r.AutomaticallyAfterDays != nil && r.ScheduleExpression != nil {
		return invalidParam("You can't specify both AutomaticallyAfterDays and ScheduleExpression.")
	}
	if r.ScheduleExpression != nil {
		if _, err := parseRotationSchedule(*r.ScheduleExpression); err != nil {
			return err
		}
	}
	if r.Duration != nil {
		if _, err := parseWindow(*r.Duration); err != nil {
			return err
		}
	}
	if r.AutomaticallyAfterDays == nil && r.ScheduleExpression == nil {
		return invalidParam("You must specify either AutomaticallyAfterDays or ScheduleExpression in RotationRules.")
	}
	return nil
}

var rateHours = regexp.MustCompile(`^rate\((\d+) hours?\)$`)

// parseRotationSchedule reads a rotation ScheduleExpression: rate(N
// days), rate(N hours) with N from 4 to 24 (Secrets Manager rotates at
// most every four hours), or a cron expression in EventBridge's syntax.
func parseRotationSchedule(expr string) (*events.Schedule, error) {
	if len(expr) > 256 {
		return nil, invalidParam("ScheduleExpression must be at most 256 characters.")
	}
	if strings.Contains(expr, "minute") {
		return nil, invalidParam("The schedule expression %s is not valid: Secrets Manager rotates at most every four hours.", expr)
	}
	if m := rateHours.FindStringSubmatch(expr); m != nil {
		if n, err := strconv.Atoi(m[1]); err != nil || n < 4 || n > 24 {
			return nil, invalidParam("The schedule expression %s is not valid: a rate in hours must be between 4 and 24.", expr)
		}
	}
	sch, err := events.ParseSchedule(expr)
	if err != nil {
		return nil, invalidParam("The schedule expression %s is not valid: %s.", expr, err)
	}
	return sch, nil
}

// parseWindow reads a rotation window's Duration: "Nh", N from 1 to 24.
func parseWindow(d string) (time.Duration, error) {
	n, err := strconv.Atoi(strings.TrimSuffix(d, "h"))
	if !strings.HasSuffix(d, "h") || err != nil || n < 1 || n > 24 || strings.HasPrefix(d, "0") || strings.HasPrefix(d, "+") {
		return 0, invalidParam("The rotation window Duration %s is not valid: it must be between 1h and 24h.", d)
	}
	return time.Duration(n) * time.Hour, nil
}

// nextRotation is the first rotation time the rules give after from
// (zero when they give none: no rules, or a cron with no date left).
func nextRotation(r *RotationRules, from time.Time) time.Time {
	switch {
	case r == nil:
		return time.Time{}
	case r.AutomaticallyAfterDays != nil:
		return from.Add(time.Duration(*r.AutomaticallyAfterDays) * 24 * time.Hour)
	case r.ScheduleExpression != nil:
		sch, err := parseRotationSchedule(*r.ScheduleExpression)
		if err != nil {
			return time.Time{}
		}
		next, ok := sch.Next(from, from)
		if !ok {
			return time.Time{}
		}
		return next
	}
	return time.Time{}
}

// RunRotations starts the rotations that come due until ctx ends,
// looking every check (DefaultRotationCheck when zero) on the service's
// clock. The daemon runs it on one node of a cluster.
func (s *Service) RunRotations(ctx context.Context, check time.Duration) error {
	if check <= 0 {
		check = DefaultRotationCheck
	}
	for {
		if _, err := s.RotateDue(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("scheduled rotations", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.after(check):
		}
	}
}

// RotateDue starts the rotation of every secret whose next rotation time
// has passed and reports how many it started.
func (s *Service) RotateDue(ctx context.Context) (int, error) {
	if s.fns == nil {
		return 0, nil
	}
	keys, err := s.kv.Keys(ctx, secretPrefix)
	if err != nil {
		return 0, fmt.Errorf("list secrets: %w", err)
	}
	started := 0
	for _, k := range keys {
		if ctx.Err() != nil {
			return started, nil
		}
		e, err := s.kv.Get(ctx, k)
		if err != nil {
			continue // deleted meanwhile
		}
		sec, err := decodeSecret(e.Value)
		if err != nil {
			s.log.Warn("scheduled rotations: read a secret record", "err", err)
			continue
		}
		ok, err := s.startDue(ctx, sec, e.Revision)
		if err != nil {
			s.log.Warn("scheduled rotation: start", "secret", sec.ARN, "err", err)
			continue
		}
		if ok {
			started++
		}
	}
	return started, nil
}

// startDue starts sec's rotation if it is due.
func (s *Service) startDue(ctx context.Context, sec *secret, rev uint64) (bool, error) {
	if !sec.Rotation || sec.RotationARN == "" || sec.Rules == nil || !sec.Deleted.IsZero() {
		return false, nil
	}
	now := s.now().UTC()
	due := sec.NextRotation
	if due.IsZero() {
		base := sec.LastRotated
		if base.IsZero() {
			base = sec.Created
		}
		due = nextRotation(sec.Rules, base)
	}
	if due.IsZero() || now.Before(due) {
		return false, nil
	}
	// An unfinished rotation is reattempted with its token, as Secrets
	// Manager reattempts it; otherwise a new version is labelled
	// AWSPENDING.
	token := ""
	if p := sec.staged(stagePending); p != nil && !contains(p.Stages, stageCurrent) {
		token = p.ID
	} else {
		token = newToken()
		v := &version{ID: token, Created: now, Empty: true}
		sec.Versions = append(sec.Versions, v)
		sec.moveStage(stagePending, v)
	}
	sec.NextRotation = nextRotation(sec.Rules, now)
	if _, err := s.save(ctx, sec, rev); err != nil {
		if awsapi.HasCode(err, "InternalServiceError") {
			return false, nil // changed meanwhile (another node started it): looked at again next time
		}
		return false, err
	}
	s.log.Info("scheduled rotation started", "secret", sec.ARN)
	s.rotations.Add(1)
	go func() {
		defer s.rotations.Done()
		s.rotate(s.ctx, sec.ARN, sec.RotationARN, token)
	}()
	return true, nil
}

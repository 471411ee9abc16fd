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

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/nimbus-serverless/nimbus/internal/eventpattern"
)

// ArchiveStream holds archived events, one subject per archive.
const ArchiveStream = "NIMBUS_EVENTS_ARCHIVE"

const (
	maxArchives      = 100
	maxActiveReplays = 10
)

var archiveNamePattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[\.\-_A-Za-z0-9]{1,48}$`) })

// Archive is an EventBridge archive: the events of a bus that match its
// pattern, kept on ArchiveStream.
type Archive struct {
	ArchiveName    string
	EventSourceArn string
	Bus            string `json:"NimbusBus"`
	Description    string `json:",omitempty"`
	EventPattern   string `json:",omitempty"`
	RetentionDays  int
	State          string
	CreationTime   int64 // Unix ms
}

// Replay is a replay of an archive's events to its bus.
type Replay struct {
	ReplayName            string
	Description           string `json:",omitempty"`
	EventSourceArn        string
	Archive               string `json:"NimbusArchive"`
	Destination           ReplayDestination
	EventStartTime        float64
	EventEndTime          float64
	State                 string
	StateReason           string `json:",omitempty"`
	ReplayStartTime       float64
	ReplayEndTime         float64 `json:",omitempty"`
	EventLastReplayedTime float64 `json:",omitempty"`
}

// ReplayDestination is the bus a replay goes to, and the rules it is
// limited to (FilterArns; all the bus's rules when empty).
type ReplayDestination struct {
	Arn        string
	FilterArns []string `json:",omitempty"`
}

type archivedMsg struct {
	Event    json.RawMessage `json:"event"`
	Accepted int64           `json:"accepted"`
}

func archiveKey(name string) string { return "archive." + hex.EncodeToString([]byte(name)) }
func replayKey(name string) string  { return "replay." + hex.EncodeToString([]byte(name)) }
func archiveSubject(name string) string {
	return "nimbus.archive." + hex.EncodeToString([]byte(name))
}

func (a arns) archive(name string) string {
	return "arn:aws:events:" + a.region + ":" + a.account + ":archive/" + name
}

func (a arns) replay(name string) string {
	return "arn:aws:events:" + a.region + ":" + a.account + ":replay/" + name
}

// archiveSet is this node's view of the archives (a watch of archive.>):
// the router reads it for every event, never the backbone.
type archiveSet struct {
	mu sync.Mutex
	m  map[string]*compiledArchive // guarded by mu; by archive name
}

type compiledArchive struct {
	a       *Archive
	pattern *eventpattern.Pattern // nil: every event of the bus
}

func (as *archiveSet) forBus(bus string) []*compiledArchive {
	as.mu.Lock()
	defer as.mu.Unlock()
	var out []*compiledArchive
	for _, ca := range as.m {
		if ca.a.Bus == bus && ca.a.State == "ENABLED" {
			out = append(out, ca)
		}
	}
	return out
}

func (s *Service) watchArchives(ctx context.Context, ready chan<- struct{}) error {
	w, err := s.kv.Watch(ctx, "archive.>")
	if err != nil {
		return fmt.Errorf("watch archives: %w", err)
	}
	defer func() { _ = w.Stop() }()
	initial := true
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return nil
			}
			if e == nil {
				if initial {
					initial = false
					close(ready)
				}
				continue
			}
			s.archives.mu.Lock()
			if e.Operation() != jetstream.KeyValuePut {
				for n := range s.archives.m {
					if archiveKey(n) == e.Key() {
						delete(s.archives.m, n)
					}
				}
			} else {
				var a Archive
				if json.Unmarshal(e.Value(), &a) == nil {
					ca := &compiledArchive{a: &a}
					if a.EventPattern != "" {
						ca.pattern, _ = eventpattern.Compile(eventpattern.EventBridge, []byte(a.EventPattern))
					}
					s.archives.m[a.ArchiveName] = ca
				}
			}
			s.archives.mu.Unlock()
		}
	}
}

// archive stores ev in every archive of its bus whose pattern matches; a
// message id per (archive, event) keeps one copy of a re-routed event.
func (s *Service) archive(ctx context.Context, ev *stored, eventID string) error {
	for _, ca := range s.archives.forBus(ev.Bus) {
		if ca.pattern != nil {
			ok, err := ca.pattern.Match(ev.Event)
			if err != nil || !ok {
				continue
			}
		}
		b, _ := json.Marshal(archivedMsg{Event: ev.Event, Accepted: ev.Accepted})
		m := nats.NewMsg(archiveSubject(ca.a.ArchiveName))
		m.Data = b
		m.Header.Set(jetstream.MsgIDHeader, "archive/"+hex.EncodeToString([]byte(ca.a.ArchiveName))+"/"+eventID)
		if _, err := s.js.PublishMsg(ctx, m); err != nil {
			return fmt.Errorf("archive event: %w", err)
		}
	}
	return nil
}

// --- API --------------------------------------------------------------------

func (s *Service) archiveOut(ctx context.Context, a *Archive, full bool) map[string]any {
	out := map[string]any{"ArchiveName": a.ArchiveName, "EventSourceArn": a.EventSourceArn, "State": a.State,
		"RetentionDays": a.RetentionDays, "CreationTime": epoch(a.CreationTime)}
	count := uint64(0)
	if info, err := s.archiveStr.Info(ctx, jetstream.WithSubjectFilter(archiveSubject(a.ArchiveName))); err == nil {
		count = info.State.Subjects[archiveSubject(a.ArchiveName)]
	}
	out["EventCount"], out["SizeBytes"] = count, s.archiveSize(ctx, a.ArchiveName)
	if full {
		out["ArchiveArn"] = s.arns.archive(a.ArchiveName)
		if a.Description != "" {
			out["Description"] = a.Description
		}
		if a.EventPattern != "" {
			out["EventPattern"] = a.EventPattern
		}
	}
	return out
}

func (s *Service) getArchive(ctx context.Context, name string) (*Archive, uint64, error) {
	return getStored[Archive](ctx, s.kv, archiveKey(name), notFound("Archive %s does not exist.", name))
}

func checkArchiveName(name string) error {
	if !archiveNamePattern().MatchString(name) {
		return constraint(name, "archiveName", `Member must satisfy regular expression pattern: [\.\-_A-Za-z0-9]+ and have length between 1 and 48`)
	}
	return nil
}

func checkRetention(days *int) error {
	if days != nil && *days < 0 {
		return constraint(fmt.Sprint(*days), "retentionDays", "Member must have value greater than or equal to 0")
	}
	return nil
}

func (s *Service) createArchive(r *http.Request, body []byte) (any, error) {
	var in struct {
		ArchiveName, EventSourceArn, Description, EventPattern, KmsKeyIdentifier string
		RetentionDays                                                            *int
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := checkArchiveName(in.ArchiveName); err != nil {
		return nil, err
	}
	if in.KmsKeyIdentifier != "" {
		return nil, unsupported("CreateArchive", "customer managed KMS keys on archives")
	}
	if err := checkRetention(in.RetentionDays); err != nil {
		return nil, err
	}
	m := busArnPattern().FindStringSubmatch(in.EventSourceArn)
	if m == nil || in.EventSourceArn != s.arns.bus(m[1]) {
		return nil, validation("Parameter EventSourceArn is not valid: it must be an event bus ARN of this account and region.")
	}
	if in.EventPattern != "" {
		if _, err := compilePattern(in.EventPattern); err != nil {
			return nil, err
		}
	}
	ctx := r.Context()
	if _, err := s.getBus(ctx, m[1]); err != nil {
		return nil, err
	}
	ks, err := s.keys(ctx, "archive.>")
	if err != nil {
		return nil, err
	}
	if len(ks) >= maxArchives {
		return nil, limitExceeded("The requested resource exceeds the maximum number allowed.")
	}
	a := Archive{ArchiveName: in.ArchiveName, EventSourceArn: in.EventSourceArn, Bus: m[1], Description: in.Description,
		EventPattern: in.EventPattern, State: "ENABLED", CreationTime: s.now().UnixMilli()}
	if in.RetentionDays != nil {
		a.RetentionDays = *in.RetentionDays
	}
	b, _ := json.Marshal(a)
	if _, err := s.kv.Create(ctx, archiveKey(a.ArchiveName), b); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return nil, &apiError{http.StatusBadRequest, "ResourceAlreadyExistsException", fmt.Sprintf("Archive %s already exists.", a.ArchiveName)}
		}
		return nil, fmt.Errorf("create archive: %w", err)
	}
	s.waitArchive(ctx, a.ArchiveName, true)
	return map[string]any{"ArchiveArn": s.arns.archive(a.ArchiveName), "State": a.State, "CreationTime": epoch(a.CreationTime)}, nil
}

// waitArchive waits (bounded) until this node's archive set holds (or no
// longer holds) name, so the next PutEvents answered here archives.
func (s *Service) waitArchive(ctx context.Context, name string, present bool) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		s.archives.mu.Lock()
		_, ok := s.archives.m[name]
		s.archives.mu.Unlock()
		if ok == present {
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (s *Service) describeArchive(r *http.Request, body []byte) (any, error) {
	var in struct{ ArchiveName string }
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := checkArchiveName(in.ArchiveName); err != nil {
		return nil, err
	}
	a, _, err := s.getArchive(r.Context(), in.ArchiveName)
	if err != nil {
		return nil, err
	}
	return s.archiveOut(r.Context(), a, true), nil
}

func (s *Service) listArchives(r *http.Request, body []byte) (any, error) {
	var in struct {
		NamePrefix, EventSourceArn, State, NextToken string
		Limit                                        int
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	ctx := r.Context()
	ks, err := s.keys(ctx, "archive.>")
	if err != nil {
		return nil, err
	}
	var as []*Archive
	for _, k := range ks {
		e, err := s.kv.Get(ctx, k)
		if err != nil {
			continue
		}
		var a Archive
		if json.Unmarshal(e.Value(), &a) != nil || !strings.HasPrefix(a.ArchiveName, in.NamePrefix) ||
			(in.EventSourceArn != "" && a.EventSourceArn != in.EventSourceArn) || (in.State != "" && a.State != in.State) {
			continue
		}
		as = append(as, &a)
	}
	if in.Limit <= 0 || in.Limit > 100 {
		in.Limit = 100
	}
	page, next, err := paginate(as, func(a *Archive) string { return a.ArchiveName }, in.NextToken, in.Limit)
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	for _, a := range page {
		out = append(out, s.archiveOut(ctx, a, false))
	}
	res := map[string]any{"Archives": out}
	if next != "" {
		res["NextToken"] = next
	}
	return res, nil
}

func (s *Service) updateArchive(r *http.Request, body []byte) (any, error) {
	var in struct {
		ArchiveName, KmsKeyIdentifier string
		Description, EventPattern     *string
		RetentionDays                 *int
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := checkArchiveName(in.ArchiveName); err != nil {
		return nil, err
	}
	if in.KmsKeyIdentifier != "" {
		return nil, unsupported("UpdateArchive", "customer managed KMS keys on archives")
	}
	if err := checkRetention(in.RetentionDays); err != nil {
		return nil, err
	}
	if in.EventPattern != nil && *in.EventPattern != "" {
		if _, err := compilePattern(*in.EventPattern); err != nil {
			return nil, err
		}
	}
	ctx := r.Context()
	a, rev, err := s.getArchive(ctx, in.ArchiveName)
	if err != nil {
		return nil, err
	}
	if in.Description != nil {
		a.Description = *in.Description
	}
	if in.EventPattern != nil {
		a.EventPattern = *in.EventPattern
	}
	if in.RetentionDays != nil {
		a.RetentionDays = *in.RetentionDays
	}
	b, _ := json.Marshal(a)
	if _, err := s.kv.Update(ctx, archiveKey(a.ArchiveName), b, rev); err != nil {
		return nil, &apiError{http.StatusBadRequest, "ConcurrentModificationException", "The archive was changed by another request; retry."}
	}
	return map[string]any{"ArchiveArn": s.arns.archive(a.ArchiveName), "State": a.State, "CreationTime": epoch(a.CreationTime)}, nil
}

func (s *Service) deleteArchive(r *http.Request, body []byte) (any, error) {
	var in struct{ ArchiveName string }
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := checkArchiveName(in.ArchiveName); err != nil {
		return nil, err
	}
	ctx := r.Context()
	if _, _, err := s.getArchive(ctx, in.ArchiveName); err != nil {
		return nil, err
	}
	if err := s.kv.Delete(ctx, archiveKey(in.ArchiveName)); err != nil {
		return nil, fmt.Errorf("delete archive: %w", err)
	}
	s.waitArchive(ctx, in.ArchiveName, false)
	if err := s.archiveStr.Purge(ctx, jetstream.WithPurgeSubject(archiveSubject(in.ArchiveName))); err != nil {
		return nil, fmt.Errorf("purge archive: %w", err)
	}
	if err := s.kv.Delete(ctx, archiveStatsKey(in.ArchiveName)); err != nil {
		return nil, fmt.Errorf("delete archive size: %w", err)
	}
	return struct{}{}, nil
}

package sfn

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The journal is an execution's history, and its state: an execution is
// run by replaying its definition against the journal. Every event a
// branch of the execution emits has a key (the branch's path and the
// event's position in it), and a branch runs deterministically given its
// input and the results recorded in the journal, so a replay emits the
// same keys in the same order. Emitting an event whose key is recorded
// returns the recorded event (its time, its result) instead of recording
// a new one; a task whose result is recorded is not invoked again. After
// a crash, the next run replays to where the journal ends and goes on
// from there; a Task whose result was not recorded is invoked again (at
// least once, as AWS documents).
//
//	emit(key) ──recorded?──yes──> the recorded event (replay)
//	               └──no──> new event: next id, pending
//	flush ──> store.append(pending, expect last seq) ──conflict──> reload, renumber, retry
//
// Events are persisted in batches (flush) before anything with an effect
// outside the execution (invoking a task, suspending, ending), so a run
// of Pass and Choice states costs one backbone write.

// Event is one history event.
type Event struct {
	Key     string         `json:"k"`
	ID      int64          `json:"id"`
	Prev    int64          `json:"p,omitempty"`
	Type    string         `json:"t"`
	Time    time.Time      `json:"ts"`
	Details map[string]any `json:"d,omitempty"`
	// Gen and Void are an ExecutionRedriven event's: the redrive's count
	// and the keys it voids (redrive.go).
	Gen  int      `json:"g,omitempty"`
	Void []string `json:"v,omitempty"`
}

// hidden reports whether the event is bookkeeping that history does not
// show (task heartbeats).
func (e *Event) hidden() bool { return e.ID == 0 }

// errConflict is an append that lost a compare-and-set: someone else
// appended first.
var errConflict = errors.New("journal append conflict")

// journalStore persists an execution's events.
type journalStore interface {
	// load reads every event and the store's position after them.
	load(ctx context.Context) ([]*Event, uint64, error)
	// append adds events if the store is still at position last, and
	// returns the new position; errConflict otherwise.
	append(ctx context.Context, evs []*Event, last uint64) (uint64, error)
}

// memJournal is a journalStore in memory (Express executions).
type memJournal struct {
	mu  sync.Mutex
	evs []*Event
	pos uint64
}

func (m *memJournal) load(context.Context) ([]*Event, uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*Event(nil), m.evs...), m.pos, nil
}

func (m *memJournal) append(_ context.Context, evs []*Event, last uint64) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if last != m.pos {
		return m.pos, errConflict
	}
	m.evs = append(m.evs, evs...)
	m.pos++
	return m.pos, nil
}

// MaxHistoryEvents is AWS's cap on a Standard execution's history.
const MaxHistoryEvents = 25000

// journal is an execution's history in memory during a run.
type journal struct {
	mu      sync.Mutex
	store   journalStore
	byKey   map[string]*Event // guarded by mu
	events  []*Event          // guarded by mu: shown events, in id order
	pending []*Event          // guarded by mu
	lastID  int64             // guarded by mu
	pos     uint64            // guarded by mu
	// redirects map the positions redrives voided to their new keys
	// (redrive.go); guarded by mu.
	redirects redirects
	// flushed are the shown events this journal has stored (for the
	// execution's log, logging.go); guarded by mu.
	flushed []*Event
	now     func() time.Time
}

func openJournal(ctx context.Context, st journalStore, now func() time.Time) (*journal, error) {
	j := &journal{store: st, byKey: map[string]*Event{}, now: now}
	evs, pos, err := st.load(ctx)
	if err != nil {
		return nil, err
	}
	j.pos = pos
	j.absorb(evs)
	return j, nil
}

func (j *journal) absorb(evs []*Event) {
	for _, e := range evs {
		j.redirects.add(e)
		j.byKey[e.Key] = e
		if !e.hidden() {
			j.events = append(j.events, e)
			j.lastID = max(j.lastID, e.ID)
		}
	}
}

// errHistoryFull ends an execution whose history reached AWS's cap.
var errHistoryFull = &Failure{Name: ErrRuntime, Cause: "The execution reached the maximum number of history events (25000)."}

// emit records (or, replaying, finds) the branch's next event.
func (j *journal) emit(b *branch, typ string, details map[string]any) (*Event, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	key := j.resolveLocked(b.nextKey())
	if ev, ok := j.byKey[key]; ok {
		b.prev = ev.ID
		return ev, nil
	}
	if j.lastID >= MaxHistoryEvents && !strings.HasPrefix(typ, "Execution") {
		return nil, errHistoryFull
	}
	j.lastID++
	ev := &Event{Key: key, ID: j.lastID, Prev: b.prev, Type: typ, Time: j.now().UTC(), Details: details}
	b.prev = ev.ID
	j.byKey[key] = ev
	j.events = append(j.events, ev)
	j.pending = append(j.pending, ev)
	return ev, nil
}

// hide records a bookkeeping event (id 0, not in the history) at key,
// unless one is there.
func (j *journal) hide(key, typ string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	key = j.resolveLocked(key)
	if _, ok := j.byKey[key]; ok {
		return
	}
	ev := &Event{Key: key, Type: typ, Time: j.now().UTC()}
	j.byKey[key] = ev
	j.pending = append(j.pending, ev)
}

// recorded returns the branch's next event if the journal has it (a
// result recorded by an earlier run or by SendTaskSuccess), consuming
// its key; otherwise it consumes nothing.
func (j *journal) recorded(b *branch) (*Event, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	key := j.resolveLocked(b.peekKey())
	ev, ok := j.byKey[key]
	if ok {
		b.n++
		b.prev = ev.ID
	}
	return ev, ok
}

// get finds a recorded event by key.
func (j *journal) get(key string) (*Event, bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	ev, ok := j.byKey[j.resolveLocked(key)]
	return ev, ok
}

// takeFlushed returns the shown events stored since it was last called.
func (j *journal) takeFlushed() []*Event {
	j.mu.Lock()
	defer j.mu.Unlock()
	evs := j.flushed
	j.flushed = nil
	return evs
}

// count is the number of history events.
func (j *journal) count() int64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.lastID
}

// resolve is the key an event at position key has now: key itself, or
// the key a redrive gave it.
func (j *journal) resolve(key string) string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.resolveLocked(key)
}

func (j *journal) resolveLocked(key string) string { return j.redirects.resolve(key) }

// voided reports whether a redrive voided position key (its state runs
// again).
func (j *journal) voided(key string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.redirects.resolve(key) != key
}

// flush persists the pending events. On a conflict it reloads what
// others appended: if any of those collide with a pending key (another
// runner is replaying the same execution) the run must stop
// (errConflict); otherwise the pending events are renumbered after them
// and appended again.
func (j *journal) flush(ctx context.Context) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for len(j.pending) > 0 {
		n := batchLen(j.pending)
		pos, err := j.store.append(ctx, j.pending[:n], j.pos)
		if err == nil {
			j.pos = pos
			for _, e := range j.pending[:n] {
				if !e.hidden() {
					j.flushed = append(j.flushed, e)
				}
			}
			j.pending = j.pending[n:]
			continue
		}
		if !errors.Is(err, errConflict) {
			return err
		}
		all, pos, err := j.store.load(ctx)
		if err != nil {
			return err
		}
		pendingKeys := map[string]bool{}
		for _, e := range j.pending {
			pendingKeys[e.Key] = true
		}
		known := map[string]bool{}
		for _, e := range j.events {
			if !pendingKeys[e.Key] {
				known[e.Key] = true
			}
		}
		var fresh []*Event
		for _, e := range all {
			if pendingKeys[e.Key] || baseKey(e.Key) == abortKey {
				return errConflict
			}
			if !known[e.Key] {
				fresh = append(fresh, e)
			}
		}
		// Renumber: the stored events keep their ids, ours follow.
		j.events = j.events[:0]
		j.byKey = map[string]*Event{}
		j.redirects = redirects{}
		j.lastID = 0
		j.absorb(all)
		for _, e := range j.pending {
			if e.hidden() {
				j.byKey[e.Key] = e
				continue
			}
			j.lastID++
			e.ID = j.lastID
			j.byKey[e.Key] = e
			j.events = append(j.events, e)
		}
		j.pos = pos
		_ = fresh
	}
	return nil
}

// maxBatchBytes bounds one journal message (the history stream takes 8 MB).
const maxBatchBytes = 4 << 20

// batchLen is how many of evs go in the next message: at least one, and
// no more than fit in maxBatchBytes (inputs and outputs dominate).
func batchLen(evs []*Event) int {
	size := 0
	for i, e := range evs {
		sz := 200
		for _, v := range e.Details {
			if s, ok := v.(string); ok {
				sz += len(s) + len(s)/8
			}
		}
		if i > 0 && size+sz > maxBatchBytes {
			return i
		}
		size += sz
	}
	return len(evs)
}

// branch is one thread of an execution: the top level, a Parallel
// branch or a Map iteration. Its events' keys are its path and a count.
type branch struct {
	path string
	n    int
	prev int64
}

func (b *branch) peekKey() string { return b.path + "/" + strconv.Itoa(b.n) }

func (b *branch) nextKey() string {
	k := b.peekKey()
	b.n++
	return k
}

// child is the i-th branch (or iteration) of the state whose entered
// event is the current position.
func (b *branch) child(kind string, i int) *branch {
	return &branch{path: b.path + "/" + strconv.Itoa(b.n) + kind + strconv.Itoa(i), prev: b.prev}
}

package pool

import (
	"sync"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/sandbox"
)

// StartPhases is where one on-demand cold start's time went, in the order
// the phases run: from the invocation's arrival at the pool to the first
// invocation's response. Init Duration (the REPORT line's) is Sandbox plus
// RuntimeInit.
type StartPhases struct {
	Runtime string
	Admit   time.Duration // admission: limits, retiring an older revision's pool, eviction
	Code    time.Duration // the code package and layers laid out (a stat once cached), sealed variables opened
	Prepare time.Duration // the environment's directory, log capture, credentials, variables
	// Sandbox is the sandbox's own breakdown; SandboxTotal its whole
	// Start (claim, limits, handshake).
	Sandbox      sandbox.StartPhases
	SandboxTotal time.Duration
	RuntimeInit  time.Duration // the runtime exec'd to its first /next (the runtime's start and the function's init)
	Invoke       time.Duration // the first invocation, event handed to the runtime to its response
}

// phaseLog keeps the breakdowns of the last phaseLogSize cold starts.
type phaseLog struct {
	mu   sync.Mutex
	ring []StartPhases // guarded by mu
	next int           // guarded by mu
}

const phaseLogSize = 1024

func (l *phaseLog) add(p StartPhases) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.ring) < phaseLogSize {
		l.ring = append(l.ring, p)
		return
	}
	l.ring[l.next] = p
	l.next = (l.next + 1) % phaseLogSize
}

// SpareInits is how many sandbox inits are ready to be claimed and how
// many the pool keeps (Options.SpareInits).
func (m *Manager) SpareInits() (ready, target int) { return m.launcher.Spares() }

// StartPhases returns the breakdowns of the node's last on-demand cold
// starts (up to 1,024), oldest first: what `nimbus bench` reports.
func (m *Manager) StartPhases() []StartPhases {
	l := &m.phases
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]StartPhases, 0, len(l.ring))
	out = append(out, l.ring[l.next:]...)
	return append(out, l.ring[:l.next]...)
}

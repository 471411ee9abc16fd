package pool

// freezer is what the pool needs of a sandboxed process to freeze it
// between invocations (cgroup freezer: v1 freezer.state, v2
// cgroup.freeze). A process that cannot be frozen (no cgroups, running
// unprivileged) is left running.
type freezer interface {
	Freeze() error
	Thaw() error
}

// freeze stops e's processes while it is idle: no CPU, and timers inside
// do not fire until it is thawed, as in Lambda.
func (m *Manager) freeze(e *environment) error {
	if f, ok := any(e.proc).(freezer); ok && e.proc != nil {
		if err := f.Freeze(); err != nil {
			return err
		}
		e.frozen.Store(true)
	}
	return nil
}

// thaw resumes a frozen environment; a no-op if it is not frozen.
func (m *Manager) thaw(e *environment) error {
	if !e.frozen.Load() {
		return nil
	}
	if f, ok := any(e.proc).(freezer); ok && e.proc != nil {
		if err := f.Thaw(); err != nil {
			return err
		}
	}
	e.frozen.Store(false)
	return nil
}

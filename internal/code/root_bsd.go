//go:build unix && !linux

package code

// Outside Linux there is no openat2: paths are walked with O_NOFOLLOW, and
// extraction runs as the server's own user.

const beneathDirFlags = 0

func openBeneath(int, string, int, uint32) (int, error) { panic("no openat2 outside Linux") }

func probeBeneath(int) bool { return false }

func (r *root) unprivileged(fn func() error) error { return fn() }

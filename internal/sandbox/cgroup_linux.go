package sandbox

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// cgroupParent is the directory, under each hierarchy's mount point, that
// holds one directory per nimbus process (its owner directory, named
// <pid>-<start time>), which holds one cgroup per environment:
//
//	/sys/fs/cgroup/memory/nimbus/4242-1234567/<environment id>
//
// A process killed with SIGKILL cannot remove its cgroups. Its running
// environments die with it (their init's parent-death signal, then the pid
// namespace), but frozen ones cannot act on that signal until thawed. The
// next nimbus process on the host, whatever its data directory, thaws,
// kills and removes the environments of owners that no longer exist
// (sweepDeadOwners), and never touches a live process's.
const cgroupParent = "nimbus"

// cgroupHost says where the cgroup hierarchies are.
type cgroupHost struct {
	version int               // 1 or 2
	v1      map[string]string // controller -> mount point (v1)
	v2      string            // mount point (v2)
	owner   string            // this process's owner directory name
	swept   int               // environments of dead owners killed by prepare
}

// findCgroups reads mountinfo and picks v1 when a v1 memory hierarchy is
// mounted (hybrid hosts), else v2 when its root offers the memory
// controller.
func findCgroups(mountinfo string) (*cgroupHost, error) {
	f, err := os.Open(mountinfo)
	if err != nil {
		return nil, err
	}
	defer f.Close() //nolint:errcheck // read only
	h := &cgroupHost{v1: map[string]string{}}
	var v2 []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent maj:min root mountpoint opts [optional...] - fstype source superopts
		pre, post, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		pf, qf := strings.Fields(pre), strings.Fields(post)
		if len(pf) < 5 || len(qf) < 3 {
			continue
		}
		mnt := unescapeMount(pf[4])
		switch qf[0] {
		case "cgroup":
			for _, opt := range strings.Split(qf[2], ",") {
				switch opt {
				case "memory", "pids", "cpu", "freezer":
					if _, dup := h.v1[opt]; !dup {
						h.v1[opt] = mnt
					}
				}
			}
		case "cgroup2":
			v2 = append(v2, mnt)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if h.v1["memory"] != "" {
		h.version = 1
		return h, nil
	}
	for _, mnt := range v2 {
		b, err := os.ReadFile(filepath.Join(mnt, "cgroup.controllers"))
		if err == nil && hasWord(string(b), "memory") {
			h.version, h.v2, h.v1 = 2, mnt, nil
			return h, nil
		}
	}
	return nil, errors.New("no memory cgroup controller mounted")
}

func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func hasWord(s, w string) bool {
	for _, f := range strings.Fields(s) {
		if f == w {
			return true
		}
	}
	return false
}

// has reports whether controller ctl is available to environments.
func (h *cgroupHost) has(ctl string) bool {
	if h.version == 1 {
		return h.v1[ctl] != ""
	}
	if ctl == "freezer" { // built into cgroup v2 (cgroup.freeze, Linux 5.2+)
		_, err := os.Stat(filepath.Join(h.v2, cgroupParent, h.owner, "cgroup.freeze"))
		return err == nil
	}
	b, err := os.ReadFile(filepath.Join(h.v2, cgroupParent, h.owner, "cgroup.subtree_control"))
	return err == nil && hasWord(string(b), ctl)
}

// prepare creates the parent cgroups (and, on v2, enables the controllers
// for them). It is cheap to repeat.
func (h *cgroupHost) prepare() error {
	if h.owner == "" {
		owner, err := ownerName(os.Getpid())
		if err != nil {
			return err
		}
		h.owner = owner
	}
	h.swept += h.sweep()
	if h.version == 2 {
		for _, dir := range []string{h.v2, filepath.Join(h.v2, cgroupParent), filepath.Join(h.v2, cgroupParent, h.owner)} {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return err
			}
			if err := enableControllers(dir); err != nil {
				return err
			}
		}
		return nil
	}
	for _, mnt := range h.v1 {
		if err := os.MkdirAll(filepath.Join(mnt, cgroupParent, h.owner), 0o755); err != nil {
			return err
		}
	}
	return nil
}

// ownerName is the owner directory name of process pid: its pid and its
// start time (clock ticks since boot), so a reused pid is a different owner.
func ownerName(pid int) (string, error) {
	f, err := procStat(pid)
	if err != nil {
		return "", err
	}
	if len(f) < 20 {
		return "", fmt.Errorf("parse /proc/%d/stat", pid)
	}
	return strconv.Itoa(pid) + "-" + f[19], nil
}

// sweep removes the environments of dead owners in every hierarchy.
func (h *cgroupHost) sweep() int {
	if h.version == 2 {
		return sweepDeadOwners(2, map[string]string{"": filepath.Join(h.v2, cgroupParent)})
	}
	parents := map[string]string{}
	for ctl, mnt := range h.v1 {
		parents[ctl] = filepath.Join(mnt, cgroupParent)
	}
	return sweepDeadOwners(1, parents)
}

// sweepDeadOwners removes the environments of nimbus processes that are
// gone: parents maps each controller (v1; "" on v2) to its hierarchy's
// cgroupParent directory. An owner directory whose process no longer
// exists (or whose pid now belongs to a later process) has each
// environment cgroup in it thawed, its processes killed and the cgroup
// removed, then the owner directory itself. A server killed with SIGKILL
// leaves these: its running environments die with it (the parent-death
// signal of their init), but a frozen one cannot act on any signal until
// it is thawed, and idle environments are frozen most of their life.
// Anything that is not an owner directory, or belongs to a live process,
// is left alone. It returns the number of environments that still held
// processes; errors are ignored (best effort, retried at the next start).
func sweepDeadOwners(version int, parents map[string]string) int {
	dead := map[string]bool{}
	for _, parent := range parents {
		entries, err := os.ReadDir(parent)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if e.IsDir() && deadOwner(e.Name()) {
				dead[e.Name()] = true
			}
		}
	}
	killed := 0
	for owner := range dead {
		envs := map[string]bool{}
		for _, parent := range parents {
			entries, _ := os.ReadDir(filepath.Join(parent, owner))
			for _, e := range entries {
				if e.IsDir() {
					envs[e.Name()] = true
				}
			}
		}
		for env := range envs {
			paths := map[string]string{}
			for ctl, parent := range parents {
				paths[ctl] = filepath.Join(parent, owner, env)
			}
			if killOrphan(version, paths) {
				killed++
			}
		}
		for _, parent := range parents {
			_ = syscall.Rmdir(filepath.Join(parent, owner))
		}
	}
	return killed
}

// deadOwner reports whether name is an owner directory (<pid>-<start
// time>) whose process is gone: no such pid, or a pid reused by a process
// that started at another time.
func deadOwner(name string) bool {
	pidStr, start, ok := strings.Cut(name, "-")
	pid, err := strconv.Atoi(pidStr)
	if !ok || err != nil || pid <= 0 || start == "" {
		return false
	}
	for _, c := range start {
		if c < '0' || c > '9' {
			return false
		}
	}
	live, err := ownerName(pid)
	if err != nil {
		return errors.Is(err, fs.ErrNotExist)
	}
	return live != name
}

// killOrphan thaws the cgroup whose directories are paths (controller ->
// dir), kills every process in it and removes it. It reports whether any
// process was there.
func killOrphan(version int, paths map[string]string) bool {
	var dirs []string
	seen := map[string]bool{}
	for _, d := range paths {
		if seen[d] {
			continue
		}
		seen[d] = true
		if _, err := os.Stat(d); err == nil {
			dirs = append(dirs, d)
		}
	}
	had := false
	for _, d := range dirs {
		if b, err := os.ReadFile(filepath.Join(d, "cgroup.procs")); err == nil && len(bytes.TrimSpace(b)) > 0 {
			had = true
		}
	}
	if had {
		// Thaw first: a frozen task acts on no signal (v1), and the
		// SIGKILL its init got when the server died is still pending.
		if version == 2 {
			d := paths[""]
			_ = writeFile(filepath.Join(d, "cgroup.freeze"), "0")
			_ = writeFile(filepath.Join(d, "cgroup.kill"), "1")
		} else if d, ok := paths["freezer"]; ok {
			_ = writeFile(filepath.Join(d, "freezer.state"), "THAWED")
		}
		for _, d := range dirs {
			_ = killAll(filepath.Join(d, "cgroup.procs"))
		}
	}
	for _, d := range dirs {
		_ = rmdirRetry(d)
	}
	return had
}

// enableControllers turns on memory and pids (required) and cpu (best
// effort) for dir's children.
func enableControllers(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return err
	}
	on, _ := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control"))
	for _, c := range []string{"memory", "pids", "cpu"} {
		if hasWord(string(on), c) {
			continue
		}
		if !hasWord(string(b), c) {
			if c == "cpu" {
				continue
			}
			return fmt.Errorf("cgroup v2 controller %s not available in %s", c, dir)
		}
		if err := writeFile(filepath.Join(dir, "cgroup.subtree_control"), "+"+c); err != nil && c != "cpu" {
			return err
		}
	}
	return nil
}

// newCgroup creates a cgroup named id with its pids limit; the memory
// limit comes with setLimits, before any function code runs, the CPU
// weight with weighCPU once init is done.
func (h *cgroupHost) newCgroup(id string) (cgroup, error) {
	if h.version == 2 {
		cg := &cgroupV2{path: filepath.Join(h.v2, cgroupParent, h.owner, id)}
		if err := cg.create(); err != nil {
			_ = cg.remove()
			return nil, err
		}
		return cg, nil
	}
	cg := &cgroupV1{paths: map[string]string{}}
	for c, mnt := range h.v1 {
		cg.paths[c] = filepath.Join(mnt, cgroupParent, h.owner, id)
	}
	if err := cg.create(); err != nil {
		_ = cg.remove()
		return nil, err
	}
	return cg, nil
}

// cpuWeight maps memory to a CPU weight the way Lambda maps memory to CPU
// (1,769 MB = one vCPU = the default weight). It is a relative share only;
// a hard quota (cpu.max / cfs_quota) is for the isolation work.
func cpuWeight(memoryMB, oneCPU int) int {
	return max(1, memoryMB*oneCPU/1769)
}

type cgroupV1 struct {
	paths map[string]string // controller -> cgroup dir; one per hierarchy
	peak  peakFile
}

func (c *cgroupV1) dirs() []string {
	seen := map[string]bool{}
	var out []string
	for _, ctl := range []string{"memory", "pids", "cpu", "freezer"} {
		if d, ok := c.paths[ctl]; ok && !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	return out
}

func (c *cgroupV1) create() error {
	for _, d := range c.dirs() {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
	}
	if d, ok := c.paths["pids"]; ok {
		if err := writeFile(filepath.Join(d, "pids.max"), strconv.Itoa(PidsMax)); err != nil {
			return err
		}
	}
	return nil
}

func (c *cgroupV1) setLimits(memoryMB int) error {
	if memoryMB <= 0 {
		return nil // no memory limit asked for
	}
	mem := strconv.FormatUint(uint64(memoryMB)<<20, 10)
	m := c.paths["memory"]
	if err := writeFile(filepath.Join(m, "memory.limit_in_bytes"), mem); err != nil {
		return err
	}
	// memsw (memory+swap) equal to the limit means no swap; the file exists
	// only with swap accounting. swappiness 0 is the fallback.
	if err := writeFile(filepath.Join(m, "memory.memsw.limit_in_bytes"), mem); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	_ = writeFile(filepath.Join(m, "memory.swappiness"), "0")
	return nil
}

func (c *cgroupV1) weighCPU(cpuMB int) error {
	d, ok := c.paths["cpu"]
	if !ok {
		return nil
	}
	return writeFile(filepath.Join(d, "cpu.shares"), strconv.Itoa(max(2, cpuWeight(cpuMB, 1024))))
}

// cpuPeriod is the CFS period of the CPU quota (the kernel's default).
const cpuPeriod = 100_000 // µs

// cpuQuota is the CPU time per period of a function of memoryMB (at least
// 1 ms, the kernel's minimum).
func cpuQuota(memoryMB int) int {
	return max(1000, memoryMB*cpuPeriod/1769)
}

func (c *cgroupV1) limitCPU(cpuMB int) error {
	d, ok := c.paths["cpu"]
	if !ok {
		return errors.New("no cpu controller")
	}
	if err := writeFile(filepath.Join(d, "cpu.cfs_period_us"), strconv.Itoa(cpuPeriod)); err != nil {
		return err
	}
	return writeFile(filepath.Join(d, "cpu.cfs_quota_us"), strconv.Itoa(cpuQuota(cpuMB)))
}

func (c *cgroupV1) rename(id string) error {
	renamed := map[string]string{}
	for _, d := range c.dirs() {
		to := filepath.Join(filepath.Dir(d), id)
		if err := os.Rename(d, to); err != nil {
			for from, back := range renamed { // all or nothing
				_ = os.Rename(from, back)
			}
			return err
		}
		renamed[to] = d
	}
	for ctl, d := range c.paths {
		c.paths[ctl] = filepath.Join(filepath.Dir(d), id)
	}
	return nil
}

func (c *cgroupV1) add(pid int) error {
	for _, d := range c.dirs() {
		if err := writeFile(filepath.Join(d, "cgroup.procs"), strconv.Itoa(pid)); err != nil {
			return err
		}
	}
	return nil
}

func (c *cgroupV1) oomKills() (uint64, error) {
	return readKey(filepath.Join(c.paths["memory"], "memory.oom_control"), "oom_kill")
}

func (c *cgroupV1) memoryPeak() (uint64, error) {
	return c.peak.read(filepath.Join(c.paths["memory"], "memory.max_usage_in_bytes"))
}

func (c *cgroupV1) kill() error {
	// Frozen tasks cannot act on SIGKILL until thawed (v1 freezer).
	if d, ok := c.paths["freezer"]; ok {
		_ = writeFile(filepath.Join(d, "freezer.state"), "THAWED")
	}
	return killAll(filepath.Join(c.paths["memory"], "cgroup.procs"))
}

func (c *cgroupV1) freeze(frozen bool) error {
	d, ok := c.paths["freezer"]
	if !ok {
		return errNoFreezer
	}
	state, want := "THAWED", "THAWED"
	if frozen {
		state, want = "FROZEN", "FROZEN"
	}
	f := filepath.Join(d, "freezer.state")
	if err := writeFile(f, state); err != nil {
		return err
	}
	// FREEZING turns into FROZEN once every task has stopped.
	return waitState(func() (bool, error) {
		b, err := os.ReadFile(f)
		return strings.TrimSpace(string(b)) == want, err
	})
}

func (c *cgroupV1) remove() error {
	c.peak.close()
	var first error
	for _, d := range c.dirs() {
		if err := rmdirRetry(d); err != nil && first == nil {
			first = err
		}
	}
	return first
}

type cgroupV2 struct {
	path string
	peak peakFile
}

func (c *cgroupV2) create() error {
	if err := os.Mkdir(c.path, 0o755); err != nil {
		return err
	}
	return writeFile(filepath.Join(c.path, "pids.max"), strconv.Itoa(PidsMax))
}

func (c *cgroupV2) setLimits(memoryMB int) error {
	if memoryMB <= 0 {
		return nil // no memory limit asked for
	}
	for _, kv := range []struct {
		file, value string
		required    bool
	}{
		{"memory.max", strconv.FormatUint(uint64(memoryMB)<<20, 10), true},
		{"memory.swap.max", "0", false},
		// Kill the whole environment on OOM, as Lambda does.
		{"memory.oom.group", "1", false},
	} {
		if err := writeFile(filepath.Join(c.path, kv.file), kv.value); err != nil && kv.required {
			return err
		}
	}
	return nil
}

func (c *cgroupV2) weighCPU(cpuMB int) error {
	err := writeFile(filepath.Join(c.path, "cpu.weight"), strconv.Itoa(min(10000, cpuWeight(cpuMB, 100))))
	if errors.Is(err, fs.ErrNotExist) {
		return nil // no cpu controller delegated here
	}
	return err
}

func (c *cgroupV2) limitCPU(cpuMB int) error {
	return writeFile(filepath.Join(c.path, "cpu.max"), strconv.Itoa(cpuQuota(cpuMB))+" "+strconv.Itoa(cpuPeriod))
}

func (c *cgroupV2) rename(id string) error {
	to := filepath.Join(filepath.Dir(c.path), id)
	if err := os.Rename(c.path, to); err != nil {
		return err
	}
	c.path = to
	return nil
}

func (c *cgroupV2) add(pid int) error {
	return writeFile(filepath.Join(c.path, "cgroup.procs"), strconv.Itoa(pid))
}

func (c *cgroupV2) oomKills() (uint64, error) {
	return readKey(filepath.Join(c.path, "memory.events"), "oom_kill")
}

func (c *cgroupV2) memoryPeak() (uint64, error) {
	return c.peak.read(filepath.Join(c.path, "memory.peak")) // Linux 5.19+
}

func (c *cgroupV2) kill() error {
	// cgroup.kill (Linux 5.14+) kills atomically, forks included.
	if err := writeFile(filepath.Join(c.path, "cgroup.kill"), "1"); err == nil {
		return nil
	}
	return killAll(filepath.Join(c.path, "cgroup.procs"))
}

func (c *cgroupV2) freeze(frozen bool) error {
	v, want := "0", "frozen 0"
	if frozen {
		v, want = "1", "frozen 1"
	}
	if err := writeFile(filepath.Join(c.path, "cgroup.freeze"), v); err != nil {
		return err
	}
	return waitState(func() (bool, error) {
		b, err := os.ReadFile(filepath.Join(c.path, "cgroup.events"))
		return strings.Contains(string(b), want), err
	})
}

func (c *cgroupV2) remove() error {
	c.peak.close()
	return rmdirRetry(c.path)
}

func (c *cgroupV2) dirs() []string { return []string{c.path} }

// waitState polls done until it reports true: a freezer settles within
// milliseconds (every task must reach the refrigerator), so a short
// back-off with a bound is enough.
func waitState(done func() (bool, error)) error {
	delay := 100 * time.Microsecond
	for range 60 {
		ok, err := done()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		time.Sleep(delay)
		delay = min(2*delay, 20*time.Millisecond)
	}
	return errors.New("cgroup freezer did not settle")
}

// killAll SIGKILLs the processes listed in procsFile until it is empty (a
// process may fork between reading and killing), giving up after a bound.
func killAll(procsFile string) error {
	for range 100 {
		b, err := os.ReadFile(procsFile)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		pids := strings.Fields(string(b))
		if len(pids) == 0 {
			return nil
		}
		for _, s := range pids {
			if pid, err := strconv.Atoi(s); err == nil && pid > 0 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(time.Millisecond) // let the killed processes leave the cgroup
	}
	return errors.New("cgroup processes survived SIGKILL")
}

// rmdirRetry removes a cgroup dir, retrying while killed processes are
// still on their way out (EBUSY).
func rmdirRetry(dir string) error {
	delay := 500 * time.Microsecond
	for i := 0; ; i++ {
		err := syscall.Rmdir(dir)
		if err == nil || errors.Is(err, syscall.ENOENT) {
			return nil
		}
		if !errors.Is(err, syscall.EBUSY) || i >= 40 {
			return fmt.Errorf("remove cgroup %s: %w", dir, err)
		}
		time.Sleep(delay)
		delay = min(2*delay, 50*time.Millisecond)
	}
}

// peakFile keeps the memory peak file open: the pool reads it after every
// invocation, and one pread is cheaper than open, read and close.
type peakFile struct {
	mu     sync.Mutex
	f      *os.File // guarded by mu
	closed bool     // guarded by mu
	buf    [32]byte // guarded by mu
}

func (p *peakFile) read(path string) (uint64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, fs.ErrClosed
	}
	if p.f == nil {
		f, err := os.Open(path)
		if err != nil {
			return 0, err
		}
		p.f = f
	}
	n, err := p.f.ReadAt(p.buf[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(string(p.buf[:n])), 10, 64)
}

func (p *peakFile) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	if p.f != nil {
		_ = p.f.Close()
		p.f = nil
	}
}

func writeFile(path, value string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(value)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// readKey reads "key value" from a flat-keyed cgroup file.
func readKey(path, key string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key+" "); ok {
			return strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, fmt.Errorf("%s: no %s", path, key)
}

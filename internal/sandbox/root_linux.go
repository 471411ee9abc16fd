package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// The environment's root filesystem (hardened mode), built by init in its
// new mount namespace and entered with pivot_root:
//
//	/                 tmpfs, read-only once built
//	/usr /lib* /bin   the host's, read-only, nosuid, nodev (symlinks kept)
//	/etc              a few host files (resolv.conf, hosts, ssl certs, ...)
//	                  plus passwd and group naming the sandbox user
//	/var/task         the function's code, read-only
//	/var/runtime      the runtime clients, read-only
//	/opt              the layers directory (or empty), read-only
//	/tmp              tmpfs of the ephemeral storage size, nosuid, nodev
//	/dev              tmpfs with null zero full random urandom tty bound
//	                  from the host, shm (small tmpfs), fd/std* symlinks
//	/proc             this pid namespace's proc, hidepid=invisible, the
//	                  paths runc masks masked, /proc/sys read-only
//	(no /sys, /run, /home, /root, data directory or other functions' code)
//
// Every source is opened (O_PATH) before anything is mounted, so a source
// the new root would hide stays reachable, and every mount point is
// created and opened inside the new root with openat2(RESOLVE_BENEATH |
// RESOLVE_NO_SYMLINKS), so no path component can lead outside it.

// hostSystemDirs are the host directories every runtime needs (binaries
// and shared libraries), bound read-only at the same path; symlinks among
// them (merged /usr) are recreated as symlinks.
var hostSystemDirs = []string{"/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32"}

// hostEtc are the /etc entries runtimes read (name resolution, TLS roots,
// the dynamic loader's cache, time zones, MIME types). Files are copied,
// directories bound read-only.
var hostEtc = []string{
	"resolv.conf", "hosts", "nsswitch.conf", "host.conf", "gai.conf", "services", "protocols",
	"networks", "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "timezone", "mime.types",
	"ssl", "pki", "ca-certificates", "ca-certificates.conf", "crypto-policies", "alternatives",
	"os-release", "debian_version", "mailcap",
}

// maskedProc are hidden as runc hides them (/dev/null over files, an empty
// read-only tmpfs over directories); readOnlyProc are made read-only.
var (
	maskedProc = []string{
		"acpi", "asound", "interrupts", "kcore", "keys", "latency_stats", "timer_list",
		"timer_stats", "sched_debug", "scsi", "sysrq-trigger", "kallsyms", "kmsg", "config.gz",
	}
	readOnlyProc = []string{"bus", "fs", "irq", "sys"}
)

// devices are bound from the host's /dev.
var devices = []string{"null", "zero", "full", "random", "urandom", "tty"}

// rootSource is something bound into the new root.
type rootSource struct {
	dst     string // absolute path inside
	fd      int    // O_PATH fd of the source; -1 for a symlink
	dir     bool
	link    string // symlink target (fd == -1)
	content []byte // a copied file (fd == -1, link == "")
}

// buildRoot builds the environment's root filesystem in a fresh tmpfs and
// pivots into it. It runs in init, in the new mount namespace, before any
// function code.
func buildRoot(cfg *initConfig) error {
	r, err := prepareRoot()
	if err != nil {
		return err
	}
	return r.finish(cfg)
}

// newRoot is where the root is built: a small tmpfs over the namespace's
// own /tmp (private to this namespace; the host's /tmp is untouched).
const newRoot = "/tmp"

// preparedRoot is the part of an environment's root that no function
// configures, which init builds before it receives its configuration (so
// a spare init has it built before its claim): the host's system
// directories and /etc files, /dev, /proc and the /node_modules link.
// finish adds the rest and pivots into it.
type preparedRoot struct {
	root   int // O_PATH fd of newRoot
	hidden int // O_PATH fd of the directory newRoot covers (hostPath)
}

// hostPath is how finish reaches the host's path p: through hidden when
// the new root covers it (a data directory under /tmp).
func (r *preparedRoot) hostPath(p string) string {
	if rest, ok := strings.CutPrefix(p, newRoot); ok && (rest == "" || rest[0] == '/') {
		return fdPath(r.hidden) + rest
	}
	return p
}

const roFlags = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV

// prepareRoot builds the function-independent part of the root.
func prepareRoot() (_ *preparedRoot, err error) {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return nil, stage("make mounts private", err)
	}
	var srcs rootSources
	defer srcs.close()
	for _, d := range hostSystemDirs {
		if err := srcs.add(d, d, true); err != nil {
			return nil, err
		}
	}
	for _, e := range hostEtc {
		if err := srcs.add("/etc/"+e, "/etc/"+e, true); err != nil {
			return nil, err
		}
	}
	// ES module imports do not read NODE_PATH: they look for node_modules
	// in the directories above the importing file (/var/task/node_modules,
	// /var/node_modules, /node_modules). This link lets an unbundled
	// import of the runtime's AWS SDK (/var/runtime/node_modules) resolve
	// after the function's own copy, as on Lambda.
	srcs.list = append(srcs.list, rootSource{dst: "/node_modules", fd: -1, link: RuntimeDir + "/node_modules"})
	devFDs := map[string]int{}
	defer func() {
		for _, fd := range devFDs {
			_ = unix.Close(fd)
		}
	}()
	for _, d := range devices {
		fd, err := unix.Open("/dev/"+d, unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			if d == "tty" {
				continue // optional
			}
			return nil, stage("open /dev/"+d, err)
		}
		devFDs[d] = fd
	}

	hidden, err := unix.Open(newRoot, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, stage("open "+newRoot, err)
	}
	if err := unix.Mount("tmpfs", newRoot, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=755,size=4m,nr_inodes=4096"); err != nil {
		_ = unix.Close(hidden)
		return nil, stage("mount root tmpfs", err)
	}
	root, err := unix.Open(newRoot, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		_ = unix.Close(hidden)
		return nil, stage("open root", err)
	}
	defer func() {
		if err != nil {
			_ = unix.Close(root)
			_ = unix.Close(hidden)
		}
	}()
	if err := srcs.place(root); err != nil {
		return nil, err
	}
	// /dev: a tmpfs holding the few devices a runtime uses.
	if err := mountInto(root, "/dev", "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, "mode=755,size=64k,nr_inodes=64"); err != nil {
		return nil, stage("mount /dev", err)
	}
	for _, d := range devices {
		fd, ok := devFDs[d]
		if !ok {
			continue
		}
		if err := bindInto(root, fd, "/dev/"+d, false, unix.MS_NOSUID|unix.MS_NOEXEC); err != nil {
			return nil, stage("bind /dev/"+d, err)
		}
	}
	for name, target := range map[string]string{
		"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1",
		"stderr": "/proc/self/fd/2", "ptmx": "pts/ptmx",
	} {
		if err := symlinkInto(root, target, "/dev/"+name); err != nil {
			return nil, stage("link /dev/"+name, err)
		}
	}
	if err := mountInto(root, "/dev/shm", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=1777,size=64m"); err != nil {
		return nil, stage("mount /dev/shm", err)
	}
	// /proc is mounted while the host's /proc is still in this mount
	// namespace: in a user namespace the kernel allows a new proc mount
	// only next to a fully visible one (mnt_too_revealing).
	if err := mkdirInto(root, "/proc"); err != nil {
		return nil, stage("mkdir /proc", err)
	}
	if err := mountProc(newRoot + "/proc"); err != nil {
		return nil, err
	}
	return &preparedRoot{root: root, hidden: hidden}, nil
}

// finish adds what the function's configuration decides (the runtime's
// host paths, the code, the runtime files, the layers, the identity and
// /tmp of its size), pivots into the root and makes it read-only.
func (r *preparedRoot) finish(cfg *initConfig) error {
	root := r.root
	defer unix.Close(root)     //nolint:errcheck // O_PATH
	defer unix.Close(r.hidden) //nolint:errcheck // O_PATH
	var srcs rootSources
	defer srcs.close()
	for _, p := range cfg.HostPaths {
		if covered(p, hostSystemDirs) {
			continue
		}
		if err := srcs.add(p, r.hostPath(p), false); err != nil {
			return err
		}
	}
	if err := srcs.add(TaskRoot, r.hostPath(cfg.CodeDir), false); err != nil {
		return err
	}
	if err := srcs.add(RuntimeDir, r.hostPath(cfg.RuntimeDir), false); err != nil {
		return err
	}
	if cfg.OptDir != "" {
		if err := srcs.add("/opt", r.hostPath(cfg.OptDir), false); err != nil {
			return err
		}
	}
	if err := srcs.place(root); err != nil {
		return err
	}
	if cfg.OptDir == "" {
		// Lambda's /opt exists without layers too (empty, read-only).
		if err := mkdirInto(root, "/opt"); err != nil {
			return stage("mkdir /opt", err)
		}
	}
	if err := writeIdentity(root, cfg.UID, cfg.GID); err != nil {
		return stage("write /etc/passwd", err)
	}

	// /tmp: the function's only writable place.
	size := tmpMB(cfg.TmpMB)
	if err := mountInto(root, "/tmp", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV,
		"mode=1777,size="+strconv.Itoa(size)+"m"); err != nil {
		return stage("mount /tmp", err)
	}

	// Enter it. pivot_root(".", ".") stacks the old root under the new
	// one; detaching it leaves no path back to the host's filesystem.
	if err := unix.Fchdir(root); err != nil {
		return stage("chdir root", err)
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return stage("pivot_root", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return stage("detach old root", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return stage("chdir /", err)
	}
	// Nothing more is written to the root.
	if err := unix.Mount("", "/", "", unix.MS_BIND|unix.MS_REMOUNT|roFlags, ""); err != nil {
		return stage("make root read-only", err)
	}
	return nil
}

// rootSources are what a root shows from the host, opened (O_PATH)
// before anything is mounted.
type rootSources struct {
	list []rootSource
}

func (rs *rootSources) close() {
	for _, s := range rs.list {
		if s.fd >= 0 {
			_ = unix.Close(s.fd)
		}
	}
}

// place binds, links or writes every source below root.
func (rs *rootSources) place(root int) error {
	for _, s := range rs.list {
		switch {
		case s.fd >= 0:
			if err := bindInto(root, s.fd, s.dst, s.dir, roFlags); err != nil {
				return stage("bind "+s.dst, err)
			}
		case s.link != "":
			if err := symlinkInto(root, s.link, s.dst); err != nil {
				return stage("link "+s.dst, err)
			}
		default:
			if err := writeInto(root, s.dst, s.content, 0o644); err != nil {
				return stage("write "+s.dst, err)
			}
		}
	}
	return nil
}

// add opens src to show at dst. A missing optional source is skipped; an
// optional symlink outside /etc (merged /usr: /lib -> usr/lib) is kept as
// one; an /etc file is copied (resolv.conf often points into /run).
func (rs *rootSources) add(dst, src string, optional bool) error {
	fi, err := os.Lstat(src)
	if err != nil {
		if optional && errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return stage("open "+src, err)
	}
	if fi.Mode()&os.ModeSymlink != 0 && optional {
		target, err := os.Readlink(src)
		if err != nil {
			return stage("read link "+src, err)
		}
		if !strings.HasPrefix(dst, "/etc/") {
			rs.list = append(rs.list, rootSource{dst: dst, fd: -1, link: target})
			return nil
		}
		if fi, err = os.Stat(src); err != nil {
			return nil // dangling: as good as absent
		}
	}
	if fi.Mode().IsRegular() && strings.HasPrefix(dst, "/etc/") {
		b, err := os.ReadFile(src) // #nosec G304 -- one of hostEtc
		if err != nil {
			return stage("read "+src, err)
		}
		if dst == "/etc/resolv.conf" {
			b = egressResolvConf(b)
		}
		if dst == "/etc/hosts" {
			// Lambda's name for the environment's own address, where
			// Telemetry API subscribers listen.
			b = append(append([]byte(nil), b...), "\n127.0.0.1\tsandbox.localdomain sandbox\n"...)
		}
		rs.list = append(rs.list, rootSource{dst: dst, fd: -1, content: b})
		return nil
	}
	fd, err := unix.Open(src, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return stage("open "+src, err)
	}
	rs.list = append(rs.list, rootSource{dst: dst, fd: fd, dir: fi.IsDir()})
	return nil
}

// covered reports whether p is one of dirs or below one.
func covered(p string, dirs []string) bool {
	for _, d := range dirs {
		if p == d || strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

// openBeneath creates (when missing) and opens rel below root without
// following any symlink: the mount point of one mount.
func openBeneath(root int, rel string, dir bool) (int, error) {
	parts := strings.Split(strings.Trim(rel, "/"), "/")
	cur := root
	closeCur := func() {
		if cur != root {
			_ = unix.Close(cur)
		}
	}
	defer closeCur()
	for i, p := range parts {
		last := i == len(parts)-1
		if p == "" || p == "." || p == ".." {
			return -1, fmt.Errorf("bad path %q", rel)
		}
		switch {
		case !last || dir:
			if err := unix.Mkdirat(cur, p, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
				return -1, err
			}
		default:
			fd, err := unix.Openat(cur, p, unix.O_CREAT|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
			if err != nil {
				return -1, err
			}
			_ = unix.Close(fd)
		}
		flags := uint64(unix.O_PATH | unix.O_CLOEXEC)
		if !last || dir {
			flags |= unix.O_DIRECTORY
		}
		next, err := unix.Openat2(cur, p, &unix.OpenHow{
			Flags:   flags,
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
		})
		if errors.Is(err, unix.ENOSYS) { // before Linux 5.6
			next, err = unix.Openat(cur, p, int(flags)|unix.O_NOFOLLOW, 0)
		}
		if err != nil {
			return -1, err
		}
		closeCur()
		cur = next
	}
	fd := cur
	cur = root // keep it open for the caller
	return fd, nil
}

// bindInto binds the source fd onto dst below root and remounts the bind
// with flags (MS_RDONLY, MS_NOSUID, ...).
func bindInto(root, src int, dst string, dir bool, flags uintptr) error {
	t, err := openBeneath(root, dst, dir)
	if err != nil {
		return err
	}
	defer unix.Close(t) //nolint:errcheck // O_PATH
	if err := unix.Mount(fdPath(src), fdPath(t), "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	// The remount applies to the new mount, which now covers the O_PATH
	// fd's path; address it by its path below the (not yet pivoted) root.
	return remountBind(root, dst, flags)
}

// remountBind sets flags on the mount at dst below root (which exists).
func remountBind(root int, dst string, flags uintptr) error {
	t, err := unix.Openat2(root, strings.TrimPrefix(dst, "/"), &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if errors.Is(err, unix.ENOSYS) { // before Linux 5.6
		t, err = unix.Openat(root, strings.TrimPrefix(dst, "/"), unix.O_PATH|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	}
	if err != nil {
		return err
	}
	defer unix.Close(t) //nolint:errcheck // O_PATH
	err = unix.Mount("", fdPath(t), "", unix.MS_BIND|unix.MS_REMOUNT|flags, "")
	if errors.Is(err, unix.EPERM) {
		// In a user namespace the host mount's locked flags (nodev,
		// noexec, ...) cannot be cleared: keep them, add ours.
		var st unix.Statfs_t
		if unix.Fstatfs(t, &st) == nil {
			err = unix.Mount("", fdPath(t), "", unix.MS_BIND|unix.MS_REMOUNT|flags|mountFlags(st.Flags), "")
		}
	}
	return err
}

// mountFlags maps statfs flags (ST_*) to the mount flags to keep.
func mountFlags(st int64) uintptr {
	var f uintptr
	for _, m := range []struct {
		st int64
		ms uintptr
	}{
		{unix.ST_RDONLY, unix.MS_RDONLY}, {unix.ST_NOSUID, unix.MS_NOSUID}, {unix.ST_NODEV, unix.MS_NODEV},
		{unix.ST_NOEXEC, unix.MS_NOEXEC}, {unix.ST_NOATIME, unix.MS_NOATIME}, {unix.ST_NODIRATIME, unix.MS_NODIRATIME},
		{unix.ST_RELATIME, unix.MS_RELATIME},
	} {
		if st&m.st != 0 {
			f |= m.ms
		}
	}
	return f
}

// mountInto mounts a new filesystem at dst below root.
func mountInto(root int, dst, fstype string, flags uintptr, data string) error {
	t, err := openBeneath(root, dst, true)
	if err != nil {
		return err
	}
	defer unix.Close(t) //nolint:errcheck // O_PATH
	return unix.Mount(fstype, fdPath(t), fstype, flags, data)
}

func mkdirInto(root int, dst string) error {
	t, err := openBeneath(root, dst, true)
	if err != nil {
		return err
	}
	return unix.Close(t)
}

func symlinkInto(root int, target, dst string) error {
	dir, name := filepath.Split(dst)
	d := root
	if strings.Trim(dir, "/") != "" {
		var err error
		if d, err = openBeneath(root, dir, true); err != nil {
			return err
		}
		defer unix.Close(d) //nolint:errcheck // O_PATH
	}
	return unix.Symlinkat(target, d, name)
}

func writeInto(root int, dst string, content []byte, perm uint32) error {
	dir, name := filepath.Split(dst)
	d, err := openBeneath(root, dir, true)
	if err != nil {
		return err
	}
	defer unix.Close(d) //nolint:errcheck // O_PATH
	fd, err := unix.Openat(d, name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, perm)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), name)
	_, err = f.Write(content)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// writeIdentity writes /etc/passwd and /etc/group naming the sandbox user
// (Lambda's functions run as sbx_user1051).
func writeIdentity(root, uid, gid int) error {
	u, g := strconv.Itoa(uid), strconv.Itoa(gid)
	passwd := "root:x:0:0:root:/root:/sbin/nologin\n" // #nosec G101 -- a passwd file, no secret
	group := "root:x:0:\n"
	if uid != 0 {
		passwd += "sbx_user1051:x:" + u + ":" + g + "::/tmp:/sbin/nologin\n"
		group += "sbx_user1051:x:" + g + ":\n"
	}
	if err := writeInto(root, "/etc/passwd", []byte(passwd), 0o644); err != nil {
		return err
	}
	return writeInto(root, "/etc/group", []byte(group), 0o644)
}

// mountProc mounts this pid namespace's proc at dir (other users'
// processes invisible where the kernel supports hidepid) and masks what
// runc masks.
func mountProc(dir string) error {
	const flags = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	var err error
	for _, opts := range []string{"hidepid=invisible", "hidepid=2", ""} {
		if err = unix.Mount("proc", dir, "proc", flags, opts); err == nil {
			break
		}
	}
	if err != nil {
		return stage("mount /proc", err)
	}
	for _, p := range maskedProc {
		path := dir + "/" + p
		fi, err := os.Lstat(path)
		if err != nil {
			continue
		}
		if fi.IsDir() {
			err = unix.Mount("tmpfs", path, "tmpfs", unix.MS_RDONLY|flags, "size=0")
		} else {
			err = unix.Mount("/dev/null", path, "", unix.MS_BIND, "")
		}
		if err != nil {
			return stage("mask "+path, err)
		}
	}
	for _, p := range readOnlyProc {
		path := dir + "/" + p
		if _, err := os.Lstat(path); err != nil {
			continue
		}
		if err := unix.Mount(path, path, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return stage("bind "+path, err)
		}
		if err := unix.Mount("", path, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|flags, ""); err != nil {
			return stage("make "+path+" read-only", err)
		}
	}
	return nil
}

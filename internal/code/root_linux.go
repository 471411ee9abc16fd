package code

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ExtractUID is the file-system uid and gid that a server running as root
// extracts packages as: the overflow id ("nobody"), which owns nothing
// beneath the extraction root. The tree is handed back to root afterwards.
const ExtractUID = 65534

// resolveBeneath makes the kernel refuse any path that leaves the
// directory or passes through a symbolic link (magic links included).
const resolveBeneath = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS

// beneathDirFlags open a directory for lookups only.
const beneathDirFlags = unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC

// forceWalk makes tests use the O_NOFOLLOW walk instead of openat2.
var forceWalk bool

func openBeneath(dirfd int, rel string, flags int, perm uint32) (int, error) {
	return unix.Openat2(dirfd, rel, &unix.OpenHow{Flags: uint64(flags), Mode: uint64(perm), Resolve: resolveBeneath}) // #nosec G115 -- flags are ours
}

// probeBeneath reports whether openat2 works (Linux 5.6 and later, and not
// refused by a seccomp filter such as older container runtimes install).
func probeBeneath(fd int) bool {
	if forceWalk {
		return false
	}
	t, err := openBeneath(fd, ".", beneathDirFlags, 0)
	if err != nil {
		return false
	}
	_ = unix.Close(t)
	return true
}

// unprivileged runs fn, which writes beneath r, and returns its error.
// When the process is root, fn runs on a locked thread whose file-system
// uid and gid are ExtractUID and which has no supplementary groups, so the
// kernel drops its file capabilities: it can write only beneath r, which is
// chowned to ExtractUID for the purpose and handed back to root (with
// everything fn created) once fn returns.
//
// The thread's credentials are restored before it is unlocked. It must not
// simply exit with its goroutine: a child started with Pdeathsig (the
// sandbox's inits) is killed when the thread that forked it exits, and
// that may have been this thread, before it was locked here.
func (r *root) unprivileged(fn func() error) error {
	if os.Geteuid() != 0 {
		return fn()
	}
	if err := unix.Fchown(r.fd, ExtractUID, ExtractUID); err != nil {
		// A user namespace without that id mapped, or a file system that
		// cannot chown: the kernel's confinement of paths still holds.
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		restore, err := dropThreadCredentials()
		if err == nil {
			err = fn()
		}
		if restore() == nil {
			runtime.UnlockOSThread()
		} // else the thread stays locked and dies with this goroutine
		errc <- err
	}()
	err := <-errc
	if cerr := r.chownBack(); err == nil {
		err = cerr
	}
	return err
}

// dropThreadCredentials sets the calling thread's (only its) supplementary
// groups, fsgid and fsuid, checks that they took, and returns the function
// that puts back what the thread had (to be called in every case).
func dropThreadCredentials() (restore func() error, err error) {
	// setgroups(2) and setfs[ug]id(2) are per thread in the kernel; Go's
	// syscall.Setgroups would change every thread of the process. Groups
	// are dropped only where gid_t lists are the plain setgroups call's
	// (64-bit platforms).
	dropGroups := unsafe.Sizeof(uintptr(0)) == 8
	groups, gerr := unix.Getgroups()
	if gerr != nil {
		dropGroups = false
	}
	prevGID, prevUID := -1, -1
	restore = func() error {
		if prevUID >= 0 {
			if _, err := unix.SetfsuidRetUid(prevUID); err != nil {
				return err
			}
			if cur, _ := unix.SetfsuidRetUid(prevUID); cur != prevUID {
				return errors.New("fsuid not restored")
			}
		}
		if prevGID >= 0 {
			if _, err := unix.SetfsgidRetGid(prevGID); err != nil {
				return err
			}
			if cur, _ := unix.SetfsgidRetGid(prevGID); cur != prevGID {
				return errors.New("fsgid not restored")
			}
		}
		if dropGroups {
			return setThreadGroups(groups)
		}
		return nil
	}
	if dropGroups {
		if err := setThreadGroups(nil); err != nil {
			dropGroups = false
			return restore, fmt.Errorf("extract code: drop groups: %w", err)
		}
	}
	if prevGID, err = unix.SetfsgidRetGid(ExtractUID); err != nil {
		prevGID = -1
		return restore, fmt.Errorf("extract code: setfsgid: %w", err)
	}
	if prevUID, err = unix.SetfsuidRetUid(ExtractUID); err != nil {
		prevUID = -1
		return restore, fmt.Errorf("extract code: setfsuid: %w", err)
	}
	// Setting again returns the current value: check both took.
	gid, _ := unix.SetfsgidRetGid(ExtractUID)
	uid, _ := unix.SetfsuidRetUid(ExtractUID)
	if uid != ExtractUID || gid != ExtractUID {
		return restore, errors.New("extract code: file-system ids did not change")
	}
	return restore, nil
}

// setThreadGroups sets the calling thread's supplementary groups.
func setThreadGroups(gids []int) error {
	list := make([]uint32, len(gids))
	for i, g := range gids {
		list[i] = uint32(g) // #nosec G115 -- gids come from getgroups
	}
	var p unsafe.Pointer
	if len(list) > 0 {
		p = unsafe.Pointer(&list[0]) // #nosec G103 -- the kernel reads len(list) gid_t values
	}
	if _, _, errno := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(list)), uintptr(p), 0); errno != 0 {
		return errno
	}
	return nil
}

// chownBack gives the tree under r to root, without following links. Only
// root and the extracting thread could reach the tree (it is created in a
// directory of root's), and that thread is done, so no component can have
// become a link.
func (r *root) chownBack() error {
	var walk func(dirfd int, rel string) error
	walk = func(dirfd int, rel string) error {
		f := os.NewFile(uintptr(dirfd), r.dir+"/"+rel) // #nosec G115 -- a descriptor is small
		defer f.Close()                                //nolint:errcheck // a directory opened for reading
		names, err := f.Readdirnames(-1)
		if err != nil {
			return err
		}
		for _, n := range names {
			if err := unix.Fchownat(dirfd, n, 0, 0, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				return fmt.Errorf("chown %s/%s: %w", rel, n, err)
			}
			var st unix.Stat_t
			if err := unix.Fstatat(dirfd, n, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				return err
			}
			if st.Mode&unix.S_IFMT != unix.S_IFDIR {
				continue
			}
			sub, err := unix.Openat(dirfd, n, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				return err
			}
			if err := walk(sub, rel+"/"+n); err != nil {
				return err
			}
		}
		return nil
	}
	fd, err := unix.Dup(r.fd)
	if err != nil {
		return err
	}
	if err := walk(fd, "."); err != nil {
		return fmt.Errorf("extract code: give the tree to root: %w", err)
	}
	if err := unix.Fchown(r.fd, 0, 0); err != nil {
		return fmt.Errorf("extract code: give the tree to root: %w", err)
	}
	return nil
}

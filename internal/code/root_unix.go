//go:build unix

package code

import (
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// root is a directory that extraction writes beneath, by descriptor. Every
// name given to its methods is a clean relative path from planLayout.
type root struct {
	dir string
	fd  int
	// beneath is set when openat2 with RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS
	// works here; otherwise paths are walked one component at a time with
	// O_NOFOLLOW, which refuses links as surely, in more system calls.
	beneath bool
}

func openRoot(dir string) (*root, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	r := &root{dir: dir, fd: fd}
	r.beneath = probeBeneath(fd)
	return r, nil
}

func (r *root) close() { _ = unix.Close(r.fd) }

// openDir opens the directory rel ("" for the root itself), refusing to
// resolve any symbolic link on the way.
func (r *root) openDir(rel string) (int, error) {
	if rel == "" {
		return unix.Dup(r.fd)
	}
	if r.beneath {
		return openBeneath(r.fd, rel, beneathDirFlags, 0)
	}
	fd, err := unix.Dup(r.fd)
	if err != nil {
		return -1, err
	}
	for _, part := range strings.Split(rel, "/") {
		next, err := unix.Openat(fd, part, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		_ = unix.Close(fd)
		if err != nil {
			return -1, err
		}
		fd = next
	}
	return fd, nil
}

// inParent runs fn with a descriptor of rel's parent directory and rel's
// last component.
func (r *root) inParent(rel string, fn func(dirfd int, base string) error) error {
	parent, base := path.Split(rel)
	fd, err := r.openDir(strings.TrimSuffix(parent, "/"))
	if err != nil {
		return &os.PathError{Op: "open", Path: parent, Err: err}
	}
	defer unix.Close(fd) //nolint:errcheck // a directory opened for lookups
	return fn(fd, base)
}

func (r *root) mkdir(rel string) error {
	return r.inParent(rel, func(dirfd int, base string) error {
		if err := unix.Mkdirat(dirfd, base, 0o755); err != nil {
			return &os.PathError{Op: "mkdir", Path: rel, Err: err}
		}
		return nil
	})
}

// create makes the regular file rel, which must not exist.
func (r *root) create(rel string, perm uint32) (*os.File, error) {
	const flags = unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW | unix.O_CLOEXEC
	var fd int
	var err error
	if r.beneath {
		fd, err = openBeneath(r.fd, rel, flags, perm)
	} else {
		err = r.inParent(rel, func(dirfd int, base string) error {
			var oerr error
			fd, oerr = unix.Openat(dirfd, base, flags, perm)
			return oerr
		})
	}
	if err != nil {
		return nil, &os.PathError{Op: "create", Path: rel, Err: err}
	}
	return os.NewFile(uintptr(fd), r.dir+"/"+rel), nil // #nosec G115 -- a descriptor is small
}

// symlink makes rel a symbolic link to target (never followed here).
func (r *root) symlink(target, rel string) error {
	return r.inParent(rel, func(dirfd int, base string) error {
		if err := unix.Symlinkat(target, dirfd, base); err != nil {
			return &os.PathError{Op: "symlink", Path: rel, Err: err}
		}
		return nil
	})
}

package sandbox

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"golang.org/x/sys/unix"
)

// deniedSyscalls are what a function never needs and a sandbox escape
// often does: mounts and the new mount API, namespaces, tracing and
// reading other processes' memory, kernel keyrings, module loading, kexec,
// BPF and perf, userfaultfd and io_uring (frequent sources of kernel
// bugs), file handles (the "shocker" escape), clocks, swap, reboot and
// accounting. They fail with EPERM.
var deniedSyscalls = []string{
	"mount", "umount2", "pivot_root", "chroot", "mount_setattr", "move_mount", "open_tree",
	"fsopen", "fsconfig", "fsmount", "fspick",
	"unshare", "setns",
	"ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
	"keyctl", "add_key", "request_key",
	"init_module", "finit_module", "delete_module",
	"kexec_load", "kexec_file_load", "reboot",
	"bpf", "perf_event_open", "userfaultfd", "lookup_dcookie",
	"io_uring_setup", "io_uring_enter", "io_uring_register",
	"open_by_handle_at", "name_to_handle_at",
	"swapon", "swapoff", "acct", "quotactl",
	"settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
	"sethostname", "setdomainname", "syslog", "vhangup", "iopl", "ioperm",
}

// namespaceFlags are the clone flags that would create namespaces.
const namespaceFlags = unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWUSER |
	unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWCGROUP

// tracingSyscalls are what a debugger needs of deniedSyscalls to run its
// child under its control: an environment with Spec.Debugger may use them.
var tracingSyscalls = map[string]bool{"ptrace": true, "process_vm_readv": true, "process_vm_writev": true}

// seccompPolicy is the environment's filter: allow by default, deny the
// list above (less tracingSyscalls when ptrace is set: Spec.Debugger),
// clone with namespace flags and AF_PACKET/AF_VSOCK sockets (raw frames,
// host sockets), and answer clone3 with ENOSYS (its flags sit in memory a
// filter cannot read, so libc falls back to clone, which the filter
// checks).
func seccompPolicy(ptrace bool) seccomp.Policy {
	errno := func(e unix.Errno) seccomp.Action {
		return seccomp.Action(unix.SECCOMP_RET_ERRNO | uint32(e)) // #nosec G115 -- small errno constants
	}
	denied := deniedSyscalls
	if ptrace {
		denied = nil
		for _, name := range deniedSyscalls {
			if !tracingSyscalls[name] {
				denied = append(denied, name)
			}
		}
	}
	return seccomp.Policy{
		DefaultAction: seccomp.ActionAllow,
		Syscalls: []seccomp.SyscallGroup{
			{Action: errno(unix.EPERM), Names: denied},
			{Action: errno(unix.ENOSYS), Names: []string{"clone3"}},
			{Action: errno(unix.EPERM), NamesWithCondtions: []seccomp.NameWithConditions{
				{Name: "clone", Conditions: seccomp.ArgumentConditions{
					{Argument: 0, Operation: seccomp.BitsSet, Value: namespaceFlags},
				}},
			}},
			{Action: errno(unix.EAFNOSUPPORT), NamesWithCondtions: []seccomp.NameWithConditions{
				{Name: "socket", Conditions: seccomp.ArgumentConditions{
					{Argument: 0, Operation: seccomp.Equal, Value: unix.AF_PACKET},
				}},
			}},
			{Action: errno(unix.EAFNOSUPPORT), NamesWithCondtions: []seccomp.NameWithConditions{
				{Name: "socket", Conditions: seccomp.ArgumentConditions{
					{Argument: 0, Operation: seccomp.Equal, Value: unix.AF_VSOCK},
				}},
			}},
		},
	}
}

// dropPrivileges runs in init just before it forks the runtime: it empties
// the capability bounding, inheritable and ambient sets (the runtime, run
// as an unprivileged uid, or as root of a user namespace, can then gain no
// capability, not even by exec), sets no_new_privs (setuid binaries and
// file capabilities do nothing) and loads the seccomp filter on every
// thread of init, which the runtime inherits (with ptrace, the filter lets
// a debugger trace: Spec.Debugger). Init keeps its own effective
// capabilities (it signals and reaps the runtime), but has done all its
// privileged work.
func dropPrivileges(ptrace bool) error {
	last, err := lastCap()
	if err != nil {
		return stage("read cap_last_cap", err)
	}
	for c := 0; c <= last; c++ {
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
			return stage("drop capability bounding set", err)
		}
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
		return stage("clear ambient capabilities", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return stage("read capabilities", err)
	}
	data[0].Inheritable, data[1].Inheritable = 0, 0
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return stage("clear inheritable capabilities", err)
	}
	if err := seccomp.LoadFilter(seccomp.Filter{
		NoNewPrivs: true,
		Flag:       seccomp.FilterFlagTSync,
		Policy:     seccompPolicy(ptrace),
	}); err != nil {
		return stage("load seccomp filter", err)
	}
	return nil
}

func lastCap() (int, error) {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("parse cap_last_cap: %w", err)
	}
	return n, nil
}

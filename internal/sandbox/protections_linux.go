package sandbox

import (
	"strconv"
	"strings"

	seccomp "github.com/elastic/go-seccomp-bpf"
)

func protections(h *host) []Protection {
	var ps []Protection
	add := func(name string, active bool, detail string) {
		ps = append(ps, Protection{Name: name, Active: active, Detail: detail})
	}
	ns := h.namespaces
	nsWhy := h.mode
	add("namespaces", ns, pick(ns, "mount, pid, ipc, uts and network namespaces per environment", nsWhy))
	if h.userns || !ns {
		add("user namespace", h.userns, pick(h.userns, "rootless: the environment's root is the server's own uid", nsWhy))
	}
	add("network", ns, pick(ns, "a network namespace per environment: the Runtime API on 127.0.0.1:9001 and the node's API on 127.0.0.1:4566; no route out unless the function's network is egress (veth, masquerade, nftables: never to the host, other environments or 169.254/16)", nsWhy))
	if h.userns {
		ps[len(ps)-1].Detail += "; rootless: an egress function shares the host's network, unfiltered"
	}
	add("minimal root", ns, pick(ns, "pivot_root into a tmpfs root: host /usr, /lib, /bin and a few /etc files read-only, /var/task and /opt read-only, a sized tmpfs /tmp, minimal /dev, private /proc with hidepid and masked paths, no /sys", nsWhy))
	add("unprivileged uid", ns && !h.userns, pick(ns && !h.userns, "a uid and gid of its own per environment (from 1800000000)",
		pick(ns, "rootless: uid 0 of the environment's user namespace", nsWhy)))
	add("capabilities", ns, pick(ns, "empty bounding, permitted, effective, inheritable and ambient sets", nsWhy))
	add("no_new_privs", ns, pick(ns, "setuid binaries and file capabilities grant nothing", nsWhy))
	sc := ns && seccomp.Supported()
	add("seccomp", sc, pick(sc, "deny list: mount, namespaces, ptrace, process_vm, bpf, perf, keyrings, modules, kexec, io_uring, userfaultfd, clocks, clone3 (ENOSYS), AF_PACKET/AF_VSOCK",
		pick(ns, "the kernel has no seccomp filter support", nsWhy)))
	cg := h.cgroups != nil
	cgWhy := nsWhy
	switch {
	case h.userns:
		cgWhy = "rootless: no cgroup of its own, so no memory, pids or CPU limits (run as root for them)"
	case ns && !cg:
		cgWhy = strings.TrimPrefix(h.mode, "namespaces ")
	}
	if cg {
		add("cgroup", true, "v"+strconv.Itoa(h.cgroups.version)+" under "+cgroupParent+"/<server pid>-<start time>/<environment>")
	} else {
		add("cgroup", false, cgWhy)
	}
	add("memory limit", cg, pick(cg, "MemorySize + /tmp size, no swap; OOM kills reported as Runtime.OutOfMemory", cgWhy))
	add("pids limit", cg, pick(cg, "pids.max "+strconv.Itoa(PidsMax)+" per environment", cgWhy))
	add("cpu", cg && h.cgroups.has("cpu"), pick(cg && h.cgroups.has("cpu"), "CPU weight proportional to memory (1,769 MB = one CPU's share); with --cpu-quota also a cap at memory/1,769 of a CPU after init", pick(cg, "no cpu controller", cgWhy)))
	fz := cg && h.cgroups.has("freezer")
	add("freezer", fz, pick(fz, "frozen environments use no CPU", "SIGSTOP to the process group instead"))
	add("rlimits", true, "RLIMIT_NOFILE 1024, RLIMIT_CORE 0"+pick(ns && !h.userns, ", RLIMIT_NPROC 1024", ""))
	exe := initExe()
	sealed := exe != "/proc/self/exe"
	add("sealed init binary", sealed, pick(sealed, "inits run a sealed memfd copy of "+pick(initFromImg, "the small init image", "nimbus")+" (CVE-2019-5736)", initExeErrText()))
	add("fd hygiene", true, "every fd but stdin, stdout and stderr closed before the runtime's exec; environment variables: the function's only")
	return ps
}

func pick(cond bool, yes, no string) string {
	if cond {
		return yes
	}
	return no
}

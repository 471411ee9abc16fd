package sandbox

import (
	"os"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// FuzzReadInit feeds arbitrary bytes, as a process in the environment
// could write them on the sync socket, to the server's reader: it never
// panics, always answers (ready delivered or closed) and ends at EOF.
func FuzzReadInit(f *testing.F) {
	for _, s := range []string{
		`{"ready":true,"pid":7}` + "\n" + `{"exit":256}` + "\n",
		`{"listeners":2}` + "\n" + `{"ready":true}` + "\n",
		`{"stage":"exec","error":"x","errno":2}` + "\n",
		`{"ready":tru`, "\n\n\n", `{"exit":-1}` + "\n", "",
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, eofReady bool) {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Skip(err)
		}
		if err := unix.SetNonblock(fds[0], true); err != nil {
			t.Fatal(err)
		}
		r := os.NewFile(uintptr(fds[0]), "parent")
		w := os.NewFile(uintptr(fds[1]), "child")
		go func() {
			_, _ = w.Write(data)
			_ = w.Close()
		}()
		ready := make(chan initMsg, 1)
		status := make(chan syscall.WaitStatus, 1)
		readInit(r, eofReady, ready, status, noEvents{})
		_ = r.Close()
		select {
		case m, ok := <-ready:
			if ok {
				closeListeners(m.lns)
			}
		default:
			t.Fatal("readInit returned without answering ready")
		}
	})
}

type noEvents struct{}

func (noEvents) addDialers(fs []*os.File) { closeFiles(fs) }
func (noEvents) extensionExited()         {}

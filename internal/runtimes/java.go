package runtimes

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// FamilyJava is the family of the java17, java21 and java25 runtimes.
const FamilyJava = "java"

// JavaClientJar is the Java runtime client under the runtime directory (see
// WriteFiles): prebuilt from javaclient/src by javaclient/build.sh, so that
// building Nimbus needs no JDK.
const JavaClientJar = "java/nimbus-java-runtime.jar"

// JDK is one Java installation found on the host.
type JDK struct {
	Home    string // JAVA_HOME: bin/java is the launcher
	Version string // e.g. "17.0.15", from the installation's release file
	Major   int    // e.g. 17
}

var (
	jdkOnce sync.Once
	hostJDK []JDK // sorted by Major, one per major version
)

// JDKs reports the Java installations this host has, one per major
// version, detected once per process: JAVA_HOME, the java in PATH, and the
// usual installation directories (/usr/lib/jvm/* on Linux,
// /Library/Java/JavaVirtualMachines/*/Contents/Home on macOS). Each is
// recognised by its release file, so detection runs no program.
func JDKs() []JDK {
	jdkOnce.Do(func() { hostJDK = findJDKs() })
	return hostJDK
}

func findJDKs() []JDK {
	var homes []string
	if h := os.Getenv("JAVA_HOME"); h != "" {
		homes = append(homes, h)
	}
	if p, err := exec.LookPath("java"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			homes = append(homes, filepath.Dir(filepath.Dir(real)))
		}
	}
	for _, pattern := range []string{"/usr/lib/jvm/*", "/Library/Java/JavaVirtualMachines/*/Contents/Home"} {
		m, _ := filepath.Glob(pattern)
		slices.Sort(m)
		homes = append(homes, m...)
	}
	byMajor := map[int]JDK{}
	for _, h := range homes {
		real, err := filepath.EvalSymlinks(h)
		if err != nil {
			continue
		}
		jdk, ok := readJDK(real)
		if !ok {
			continue
		}
		if _, seen := byMajor[jdk.Major]; !seen {
			byMajor[jdk.Major] = jdk
		}
	}
	var out []JDK
	for _, j := range byMajor {
		out = append(out, j)
	}
	slices.SortFunc(out, func(a, b JDK) int { return a.Major - b.Major })
	return out
}

// readJDK reads home/release (JAVA_VERSION="17.0.15") and checks home/bin/java.
func readJDK(home string) (JDK, bool) {
	launcher := filepath.Join(home, "bin", "java")
	if runtime.GOOS == "windows" {
		launcher += ".exe"
	}
	if fi, err := os.Stat(launcher); err != nil || fi.IsDir() { //nolint:gosec // a JDK found on this host
		return JDK{}, false
	}
	f, err := os.Open(filepath.Join(home, "release")) //nolint:gosec // a JDK's release file
	if err != nil {
		return JDK{}, false
	}
	defer f.Close() //nolint:errcheck // read only
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), "JAVA_VERSION=")
		if !ok {
			continue
		}
		v = strings.Trim(v, `"`)
		major := javaMajor(v)
		if major == 0 {
			return JDK{}, false
		}
		return JDK{Home: home, Version: v, Major: major}, true
	}
	return JDK{}, false
}

// javaMajor is 17 for "17.0.15", 21 for "21", 8 for "1.8.0_392".
func javaMajor(v string) int {
	k := versionKey(v)
	if len(k) == 0 {
		return 0
	}
	if k[0] == 1 && len(k) > 1 {
		return k[1]
	}
	return k[0]
}

// jdkFor picks the JDK that runs runtime javaN: the host's JDK N, else its
// oldest JDK newer than N (Java runs the classes of older releases).
func jdkFor(name string) (JDK, error) {
	want, err := strconv.Atoi(strings.TrimPrefix(name, FamilyJava))
	if err != nil {
		return JDK{}, fmt.Errorf("%s is not a Java runtime", name)
	}
	jdks := JDKs()
	for _, j := range jdks {
		if j.Major >= want {
			return j, nil
		}
	}
	if len(jdks) == 0 {
		return JDK{}, fmt.Errorf("%s needs a JDK %d or newer (a JRE is enough) and this host has no Java installation (install openjdk-%d-jre-headless or set JAVA_HOME)", name, want, want)
	}
	var have []string
	for _, j := range jdks {
		have = append(have, j.Version)
	}
	return JDK{}, fmt.Errorf("%s needs a JDK %d or newer and this host has only Java %s (install openjdk-%d-jre-headless or set JAVA_HOME)", name, want, strings.Join(have, ", "), want)
}

// javaCommand is AWS's java launch line, less its agents and JNI client:
// the heap is 85% of the function's memory, serial GC, C1 only, the JDK's
// class-data archive, IPv4 preferred.
func javaCommand(name, runtimeDir string, memoryMB int) []string {
	java := "java"
	if j, err := jdkFor(name); err == nil {
		java = filepath.Join(j.Home, "bin", "java")
	}
	if memoryMB <= 0 {
		memoryMB = 128
	}
	return []string{java,
		fmt.Sprintf("-XX:MaxHeapSize=%dk", memoryMB*1024*85/100),
		"-XX:+UseSerialGC",
		"-Xshare:auto",
		"-XX:+TieredCompilation",
		"-XX:TieredStopAtLevel=1",
		"-Djava.net.preferIPv4Stack=true",
		"-XX:+ErrorFileToStderr",
		"-classpath", strings.TrimSuffix(runtimeDir, "/") + "/" + JavaClientJar,
		"nimbus.runtime.Bootstrap",
	}
}

// HostPaths are host directories, besides the system directories every
// environment sees, that the runtime's interpreter reads: for Debian's
// JDKs, /etc/java-N-openjdk, where the links in their conf and lib
// directories point (jvm.cfg among them: without it java does not start).
func (r *Runtime) HostPaths() []string {
	if r.Family != FamilyJava {
		return nil
	}
	j, err := jdkFor(r.Name)
	if err != nil {
		return nil
	}
	var out []string
	for _, sub := range []string{"conf", "lib"} {
		_ = filepath.WalkDir(filepath.Join(j.Home, sub), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.Type()&fs.ModeSymlink == 0 {
				return nil //nolint:nilerr // unreadable entries are skipped
			}
			target, err := os.Readlink(p)
			if err != nil || !filepath.IsAbs(target) {
				return nil //nolint:nilerr // as above
			}
			rest, ok := strings.CutPrefix(target, "/etc/")
			if !ok {
				return nil
			}
			top := strings.SplitN(rest, "/", 2)[0]
			if strings.Contains(top, "java") || strings.Contains(top, "jdk") || strings.Contains(top, "jvm") {
				if d := "/etc/" + top; !slices.Contains(out, d) {
					out = append(out, d)
				}
			}
			return nil
		})
	}
	return out
}

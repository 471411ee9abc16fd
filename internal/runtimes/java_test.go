package runtimes

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"archive/zip"
	"bytes"
)

// The Java tests compile testdata/java with the host's javac: core/ holds
// stand-ins for aws-lambda-java-core's interfaces (same package, same
// methods), packed as lib/core.jar the way a function bundles the library;
// app/ holds the handlers, laid out at the task root as an unzipped jar.

var (
	javaTaskOnce  sync.Once
	javaTaskFiles map[string]string
	javaTaskErr   error
)

// javac is the compiler of the oldest JDK with one, or "".
func javac() string {
	for _, j := range JDKs() {
		if p := filepath.Join(j.Home, "bin", "javac"); fileExists(p) {
			return p
		}
	}
	return ""
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

// javaTask is the test function's task root, compiled once per test binary.
func javaTask(t *testing.T) map[string]string {
	t.Helper()
	jc := javac()
	if jc == "" {
		t.Skip("no JDK with javac on this host")
	}
	javaTaskOnce.Do(func() { javaTaskFiles, javaTaskErr = compileJavaTask(jc) })
	if javaTaskErr != nil {
		t.Fatal(javaTaskErr)
	}
	return javaTaskFiles
}

func compileJavaTask(jc string) (map[string]string, error) {
	dir, err := os.MkdirTemp("", "nimbus-java-test-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir) //nolint:errcheck // temp dir
	sources := func(root string) []string {
		var out []string
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(p, ".java") {
				out = append(out, p)
			}
			return nil
		})
		return out
	}
	run := func(args ...string) error {
		out, err := exec.Command(jc, args...).CombinedOutput() //nolint:gosec,noctx // the host's javac on testdata
		if err != nil {
			return fmt.Errorf("javac %v: %w\n%s", args, err, out)
		}
		return nil
	}
	core, app := filepath.Join(dir, "core"), filepath.Join(dir, "app")
	if err := run(append([]string{"--release", "17", "-d", core}, sources("testdata/java/core")...)...); err != nil {
		return nil, err
	}
	if err := run(append([]string{"--release", "17", "-g", "-cp", core, "-d", app}, sources("testdata/java/app")...)...); err != nil {
		return nil, err
	}
	files := map[string]string{}
	var jar bytes.Buffer
	zw := zip.NewWriter(&jar)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p) //nolint:gosec // our temp dir
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if name, ok := strings.CutPrefix(filepath.ToSlash(rel), "core/"); ok {
			w, err := zw.Create(name)
			if err != nil {
				return err
			}
			_, err = w.Write(b)
			return err
		}
		files[strings.TrimPrefix(filepath.ToSlash(rel), "app/")] = string(b)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	files["lib/core.jar"] = jar.String()
	return files, nil
}

// javaRuntimes are the Java runtimes this host runs.
func javaRuntimes(t *testing.T) []string {
	var out []string
	for _, r := range Supported() {
		if strings.HasPrefix(r, FamilyJava) {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		t.Skip("no JDK 17 or newer on this host")
	}
	return out
}

func javaEnv(t *testing.T, runtime, handler string, extra map[string]string) *env {
	t.Helper()
	return startEnv(t, runtime, javaTask(t), handler, extra)
}

// The jar in clients/java is built from javaclient/src by
// javaclient/build.sh; it records the digest of the sources it was built
// from, which must be today's sources.
func TestJavaClientJarIsCurrent(t *testing.T) {
	var sources []string
	err := filepath.WalkDir("javaclient/src", func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".java") {
			sources = append(sources, strings.TrimPrefix(p, "javaclient/"))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(sources)
	var list strings.Builder
	for _, s := range sources {
		b, err := os.ReadFile(filepath.Join("javaclient", s)) //nolint:gosec // repo file
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		fmt.Fprintf(&list, "%s  %s\n", hex.EncodeToString(sum[:]), s)
	}
	want := sha256.Sum256([]byte(list.String()))
	data, err := fs.ReadFile(clients, "clients/"+JavaClientJar)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	f, err := zr.Open("nimbus-java-runtime.sources.sha256")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() //nolint:errcheck // in-memory
	var got bytes.Buffer
	if _, err := got.ReadFrom(f); err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(got.String()) != hex.EncodeToString(want[:]) {
		t.Fatalf("clients/%s was built from other sources than javaclient/src: run internal/runtimes/javaclient/build.sh", JavaClientJar)
	}
}

func TestJavaHelloWorld(t *testing.T) {
	t.Parallel()
	for _, rt := range javaRuntimes(t) {
		t.Run(rt, func(t *testing.T) {
			t.Parallel()
			e := javaEnv(t, rt, "example.Greeter", nil)
			if got := e.ok(`{"name":"World"}`); got != `"Hello, World!"` {
				t.Errorf("response %s", got)
			}
			if got := e.ok(`{"name":"again"}`); got != `"Hello, again!"` {
				t.Errorf("second response %s", got)
			}
			out := e.stdout.String()
			if !strings.Contains(out, "hello from fn\n") || !strings.Contains(out, "event {name=World}\n") {
				t.Errorf("stdout lacks the function's logs:\n%s", out)
			}
		})
	}
}

func TestJavaPojoHandler(t *testing.T) {
	t.Parallel()
	rt := javaRuntimes(t)[0]
	e := javaEnv(t, rt, "example.OrderHandler", nil)
	inv := e.newInvocation(`{"id":"o-1","quantity":"3","price":2.5,"gift":true,"kind":"WHOLESALE","note":"n",
		"items":[{"sku":"a","unknown":1},{"sku":"b"}],"counts":{"extra":1},"ignored":{"x":[1,2]}}`)
	r := e.invoke(inv)
	if r.Error != nil {
		t.Fatalf("error %s %s", r.Error.ErrorType, r.Error.Body)
	}
	want := `{"orderId":"o-1-gift-WHOLESALE-n","total":8.5,"skus":["a","b"],"requestId":"` + inv.RequestID + `","remaining":1}`
	if string(r.Payload) != want {
		t.Errorf("response %s\nwant     %s", r.Payload, want)
	}
	// Input that does not fit the type is AWS's parse error.
	er := e.fail(`{"items":"not a list of items","counts":{"extra":"x"}}`)
	var body struct {
		ErrorMessage string   `json:"errorMessage"`
		ErrorType    string   `json:"errorType"`
		StackTrace   []string `json:"stackTrace"`
	}
	if err := json.Unmarshal(er.Body, &body); err != nil {
		t.Fatal(err)
	}
	if body.ErrorType != "java.lang.RuntimeException" || body.ErrorMessage != "An error occurred during JSON parsing" {
		t.Errorf("parse error %s", er.Body)
	}
}

func TestJavaMethodHandlers(t *testing.T) {
	t.Parallel()
	rt := javaRuntimes(t)[0]
	for _, tc := range []struct{ handler, in, want string }{
		{"example.Methods::upper", `"abc"`, `"ABC"`},
		{"example.Methods::twice", `21`, `42`},
		{"example.Methods::pick", `"x"`, `"long 128"`},
		{"example.Methods::stream", `{"a":1}`, `[{"a":1}]`},
		{"example.Methods::nothing", `{}`, `null`},
		{"example.Methods::integer", `{"quantity":7}`, `7`},
		{"example.Echo", `{"raw": [1, 2]}`, `{"raw": [1, 2]}`},
	} {
		t.Run(tc.handler, func(t *testing.T) {
			t.Parallel()
			if got := javaEnv(t, rt, tc.handler, nil).ok(tc.in); got != tc.want {
				t.Errorf("%s(%s) = %s, want %s", tc.handler, tc.in, got, tc.want)
			}
		})
	}
}

// JAVA_TOOL_OPTIONS reaches the JVM, and the heap is sized from the
// function's memory (128 MB in the harness) as AWS sizes it.
func TestJavaToolOptionsAndHeap(t *testing.T) {
	t.Parallel()
	rt := javaRuntimes(t)[0]
	e := javaEnv(t, rt, "example.Methods::props", map[string]string{"JAVA_TOOL_OPTIONS": "-Dnimbus.test=yes"})
	var got string
	if err := json.Unmarshal([]byte(e.ok(`{}`)), &got); err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(got)
	if len(f) != 3 || f[0] != "yes" || f[2] != "AWS_Lambda_"+rt {
		t.Fatalf("props = %q", got)
	}
	if heap, _ := strconv.Atoi(f[1]); heap < 64 || heap > 109 {
		t.Errorf("max heap %d MiB, want about 85%% of 128", heap)
	}
	if !strings.Contains(e.stderr.String(), "Picked up JAVA_TOOL_OPTIONS: -Dnimbus.test=yes") {
		t.Errorf("stderr lacks the JVM's JAVA_TOOL_OPTIONS note:\n%s", e.stderr.String())
	}
}

type javaError struct {
	ErrorMessage string   `json:"errorMessage"`
	ErrorType    *string  `json:"errorType"`
	StackTrace   []string `json:"stackTrace"`
}

func decodeJavaError(t *testing.T, body []byte) javaError {
	t.Helper()
	var je javaError
	if err := json.Unmarshal(body, &je); err != nil {
		t.Fatalf("error body %s: %v", body, err)
	}
	return je
}

func TestJavaHandlerError(t *testing.T) {
	t.Parallel()
	rt := javaRuntimes(t)[0]
	e := javaEnv(t, rt, "example.Methods::boom", nil)
	er := e.fail(`{}`)
	je := decodeJavaError(t, er.Body)
	if je.ErrorType == nil || *je.ErrorType != "java.lang.IllegalStateException" || je.ErrorMessage != "boom" {
		t.Fatalf("error %s", er.Body)
	}
	if len(je.StackTrace) < 2 || !strings.HasPrefix(je.StackTrace[0], "example.Methods.helper(Methods.java:") ||
		!strings.HasPrefix(je.StackTrace[1], "example.Methods.boom(Methods.java:") {
		t.Errorf("stackTrace %q", je.StackTrace)
	}
	for _, f := range je.StackTrace {
		if strings.HasPrefix(f, "nimbus.runtime.") {
			t.Errorf("stackTrace shows the runtime's frame %q", f)
		}
	}
	if !strings.HasPrefix(string(er.Body), `{"errorMessage":"boom","errorType":"java.lang.IllegalStateException","stackTrace":["example.Methods.helper(`) {
		t.Errorf("body %s", er.Body)
	}
	if er.ErrorType != "Runtime.UserException" {
		t.Errorf("Lambda-Runtime-Function-Error-Type %q", er.ErrorType)
	}
	if !strings.Contains(e.stdout.String(), "boom: java.lang.IllegalStateException\njava.lang.IllegalStateException: boom\n\tat example.Methods.helper(") {
		t.Errorf("stdout lacks AWS's error log:\n%s", e.stdout.String())
	}
	// The environment stays usable.
	if er := e.fail(`{}`); !strings.Contains(string(er.Body), `"boom"`) {
		t.Errorf("second error %s", er.Body)
	}
}

// Handlers AWS's runtime cannot load: some fail every invocation (the
// environment stays), others are init errors that end it.
func TestJavaBadHandlers(t *testing.T) {
	t.Parallel()
	rt := javaRuntimes(t)[0]
	for _, tc := range []struct {
		handler, errorType, message string
		init                        bool
	}{
		{"example.Missing", "java.lang.ClassNotFoundException", "Class not found: example.Missing", false},
		{"example.Missing::handle", "java.lang.ClassNotFoundException", "Class not found: example.Missing", false},
		{"example.Methods::absent", "", "No public method named absent with appropriate method signature found on class example.Methods", false},
		{"example.Broken$NotAHandler", "", "Class does not implement an appropriate handler interface: example.Broken$NotAHandler", false},
		{"example.Broken$NoCtor", "java.lang.Exception", "Class example.Broken$NoCtor has no public zero-argument constructor", false},
		{"example.Methods::", "", "Invalid handler: `example.Methods::'", false},
		{"example.Broken$StaticInit::handle", "java.lang.ExceptionInInitializerError", "Error loading class example.Broken$StaticInit", true},
		{"example.Broken$CtorThrows", "java.lang.IllegalArgumentException", "constructor failed", true},
	} {
		t.Run(tc.handler, func(t *testing.T) {
			t.Parallel()
			e := javaEnv(t, rt, tc.handler, nil)
			var body []byte
			if tc.init {
				ie, code := e.initError()
				if code != 1 {
					t.Errorf("exit code %d, want 1", code)
				}
				if ie.ErrorType != "Runtime.BadFunctionCode" {
					t.Errorf("Lambda-Runtime-Function-Error-Type %q", ie.ErrorType)
				}
				body = ie.Body
			} else {
				er := e.fail(`{}`)
				if er.ErrorType != "Runtime.BadFunctionCode" {
					t.Errorf("Lambda-Runtime-Function-Error-Type %q", er.ErrorType)
				}
				body = er.Body
				if er2 := e.fail(`{}`); !bytes.Equal(er2.Body, body) {
					t.Errorf("second invoke %s, first %s", er2.Body, body)
				}
			}
			je := decodeJavaError(t, body)
			gotType := ""
			if je.ErrorType != nil {
				gotType = *je.ErrorType
			}
			if gotType != tc.errorType || je.ErrorMessage != tc.message || je.StackTrace != nil {
				t.Errorf("error %s, want %s %q", body, tc.errorType, tc.message)
			}
			if !strings.Contains(e.stdout.String(), tc.message) {
				t.Errorf("stdout lacks the fault:\n%s", e.stdout.String())
			}
		})
	}
}

func TestJavaRuntimeRefusedWithoutJDK(t *testing.T) {
	for _, rt := range []string{"java17", "java21", "java25"} {
		_, err := Lookup(rt)
		if _, jerr := jdkFor(rt); jerr != nil {
			if err == nil || !strings.Contains(err.Error(), rt+" needs a JDK") {
				t.Errorf("Lookup(%s) = %v, want a refusal naming the JDK", rt, err)
			}
		} else if err != nil {
			t.Errorf("Lookup(%s): %v", rt, err)
		}
	}
	if _, err := jdkFor("java99"); err == nil || !strings.Contains(err.Error(), "java99 needs a JDK 99 or newer") {
		t.Errorf("jdkFor(java99) = %v", err)
	}
}

// The launch line is AWS's (heap 85% of memory, serial GC, C1) with our client.
func TestJavaCommand(t *testing.T) {
	rt := javaRuntimes(t)[0]
	r, err := Lookup(rt)
	if err != nil {
		t.Fatal(err)
	}
	got := r.Command("/var/runtime", "/var/task", "example.Hello", 512)
	j, _ := jdkFor(rt)
	want := []string{filepath.Join(j.Home, "bin", "java"), "-XX:MaxHeapSize=445644k", "-XX:+UseSerialGC", "-Xshare:auto",
		"-XX:+TieredCompilation", "-XX:TieredStopAtLevel=1", "-Djava.net.preferIPv4Stack=true", "-XX:+ErrorFileToStderr",
		"-classpath", "/var/runtime/java/nimbus-java-runtime.jar", "nimbus.runtime.Bootstrap"}
	if !slices.Equal(got, want) {
		t.Errorf("Command = %q\nwant %q", got, want)
	}
	if r.Env()["AWS_EXECUTION_ENV"] != "AWS_Lambda_"+rt {
		t.Errorf("Env = %v", r.Env())
	}
}

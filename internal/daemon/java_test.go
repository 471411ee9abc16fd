package daemon

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/nimbus-serverless/nimbus/internal/runtimes"
)

var (
	javaZipOnce sync.Once
	javaZipData []byte
	javaZipErr  string
)

// javaZip is examples/hello-java and the runtime tests' handlers compiled
// with the host's javac against stand-ins of aws-lambda-java-core's
// interfaces, bundled as lib/core.jar the way a function bundles the
// library (Maven's repositories are not reachable from tests).
func javaZip(t *testing.T) []byte {
	t.Helper()
	var javac string
	for _, j := range runtimes.JDKs() {
		if p := filepath.Join(j.Home, "bin", "javac"); fileExists(p) {
			javac = p
			break
		}
	}
	if javac == "" {
		t.Skip("no JDK with javac on this host")
	}
	javaZipOnce.Do(func() {
		root := moduleRoot(t)
		dir, err := os.MkdirTemp("", "nimbus-java-")
		if err != nil {
			javaZipErr = err.Error()
			return
		}
		defer os.RemoveAll(dir) //nolint:errcheck // temp dir
		sources := func(roots ...string) []string {
			var out []string
			for _, r := range roots {
				_ = filepath.WalkDir(filepath.Join(root, r), func(p string, _ os.DirEntry, err error) error {
					if err == nil && strings.HasSuffix(p, ".java") {
						out = append(out, p)
					}
					return nil
				})
			}
			return out
		}
		core, app := filepath.Join(dir, "core"), filepath.Join(dir, "app")
		for _, args := range [][]string{
			append([]string{"--release", "17", "-d", core}, sources("internal/runtimes/testdata/java/core")...),
			append([]string{"--release", "17", "-cp", core, "-d", app}, sources("examples/hello-java/src/main/java", "internal/runtimes/testdata/java/app")...),
		} {
			if out, err := exec.Command(javac, args...).CombinedOutput(); err != nil { //nolint:gosec,noctx // the host's javac
				javaZipErr = err.Error() + "\n" + string(out)
				return
			}
		}
		files := map[string]zipEntry{}
		coreJar := map[string]zipEntry{}
		_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p) //nolint:gosec // our temp dir
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			rel = filepath.ToSlash(rel)
			if name, ok := strings.CutPrefix(rel, "core/"); ok {
				coreJar[name] = zipEntry{data: b}
			} else {
				files[strings.TrimPrefix(rel, "app/")] = zipEntry{data: b}
			}
			return nil
		})
		files["lib/core.jar"] = zipEntry{data: zipFiles(t, coreJar)}
		javaZipData = zipFiles(t, files)
	})
	if javaZipErr != "" {
		t.Fatal(javaZipErr)
	}
	return javaZipData
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

// Java functions run in the node's sandbox: the hello-world example (a
// RequestHandler of maps) and a POJO handler, on each Java runtime the host
// has.
func TestJavaFunctions(t *testing.T) {
	t.Parallel()
	var javas []string
	for _, r := range runtimes.Supported() {
		if strings.HasPrefix(r, "java") {
			javas = append(javas, r)
		}
	}
	if len(javas) == 0 {
		t.Skip("no JDK 17 or newer on this host")
	}
	zip := javaZip(t)
	n := startNode(t, t.TempDir())
	for _, rt := range javas {
		t.Run(rt, func(t *testing.T) {
			name := "hello-" + rt
			create(t, n, &lambda.CreateFunctionInput{
				FunctionName: aws.String(name), Runtime: types.Runtime(rt), Handler: aws.String("example.Hello::handleRequest"),
				Role: aws.String(testRole), Code: &types.FunctionCode{ZipFile: zip}, MemorySize: aws.Int32(256),
			})
			for i := 1; i <= 2; i++ {
				out, m := invoke(t, n, name, "", map[string]any{"name": "nimbus"})
				if out.FunctionError != nil {
					t.Fatalf("invoke: %s %s\n%s", aws.ToString(out.FunctionError), out.Payload, logTail(t, out))
				}
				if m["message"] != "Hello, nimbus!" || m["function"] != name || m["count"] != float64(i) || m["requestId"] == "" {
					t.Errorf("invoke %d payload = %s", i, out.Payload)
				}
				if !strings.Contains(logTail(t, out), "greeting nimbus") {
					t.Errorf("log tail lacks the function's output:\n%s", logTail(t, out))
				}
			}
			pojo := "pojo-" + rt
			create(t, n, &lambda.CreateFunctionInput{
				FunctionName: aws.String(pojo), Runtime: types.Runtime(rt), Handler: aws.String("example.OrderHandler"),
				Role: aws.String(testRole), Code: &types.FunctionCode{ZipFile: zip},
			})
			out, m := invoke(t, n, pojo, "", map[string]any{"id": "o-1", "quantity": 2, "price": 1.25, "kind": "RETAIL",
				"items": []any{map[string]any{"sku": "a"}}, "counts": map[string]any{"extra": 3}})
			if out.FunctionError != nil || m["orderId"] != "o-1-RETAIL-null" || m["total"] != 5.5 || m["requestId"] == "" {
				t.Errorf("POJO invoke: %s %s\n%s", aws.ToString(out.FunctionError), out.Payload, logTail(t, out))
			}
			// A missing class is AWS's error, on every invocation.
			missing := "missing-" + rt
			create(t, n, &lambda.CreateFunctionInput{
				FunctionName: aws.String(missing), Runtime: types.Runtime(rt), Handler: aws.String("example.Nope"),
				Role: aws.String(testRole), Code: &types.FunctionCode{ZipFile: zip},
			})
			out, m = invoke(t, n, missing, "", map[string]any{})
			if aws.ToString(out.FunctionError) != "Unhandled" || m["errorType"] != "java.lang.ClassNotFoundException" ||
				m["errorMessage"] != "Class not found: example.Nope" {
				t.Errorf("missing class: %q %s", aws.ToString(out.FunctionError), out.Payload)
			}
		})
	}
}

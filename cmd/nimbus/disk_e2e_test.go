package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
)

// smallDisk mounts a tmpfs of mb megabytes for the test (root only).
func smallDisk(t *testing.T, mb int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small file system")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%dm", mb)); err != nil {
		t.Skipf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
	return dir
}

// fillDisk writes path until the file system is full.
func fillDisk(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() //nolint:errcheck // written to ENOSPC
	for _, n := range []int{1 << 20, 4096} {
		buf := bytes.Repeat([]byte{'x'}, n)
		for {
			if _, err := f.Write(buf); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatal(err)
				}
				break
			}
		}
	}
}

func logsClient(s *server) *cloudwatchlogs.Client {
	return cloudwatchlogs.New(cloudwatchlogs.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(s.endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(envValue(s.env, "AWS_ACCESS_KEY_ID"),
			envValue(s.env, "AWS_SECRET_ACCESS_KEY"), ""),
	})
}

func readyz(t *testing.T, s *server) (int, string) {
	t.Helper()
	resp, err := http.Get(s.endpoint + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close() //nolint:errcheck // read to the end
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// A data directory on a disk too small for the stores is refused at
// start with the store and the space it needs named (not a panic).
func TestTinyDiskRefusedAtStart(t *testing.T) {
	disk := smallDisk(t, 12)
	cmd := exec.Command(nimbusBin, "server", "--listen", "127.0.0.1:0", "--data-dir", filepath.Join(disk, "d"), "--runtime-sdks", "off")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("server started on a 12 MB disk:\n%s", out)
	}
	last := strings.TrimSpace(string(out))
	if i := strings.LastIndex(last, "\n"); i >= 0 {
		last = last[i+1:]
	}
	if strings.Contains(string(out), "panic") || !strings.Contains(last, "too small") ||
		!strings.Contains(last, "MiB") || !strings.Contains(last, "stream ") {
		t.Errorf("start on a 12 MB disk: %v; last line %q", err, last)
	}
}

// The disk of a running node fills: writes get each API's own server
// error saying storage is full, /readyz is false; once space is freed the
// node takes writes again without a restart, and nothing acknowledged is
// lost (functions created, async events queued before the disk filled).
func TestFullDiskAndRecovery(t *testing.T) {
	requireTool(t, "python3")
	disk := smallDisk(t, 64)
	srv := startServerAt(t, filepath.Join(disk, "d"))
	if !strings.Contains(strings.Join(srv.preamble, "\n"), "async_max_bytes=") {
		t.Errorf("the server did not report its storage limits:\n%s", strings.Join(srv.preamble, "\n"))
	}
	ctx := context.Background()
	lc, logs := sdkClient(srv.endpoint), logsClient(srv)
	role := invokerRole(t, srv.endpoint) // fn0's records reach rec as fn0's role
	// fn0 runs each event for a second and prints its marker; its
	// success records go to rec, which prints the marker again: events
	// still running when the disk fills have their records written
	// after it is freed.
	zip := pyZip(t, "marker", "import time\ndef handler(event, context):\n    time.sleep(event.get('s', 0))\n    print('MARKER', event.get('m'), flush=True)\n    return event\n")
	recZip := pyZip(t, "rec", "def handler(event, context):\n    print('RECORD', event['responsePayload']['m'], flush=True)\n")
	create := func(name string) error {
		_, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{
			FunctionName: aws.String(name), Runtime: types.RuntimePython312, Handler: aws.String("app.handler"),
			Role: aws.String(role), Code: &types.FunctionCode{ZipFile: zip},
			Timeout: aws.Int32(30),
		})
		return err
	}
	event := func(m string, secs int) error {
		_, err := lc.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String("fn0"),
			InvocationType: types.InvocationTypeEvent, Payload: []byte(fmt.Sprintf(`{"m":%q,"s":%d}`, m, secs))})
		return err
	}
	if err := create("fn0"); err != nil {
		t.Fatal(err)
	}
	if _, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("rec"), Runtime: types.RuntimePython312, Handler: aws.String("app.handler"),
		Role: aws.String("arn:aws:iam::000000000000:role/lambda"), Code: &types.FunctionCode{ZipFile: recZip},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := lc.PutFunctionEventInvokeConfig(ctx, &lambda.PutFunctionEventInvokeConfigInput{
		FunctionName: aws.String("fn0"),
		DestinationConfig: &types.DestinationConfig{OnSuccess: &types.OnSuccess{
			Destination: aws.String("arn:aws:lambda:us-east-1:000000000000:function:rec")}},
	}); err != nil {
		t.Fatal(err)
	}
	created := []string{"fn0", "rec"}
	queued := []string{}
	for i := range 3 {
		m := fmt.Sprintf("before-%d", i)
		if err := event(m, 2); err != nil {
			t.Fatal(err)
		}
		queued = append(queued, m)
	}
	if code, body := readyz(t, srv); code != http.StatusOK {
		t.Fatalf("/readyz before the disk filled: %d %s", code, body)
	}

	filler := filepath.Join(disk, "filler")
	fillDisk(t, filler)
	// Writes until one fails (the first may still find room).
	var werr error
	for i := 1; i < 200 && werr == nil; i++ {
		name := fmt.Sprintf("fn%d", i)
		if werr = create(name); werr == nil {
			created = append(created, name)
		}
	}
	wantServerErr := func(what string, err error, code, status int) {
		t.Helper()
		var ae smithy.APIError
		if !errors.As(err, &ae) {
			t.Errorf("%s on a full disk: %v, want an API error", what, err)
			return
		}
		var re interface{ HTTPStatusCode() int }
		if ae.ErrorCode() != map[int]string{0: "ServiceException", 1: "ServiceUnavailableException"}[code] ||
			!strings.Contains(ae.ErrorMessage(), "storage is full") ||
			(errors.As(err, &re) && re.HTTPStatusCode() != status) {
			t.Errorf("%s on a full disk: %v", what, err)
		}
	}
	wantServerErr("CreateFunction", werr, 0, 500)
	waitFor(t, "/readyz says not ready", func() bool { c, _ := readyz(t, srv); return c == http.StatusServiceUnavailable })
	if _, body := readyz(t, srv); !strings.Contains(body, "storage is full") {
		t.Errorf("/readyz on a full disk: %s", body)
	}
	wantServerErr("CreateFunction", create("refused"), 0, 500)
	wantServerErr("async Invoke", event("refused", 0), 0, 500)
	_, err := logs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("/full/disk")})
	wantServerErr("CreateLogGroup", err, 1, 500)

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "/readyz says ready again", func() bool { c, _ := readyz(t, srv); return c == http.StatusOK })
	waitFor(t, "writes succeed again", func() bool { return create("after") == nil })
	created = append(created, "after")
	if err := event("after", 0); err != nil {
		t.Fatalf("async Invoke after recovery: %v", err)
	}
	queued = append(queued, "after")
	if _, err := logs.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("/full/disk")}); err != nil {
		t.Errorf("CreateLogGroup after recovery: %v", err)
	}

	// Nothing acknowledged is lost: every function created, every event
	// queued ran (its line is in the function's log group).
	for _, name := range created {
		if _, err := lc.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)}); err != nil {
			t.Errorf("function %s, created with success, is gone: %v", name, err)
		}
	}
	for group, word := range map[string]string{"/aws/lambda/fn0": "MARKER", "/aws/lambda/rec": "RECORD"} {
		waitFor(t, "every queued event's "+word+" line is in "+group, func() bool {
			out, err := logs.FilterLogEvents(ctx, &cloudwatchlogs.FilterLogEventsInput{
				LogGroupName: aws.String(group), FilterPattern: aws.String(word)})
			if err != nil {
				return false
			}
			var all strings.Builder
			for _, e := range out.Events {
				all.WriteString(aws.ToString(e.Message))
			}
			for _, m := range queued {
				if !strings.Contains(all.String(), word+" "+m) {
					return false
				}
			}
			return true
		})
	}
}

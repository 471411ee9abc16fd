package registry

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/errdefs"
	"github.com/nimbus-serverless/nimbus/internal/function"
	"github.com/nimbus-serverless/nimbus/internal/store"
	"github.com/nimbus-serverless/nimbus/internal/store/storetest"
)

const (
	region  = "us-east-1"
	account = "000000000000"
)

// startRegistry builds a registry on st, runs it until the test ends and
// waits until it is ready.
func startRegistry(t *testing.T, st Store, tweak func(*Registry)) *Registry {
	r, _ := runRegistry(t, st, tweak)
	return r
}

// runRegistry is startRegistry that also returns a stop function, which
// ends Run and checks it returned nil.
func runRegistry(t *testing.T, st Store, tweak func(*Registry)) (*Registry, func()) {
	t.Helper()
	r, err := New(Options{Store: st, Region: region, AccountID: account})
	if err != nil {
		t.Fatal(err)
	}
	if tweak != nil {
		tweak(r)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	select {
	case <-r.Ready():
	case err := <-done:
		t.Fatalf("Run ended before ready: %v", err)
	}
	return r, stop
}

func zipOf(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func newFunction(name string, zip []byte) CreateInput {
	return CreateInput{
		Config: function.Config{
			FunctionName: name, Runtime: "python3.12", Handler: "app.handler",
			Role: "arn:aws:iam::000000000000:role/r", Timeout: 3, MemorySize: 128,
			PackageType: "Zip", Architectures: []string{"x86_64"},
		},
		Zip: zip,
	}
}

// wantAWSError checks err is a client error with that code and message:
// an errdefs category, named by the exception Lambda answers for it, or an
// *awsapi.Error (validation) with that code.
func wantAWSError(t *testing.T, err error, code, msg string) {
	t.Helper()
	categories := map[string]error{
		awsapi.CodeResourceNotFound: errdefs.ErrNotFound,
		awsapi.CodeResourceConflict: errdefs.ErrConflict,
	}
	if cat, ok := categories[code]; ok {
		e := errdefs.As(err)
		if e == nil || !errors.Is(err, cat) || (msg != "" && e.Message != msg) {
			t.Fatalf("error %v, want %v %q", err, cat, msg)
		}
		return
	}
	e := awsapi.As(err)
	if e == nil {
		t.Fatalf("error %v, want %s", err, code)
	}
	if e.Code != code || (msg != "" && e.Message != msg) {
		t.Fatalf("error %s %q, want %s %q", e.Code, e.Message, code, msg)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// ignore drops a result, keeping the error.
func ignore[T any](_ T, err error) error { return err }

// eventually waits until cond holds, checking it every millisecond for up
// to 10 seconds: for changes written to the store directly, which the
// registry's watch applies asynchronously.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	timeout := time.After(10 * time.Second)
	for !cond() {
		select {
		case <-tick.C:
		case <-timeout:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// watcher follows the updates one node's watch applies: tweak (for
// startRegistry or runRegistry) makes the node signal after each, and
// waitFor waits until cond holds on it, re-checking after every update.
type watcher struct {
	t       *testing.T
	timeout time.Duration
	seen    chan struct{}
}

func newWatcher(t *testing.T, timeout time.Duration) *watcher {
	return &watcher{t: t, timeout: timeout, seen: make(chan struct{}, 1)}
}

func (w *watcher) tweak(r *Registry) {
	r.afterApply = func(store.Update) {
		select {
		case w.seen <- struct{}{}:
		default:
		}
	}
}

func (w *watcher) waitFor(what string, cond func() bool) {
	w.t.Helper()
	timeout := time.After(w.timeout)
	for !cond() {
		select {
		case <-w.seen:
		case <-timeout:
			w.t.Fatalf("node b never saw %s", what)
		}
	}
}

// revision returns the newest revision of key the cache has applied.
func (c *cache) revision(key string) uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.revs[key]
}

func mustCreate(t *testing.T, r *Registry, in CreateInput) *function.Config {
	t.Helper()
	cfg, err := r.CreateFunction(context.Background(), in)
	if err != nil {
		t.Fatalf("CreateFunction %s: %v", in.Config.FunctionName, err)
	}
	return cfg
}

func TestCreateAndRead(t *testing.T) {
	st := storetest.Open(t)
	r := startRegistry(t, st, nil)
	ctx := context.Background()
	z := zipOf(t, map[string]string{"app.py": "x"})
	in := newFunction("f1", z)
	in.Tags = map[string]string{"team": "a"}
	cfg := mustCreate(t, r, in)

	if cfg.FunctionArn != "arn:aws:lambda:us-east-1:000000000000:function:f1" || cfg.Version != "$LATEST" {
		t.Errorf("arn %q version %q", cfg.FunctionArn, cfg.Version)
	}
	if cfg.State != function.StateActive || cfg.LastUpdateStatus != function.UpdateSuccessful {
		t.Errorf("state %q/%q, want Active/Successful", cfg.State, cfg.LastUpdateStatus)
	}
	if cfg.CodeSha256 != function.CodeSha256(z) || cfg.CodeSize != int64(len(z)) || cfg.RevisionId == "" || cfg.LastModified == "" {
		t.Errorf("code/revision fields: %+v", cfg)
	}
	if !storetest.HasCode(t, st, function.CodeKey(cfg.CodeSha256)) {
		t.Error("code package not stored")
	}
	got, err := r.Config(ctx, "f1", "")
	if err != nil || got.RevisionId != cfg.RevisionId {
		t.Fatalf("Config: %v %v", got, err)
	}
	got, _ = r.Config(ctx, "f1", "$LATEST")
	if got.FunctionArn != cfg.FunctionArn+":$LATEST" {
		t.Errorf("qualified $LATEST arn %q", got.FunctionArn)
	}
	tags, _ := r.Tags(ctx, "f1")
	if tags["team"] != "a" {
		t.Errorf("tags %v", tags)
	}
	data, err := r.Code(ctx, cfg.CodeSha256)
	if err != nil || !bytes.Equal(data, z) {
		t.Errorf("Code: %v", err)
	}
	if _, err := r.CreateFunction(ctx, newFunction("f1", z)); err != nil {
		wantAWSError(t, err, "ResourceConflictException", "Function already exist: f1")
	} else {
		t.Fatal("duplicate create succeeded")
	}
	_, err = r.Config(ctx, "nope", "")
	wantAWSError(t, err, "ResourceNotFoundException", "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope")
	_, err = r.Config(ctx, "f1", "7")
	wantAWSError(t, err, "ResourceNotFoundException", "Function not found: arn:aws:lambda:us-east-1:000000000000:function:f1:7")
	_, err = r.Config(ctx, "f1", "live")
	wantAWSError(t, err, "ResourceNotFoundException", "Function not found: arn:aws:lambda:us-east-1:000000000000:function:f1:live")
}

func TestResolve(t *testing.T) {
	p := 0.0
	r := startRegistry(t, storetest.Open(t), func(r *Registry) { r.rand = func() float64 { return p } })
	ctx := context.Background()
	mustCreate(t, r, newFunction("f", zipOf(t, map[string]string{"a": "1"})))
	v1, err := r.PublishVersion(ctx, "f", PublishInput{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.UpdateConfiguration(ctx, "f", "", func(c *function.Config) error { c.Timeout = 9; return nil }); err != nil {
		t.Fatal(err)
	}
	v2, err := r.PublishVersion(ctx, "f", PublishInput{Description: "second"})
	if err != nil {
		t.Fatal(err)
	}
	if v1.Version != "1" || v2.Version != "2" || v2.Description != "second" || v2.Timeout != 9 {
		t.Fatalf("versions %q %q %q %d", v1.Version, v2.Version, v2.Description, v2.Timeout)
	}
	if _, err := r.CreateAlias(ctx, "f", function.Alias{Name: "live", FunctionVersion: "1",
		RoutingConfig: &function.RoutingConfig{AdditionalVersionWeights: map[string]float64{"2": 0.25}}}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		qualifier string
		p         float64
		want      string
	}{
		{"", 0, "$LATEST"}, {"$LATEST", 0, "$LATEST"}, {"1", 0, "1"}, {"2", 0, "2"},
		{"live", 0.1, "2"}, {"live", 0.25, "1"}, {"live", 0.9, "1"},
	}
	for _, c := range cases {
		p = c.p
		cfg, err := r.Resolve(ctx, "f", c.qualifier)
		if err != nil || cfg.Version != c.want {
			t.Errorf("Resolve(%q) p=%v = %v %v, want version %s", c.qualifier, c.p, cfg, err, c.want)
		}
	}
	for q, msg := range map[string]string{
		"3":    "Function not found: arn:aws:lambda:us-east-1:000000000000:function:f:3",
		"01":   "Function not found: arn:aws:lambda:us-east-1:000000000000:function:f:01",
		"prod": "Function not found: arn:aws:lambda:us-east-1:000000000000:function:f:prod",
	} {
		_, err := r.Resolve(ctx, "f", q)
		wantAWSError(t, err, "ResourceNotFoundException", msg)
	}
	_, err = r.Resolve(ctx, "x", "")
	wantAWSError(t, err, "ResourceNotFoundException", "Function not found: arn:aws:lambda:us-east-1:000000000000:function:x")
}

func TestPublishSemantics(t *testing.T) {
	r := startRegistry(t, storetest.Open(t), nil)
	ctx := context.Background()
	z := zipOf(t, map[string]string{"a": "1"})
	in := newFunction("f", z)
	in.Publish = true
	cfg := mustCreate(t, r, in)
	if cfg.Version != "1" || cfg.FunctionArn != "arn:aws:lambda:us-east-1:000000000000:function:f:1" {
		t.Fatalf("create with Publish: %q %q", cfg.Version, cfg.FunctionArn)
	}
	// Nothing changed since: the same version comes back.
	v, err := r.PublishVersion(ctx, "f", PublishInput{})
	if err != nil || v.Version != "1" || v.RevisionId != cfg.RevisionId {
		t.Fatalf("republish unchanged: %v %v", v, err)
	}
	// Preconditions.
	latest, _ := r.Config(ctx, "f", "")
	_, err = r.PublishVersion(ctx, "f", PublishInput{RevisionID: "stale"})
	wantAWSError(t, err, "PreconditionFailedException", "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id")
	_, err = r.PublishVersion(ctx, "f", PublishInput{CodeSha256: "abc"})
	wantAWSError(t, err, "InvalidParameterValueException", "CodeSHA256 (abc) is different from current CodeSHA256 in $LATEST ("+latest.CodeSha256+"). Please try again with the CodeSHA256 in $LATEST.")

	// New code: a new version; same code again with Publish: that version.
	z2 := zipOf(t, map[string]string{"a": "2"})
	v2, err := r.UpdateCode(ctx, "f", CodeUpdate{Zip: z2, Publish: true})
	if err != nil || v2.Version != "2" || v2.CodeSha256 != function.CodeSha256(z2) {
		t.Fatalf("UpdateCode+Publish: %v %v", v2, err)
	}
	v2b, err := r.UpdateCode(ctx, "f", CodeUpdate{Zip: z2, Publish: true})
	if err != nil || v2b.Version != "2" {
		t.Fatalf("same code again: %v %v", v2b, err)
	}
	latest2, _ := r.Config(ctx, "f", "")
	if latest2.RevisionId == latest.RevisionId {
		t.Error("UpdateCode did not rotate RevisionId")
	}
	// A deleted newest version is not resurrected: numbers are not reused.
	if err := r.DeleteVersion(ctx, "f", "2"); err != nil {
		t.Fatal(err)
	}
	v3, err := r.PublishVersion(ctx, "f", PublishInput{})
	if err != nil || v3.Version != "3" {
		t.Fatalf("publish after delete: %v %v", v3, err)
	}
	vs, _ := r.ListVersions(ctx, "f")
	var got []string
	for _, v := range vs {
		got = append(got, v.Version+"="+v.FunctionArn[len("arn:aws:lambda:us-east-1:000000000000:function:"):])
	}
	if fmt.Sprint(got) != "[$LATEST=f:$LATEST 1=f:1 3=f:3]" {
		t.Errorf("ListVersions = %v", got)
	}

	// A change of $LATEST's configuration alone (its description) is a
	// change: AWS publishes a new version. A description given to
	// PublishVersion is the version's, not a change of $LATEST.
	must(t, ignore(r.UpdateConfiguration(ctx, "f", "", func(c *function.Config) error { c.Description = "changed"; return nil })))
	v4, err := r.PublishVersion(ctx, "f", PublishInput{Description: "own"})
	if err != nil || v4.Version != "4" || v4.Description != "own" {
		t.Fatalf("publish after a description change: %v %v", v4, err)
	}
	if again, err := r.PublishVersion(ctx, "f", PublishInput{}); err != nil || again.Version != "4" {
		t.Fatalf("republish unchanged after a description change: %v %v", again, err)
	}
}

func TestDeleteVersionAndAliases(t *testing.T) {
	r := startRegistry(t, storetest.Open(t), nil)
	ctx := context.Background()
	mustCreate(t, r, newFunction("f", zipOf(t, map[string]string{"a": "1"})))
	must(t, ignore(r.PublishVersion(ctx, "f", PublishInput{})))
	must(t, ignore(r.UpdateConfiguration(ctx, "f", "", func(c *function.Config) error { c.MemorySize = 256; return nil })))
	must(t, ignore(r.PublishVersion(ctx, "f", PublishInput{})))

	_, err := r.CreateAlias(ctx, "nope", function.Alias{Name: "a", FunctionVersion: "1"})
	wantAWSError(t, err, "ResourceNotFoundException", "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope:1")
	_, err = r.CreateAlias(ctx, "f", function.Alias{Name: "a", FunctionVersion: "9"})
	wantAWSError(t, err, "ResourceNotFoundException", "Function not found: arn:aws:lambda:us-east-1:000000000000:function:f:9")
	a, err := r.CreateAlias(ctx, "f", function.Alias{Name: "live", FunctionVersion: "1"})
	if err != nil || a.AliasArn != "arn:aws:lambda:us-east-1:000000000000:function:f:live" || a.RevisionId == "" {
		t.Fatalf("CreateAlias: %v %v", a, err)
	}
	_, err = r.CreateAlias(ctx, "f", function.Alias{Name: "live", FunctionVersion: "2"})
	wantAWSError(t, err, "ResourceConflictException", "Alias already exists: arn:aws:lambda:us-east-1:000000000000:function:f:live")
	if _, err := r.CreateAlias(ctx, "f", function.Alias{Name: "canary", FunctionVersion: "$LATEST"}); err != nil {
		t.Fatal(err)
	}
	routing := func(v string, w float64) *function.RoutingConfig {
		return &function.RoutingConfig{AdditionalVersionWeights: map[string]float64{v: w}}
	}
	for _, c := range []struct {
		a         function.Alias
		code, msg string
	}{
		{function.Alias{Name: "x", FunctionVersion: "1", RoutingConfig: routing("1", 0.5)}, "InvalidParameterValueException", "Invalid function version 1. Function version 1 is already included in routing configuration."},
		{function.Alias{Name: "x", FunctionVersion: "$LATEST", RoutingConfig: routing("1", 0.5)}, "InvalidParameterValueException", "$LATEST is not supported for an alias pointing to more than 1 version"},
		{function.Alias{Name: "x", FunctionVersion: "1", RoutingConfig: routing("5", 0.5)}, "ResourceNotFoundException", "Function not found: arn:aws:lambda:us-east-1:000000000000:function:f:5"},
		{function.Alias{Name: "x", FunctionVersion: "1", RoutingConfig: &function.RoutingConfig{AdditionalVersionWeights: map[string]float64{"2": 0.1, "3": 0.1}}}, "InvalidParameterValueException", "Number of items in AdditionalVersionWeights cannot be greater than 1"},
	} {
		_, err := r.CreateAlias(ctx, "f", c.a)
		wantAWSError(t, err, c.code, c.msg)
	}

	err = r.DeleteVersion(ctx, "f", "1")
	wantAWSError(t, err, "ResourceConflictException", "Unable to delete version because the following aliases reference it: [live]")
	// Routing counts as a reference too.
	upd, err := r.UpdateAlias(ctx, "f", "live", a.RevisionId, func(x *function.Alias) { x.RoutingConfig = routing("2", 0.3) })
	if err != nil || upd.RevisionId == a.RevisionId {
		t.Fatalf("UpdateAlias: %v %v", upd, err)
	}
	_, err = r.UpdateAlias(ctx, "f", "live", a.RevisionId, func(*function.Alias) {})
	wantAWSError(t, err, "PreconditionFailedException", "")
	_, err = r.UpdateAlias(ctx, "f", "ghost", "", func(*function.Alias) {})
	wantAWSError(t, err, "ResourceNotFoundException", "Cannot find alias arn: arn:aws:lambda:us-east-1:000000000000:function:f:ghost")
	err = r.DeleteVersion(ctx, "f", "2")
	wantAWSError(t, err, "ResourceConflictException", "Unable to delete version because the following aliases reference it: [live]")

	list, _ := r.ListAliases(ctx, "f", "")
	if len(list) != 2 || list[0].Name != "canary" || list[1].Name != "live" {
		t.Errorf("ListAliases = %v", list)
	}
	list, _ = r.ListAliases(ctx, "f", "1")
	if len(list) != 1 || list[0].Name != "live" {
		t.Errorf("ListAliases(1) = %v", list)
	}
	if err := r.DeleteAlias(ctx, "f", "live"); err != nil {
		t.Fatal(err)
	}
	if err := r.DeleteAlias(ctx, "f", "live"); err != nil {
		t.Errorf("deleting an absent alias: %v", err)
	}
	if err := r.DeleteAlias(ctx, "nofn", "live"); err != nil {
		t.Errorf("deleting an alias of an absent function: %v", err)
	}
	_, err = r.GetAlias(ctx, "f", "live")
	wantAWSError(t, err, "ResourceNotFoundException", "Cannot find alias arn: arn:aws:lambda:us-east-1:000000000000:function:f:live")
	if err := r.DeleteVersion(ctx, "f", "1"); err != nil {
		t.Fatal(err)
	}
	if err := r.DeleteVersion(ctx, "f", "1"); err != nil {
		t.Errorf("deleting an absent version: %v", err)
	}
	if _, err := r.Resolve(ctx, "f", "1"); err == nil {
		t.Error("deleted version still resolves")
	}
	err = r.DeleteVersion(ctx, "nofn", "1")
	wantAWSError(t, err, "ResourceNotFoundException", "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nofn")
}

func TestRevisionPreconditionAndStates(t *testing.T) {
	st := storetest.Open(t)
	r := startRegistry(t, st, nil)
	ctx := context.Background()
	cfg := mustCreate(t, r, newFunction("f", zipOf(t, map[string]string{"a": "1"})))
	_, err := r.UpdateConfiguration(ctx, "f", "wrong", func(*function.Config) error { return nil })
	wantAWSError(t, err, "PreconditionFailedException", "")
	upd, err := r.UpdateConfiguration(ctx, "f", cfg.RevisionId, func(c *function.Config) error { c.Description = "d"; return nil })
	if err != nil || upd.Description != "d" || upd.RevisionId == cfg.RevisionId {
		t.Fatalf("update with current revision: %v %v", upd, err)
	}
	// A client error from apply aborts without writing.
	boom := awsapi.InvalidParameter("boom")
	if _, err := r.UpdateConfiguration(ctx, "f", "", func(*function.Config) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("apply error: %v", err)
	}
	if now, _ := r.Config(ctx, "f", ""); now.RevisionId != upd.RevisionId {
		t.Error("a failed update changed the function")
	}

	// Records in the states AWS passes through, written by another node
	// (a later, asynchronous implementation), are refused as AWS does once
	// the watch has brought them into the cache.
	seed := func(name string, mutate func(*function.Config)) {
		c := *cfg
		c.FunctionName, c.FunctionArn = name, "arn:aws:lambda:us-east-1:000000000000:function:"+name
		mutate(&c)
		b, _ := json.Marshal(record{Latest: c})
		rev := storetest.Put(t, st, fnKey(name), b)
		eventually(t, "the watch to apply "+fnKey(name), func() bool { return r.cache.revision(fnKey(name)) >= rev })
	}
	seed("pending", func(c *function.Config) { c.State = function.StatePending })
	seed("updating", func(c *function.Config) { c.LastUpdateStatus = function.UpdateInProgress })
	_, err = r.Resolve(ctx, "pending", "")
	wantAWSError(t, err, "ResourceConflictException", "The operation cannot be performed at this time. The function is currently in the following state: Pending")
	_, err = r.UpdateConfiguration(ctx, "updating", "", func(*function.Config) error { return nil })
	wantAWSError(t, err, "ResourceConflictException", "The operation cannot be performed at this time. An update is in progress for resource: arn:aws:lambda:us-east-1:000000000000:function:updating")
	if _, err := r.Resolve(ctx, "updating", ""); err != nil {
		t.Errorf("a function being updated must still be invocable: %v", err)
	}
}

// TestConcurrentUpdatesLoseNothing races many writers on one function; the
// CAS must keep every change.
//
// Writers on one node queue on its function lock, so only the two nodes'
// writers race each other's CAS; 40 writers (more than maxAttempts) must
// all succeed. Before the lock, 40 writers got ResourceConflictException in
// every run on the real store.
func TestConcurrentUpdatesLoseNothing(t *testing.T) {
	st := storetest.Open(t)
	r := startRegistry(t, st, nil)
	r2 := startRegistry(t, st, nil) // a second node on the same backbone
	ctx := context.Background()
	mustCreate(t, r, newFunction("f", zipOf(t, map[string]string{"a": "1"})))
	const n = 20 // n updates and n TagFunction calls
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			reg := r
			if i%2 == 1 {
				reg = r2
			}
			_, err := reg.UpdateConfiguration(ctx, "f", "", func(c *function.Config) error {
				if c.Environment == nil {
					c.Environment = &function.Environment{Variables: map[string]string{}}
				}
				cur, _ := strconv.Atoi(c.Environment.Variables["N"])
				c.Environment.Variables["N"] = strconv.Itoa(cur + 1)
				return nil
			})
			errs <- err
		}()
		go func() {
			defer wg.Done()
			errs <- r.TagFunction(ctx, "f", map[string]string{fmt.Sprintf("k%d", i): "v"})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// Node a's cache may not have node b's last write yet: check the
	// backbone, which is what both nodes converge to.
	rec, _, err := r.readRecord(ctx, "f")
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.Latest.Environment.Variables["N"]; got != strconv.Itoa(n) {
		t.Errorf("counter = %s after %d concurrent increments", got, n)
	}
	if tags := rec.Tags; len(tags) != n {
		t.Errorf("%d tags after %d concurrent TagFunction", len(tags), n)
	}
}

func TestConcurrentPublishNumbersAreUnique(t *testing.T) {
	r := startRegistry(t, storetest.Open(t), nil)
	ctx := context.Background()
	mustCreate(t, r, newFunction("f", zipOf(t, map[string]string{"a": "1"})))
	const n = 10
	var wg sync.WaitGroup
	versions := make(chan string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each writer changes the code and publishes in one step.
			v, err := r.UpdateCode(ctx, "f", CodeUpdate{Zip: zipOf(t, map[string]string{"a": strconv.Itoa(100 + i)}), Publish: true})
			if err != nil {
				t.Error(err)
				return
			}
			versions <- v.Version
		}()
	}
	wg.Wait()
	close(versions)
	seen := map[string]bool{}
	for v := range versions {
		if seen[v] {
			t.Errorf("version %s handed out twice", v)
		}
		seen[v] = true
	}
	vs, _ := r.ListVersions(ctx, "f")
	if len(vs) != n+1 {
		t.Errorf("%d versions listed, want %d", len(vs), n+1)
	}
}

// TestWatchKeepsNodesCurrent checks a second node sees the first node's
// changes through the watch, without touching the store itself.
func TestWatchKeepsNodesCurrent(t *testing.T) {
	st := storetest.Open(t)
	a := startRegistry(t, st, nil)
	w := newWatcher(t, 10*time.Second)
	b := startRegistry(t, st, w.tweak)
	ctx := context.Background()
	mustCreate(t, a, newFunction("f", zipOf(t, map[string]string{"a": "1"})))
	w.waitFor("the function", func() bool { _, err := b.Resolve(ctx, "f", ""); return err == nil })
	must(t, ignore(a.PublishVersion(ctx, "f", PublishInput{})))
	must(t, ignore(a.CreateAlias(ctx, "f", function.Alias{Name: "live", FunctionVersion: "1"})))
	w.waitFor("the alias", func() bool { cfg, err := b.Resolve(ctx, "f", "live"); return err == nil && cfg.Version == "1" })
	if err := a.DeleteFunction(ctx, "f"); err != nil {
		t.Fatal(err)
	}
	w.waitFor("the delete", func() bool { _, err := b.Resolve(ctx, "f", ""); return err != nil })
	w.waitFor("the version delete", func() bool { return b.cache.version("f", 1) == nil })
}

func TestRestartLoadsEverything(t *testing.T) {
	st := storetest.Open(t)
	ctx := context.Background()
	{
		r, err := New(Options{Store: st, Region: region, AccountID: account})
		if err != nil {
			t.Fatal(err)
		}
		// Writes before Run are fine; reads wait for the load.
		close(r.ready)
		mustCreate(t, r, newFunction("f", zipOf(t, map[string]string{"a": "1"})))
		must(t, ignore(r.PublishVersion(ctx, "f", PublishInput{})))
		must(t, ignore(r.CreateAlias(ctx, "f", function.Alias{Name: "live", FunctionVersion: "1"})))
	}
	r := startRegistry(t, st, nil)
	cfg, err := r.Resolve(ctx, "f", "live")
	if err != nil || cfg.Version != "1" {
		t.Fatalf("after restart: %v %v", cfg, err)
	}
	if _, err := r.GetAlias(ctx, "f", "live"); err != nil {
		t.Fatal(err)
	}
}

func TestReadsWaitForLoad(t *testing.T) {
	r, err := New(Options{Store: storetest.Open(t), Region: region, AccountID: account})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Resolve(ctx, "f", ""); err == nil || awsapi.As(err) != nil || errdefs.As(err) != nil {
		t.Fatalf("Resolve before Run = %v, want an internal not-ready error", err)
	}
}

func TestCodeGarbageCollection(t *testing.T) {
	st := storetest.Open(t)
	r := startRegistry(t, st, nil)
	ctx := context.Background()
	shared := zipOf(t, map[string]string{"a": "shared"})
	key := function.CodeKey(function.CodeSha256(shared))
	mustCreate(t, r, newFunction("one", shared))
	mustCreate(t, r, newFunction("two", shared))
	if err := r.DeleteFunction(ctx, "one"); err != nil {
		t.Fatal(err)
	}
	if !storetest.HasCode(t, st, key) {
		t.Fatal("code still used by another function was deleted")
	}
	// A published version keeps old code alive after $LATEST moves on.
	must(t, ignore(r.PublishVersion(ctx, "two", PublishInput{})))
	if _, err := r.UpdateCode(ctx, "two", CodeUpdate{Zip: zipOf(t, map[string]string{"a": "new"})}); err != nil {
		t.Fatal(err)
	}
	if !storetest.HasCode(t, st, key) {
		t.Fatal("code of a published version was deleted")
	}
	if err := r.DeleteVersion(ctx, "two", "1"); err != nil {
		t.Fatal(err)
	}
	if storetest.HasCode(t, st, key) {
		t.Error("unused code package kept after its last version was deleted")
	}
	if err := r.DeleteFunction(ctx, "two"); err != nil {
		t.Fatal(err)
	}
	if left := storetest.CodeKeys(t, st); len(left) != 0 {
		t.Errorf("code packages %v left after every function was deleted", left)
	}
	err := r.DeleteFunction(ctx, "two")
	wantAWSError(t, err, "ResourceNotFoundException", "Function not found: arn:aws:lambda:us-east-1:000000000000:function:two")
}

func TestLeftoverVersionKeyIsOverwritten(t *testing.T) {
	st := storetest.Open(t)
	// A crash during DeleteFunction left ver.f.1 behind.
	stale, _ := json.Marshal(function.Config{FunctionName: "f", Version: "1", Description: "stale"})
	storetest.Put(t, st, verKey("f", 1), stale)
	r := startRegistry(t, st, nil)
	in := newFunction("f", zipOf(t, map[string]string{"a": "1"}))
	in.Publish = true
	in.Config.Description = "fresh"
	mustCreate(t, r, in)
	cfg, err := r.Config(context.Background(), "f", "1")
	if err != nil || cfg.Description != "fresh" {
		t.Fatalf("version 1 = %v %v", cfg, err)
	}
}

func TestUsageAndListFunctions(t *testing.T) {
	r := startRegistry(t, storetest.Open(t), nil)
	ctx := context.Background()
	for _, n := range []string{"b", "a", "c"} {
		mustCreate(t, r, newFunction(n, zipOf(t, map[string]string{"f": n})))
	}
	must(t, ignore(r.PublishVersion(ctx, "b", PublishInput{})))
	all, _ := r.ListFunctions(ctx, true)
	var got []string
	for _, c := range all {
		got = append(got, c.FunctionArn[len("arn:aws:lambda:us-east-1:000000000000:function:"):])
	}
	if fmt.Sprint(got) != "[a:$LATEST b:$LATEST b:1 c:$LATEST]" {
		t.Errorf("ListFunctions(all) = %v", got)
	}
	latest, _ := r.ListFunctions(ctx, false)
	if len(latest) != 3 || latest[0].FunctionArn != "arn:aws:lambda:us-east-1:000000000000:function:a" {
		t.Errorf("ListFunctions = %v", latest)
	}
	fns, size, err := r.Usage(ctx)
	if err != nil || fns != 3 || size != latest[0].CodeSize+2*latest[1].CodeSize+latest[2].CodeSize {
		t.Errorf("Usage = %d %d %v", fns, size, err)
	}
}

func TestCodeSha256FromKey(t *testing.T) {
	sha := function.CodeSha256([]byte("x"))
	if got := CodeSha256FromKey(function.CodeKey(sha)); got != sha {
		t.Errorf("round trip = %q, want %q", got, sha)
	}
	for _, bad := range []string{"", "zz", "ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789"} {
		if CodeSha256FromKey(bad) != "" {
			t.Errorf("CodeSha256FromKey(%q) accepted", bad)
		}
	}
}

// BenchmarkResolve measures the invoke path's lookup: cache only.
func BenchmarkResolve(b *testing.B) {
	st := storetest.Open(b)
	r, err := New(Options{Store: st, Region: region, AccountID: account})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = r.Run(ctx) }()
	<-r.Ready()
	if _, err := r.CreateFunction(ctx, newFunction("f", zipOf(b, map[string]string{"a": "1"}))); err != nil {
		b.Fatal(err)
	}
	if _, err := r.PublishVersion(ctx, "f", PublishInput{}); err != nil {
		b.Fatal(err)
	}
	if _, err := r.CreateAlias(ctx, "f", function.Alias{Name: "live", FunctionVersion: "1"}); err != nil {
		b.Fatal(err)
	}
	for _, q := range []string{"", "1", "live"} {
		b.Run("qualifier="+q, func(b *testing.B) {
			for b.Loop() {
				if _, err := r.Resolve(ctx, "f", q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/fsnotify/fsnotify"
	"github.com/spf13/cobra"

	"github.com/nimbus-serverless/nimbus/internal/build"
)

// maxInlineZip is Lambda's limit on a .zip sent inline (ZipFile) to
// UpdateFunctionCode; dev redeploys the stack for a larger one.
const maxInlineZip = 50 << 20

func newDevCmd(cf *clientFlags) *cobra.Command {
	var df deployFlags
	var debounce, poll time.Duration
	var debug []string
	cmd := &cobra.Command{
		Use:   "dev [KEY=VALUE ...]",
		Short: "Deploy an application, then rebuild and update its functions on every save",
		Long: `Deploy the application as 'nimbus deploy' does (same template, stack name and
parameter overrides), then watch its code directories. On a save, dev rebuilds
only the functions whose code changed, with the same builds deploy uses, and
updates each in place with UpdateFunctionCode (no stack update); a change to
the template redeploys the stack. Bursts of events (an editor's several
writes, a git checkout) are taken as one change after --debounce of quiet.
Each function's log events are printed as they happen, prefixed with its
logical id. Stop with Ctrl-C; the stack stays deployed.

--debug FUNCTION (a logical id or function name; repeatable) builds a Go
function for a debugger (-gcflags=all=-N -l, with DWARF) and updates it at
once: a server started with --debug-port for that function runs it under
Delve (docs/design/dev-loop.md).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, a := range args {
				if !strings.Contains(a, "=") {
					return fmt.Errorf("unexpected argument %q: parameter overrides are KEY=VALUE", a)
				}
			}
			df.overrides = append(df.overrides, args...)
			return runDev(cmd.Context(), cmd.OutOrStdout(), cf, &df, debounce, poll, debug)
		},
	}
	cf.bind(cmd)
	f := cmd.Flags()
	f.StringVarP(&df.template, "template", "t", "", "template file (default template.yaml, template.yml or template.json)")
	f.StringVar(&df.stackName, "stack-name", "", "stack name (default samconfig.toml's stack_name, else the template's directory name)")
	f.StringArrayVar(&df.overrides, "parameter-overrides", nil, "parameter values, KEY=VALUE (repeatable)")
	f.BoolVar(&df.skipUnsupported, "skip-unsupported", false, "deploy without the resource types Nimbus does not have, with a warning for each")
	f.DurationVar(&debounce, "debounce", 100*time.Millisecond, "quiet time after a file event before rebuilding")
	f.DurationVar(&poll, "poll-interval", 250*time.Millisecond, "how often function logs are asked for")
	f.StringSliceVar(&debug, "debug", nil, "Go functions (logical ids or names) to build with debug info for Delve (the server's --debug-port)")
	return cmd
}

// devLoop is the state of a running `nimbus dev`.
type devLoop struct {
	out  *syncWriter
	cfg  aws.Config
	df   *deployFlags
	app  *app
	lc   *lambda.Client
	cw   *cloudwatchlogs.Client
	poll time.Duration

	units   []build.Unit      // the functions' build units
	names   map[string]string // logical id → function name
	shas    map[string]string // logical id → SHA-256 of the code it runs
	tailing map[string]bool   // function names whose logs are printed
	watcher *fsnotify.Watcher
	// debugAsked is --debug as given; debug the logical ids of the Go
	// functions it names, built for a debugger (build.Options.Debug).
	debugAsked []string
	debug      map[string]bool
}

func runDev(ctx context.Context, w io.Writer, cf *clientFlags, df *deployFlags, debounce, poll time.Duration, debug []string) error {
	a, err := loadApp(df)
	if err != nil {
		return err
	}
	cfg, err := cf.awsConfig(ctx)
	if err != nil {
		return err
	}
	watcher, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch the application's files: %w", err)
	}
	defer watcher.Close()
	lc := lambda.NewFromConfig(cfg)
	o := lc.Options()
	d := &devLoop{
		out: &syncWriter{w: w}, cfg: cfg, df: df, app: a, lc: lc, poll: poll,
		cw: cloudwatchlogs.New(cloudwatchlogs.Options{
			Region: o.Region, Credentials: o.Credentials, BaseEndpoint: o.BaseEndpoint, HTTPClient: o.HTTPClient,
		}),
		tailing: map[string]bool{}, watcher: watcher, debugAsked: debug,
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := d.deploy(ctx, &wg); err != nil {
		return err
	}
	return d.watch(ctx, &wg, debounce)
}

// deploy deploys the whole application (at the start and when the
// template changes) and watches its code directories.
func (d *devLoop) deploy(ctx context.Context, wg *sync.WaitGroup) error {
	units, err := build.Plan(d.app.tpl, d.app.dir, d.app.params)
	if err != nil {
		return err
	}
	arts, err := d.app.deployArtifacts(ctx, d.out, d.cfg, d.df)
	if err != nil {
		return err
	}
	d.units, d.names, d.shas = nil, map[string]string{}, map[string]string{}
	cfc := cloudformation.NewFromConfig(d.cfg)
	for _, u := range units {
		if u.Type != build.TypeServerlessFunction && u.Type != build.TypeLambdaFunction {
			continue // a layer: a change redeploys the stack
		}
		res, err := cfc.DescribeStackResource(ctx, &cloudformation.DescribeStackResourceInput{
			StackName: aws.String(d.app.stackName), LogicalResourceId: aws.String(u.LogicalID),
		})
		if err != nil {
			return plainAPIError(err)
		}
		name := aws.ToString(res.StackResourceDetail.PhysicalResourceId)
		d.units = append(d.units, u)
		d.names[u.LogicalID] = name
		for _, a := range arts {
			if a.LogicalID == u.LogicalID {
				d.shas[u.LogicalID] = a.SHA256
			}
		}
		if !d.tailing[name] {
			d.tailing[name] = true
			d.tail(ctx, wg, u.LogicalID, name)
		}
	}
	if err := d.debugBuilds(ctx); err != nil {
		return err
	}
	if err := d.watcher.Add(d.app.dir); err != nil {
		return fmt.Errorf("watch %s: %w", d.app.dir, err)
	}
	for _, u := range units {
		if err := d.watchTree(u.Source); err != nil {
			return err
		}
	}
	fmt.Fprintf(d.out, "Watching %d function(s) of stack %s for changes (Ctrl-C to stop)\n", len(d.units), d.app.stackName)
	return nil
}

// debugBuilds resolves --debug to Go functions' logical ids and rebuilds
// those for a debugger (the deploy built them stripped), updating them.
func (d *devLoop) debugBuilds(ctx context.Context) error {
	d.debug = map[string]bool{}
	for _, want := range d.debugAsked {
		found := false
		for _, u := range d.units {
			if want != u.LogicalID && want != d.names[u.LogicalID] {
				continue
			}
			found = true
			if !build.IsGo(u) {
				fmt.Fprintf(d.out, "--debug %s: not a Go function built here; Node.js and Python need no debug build\n", want)
				continue
			}
			d.debug[u.LogicalID] = true
		}
		if !found {
			return fmt.Errorf("--debug %s: the stack has no such function", want)
		}
	}
	for _, u := range d.units {
		if d.debug[u.LogicalID] {
			if err := d.update(ctx, u); err != nil {
				return err
			}
		}
	}
	return nil
}

// tail prints the function's log events from now on, each line prefixed
// with its logical id, until ctx ends.
func (d *devLoop) tail(ctx context.Context, wg *sync.WaitGroup, logicalID, name string) {
	group, err := logGroupOf(ctx, d.lc, name)
	if err != nil {
		fmt.Fprintf(d.out, "%s: no logs: %v\n", logicalID, plainAPIError(err))
		return
	}
	t := &tailer{cw: d.cw, group: group, start: time.Now().UnixMilli(), out: &prefixWriter{w: d.out, prefix: logicalID + " | "}}
	wg.Go(func() {
		if err := t.follow(ctx, d.poll); err != nil {
			fmt.Fprintf(d.out, "%s: logs stopped: %v\n", logicalID, plainAPIError(err))
		}
	})
}

// skipDir is a directory dev does not watch: build output, dependencies
// and version control.
func skipDir(name string) bool {
	return name == ".nimbus" || name == ".aws-sam" || name == "node_modules" || name == "__pycache__" ||
		name == ".git" || name == ".venv" || name == "target"
}

// ignored is a file whose changes do not count: editors' swap, backup
// and temporary files, and anything under a skipped directory.
func ignored(path string) bool {
	base := filepath.Base(path)
	if strings.HasPrefix(base, ".") || strings.HasSuffix(base, "~") || strings.HasSuffix(base, ".swp") || base == "4913" {
		return true
	}
	return slices.ContainsFunc(strings.Split(filepath.ToSlash(path), "/"), skipDir)
}

// watchTree watches a code directory and the directories under it
// (fsnotify watches one directory at a time). A .zip CodeUri is watched
// through its directory.
func (d *devLoop) watchTree(root string) error {
	fi, err := os.Stat(root)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return d.watcher.Add(filepath.Dir(root))
	}
	return filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || !e.IsDir() {
			return err
		}
		if p != root && skipDir(e.Name()) {
			return filepath.SkipDir
		}
		if err := d.watcher.Add(p); err != nil {
			return fmt.Errorf("watch %s: %w", p, err)
		}
		return nil
	})
}

// watch collects file events and, after debounce of quiet, acts on them.
func (d *devLoop) watch(ctx context.Context, wg *sync.WaitGroup, debounce time.Duration) error {
	changed := map[string]bool{}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err, ok := <-d.watcher.Errors:
			if !ok {
				return nil
			}
			fmt.Fprintf(d.out, "watch: %v\n", err)
		case ev, ok := <-d.watcher.Events:
			if !ok {
				return nil
			}
			if ignored(ev.Name) || ev.Op == fsnotify.Chmod {
				continue
			}
			if ev.Has(fsnotify.Create) {
				if fi, err := os.Stat(ev.Name); err == nil && fi.IsDir() {
					_ = d.watchTree(ev.Name) // a new directory: watch it too
				}
			}
			changed[ev.Name] = true
			timer.Reset(debounce)
		case <-timer.C:
			paths := changed
			changed = map[string]bool{}
			if err := d.apply(ctx, wg, paths); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				fmt.Fprintf(d.out, "%v\n(waiting for the next change)\n", err)
			}
		}
	}
}

// apply acts on changed paths: the template redeploys the stack; a file
// under a function's code rebuilds and updates that function.
func (d *devLoop) apply(ctx context.Context, wg *sync.WaitGroup, paths map[string]bool) error {
	if paths[d.app.tplPath] || d.layerChanged(paths) {
		fmt.Fprintf(d.out, "%s changed: deploying the stack\n", filepath.Base(d.app.tplPath))
		if err := d.app.reload(d.df.skipUnsupported); err != nil {
			return err
		}
		return d.deploy(ctx, wg)
	}
	var errs []error
	for _, u := range d.units {
		if !anyWithin(paths, u.Source) {
			continue
		}
		if err := d.update(ctx, u); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// anyWithin reports whether one of paths is source or under it.
func anyWithin(paths map[string]bool, source string) bool {
	for p := range paths {
		if within(p, source) {
			return true
		}
	}
	return false
}

// layerChanged reports whether a changed path is in a layer's content,
// which only a stack update publishes.
func (d *devLoop) layerChanged(paths map[string]bool) bool {
	units, err := build.Plan(d.app.tpl, d.app.dir, d.app.params)
	if err != nil {
		return false
	}
	for _, u := range units {
		if u.Type != build.TypeServerlessLayer && u.Type != build.TypeLambdaLayer {
			continue
		}
		if anyWithin(paths, u.Source) {
			return true
		}
	}
	return false
}

// within reports whether path is source or under it.
func within(path, source string) bool {
	rel, err := filepath.Rel(source, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// update rebuilds one function with deploy's build and, when its code
// changed, sends the new code with UpdateFunctionCode.
func (d *devLoop) update(ctx context.Context, u build.Unit) error {
	start := time.Now()
	// The build's line is written in two parts: buffer it so that log
	// lines printed meanwhile do not split it.
	var line bytes.Buffer
	opts := d.app.buildOptions(false)
	opts.Incremental = filepath.Join(d.app.dir, ".nimbus", "dev")
	opts.Debug = d.debug
	arts, err := buildArtifacts(ctx, &line, []build.Unit{u}, opts)
	built := time.Since(start)
	_, _ = d.out.Write(line.Bytes())
	if err != nil {
		return err
	}
	a := arts[0]
	if a.SHA256 == d.shas[u.LogicalID] {
		fmt.Fprintf(d.out, "%s: code unchanged\n", u.LogicalID)
		return nil
	}
	if a.Size > maxInlineZip {
		return fmt.Errorf("%s: the code is %s, over the %s UpdateFunctionCode takes inline: save the template to redeploy the stack", u.LogicalID, size(a.Size), size(maxInlineZip))
	}
	zip, err := os.ReadFile(a.Zip)
	if err != nil {
		return err
	}
	name := d.names[u.LogicalID]
	if _, err := d.lc.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: aws.String(name), ZipFile: zip}); err != nil {
		return fmt.Errorf("update %s: %w", u.LogicalID, plainAPIError(err))
	}
	d.shas[u.LogicalID] = a.SHA256
	fmt.Fprintf(d.out, "Updated %s (%s) in %s (build %s, update %s)\n", u.LogicalID, name, time.Since(start).Round(time.Millisecond),
		built.Round(time.Millisecond), (time.Since(start) - built).Round(time.Millisecond))
	return nil
}

// syncWriter serialises the writes of the loop and of the log tailers.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// prefixWriter puts a prefix before each write (the tailer writes one
// line at a time).
type prefixWriter struct {
	w      io.Writer
	prefix string
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	if _, err := p.w.Write(append([]byte(p.prefix), b...)); err != nil {
		return 0, err
	}
	return len(b), nil
}

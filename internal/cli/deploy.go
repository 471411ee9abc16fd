package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cfntypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/smithy-go"
	"github.com/spf13/cobra"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/build"
	"github.com/nimbus-serverless/nimbus/internal/cfn"
	"github.com/nimbus-serverless/nimbus/internal/sam"
)

// templateNames are the files deploy looks for when --template is not given.
var templateNames = []string{"template.yaml", "template.yml", "template.json"}

// skipUnsupportedTag is the stack tag that asks the node to leave out
// resource types it does not have (--skip-unsupported).
const skipUnsupportedTag = "nimbus:skip-unsupported"

type deployFlags struct {
	template        string
	stackName       string
	overrides       []string
	skipUnsupported bool
	noBuild         bool
}

func newDeployCmd(cf *clientFlags) *cobra.Command {
	var df deployFlags
	cmd := &cobra.Command{
		Use:   "deploy [KEY=VALUE ...]",
		Short: "Build a SAM or CloudFormation template's code and deploy it as a stack",
		Long: `Build the functions of a SAM template as 'sam build' does (Go with the local Go
toolchain, Node with npm, Python with pip, BuildMethod esbuild in process,
BuildMethod makefile with make, Java with mvn; cached under .nimbus/build beside
the template), upload their code to the node, and create or update the stack,
printing its events as they happen and its outputs at the end. A stack whose
code and configuration did not change is left as it is.

The template is template.yaml, template.yml or template.json in the current
directory unless --template names one. The stack name and parameter overrides
default to samconfig.toml's [default.deploy.parameters] (stack_name,
parameter_overrides) beside the template, else the stack is named after the
template's directory. Parameter overrides are KEY=VALUE (or sam's
ParameterKey=K,ParameterValue=V), given with --parameter-overrides or as
arguments.

The exit status is non-zero when the deployment failed or was rolled back.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, a := range args {
				if !strings.Contains(a, "=") {
					return fmt.Errorf("unexpected argument %q: parameter overrides are KEY=VALUE", a)
				}
			}
			df.overrides = append(df.overrides, args...)
			return runDeploy(cmd, cf, &df)
		},
	}
	cf.bind(cmd)
	f := cmd.Flags()
	f.StringVarP(&df.template, "template", "t", "", "template file (default template.yaml, template.yml or template.json)")
	f.StringVar(&df.stackName, "stack-name", "", "stack name (default samconfig.toml's stack_name, else the template's directory name)")
	f.StringArrayVar(&df.overrides, "parameter-overrides", nil, "parameter values, KEY=VALUE (repeatable; a quoted list of several works too)")
	f.BoolVar(&df.skipUnsupported, "skip-unsupported", false, "deploy without the resource types Nimbus does not have, with a warning for each")
	f.BoolVar(&df.noBuild, "no-build", false, "package each code directory as it is, without compiling or installing dependencies")
	return cmd
}

// findTemplate resolves --template, else the default names in dir.
func findTemplate(flag, dir string) (string, error) {
	if flag != "" {
		if fi, err := os.Stat(flag); err == nil && fi.IsDir() {
			return findTemplate("", flag)
		}
		return flag, nil
	}
	for _, n := range templateNames {
		p := filepath.Join(dir, n)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no template: none of %s in %s (use --template)", strings.Join(templateNames, ", "), dir)
}

var stackNameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z][-a-zA-Z0-9]{0,127}$`) })

// defaultStackName makes a valid stack name of a directory's name.
func defaultStackName(dir string) string {
	name := []byte(filepath.Base(dir))
	for i, c := range name {
		if !isLetter(c) && (c < '0' || c > '9') && c != '-' {
			name[i] = '-'
		}
	}
	s := strings.Trim(string(name), "-")
	if s == "" || !isLetter(s[0]) {
		s = "stack-" + s
	}
	if len(s) > 128 {
		s = s[:128]
	}
	return s
}

// readSamConfig reads samconfig.toml in dir, if there is one.
func readSamConfig(dir string) (*samConfig, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "samconfig.toml"))
	if err != nil {
		return &samConfig{}, nil //nolint:nilerr // no samconfig.toml is the common case
	}
	return parseSamConfig(string(raw))
}

// stackNameFor is the stack a command means: --stack-name, else
// samconfig.toml's stack_name, else the application directory's name.
func stackNameFor(flag string, sc *samConfig, dir string) (string, error) {
	name := flag
	if name == "" {
		name = sc.StackName
	}
	if name == "" {
		name = defaultStackName(dir)
	}
	if !stackNameRE().MatchString(name) {
		return "", fmt.Errorf("stack name %q: a stack name starts with a letter and has only letters, digits and hyphens (at most 128)", name)
	}
	return name, nil
}

// appStackName is the stack of the application in the current directory,
// found as deploy finds it (--stack-name, else samconfig.toml beside the
// template, else the template's directory name), for the commands that
// act on a deployed application (delete, logs).
func appStackName(flag, template string) (string, error) {
	if flag != "" {
		return stackNameFor(flag, &samConfig{}, ".")
	}
	dir := "."
	if p, err := findTemplate(template, "."); err == nil {
		dir = filepath.Dir(p)
	} else if template != "" {
		return "", err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	sc, err := readSamConfig(abs)
	if err != nil {
		return "", err
	}
	return stackNameFor("", sc, abs)
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func runDeploy(cmd *cobra.Command, cf *clientFlags, df *deployFlags) error {
	ctx := cmd.Context()
	a, err := loadApp(df)
	if err != nil {
		return err
	}
	cfg, err := cf.awsConfig(ctx)
	if err != nil {
		return err
	}
	return a.deploy(ctx, cmd.OutOrStdout(), cfg, df)
}

// app is an application as deploy finds it: its template (parsed, with
// AWS::Include snippets of local files inlined), directory, stack name
// and parameter values.
type app struct {
	tplPath   string
	dir       string
	stackName string
	params    map[string]string
	tpl       *cfn.Template
}

// loadApp finds and reads the application df names (--template, else the
// current directory's template; --stack-name, else samconfig.toml's, else
// the directory's name).
func loadApp(df *deployFlags) (*app, error) {
	tplPath, err := findTemplate(df.template, ".")
	if err != nil {
		return nil, err
	}
	tplPath, err = filepath.Abs(tplPath)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(tplPath)
	sc, err := readSamConfig(dir)
	if err != nil {
		return nil, err
	}
	stackName, err := stackNameFor(df.stackName, sc, dir)
	if err != nil {
		return nil, err
	}
	var items []string
	items = append(items, sc.ParameterOverrides...)
	for _, o := range df.overrides {
		items = append(items, splitOverrides(o)...)
	}
	params, err := parseOverrides(items)
	if err != nil {
		return nil, err
	}
	a := &app{tplPath: tplPath, dir: dir, stackName: stackName, params: params}
	if err := a.reload(df.skipUnsupported); err != nil {
		return nil, err
	}
	return a, nil
}

// reload reads and checks the template again.
func (a *app) reload(skipUnsupported bool) error {
	raw, err := os.ReadFile(a.tplPath)
	if err != nil {
		return err
	}
	tpl, err := cfn.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(a.tplPath), err)
	}
	if err := build.InlineIncludes(tpl, a.dir); err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(a.tplPath), err)
	}
	if err := checkBeforeBuild(tpl, skipUnsupported); err != nil {
		return fmt.Errorf("%s: %w", filepath.Base(a.tplPath), err)
	}
	a.tpl = tpl
	return nil
}

// buildOptions are the options of every build of the application's code.
func (a *app) buildOptions(noBuild bool) build.Options {
	return build.Options{CacheDir: filepath.Join(a.dir, ".nimbus", "build"), NoBuild: noBuild}
}

// deploy validates, builds, uploads and deploys the application's
// template as its stack. It rewrites a.tpl's code locations (reload
// reads the template again).
func (a *app) deploy(ctx context.Context, out io.Writer, cfg aws.Config, df *deployFlags) error {
	_, err := a.deployArtifacts(ctx, out, cfg, df)
	return err
}

// deployArtifacts is deploy, returning the artifacts it deployed.
func (a *app) deployArtifacts(ctx context.Context, out io.Writer, cfg aws.Config, df *deployFlags) ([]build.Artifact, error) {
	cfc := cloudformation.NewFromConfig(cfg)
	if err := validateBeforeBuild(ctx, cfc, a.tpl, df.skipUnsupported); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(a.tplPath), err)
	}
	units, err := build.Plan(a.tpl, a.dir, a.params)
	if err != nil {
		return nil, err
	}
	arts, err := buildArtifacts(ctx, out, units, a.buildOptions(df.noBuild))
	if err != nil {
		return nil, err
	}
	if err := uploadArtifacts(ctx, out, cfg, arts); err != nil {
		return nil, err
	}
	if err := build.Package(a.tpl, a.dir, arts); err != nil {
		return nil, err
	}
	body, err := a.tpl.Marshal()
	if err != nil {
		return nil, fmt.Errorf("write the packaged template: %w", err)
	}
	d := &stackClient{c: cfc, out: out, endpoint: aws.ToString(cfg.BaseEndpoint)}
	return arts, plainAPIError(d.deploy(ctx, a.stackName, string(body), a.tpl, a.params, df.skipUnsupported))
}

// checkBeforeBuild refuses, before anything is built, a template with
// SAM features and event sources of services Nimbus does not have (all of
// them listed at once). Building first would spend minutes, or stop at a
// build error, without ever showing that list.
func checkBeforeBuild(tpl *cfn.Template, skipUnsupported bool) error {
	var ue *sam.UnsupportedError
	if err := sam.CheckSupported(tpl, skipUnsupported); errors.As(err, &ue) {
		return fmt.Errorf("nothing was built: the application needs what Nimbus does not have yet:\n  %s", strings.Join(ue.Lines, "\n  "))
	} else if err != nil {
		return err
	}
	return nil
}

// unsupportedTypesPrefix starts the node's refusal of resource types it
// has no provider for, which --skip-unsupported leaves to the deploy.
const unsupportedTypesPrefix = "Template contains resource types Nimbus does not support"

// validateBeforeBuild asks the node to validate the template (as
// ValidateTemplate) before anything is built: the node refuses the plain
// CloudFormation resource types it has no provider for, macros it does
// not run, and AWS::Include snippets it cannot read from a bucket, all of
// which it would otherwise say only after the build.
func validateBeforeBuild(ctx context.Context, c *cloudformation.Client, tpl *cfn.Template, skipUnsupported bool) error {
	body, err := tpl.Marshal()
	if err != nil {
		return fmt.Errorf("encode the template: %w", err)
	}
	_, err = c.ValidateTemplate(ctx, &cloudformation.ValidateTemplateInput{TemplateBody: aws.String(string(body))})
	var ae smithy.APIError
	if errors.As(err, &ae) {
		if skipUnsupported && strings.HasPrefix(ae.ErrorMessage(), unsupportedTypesPrefix) {
			return nil
		}
		return fmt.Errorf("nothing was built: %s", ae.ErrorMessage())
	}
	return err
}

// plainAPIError shortens the SDK's "operation error CloudFormation:
// CreateStack, https response error StatusCode: 400, RequestID: ..., api
// error Code: message" to "Code: message".
func plainAPIError(err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return fmt.Errorf("%s: %s", ae.ErrorCode(), ae.ErrorMessage())
	}
	return err
}

// buildArtifacts builds units, saying what it does.
func buildArtifacts(ctx context.Context, out io.Writer, units []build.Unit, opts build.Options) ([]build.Artifact, error) {
	arts := make([]build.Artifact, 0, len(units))
	for _, u := range units {
		what := u.Runtime
		if u.BuildMethod != "" && u.BuildMethod != u.Runtime {
			what += ", " + u.BuildMethod
		}
		what = strings.TrimPrefix(what, ", ")
		if what == "" {
			what = "copied as is" // a layer without a BuildMethod
		}
		fmt.Fprintf(out, "Building %s (%s)", u.LogicalID, what)
		a, err := build.Build(ctx, u, opts)
		if err != nil {
			fmt.Fprintln(out, ": failed")
			return nil, err
		}
		state := "built"
		if a.Cached {
			state = "cached"
		}
		fmt.Fprintf(out, ": %s, %s\n", state, size(a.Size))
		arts = append(arts, *a)
	}
	return arts, nil
}

func size(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// uploadArtifacts puts each artifact the node does not have yet.
func uploadArtifacts(ctx context.Context, out io.Writer, cfg aws.Config, arts []build.Artifact) error {
	done := map[string]bool{}
	for _, a := range arts {
		if done[a.SHA256] {
			continue
		}
		done[a.SHA256] = true
		uploaded, err := uploadArtifact(ctx, cfg, a)
		if err != nil {
			return fmt.Errorf("upload the code of %s: %w", a.LogicalID, err)
		}
		if uploaded {
			fmt.Fprintf(out, "Uploaded %s code %s (%s)\n", a.LogicalID, a.SHA256[:12], size(a.Size))
		}
	}
	return nil
}

// emptySHA256 is the payload hash of a request without a body.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// uploadArtifact asks the node whether it has the artifact (HEAD) and
// puts it if not, SigV4-signed as the cloudformation service. It reports
// whether it uploaded.
func uploadArtifact(ctx context.Context, cfg aws.Config, a build.Artifact) (bool, error) {
	u := strings.TrimSuffix(aws.ToString(cfg.BaseEndpoint), "/") + "/_nimbus/artifacts/" + a.SHA256
	status, msg, err := artifactRequest(ctx, cfg, http.MethodHead, u, emptySHA256, nil, 0)
	if err != nil {
		return false, err
	}
	switch status {
	case http.StatusOK:
		return false, nil
	case http.StatusNotFound:
	default:
		return false, fmt.Errorf("HEAD %s: %s", u, artifactRefusal(status, msg))
	}
	f, err := os.Open(a.Zip)
	if err != nil {
		return false, err
	}
	defer f.Close()
	status, msg, err = artifactRequest(ctx, cfg, http.MethodPut, u, a.SHA256, f, a.Size)
	if err != nil {
		return false, err
	}
	if status/100 != 2 {
		return false, fmt.Errorf("PUT %s: %s", u, artifactRefusal(status, msg))
	}
	return true, nil
}

func artifactRequest(ctx context.Context, cfg aws.Config, method, url, payloadHash string, body io.Reader, n int64) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return 0, "", err
	}
	req.ContentLength = n
	if body != nil {
		req.Header.Set("Content-Type", "application/zip")
	}
	req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return 0, "", err
	}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, payloadHash, "cloudformation", cfg.Region, time.Now()); err != nil {
		return 0, "", err
	}
	client := cfg.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		var ue *neturl.Error
		if errors.As(err, &ue) {
			return 0, "", fmt.Errorf("cannot reach the node at %s: %w", aws.ToString(cfg.BaseEndpoint), ue.Err)
		}
		return 0, "", err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, strings.TrimSpace(string(msg)), nil
}

// stackClient drives CloudFormation for deploy, delete and stacks.
type stackClient struct {
	c   *cloudformation.Client
	out io.Writer
	// endpoint is the node's URL, for the local form of AWS URLs in outputs.
	endpoint string
	// poll is the interval between DescribeStackEvents calls.
	poll time.Duration
}

// describe returns the stack, or nil when it does not exist.
func (s *stackClient) describe(ctx context.Context, nameOrID string) (*cfntypes.Stack, error) {
	res, err := s.c.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(nameOrID)})
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && awsapi.HasCode(err, "ValidationError") && strings.Contains(ae.ErrorMessage(), "does not exist") {
			return nil, nil
		}
		return nil, err
	}
	if len(res.Stacks) == 0 {
		return nil, nil
	}
	return &res.Stacks[0], nil
}

func (s *stackClient) deploy(ctx context.Context, name, body string, tpl *cfn.Template, params map[string]string, skipUnsupported bool) error {
	existing, err := s.describe(ctx, name)
	if err != nil {
		return err
	}
	if existing != nil {
		switch st := string(existing.StackStatus); {
		case st == string(cfntypes.StackStatusRollbackComplete) || st == string(cfntypes.StackStatusRollbackFailed):
			fmt.Fprintf(s.out, "Stack %s is in %s (its creation failed): deleting it to create it again\n", name, st)
			if err := s.deleteAndWait(ctx, existing); err != nil {
				return err
			}
			existing = nil
		case st == string(cfntypes.StackStatusReviewInProgress):
			// Made by a change set never executed (aws cloudformation deploy
			// --no-execute-changeset): it has no resources yet.
			fmt.Fprintf(s.out, "Stack %s is in %s (a change set was never executed): deleting it to create it again\n", name, st)
			if err := s.deleteAndWait(ctx, existing); err != nil {
				return err
			}
			existing = nil
		case strings.HasSuffix(st, "_IN_PROGRESS"):
			return fmt.Errorf("stack %s is %s: wait for that operation to end, then deploy again", name, st)
		}
	}
	caps := []cfntypes.Capability{cfntypes.CapabilityCapabilityIam, cfntypes.CapabilityCapabilityNamedIam, cfntypes.CapabilityCapabilityAutoExpand}
	var tags []cfntypes.Tag
	if skipUnsupported {
		tags = append(tags, cfntypes.Tag{Key: aws.String(skipUnsupportedTag), Value: aws.String("true")})
	}
	var cparams []cfntypes.Parameter
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		cparams = append(cparams, cfntypes.Parameter{ParameterKey: aws.String(k), ParameterValue: aws.String(params[k])})
	}

	if existing == nil {
		fmt.Fprintf(s.out, "Creating stack %s\n", name)
		res, err := s.c.CreateStack(ctx, &cloudformation.CreateStackInput{
			StackName: aws.String(name), TemplateBody: aws.String(body), Parameters: cparams,
			Capabilities: caps, Tags: tags,
		})
		if err != nil {
			return err
		}
		return s.finish(ctx, aws.ToString(res.StackId), "", cfntypes.StackStatusCreateComplete)
	}

	// Parameters the stack has, the template declares without a default
	// and the user did not give keep their previous values.
	for _, p := range existing.Parameters {
		k := aws.ToString(p.ParameterKey)
		if _, given := params[k]; given {
			continue
		}
		if decl := tpl.Parameters[k]; decl != nil && decl.Default == nil {
			cparams = append(cparams, cfntypes.Parameter{ParameterKey: aws.String(k), UsePreviousValue: aws.Bool(true)})
		}
	}
	// The tag is turned off explicitly, since UpdateStack keeps the
	// previous tags when given none.
	if !skipUnsupported {
		for _, t := range existing.Tags {
			if aws.ToString(t.Key) == skipUnsupportedTag && aws.ToString(t.Value) == "true" {
				tags = append(tags, cfntypes.Tag{Key: aws.String(skipUnsupportedTag), Value: aws.String("false")})
			}
		}
	}
	id := aws.ToString(existing.StackId)
	marker, err := s.newestEvent(ctx, id)
	if err != nil {
		return err
	}
	_, err = s.c.UpdateStack(ctx, &cloudformation.UpdateStackInput{
		StackName: aws.String(id), TemplateBody: aws.String(body), Parameters: cparams,
		Capabilities: caps, Tags: tags,
	})
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && strings.Contains(ae.ErrorMessage(), "No updates are to be performed") {
			fmt.Fprintf(s.out, "No changes to deploy. Stack %s is up to date\n", name)
			printOutputs(s.out, existing.Outputs, s.endpoint)
			return nil
		}
		return err
	}
	fmt.Fprintf(s.out, "Updating stack %s\n", name)
	return s.finish(ctx, id, marker, cfntypes.StackStatusUpdateComplete)
}

// finish follows the stack's events to a final status and prints its
// outputs; a final status other than want is an error.
func (s *stackClient) finish(ctx context.Context, id, marker string, want cfntypes.StackStatus) error {
	st, failures, err := s.follow(ctx, id, marker)
	if err != nil {
		return err
	}
	if st.StackStatus != want {
		msg := fmt.Sprintf("stack %s: %s", aws.ToString(st.StackName), st.StackStatus)
		if r := aws.ToString(st.StackStatusReason); r != "" {
			msg += ": " + r
		}
		if len(failures) > 0 {
			msg += "\nfailed: " + strings.Join(failures, "\nfailed: ")
		}
		return errors.New(msg)
	}
	fmt.Fprintf(s.out, "Stack %s: %s\n", aws.ToString(st.StackName), st.StackStatus)
	printOutputs(s.out, st.Outputs, s.endpoint)
	return nil
}

// newestEvent is the id of the stack's newest event, "" if none.
func (s *stackClient) newestEvent(ctx context.Context, id string) (string, error) {
	res, err := s.c.DescribeStackEvents(ctx, &cloudformation.DescribeStackEventsInput{StackName: aws.String(id)})
	if err != nil {
		return "", err
	}
	if len(res.StackEvents) == 0 {
		return "", nil
	}
	return aws.ToString(res.StackEvents[0].EventId), nil
}

// newEvents returns the stack's events newer than marker, oldest first.
func (s *stackClient) newEvents(ctx context.Context, id, marker string) ([]cfntypes.StackEvent, error) {
	var fresh []cfntypes.StackEvent
	p := cloudformation.NewDescribeStackEventsPaginator(s.c, &cloudformation.DescribeStackEventsInput{StackName: aws.String(id)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, e := range page.StackEvents {
			if marker != "" && aws.ToString(e.EventId) == marker {
				slices.Reverse(fresh)
				return fresh, nil
			}
			fresh = append(fresh, e)
		}
	}
	slices.Reverse(fresh)
	return fresh, nil
}

// follow prints the stack's events after marker as they come until the
// stack reaches a final status, and returns the stack then with the
// failures its events reported ("LogicalId (Type): reason").
func (s *stackClient) follow(ctx context.Context, id, marker string) (*cfntypes.Stack, []string, error) {
	poll := s.poll
	if poll == 0 {
		poll = 500 * time.Millisecond
	}
	tick := time.NewTicker(poll)
	defer tick.Stop()
	var failures []string
	header := false
	for {
		events, err := s.newEvents(ctx, id, marker)
		if err != nil {
			return nil, nil, err
		}
		for _, e := range events {
			if !header {
				fmt.Fprintf(s.out, "%-19s  %-44s  %-32s  %-28s  %s\n", "TIME", "STATUS", "TYPE", "LOGICAL ID", "REASON")
				header = true
			}
			reason := aws.ToString(e.ResourceStatusReason)
			if reason == "" {
				reason = "-"
			}
			fmt.Fprintf(s.out, "%-19s  %-44s  %-32s  %-28s  %s\n", aws.ToTime(e.Timestamp).Local().Format("2006-01-02 15:04:05"),
				e.ResourceStatus, aws.ToString(e.ResourceType), aws.ToString(e.LogicalResourceId), reason)
			if strings.HasSuffix(string(e.ResourceStatus), "_FAILED") && aws.ToString(e.ResourceType) != "AWS::CloudFormation::Stack" {
				failures = append(failures, fmt.Sprintf("%s (%s): %s", aws.ToString(e.LogicalResourceId), aws.ToString(e.ResourceType), reason))
			}
			marker = aws.ToString(e.EventId)
		}
		st, err := s.describe(ctx, id)
		if err != nil {
			return nil, nil, err
		}
		if st == nil {
			return nil, nil, fmt.Errorf("stack %s disappeared", id)
		}
		if !strings.HasSuffix(string(st.StackStatus), "_IN_PROGRESS") {
			// The final events may have landed after the last read.
			events, err := s.newEvents(ctx, id, marker)
			if err == nil && len(events) > 0 {
				continue
			}
			return st, failures, nil
		}
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-tick.C:
		}
	}
}

// deleteAndWait deletes a stack and follows it to DELETE_COMPLETE.
func (s *stackClient) deleteAndWait(ctx context.Context, st *cfntypes.Stack) error {
	id := aws.ToString(st.StackId)
	marker, err := s.newestEvent(ctx, id)
	if err != nil {
		return err
	}
	if _, err := s.c.DeleteStack(ctx, &cloudformation.DeleteStackInput{StackName: aws.String(id)}); err != nil {
		return err
	}
	final, failures, err := s.follow(ctx, id, marker)
	if err != nil {
		return err
	}
	if final.StackStatus != cfntypes.StackStatusDeleteComplete {
		msg := fmt.Sprintf("delete stack %s: %s %s", aws.ToString(st.StackName), final.StackStatus, aws.ToString(final.StackStatusReason))
		if len(failures) > 0 {
			msg += "\nfailed: " + strings.Join(failures, "\nfailed: ")
		}
		return errors.New(msg)
	}
	return nil
}

// printOutputs prints a stack's outputs as a table. An output that is an
// AWS URL of an API the node serves gets a second line with its local URL.
func printOutputs(w io.Writer, outs []cfntypes.Output, endpoint string) {
	if len(outs) == 0 {
		return
	}
	slices.SortFunc(outs, func(a, b cfntypes.Output) int {
		return strings.Compare(aws.ToString(a.OutputKey), aws.ToString(b.OutputKey))
	})
	kw, vw := len("KEY"), len("VALUE")
	for _, o := range outs {
		kw = max(kw, len(aws.ToString(o.OutputKey)))
		vw = max(vw, len(aws.ToString(o.OutputValue)))
	}
	fmt.Fprintln(w, "Outputs")
	fmt.Fprintf(w, "%-*s  %-*s  %s\n", kw, "KEY", vw, "VALUE", "DESCRIPTION")
	for _, o := range outs {
		line := fmt.Sprintf("%-*s  %-*s  %s", kw, aws.ToString(o.OutputKey), vw, aws.ToString(o.OutputValue), aws.ToString(o.Description))
		fmt.Fprintln(w, strings.TrimRight(line, " "))
		if local, ok := localURL(aws.ToString(o.OutputValue), endpoint); ok {
			fmt.Fprintf(w, "%-*s  on this node: %s\n", kw, "", local)
		}
		if p, ok := pathStyleURL(aws.ToString(o.OutputValue), endpoint); ok {
			fmt.Fprintf(w, "%-*s  path-style: %s\n", kw, "", p)
		}
	}
}

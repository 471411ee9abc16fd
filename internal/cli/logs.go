package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/spf13/cobra"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
)

func newLogsCmd(cf *clientFlags) *cobra.Command {
	var since, filter, stackName, name string
	var follow bool
	var poll time.Duration
	cmd := &cobra.Command{
		Use:   "logs FUNCTION | -n LOGICAL_ID [--stack-name NAME]",
		Short: "Print a function's logs (and follow them)",
		Long: `Print the log events of a function's log group (its LoggingConfig.LogGroup,
by default /aws/lambda/FUNCTION) from --since ago, oldest first, as
"<time> <message>". --filter takes a CloudWatch Logs filter pattern (terms,
"quoted phrases", -exclusions, ?alternatives, { $.level = "ERROR" } JSON
patterns, [a, b, ...] space-delimited patterns). --follow keeps printing new
events until interrupted. It uses the CloudWatch Logs API, like
'aws logs tail'.

FUNCTION is a function name or ARN, or (as 'sam logs -n' takes it) a logical
id of a function in the stack --stack-name names; without --stack-name, a
logical id is looked up in the stack deploy makes from the current directory.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				name = args[0]
			}
			if name == "" {
				return errors.New("name a function: nimbus logs FUNCTION, or -n LOGICAL_ID")
			}
			start, err := parseSince(since, time.Now())
			if err != nil {
				return err
			}
			cfg, err := cf.awsConfig(cmd.Context())
			if err != nil {
				return err
			}
			lc := lambda.NewFromConfig(cfg)
			fn, err := functionOf(cmd.Context(), cfg, lc, name, stackName)
			if err != nil {
				return err
			}
			group, err := logGroupOf(cmd.Context(), lc, fn)
			if err != nil {
				return err
			}
			o := lc.Options()
			cw := cloudwatchlogs.New(cloudwatchlogs.Options{
				Region: o.Region, Credentials: o.Credentials, BaseEndpoint: o.BaseEndpoint, HTTPClient: o.HTTPClient,
			})
			t := &tailer{cw: cw, group: group, filter: filter, start: start.UnixMilli(), out: cmd.OutOrStdout()}
			if !follow {
				return t.once(cmd.Context())
			}
			return t.follow(cmd.Context(), poll)
		},
	}
	cf.bind(cmd)
	cmd.Flags().StringVarP(&name, "name", "n", "", "function name, ARN or logical id (sam logs' -n)")
	cmd.Flags().StringVar(&stackName, "stack-name", "", "stack whose logical id FUNCTION is (default: as deploy names it from the current directory)")
	cmd.Flags().StringVar(&since, "since", "10m", "how far back to start (e.g. 30s, 10m, 2h, 1d, or an RFC 3339 time)")
	cmd.Flags().StringVar(&filter, "filter", "", "CloudWatch Logs filter pattern")
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new log events")
	cmd.Flags().DurationVar(&poll, "poll-interval", time.Second, "how often --follow asks for new events")
	return cmd
}

// functionOf resolves what the user named: a logical id of a function in
// the stack (--stack-name, else the current directory's application),
// else a function name or ARN as given.
func functionOf(ctx context.Context, cfg aws.Config, lc *lambda.Client, name, stackName string) (string, error) {
	if strings.HasPrefix(name, "arn:") {
		return name, nil
	}
	explicit := stackName != ""
	if !explicit {
		// A function of that name wins over a logical id.
		if _, err := lc.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(name)}); err == nil {
			return name, nil
		}
		var err error
		if stackName, err = appStackName("", ""); err != nil {
			return name, nil //nolint:nilerr // no application here: the name is a function name
		}
	}
	out, err := cloudformation.NewFromConfig(cfg).DescribeStackResource(ctx, &cloudformation.DescribeStackResourceInput{
		StackName: aws.String(stackName), LogicalResourceId: aws.String(name),
	})
	if err != nil {
		if explicit {
			return "", plainAPIError(err)
		}
		return name, nil
	}
	d := out.StackResourceDetail
	if t := aws.ToString(d.ResourceType); t != "AWS::Lambda::Function" && t != "AWS::Serverless::Function" {
		return "", fmt.Errorf("%s in stack %s is a %s, not a function", name, stackName, t)
	}
	return aws.ToString(d.PhysicalResourceId), nil
}

// parseSince reads "10m", "2h", "1d", "1w" (ago) or an RFC 3339 time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if n := len(s); n > 1 {
		unit := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour}[s[n-1]]
		if v, err := strconv.Atoi(s[:n-1]); err == nil && v >= 0 && unit > 0 {
			return now.Add(-time.Duration(v) * unit), nil
		}
	}
	return time.Time{}, fmt.Errorf("--since %q: want a duration like 10m, 2h, 1d or an RFC 3339 time", s)
}

// logGroupOf is the function's log group: its LoggingConfig.LogGroup.
func logGroupOf(ctx context.Context, lc *lambda.Client, fn string) (string, error) {
	out, err := lc.GetFunctionConfiguration(ctx, &lambda.GetFunctionConfigurationInput{FunctionName: aws.String(fn)})
	if err != nil {
		return "", err
	}
	if out.LoggingConfig != nil && aws.ToString(out.LoggingConfig.LogGroup) != "" {
		return aws.ToString(out.LoggingConfig.LogGroup), nil
	}
	return "/aws/lambda/" + aws.ToString(out.FunctionName), nil
}

// tailer prints a group's events once or follows them. Each poll asks
// FilterLogEvents from a little before the newest timestamp seen (events
// of concurrent environments may arrive slightly out of time order) and
// prints the events after the last one printed: Nimbus's event ids are
// fixed-width and grow in ingestion order, so they compare as strings.
type tailer struct {
	cw     *cloudwatchlogs.Client
	group  string
	filter string
	start  int64 // ms
	out    io.Writer

	newest int64  // newest timestamp printed (ms)
	lastID string // id of the last event printed
}

// followSlack is how far before the newest event a follow poll starts.
const followSlack = 10 * time.Second

func (t *tailer) once(ctx context.Context) error {
	_, err := t.poll(ctx)
	return err
}

func (t *tailer) follow(ctx context.Context, every time.Duration) error {
	tick := time.NewTicker(max(every, 10*time.Millisecond))
	defer tick.Stop()
	for {
		if _, err := t.poll(ctx); err != nil {
			if ctx.Err() != nil {
				return nil // interrupted
			}
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func (t *tailer) poll(ctx context.Context) (int, error) {
	in := &cloudwatchlogs.FilterLogEventsInput{LogGroupName: aws.String(t.group), StartTime: aws.Int64(max(t.start, t.newest-followSlack.Milliseconds()))}
	if t.filter != "" {
		in.FilterPattern = aws.String(t.filter)
	}
	printed := 0
	p := cloudwatchlogs.NewFilterLogEventsPaginator(t.cw, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			if awsapi.HasCode(err, "ResourceNotFoundException") {
				return printed, nil // no log yet: the function has not run
			}
			return printed, err
		}
		for _, e := range page.Events {
			ts, id := aws.ToInt64(e.Timestamp), aws.ToString(e.EventId)
			if t.lastID != "" && (len(id) < len(t.lastID) || len(id) == len(t.lastID) && id <= t.lastID) {
				continue // printed by an earlier poll
			}
			t.lastID, t.newest = id, max(t.newest, ts)
			msg := strings.TrimRight(aws.ToString(e.Message), "\n")
			if _, err := fmt.Fprintf(t.out, "%s %s\n", time.UnixMilli(ts).UTC().Format("2006-01-02T15:04:05.000Z"), msg); err != nil {
				return printed, err
			}
			printed++
		}
	}
	return printed, nil
}

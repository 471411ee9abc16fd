package cli

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/spf13/cobra"
)

// coldStartNamespace and coldStartMetric are where the node counts cold
// starts (AWS/Lambda has no such metric; the node's own namespace does).
const (
	coldStartNamespace = "Nimbus/Lambda"
	coldStartMetric    = "ColdStarts"
)

// topQueriesPerFunction is how many GetMetricData queries one row takes;
// GetMetricData takes 500 queries, so one call reads 100 functions.
const (
	topQueriesPerFunction = 5
	topFunctionsPerCall   = 500 / topQueriesPerFunction
)

type topFlags struct {
	once     bool
	interval time.Duration
	window   time.Duration
	limit    int
}

func newTopCmd(cf *clientFlags) *cobra.Command {
	var tf topFlags
	cmd := &cobra.Command{
		Use:   "top",
		Short: "A live view of functions: rate, errors, p99, concurrency, cold starts",
		Long: `Show every function of the node with what CloudWatch holds for it over the
last --window: invocations and their rate per second, errors, the p99 of
Duration, the highest ConcurrentExecutions and the cold starts (metric
Nimbus/Lambda ColdStarts). The view is redrawn every --interval until
interrupted; --once prints one frame and exits. It reads the CloudWatch API
(GetMetricData) and the Lambda API (ListFunctions), as any client could.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if tf.window < time.Minute || tf.window > 3*time.Hour || tf.window%time.Minute != 0 {
				return fmt.Errorf("--window must be whole minutes between 1m and 3h, not %s", tf.window)
			}
			if tf.interval < 500*time.Millisecond {
				return fmt.Errorf("--interval must be at least 500ms, not %s", tf.interval)
			}
			cfg, err := cf.awsConfig(cmd.Context())
			if err != nil {
				return err
			}
			t := &topView{cw: cloudwatch.NewFromConfig(cfg), lambda: lambda.NewFromConfig(cfg), flags: tf, now: time.Now}
			return t.run(cmd.Context(), cmd.OutOrStdout())
		},
	}
	cf.bind(cmd)
	f := cmd.Flags()
	f.BoolVar(&tf.once, "once", false, "print one frame and exit")
	f.DurationVar(&tf.interval, "interval", 2*time.Second, "time between frames")
	f.DurationVar(&tf.window, "window", 5*time.Minute, "the span each frame summarises (whole minutes)")
	f.IntVar(&tf.limit, "limit", 40, "show at most this many functions, the busiest first")
	return cmd
}

// topView reads and draws frames.
type topView struct {
	cw     *cloudwatch.Client
	lambda *lambda.Client
	flags  topFlags
	now    func() time.Time
}

// topRow is one function's line.
type topRow struct {
	name                         string
	invocations, errors, coldRun float64
	p99, concurrency             float64 // NaN when no data
}

// ANSI sequences of a redraw: home the cursor, clear the screen.
const ansiRedraw = "\x1b[H\x1b[2J"

func (t *topView) run(ctx context.Context, out io.Writer) error {
	for {
		rows, start, end, err := t.frame(ctx)
		if err != nil {
			return err
		}
		if t.flags.once {
			t.draw(out, rows, start, end)
			return nil
		}
		_, _ = io.WriteString(out, ansiRedraw)
		t.draw(out, rows, start, end)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(t.flags.interval):
		}
	}
}

// frame reads the rows of one frame over [start, end).
func (t *topView) frame(ctx context.Context) ([]topRow, time.Time, time.Time, error) {
	var names []string
	p := lambda.NewListFunctionsPaginator(t.lambda, &lambda.ListFunctionsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, time.Time{}, time.Time{}, fmt.Errorf("list functions: %w", err)
		}
		for _, f := range page.Functions {
			names = append(names, aws.ToString(f.FunctionName))
		}
	}
	// Whole minutes, the last one still filling: the node rolls its own
	// metrics up by minute.
	end := t.now().Truncate(time.Minute).Add(time.Minute)
	start := end.Add(-t.flags.window)
	rows := make([]topRow, 0, len(names))
	for chunk := range slices.Chunk(names, topFunctionsPerCall) {
		got, err := t.read(ctx, chunk, start, end)
		if err != nil {
			return nil, start, end, err
		}
		rows = append(rows, got...)
	}
	slices.SortStableFunc(rows, func(a, b topRow) int {
		if a.invocations != b.invocations {
			if a.invocations > b.invocations {
				return -1
			}
			return 1
		}
		return strings.Compare(a.name, b.name)
	})
	return rows, start, end, nil
}

// read asks GetMetricData for the rows of names.
func (t *topView) read(ctx context.Context, names []string, start, end time.Time) ([]topRow, error) {
	period := int32(end.Sub(start) / time.Second) //nolint:gosec // --window is at most 3 h
	stat := func(id, ns, metric, fn, s string) cwtypes.MetricDataQuery {
		return cwtypes.MetricDataQuery{Id: aws.String(id), MetricStat: &cwtypes.MetricStat{
			Metric: &cwtypes.Metric{Namespace: aws.String(ns), MetricName: aws.String(metric),
				Dimensions: []cwtypes.Dimension{{Name: aws.String("FunctionName"), Value: aws.String(fn)}}},
			Period: aws.Int32(period), Stat: aws.String(s),
		}}
	}
	var queries []cwtypes.MetricDataQuery
	for i, fn := range names {
		n := strconv.Itoa(i)
		queries = append(queries,
			stat("inv"+n, "AWS/Lambda", "Invocations", fn, "Sum"),
			stat("err"+n, "AWS/Lambda", "Errors", fn, "Sum"),
			stat("dur"+n, "AWS/Lambda", "Duration", fn, "p99"),
			stat("con"+n, "AWS/Lambda", "ConcurrentExecutions", fn, "Maximum"),
			stat("cold"+n, coldStartNamespace, coldStartMetric, fn, "Sum"))
	}
	values := map[string]float64{}
	p := cloudwatch.NewGetMetricDataPaginator(t.cw, &cloudwatch.GetMetricDataInput{
		MetricDataQueries: queries, StartTime: aws.Time(start), EndTime: aws.Time(end),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("get metric data: %w", plainAPIError(err))
		}
		for _, r := range page.MetricDataResults {
			if len(r.Values) > 0 {
				values[aws.ToString(r.Id)] = r.Values[0]
			}
		}
	}
	get := func(id string, missing float64) float64 {
		if v, ok := values[id]; ok {
			return v
		}
		return missing
	}
	rows := make([]topRow, len(names))
	for i, fn := range names {
		n := strconv.Itoa(i)
		rows[i] = topRow{name: fn, invocations: get("inv"+n, 0), errors: get("err"+n, 0), coldRun: get("cold"+n, 0),
			p99: get("dur"+n, math.NaN()), concurrency: get("con"+n, math.NaN())}
	}
	return rows, nil
}

// draw prints one frame.
func (t *topView) draw(out io.Writer, rows []topRow, start, end time.Time) {
	secs := t.now().Sub(start).Seconds()
	if secs <= 0 {
		secs = end.Sub(start).Seconds()
	}
	fmt.Fprintf(out, "nimbus top — %d functions, last %s (since %s UTC)\n\n", len(rows), t.flags.window, start.UTC().Format("15:04"))
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "FUNCTION\tINVOCATIONS\tRATE/s\tERRORS\tERR%\tP99 ms\tCONCURRENCY\tCOLD STARTS\t")
	shown := rows
	if t.flags.limit > 0 && len(shown) > t.flags.limit {
		shown = shown[:t.flags.limit]
	}
	for _, r := range shown {
		errPct := "-"
		if r.invocations > 0 {
			errPct = fmt.Sprintf("%.1f", 100*r.errors/r.invocations)
		}
		fmt.Fprintf(w, "%s\t%s\t%.2f\t%s\t%s\t%s\t%s\t%s\t\n", r.name, num(r.invocations), r.invocations/secs,
			num(r.errors), errPct, dec(r.p99), num(r.concurrency), num(r.coldRun))
	}
	_ = w.Flush()
	if len(shown) < len(rows) {
		fmt.Fprintf(out, "… and %d more (--limit)\n", len(rows)-len(shown))
	}
}

// num prints a whole count, "-" for no data.
func num(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

// dec prints a value with one decimal, "-" for no data.
func dec(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

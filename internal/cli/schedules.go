package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/nimbus-serverless/nimbus/internal/scheduler"
)

func newSchedulesCmd(cf *clientFlags) *cobra.Command {
	var group string
	cmd := &cobra.Command{
		Use:   "schedules",
		Short: "List EventBridge Scheduler schedules with their next firing times",
		Long: `List the node's EventBridge Scheduler schedules (ListSchedules, then
GetSchedule for each) with their expression, time zone, state and the next
time each comes due: from its StartDate (or its creation) in its time zone,
up to its EndDate. A disabled schedule shows the time it would fire.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ss, err := fetchSchedules(cmd.Context(), cf, group)
			if err != nil {
				return err
			}
			return printSchedules(cmd.OutOrStdout(), ss, time.Now())
		},
	}
	cf.bind(cmd)
	cmd.Flags().StringVar(&group, "group", "", "only the schedules of this schedule group")
	return cmd
}

// fetchSchedules reads every schedule through the Scheduler API.
func fetchSchedules(ctx context.Context, cf *clientFlags, group string) ([]*scheduler.Schedule, error) {
	var out []*scheduler.Schedule
	token := ""
	for {
		q := url.Values{"MaxResults": {"100"}}
		if group != "" {
			q.Set("ScheduleGroup", group)
		}
		if token != "" {
			q.Set("NextToken", token)
		}
		body, err := getSigned(ctx, cf, "scheduler", "/schedules?"+q.Encode(), "list schedules", 16<<20)
		if err != nil {
			return nil, err
		}
		var page struct {
			Schedules []struct{ Name, GroupName string }
			NextToken string
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return nil, fmt.Errorf("decode schedules: %w", err)
		}
		for _, s := range page.Schedules {
			path := "/schedules/" + url.PathEscape(s.Name) + "?" + url.Values{"groupName": {s.GroupName}}.Encode()
			b, err := getSigned(ctx, cf, "scheduler", path, "get schedule "+s.Name, 1<<20)
			if err != nil {
				return nil, err
			}
			var st scheduler.Schedule
			if err := json.Unmarshal(b, &st); err != nil {
				return nil, fmt.Errorf("decode schedule %s: %w", s.Name, err)
			}
			out = append(out, &st)
		}
		if page.NextToken == "" {
			return out, nil
		}
		token = page.NextToken
	}
}

// printSchedules prints one line per schedule, soonest first.
func printSchedules(w io.Writer, ss []*scheduler.Schedule, now time.Time) error {
	if len(ss) == 0 {
		_, err := fmt.Fprintln(w, "no schedules")
		return err
	}
	type row struct {
		s    *scheduler.Schedule
		next time.Time
		ok   bool
	}
	rows := make([]row, len(ss))
	for i, s := range ss {
		n, ok := scheduler.NextFiring(s, now)
		rows[i] = row{s, n, ok}
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].ok != rows[j].ok {
			return rows[i].ok
		}
		if !rows[i].next.Equal(rows[j].next) {
			return rows[i].next.Before(rows[j].next)
		}
		return rows[i].s.GroupName+"/"+rows[i].s.Name < rows[j].s.GroupName+"/"+rows[j].s.Name
	})
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCHEDULE\tGROUP\tSTATE\tEXPRESSION\tTIME ZONE\tNEXT FIRING (UTC)\tIN\t")
	for _, r := range rows {
		tz := r.s.ScheduleExpressionTimezone
		if tz == "" {
			tz = "UTC"
		}
		next, in := "-", "-"
		if r.ok {
			next = r.next.UTC().Format(time.RFC3339)
			in = r.next.Sub(now).Round(time.Second).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.s.Name, r.s.GroupName, r.s.State, r.s.ScheduleExpression, tz, next, in)
	}
	return tw.Flush()
}

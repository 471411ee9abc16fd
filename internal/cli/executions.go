package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sfn/types"
	"github.com/spf13/cobra"
)

func newExecutionsCmd(cf *clientFlags) *cobra.Command {
	var limit int32
	cmd := &cobra.Command{
		Use:   "executions ARN",
		Short: "List a state machine's executions, or show an execution's path through its states",
		Long: `Given a state machine's ARN, list its latest executions (name, status, start
and duration; --limit of them). Given an execution's ARN, read its history
(GetExecutionHistory) and print the path it took: one line per state
entered, in order (Parallel branches and Map iterations interleaved as they
ran), with the time since the execution started, how long the state took,
and how it ended (the error of a failed task or state, or still running).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := cf.awsConfig(cmd.Context())
			if err != nil {
				return err
			}
			c := sfn.NewFromConfig(cfg)
			arn := args[0]
			switch {
			case strings.Contains(arn, ":stateMachine:"):
				out, err := c.ListExecutions(cmd.Context(), &sfn.ListExecutionsInput{StateMachineArn: aws.String(arn), MaxResults: limit})
				if err != nil {
					return err
				}
				return printExecutions(cmd.OutOrStdout(), out.Executions)
			case strings.Contains(arn, ":execution:"):
				var evs []types.HistoryEvent
				p := sfn.NewGetExecutionHistoryPaginator(c, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn)})
				for p.HasMorePages() {
					page, err := p.NextPage(cmd.Context())
					if err != nil {
						return err
					}
					evs = append(evs, page.Events...)
				}
				return printPath(cmd.OutOrStdout(), evs)
			}
			return errors.New("not a state machine's or a Standard execution's ARN (Express executions keep no history)")
		},
	}
	cmd.Flags().Int32Var(&limit, "limit", 20, "executions to list")
	cf.bind(cmd)
	return cmd
}

func printExecutions(w io.Writer, xs []types.ExecutionListItem) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, "NAME\tSTATUS\tSTARTED\tDURATION")
	for _, x := range xs {
		dur := "-"
		if x.StopDate != nil && x.StartDate != nil {
			dur = x.StopDate.Sub(*x.StartDate).Round(time.Millisecond).String()
		}
		start := ""
		if x.StartDate != nil {
			start = x.StartDate.UTC().Format(time.RFC3339)
		}
		_, _ = fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", aws.ToString(x.Name), x.Status, start, dur)
	}
	return tw.Flush()
}

// pathStep is one state entered.
type pathStep struct {
	name, typ       string
	entered, exited time.Time
	outcome         string
}

// printPath prints the states an execution's history entered, in order.
func printPath(w io.Writer, evs []types.HistoryEvent) error {
	var start time.Time
	var steps []*pathStep
	open := map[string][]*pathStep{} // states entered and not yet exited, by name
	var last *pathStep               // the state a failure event belongs to
	end := ""
	for _, ev := range evs {
		t := aws.ToTime(ev.Timestamp)
		typ := string(ev.Type)
		switch {
		case ev.Type == types.HistoryEventTypeExecutionStarted:
			start = t
		case ev.StateEnteredEventDetails != nil:
			s := &pathStep{name: aws.ToString(ev.StateEnteredEventDetails.Name), typ: strings.TrimSuffix(typ, "StateEntered"), entered: t}
			steps = append(steps, s)
			open[s.name] = append(open[s.name], s)
			last = s
		case ev.StateExitedEventDetails != nil:
			name := aws.ToString(ev.StateExitedEventDetails.Name)
			if q := open[name]; len(q) > 0 {
				q[0].exited = t
				open[name] = q[1:]
			}
		case strings.HasPrefix(typ, "Execution") && typ != "ExecutionStarted" && typ != "ExecutionRedriven":
			end = strings.TrimPrefix(typ, "Execution")
			if last != nil && last.exited.IsZero() && last.outcome == "" && end != "Succeeded" {
				last.outcome = typ + failureOf(ev)
			}
		case strings.HasSuffix(typ, "Failed") || strings.HasSuffix(typ, "TimedOut"):
			if last != nil && last.exited.IsZero() {
				last.outcome = typ + failureOf(ev)
			}
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, "AT\tSTATE\tTYPE\tTOOK\tOUTCOME")
	for _, s := range steps {
		took, outcome := "-", s.outcome
		if !s.exited.IsZero() {
			took = s.exited.Sub(s.entered).Round(time.Millisecond).String()
			if outcome == "" {
				outcome = "exited"
			} else {
				outcome += ", caught"
			}
		} else if outcome == "" {
			outcome = "not exited"
		}
		_, _ = fmt.Fprintf(tw, "+%s\t%s\t%s\t%s\t%s\n", s.entered.Sub(start).Round(time.Millisecond), s.name, s.typ, took, outcome)
	}
	if end != "" {
		_, _ = fmt.Fprintf(tw, "execution\t%s\t\t\t\n", strings.ToUpper(end))
	} else {
		_, _ = fmt.Fprintln(tw, "execution\tRUNNING\t\t\t")
	}
	return tw.Flush()
}

// failureOf is a failure event's error, as ": Error".
func failureOf(ev types.HistoryEvent) string {
	var e *string
	switch {
	case ev.TaskFailedEventDetails != nil:
		e = ev.TaskFailedEventDetails.Error
	case ev.LambdaFunctionFailedEventDetails != nil:
		e = ev.LambdaFunctionFailedEventDetails.Error
	case ev.ExecutionFailedEventDetails != nil:
		e = ev.ExecutionFailedEventDetails.Error
	case ev.TaskTimedOutEventDetails != nil:
		e = ev.TaskTimedOutEventDetails.Error
	}
	if e == nil {
		return ""
	}
	return ": " + *e
}

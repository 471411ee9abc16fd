package cli

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"text/tabwriter"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/spf13/cobra"
)

func newQueuesCmd(cf *clientFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "queues",
		Short: "Show every SQS queue's depth, messages in flight, oldest message age and dead-letter queue depth",
		Long: `Read the node's Prometheus endpoint (/metrics) and print one line per SQS
queue: messages visible (ApproximateNumberOfMessagesVisible), in flight
(ApproximateNumberOfMessagesNotVisible), the age of the oldest message
(ApproximateAgeOfOldestMessage), and, for a queue with a RedrivePolicy, its
dead-letter queue and that queue's visible messages. Depths are the
cluster's (queues live on the backbone). With a node started with
--metrics-listen or --metrics-token, set NIMBUS_METRICS_LISTEN and
NIMBUS_METRICS_TOKEN as for the server.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fams, err := fetchMetrics(cmd.Context(), cf)
			if err != nil {
				return err
			}
			return printQueues(cmd.OutOrStdout(), fams)
		},
	}
	cf.bind(cmd)
	return cmd
}

type queueRow struct {
	account, name       string
	visible, inFlight   float64
	oldest              time.Duration
	deadLetter          string
	deadLetterVisible   float64
	deadLetterKnown, ok bool
}

func printQueues(w io.Writer, fams map[string]*dto.MetricFamily) error {
	rows := map[[2]string]*queueRow{}
	row := func(m *dto.Metric) *queueRow {
		k := [2]string{labelOf(m, "account"), labelOf(m, "queue")}
		r := rows[k]
		if r == nil {
			r = &queueRow{account: k[0], name: k[1]}
			rows[k] = r
		}
		return r
	}
	for _, m := range fams["nimbus_sqs_approximate_number_of_messages_visible"].GetMetric() {
		r := row(m)
		r.visible, r.ok = m.GetGauge().GetValue(), true
	}
	for _, m := range fams["nimbus_sqs_approximate_number_of_messages_not_visible"].GetMetric() {
		row(m).inFlight = m.GetGauge().GetValue()
	}
	for _, m := range fams["nimbus_sqs_approximate_age_of_oldest_message_seconds"].GetMetric() {
		row(m).oldest = time.Duration(m.GetGauge().GetValue() * float64(time.Second))
	}
	for _, m := range fams["nimbus_sqs_dead_letter_queue_info"].GetMetric() {
		row(m).deadLetter = labelOf(m, "dead_letter_queue")
	}
	var list []*queueRow
	for _, r := range rows {
		if !r.ok {
			continue
		}
		if r.deadLetter != "" {
			if d := rows[[2]string{r.account, r.deadLetter}]; d != nil && d.ok {
				r.deadLetterVisible, r.deadLetterKnown = d.visible, true
			}
		}
		list = append(list, r)
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].account != list[j].account {
			return list[i].account < list[j].account
		}
		return list[i].name < list[j].name
	})
	if len(list) == 0 {
		_, err := fmt.Fprintln(w, "no queues")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "QUEUE\tACCOUNT\tVISIBLE\tIN FLIGHT\tOLDEST\tDLQ\tDLQ VISIBLE\t")
	for _, r := range list {
		dlq, dlqDepth := "-", "-"
		if r.deadLetter != "" {
			dlq = r.deadLetter
			if r.deadLetterKnown {
				dlqDepth = strconv.FormatFloat(r.deadLetterVisible, 'f', 0, 64)
			} else {
				dlqDepth = "?" // the DLQ is gone (AWS keeps such messages in the source queue)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.0f\t%s\t%s\t%s\t\n", r.name, r.account, r.visible, r.inFlight, ageString(r.oldest), dlq, dlqDepth)
	}
	return tw.Flush()
}

// ageString prints an age to the second ("-" for none).
func ageString(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return d.Round(time.Second).String()
}

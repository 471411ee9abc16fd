package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nimbus-serverless/nimbus/internal/bench"
)

func newBenchCmd() *cobra.Command {
	var (
		opts        bench.Options
		asJSON      bool
		long        bool
		concurrency string
		rts         string
		nodes       int
		compare     string
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure a fresh node: CLI start, warm latency, throughput, cold starts, scale-out, idle memory, CloudWatch",
		Long: `Start a fresh Nimbus node in this process (temporary data directory,
loopback only), deploy no-op functions (Go built from examples/noop-go with
the local toolchain, Python and Node on the host's interpreters) and measure
each figure beside a plain Go HTTP echo server measured in the same run with
the same client, CloudWatch's PutMetricData datapoints/s and GetMetricData latency
(20 metrics over 3 h at 1-minute resolution) included. The CLI's start time is the median wall time of
'nimbus version' beside /bin/true, measured first. The default run takes about two minutes on 2 vCPUs; --long
runs longer. Run it from the nimbus source tree (or pass --go-source).

--compare PATH puts each figure beside another nimbus's: PATH is either the
JSON of an earlier 'bench --json', or another nimbus binary, which is run
first with the same flags ('PATH bench --json ...') so both are measured on
the machine as it is now; the ratios this/other are printed last.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if nodes > 0 && compare != "" {
				return errors.New("--compare does not cover --cluster runs")
			}
			if nodes > 0 {
				return benchCluster(cmd, bench.ClusterOptions{Nodes: nodes, Duration: opts.Duration, GoSource: opts.GoSource}, asJSON)
			}
			o := opts
			if long {
				l := bench.Long()
				l.GoSource, l.Runtimes = o.GoSource, o.Runtimes
				o = l
			}
			if concurrency != "" {
				o.Concurrency = nil
				for _, s := range strings.Split(concurrency, ",") {
					n, err := strconv.Atoi(strings.TrimSpace(s))
					if err != nil || n <= 0 {
						return errors.New("--concurrency takes positive numbers separated by commas, e.g. 1,2,4,8")
					}
					o.Concurrency = append(o.Concurrency, n)
				}
			}
			if rts != "" {
				o.Runtimes = strings.Split(rts, ",")
			}
			if !asJSON {
				o.Progress = cmd.ErrOrStderr()
			}
			var other *bench.Report
			if compare != "" {
				var args []string
				for _, name := range []string{"long", "requests", "concurrency", "duration", "cold-starts", "scale-out",
					"idle-envs", "cli-starts", "runtimes", "no-queues", "only", "go-source"} {
					if f := cmd.Flags().Lookup(name); f != nil && f.Changed {
						args = append(args, "--"+name+"="+f.Value.String())
					}
				}
				var err error
				if other, err = bench.LoadOther(cmd.Context(), compare, args, o.Progress); err != nil {
					return err
				}
			}
			rep, err := bench.Run(cmd.Context(), o)
			if err != nil {
				return err
			}
			if other != nil {
				cs := bench.Compare(rep, other)
				if asJSON {
					enc := json.NewEncoder(cmd.OutOrStdout())
					enc.SetIndent("", "  ")
					return enc.Encode(bench.Compared{This: rep, Other: other, OtherFrom: compare, Comparison: cs})
				}
				if err := rep.WriteText(cmd.OutOrStdout()); err != nil {
					return err
				}
				_, _ = fmt.Fprintln(cmd.OutOrStdout())
				return bench.WriteComparison(cmd.OutOrStdout(), cs, compare)
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			return rep.WriteText(cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	f.BoolVar(&long, "long", false, "a longer run (more samples, concurrency up to 32, 10 s per point)")
	f.IntVar(&opts.Requests, "requests", 0, "warm latency samples per target (default 2000)")
	f.StringVar(&concurrency, "concurrency", "", "throughput concurrency levels (default 1,2,4,8)")
	f.DurationVar(&opts.Duration, "duration", 0, "time per throughput point (default 2s)")
	f.IntVar(&opts.ColdStarts, "cold-starts", 0, "cold starts per runtime (default 20)")
	f.IntVar(&opts.ScaleOut, "scale-out", 0, "environments started at once (default 50)")
	f.IntVar(&opts.IdleEnvs, "idle-envs", 0, "idle environments per runtime for the memory figures (default 20)")
	f.IntVar(&opts.CLIStarts, "cli-starts", 0, "runs of `nimbus version` for the CLI start time (default 20)")
	f.StringVar(&rts, "runtimes", "", "runtimes to measure: go,python,node,java (default all available)")
	f.BoolVar(&opts.NoQueues, "no-queues", false, "leave out the SQS and SNS figures")
	f.StringVar(&opts.Only, "only", "", `measure one section only: "queues" (SQS sends, queue → function, SNS fan-out), "tables" (DynamoDB PutItem, GetItem, table write → stream-triggered handler start, Kinesis PutRecords from 16 clients, Query of 100 items from a 1,000,000-item table), "objects" (S3 4 KB PUT and GET, a 256 MB object beside the disk, ListObjectsV2 pages), "cloudwatch" (PutMetricData, GetMetricData), "workflows" (Step Functions state transitions, a three-Lambda StartSyncExecution) or "events" (PutEvents beside the echo, the matcher under 100 rules)`)
	f.IntVar(&nodes, "cluster", 0, "measure a cluster of this many nimbus processes on this machine instead (3): warm throughput on one node vs all, cross-node reserved concurrency, lease takeover after kill -9")
	f.StringVar(&compare, "compare", "", "put each figure beside another nimbus binary's (run now with the same flags) or an earlier bench --json file's, with ratios")
	f.StringVar(&opts.GoSource, "go-source", "", "directory of the Go no-op function (default examples/noop-go of this source tree)")
	return cmd
}

func benchCluster(cmd *cobra.Command, o bench.ClusterOptions, asJSON bool) error {
	if !asJSON {
		o.Progress = cmd.ErrOrStderr()
	}
	rep, err := bench.RunCluster(cmd.Context(), o)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return rep.WriteText(cmd.OutOrStdout())
}

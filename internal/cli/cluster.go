package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/nimbus-serverless/nimbus/internal/cluster"
)

func newClusterCmd(cf *clientFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Inspect the cluster the node belongs to",
	}
	var asJSON bool
	status := &cobra.Command{
		Use:   "status",
		Short: "Show the cluster's nodes, quorum, coordinator and stream replicas",
		Long: `Show the cluster as the node at the endpoint sees it: its nodes (the JetStream
meta group, with its leader), whether it has quorum (a node without one
refuses writes and reports not ready on /readyz), the coordinator lease's
holder and every stream's replicas and leader.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, raw, err := fetchClusterStatus(cmd.Context(), cf)
			if err != nil {
				return err
			}
			if asJSON {
				_, err := cmd.OutOrStdout().Write(raw)
				return err
			}
			return printClusterStatus(cmd.OutOrStdout(), st)
		},
	}
	cf.bind(status)
	status.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")
	cmd.AddCommand(status)
	return cmd
}

// fetchClusterStatus calls GET /_nimbus/cluster, signed like the API.
func fetchClusterStatus(ctx context.Context, cf *clientFlags) (*cluster.Status, []byte, error) {
	body, err := getNimbus(ctx, cf, "/_nimbus/cluster", "cluster status", 16<<20)
	if err != nil {
		return nil, nil, err
	}
	var st cluster.Status
	if err := json.Unmarshal(body, &st); err != nil {
		return nil, nil, fmt.Errorf("decode cluster status: %w", err)
	}
	return &st, body, nil
}

func printClusterStatus(w io.Writer, st *cluster.Status) error {
	name := st.Cluster
	if name == "" {
		name = "(single node)"
	}
	quorum := "yes"
	if !st.Quorum {
		quorum = "NO: " + st.QuorumError
	}
	fmt.Fprintf(w, "cluster:     %s\nnode:        %s\nquorum:      %s\nreplicas:    %d\n", name, st.Node, quorum, st.Replicas)
	if st.Coordinator != nil {
		fmt.Fprintf(w, "coordinator: %s (token %d, since %s)\n", st.Coordinator.Holder, st.Coordinator.Token, st.Coordinator.Acquired.Format(time.RFC3339))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if len(st.Nodes) > 0 {
		fmt.Fprintln(tw, "\nNODE\tROLE\tCURRENT\tOFFLINE\tLAST SEEN\tLAG")
		for _, n := range st.Nodes {
			role := "follower"
			if n.Leader {
				role = "meta leader"
			}
			fmt.Fprintf(tw, "%s\t%s\t%v\t%v\t%s\t%d\n", n.Name, role, n.Current, n.Offline, n.ActiveAgo, n.Lag)
		}
	}
	if len(st.Members) > 0 {
		fmt.Fprintln(tw, "\nLIVE NODE\tIDLE ENVIRONMENTS\tPROVISIONED")
		for _, m := range st.Members {
			var prov []string
			for _, k := range slices.Sorted(maps.Keys(m.Provisioned)) {
				prov = append(prov, fmt.Sprintf("%s=%d", k, m.Provisioned[k]))
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\n", m.Name, m.Idle, strings.Join(prov, " "))
		}
	}
	if len(st.Streams) > 0 {
		fmt.Fprintln(tw, "\nSTREAM\tREPLICAS\tLEADER\tFOLLOWERS\tMESSAGES")
		for _, s := range st.Streams {
			var peers []string
			for _, p := range s.Peers {
				state := "current"
				switch {
				case p.Offline:
					state = "offline"
				case !p.Current:
					state = fmt.Sprintf("lag %d", p.Lag)
				}
				peers = append(peers, p.Name+" ("+state+")")
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d\n", s.Name, s.Replicas, s.Leader, strings.Join(peers, ", "), s.Messages)
		}
	}
	return tw.Flush()
}

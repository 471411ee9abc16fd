package cli

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/spf13/cobra"
)

// newDeleteCmd is `nimbus delete --stack-name NAME`: delete a stack and
// every resource it made, printing the events.
func newDeleteCmd(cf *clientFlags) *cobra.Command {
	var name, template string
	var yes bool
	cmd := &cobra.Command{
		Use:   "delete [--stack-name NAME]",
		Short: "Delete a stack and the resources it created",
		Long: `Delete a stack: its resources are deleted in the reverse order of their
creation, printing the stack's events until it is gone. Unless --yes is given,
the command asks for confirmation on its standard input.

Without --stack-name, the stack is the one deploy would make from the current
directory: samconfig.toml's stack_name beside the template, else the template's
directory name.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			name, err := appStackName(name, template)
			if err != nil {
				return err
			}
			cfg, err := cf.awsConfig(ctx)
			if err != nil {
				return err
			}
			s := &stackClient{c: cloudformation.NewFromConfig(cfg), out: cmd.OutOrStdout()}
			st, err := s.describe(ctx, name)
			if err != nil {
				return plainAPIError(err)
			}
			if st == nil {
				return fmt.Errorf("stack %s does not exist", name)
			}
			if !yes {
				fmt.Fprintf(cmd.OutOrStdout(), "Delete the stack %s and all its resources? [y/N]: ", name)
				answer, _ := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
				if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
					fmt.Fprintln(cmd.OutOrStdout())
					return fmt.Errorf("not deleted (answer y, or pass --yes)")
				}
			}
			if err := s.deleteAndWait(ctx, st); err != nil {
				return plainAPIError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Deleted stack %s\n", name)
			return nil
		},
	}
	cf.bind(cmd)
	cmd.Flags().StringVar(&name, "stack-name", "", "name of the stack to delete (default: as deploy names it from the current directory)")
	cmd.Flags().StringVarP(&template, "template", "t", "", "the application's template, to find its samconfig.toml and directory (default template.yaml, ... in the current directory)")
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	cmd.Flags().BoolVar(&yes, "no-prompts", false, "do not ask for confirmation (sam delete's name for --yes)")
	return cmd
}

// newStacksCmd is `nimbus stacks`: every live stack, its status and its
// outputs.
func newStacksCmd(cf *clientFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "stacks",
		Short: "List stacks with their status and outputs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, err := cf.awsConfig(ctx)
			if err != nil {
				return err
			}
			c := cloudformation.NewFromConfig(cfg)
			w := cmd.OutOrStdout()
			p := cloudformation.NewDescribeStacksPaginator(c, &cloudformation.DescribeStacksInput{})
			n := 0
			for p.HasMorePages() {
				page, err := p.NextPage(ctx)
				if err != nil {
					return plainAPIError(err)
				}
				for _, st := range page.Stacks {
					if n > 0 {
						fmt.Fprintln(w)
					}
					n++
					updated := st.LastUpdatedTime
					if updated == nil {
						updated = st.CreationTime
					}
					fmt.Fprintf(w, "%s  %s  %s\n", aws.ToString(st.StackName), st.StackStatus, aws.ToTime(updated).Local().Format("2006-01-02 15:04:05"))
					if r := aws.ToString(st.StackStatusReason); r != "" {
						fmt.Fprintf(w, "  %s\n", r)
					}
					for _, o := range st.Outputs {
						fmt.Fprintf(w, "  %s  %s\n", aws.ToString(o.OutputKey), aws.ToString(o.OutputValue))
						if local, ok := localURL(aws.ToString(o.OutputValue), aws.ToString(cfg.BaseEndpoint)); ok {
							fmt.Fprintf(w, "  %s  on this node: %s\n", strings.Repeat(" ", len(aws.ToString(o.OutputKey))), local)
						}
						if p, ok := pathStyleURL(aws.ToString(o.OutputValue), aws.ToString(cfg.BaseEndpoint)); ok {
							fmt.Fprintf(w, "  %s  path-style: %s\n", strings.Repeat(" ", len(aws.ToString(o.OutputKey))), p)
						}
					}
				}
			}
			if n == 0 {
				fmt.Fprintln(w, "No stacks. Deploy one with 'nimbus deploy'.")
			}
			return nil
		},
	}
	cf.bind(cmd)
	return cmd
}

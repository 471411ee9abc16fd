package cli

import (
	"fmt"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigateway"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	"github.com/spf13/cobra"
)

// newAPIsCmd lists the node's API Gateway APIs with the URL of each stage,
// ready for curl.
func newAPIsCmd(cf *clientFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "apis",
		Short: "List API Gateway HTTP and REST APIs and the URL of each stage",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			lc, err := cf.lambdaClient(ctx)
			if err != nil {
				return err
			}
			o := lc.Options()
			v2 := apigatewayv2.New(apigatewayv2.Options{Region: o.Region, BaseEndpoint: o.BaseEndpoint, Credentials: o.Credentials, HTTPClient: o.HTTPClient})
			v1 := apigateway.New(apigateway.Options{Region: o.Region, BaseEndpoint: o.BaseEndpoint, Credentials: o.Credentials, HTTPClient: o.HTTPClient})
			port := ""
			if u, err := url.Parse(aws.ToString(o.BaseEndpoint)); err == nil {
				port = u.Port()
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "TYPE\tID\tNAME\tSTAGE\tURL\tPATH-STYLE URL")
			endpoint := strings.TrimRight(aws.ToString(o.BaseEndpoint), "/")
			pathStyle := func(id, stage string) string {
				u := endpoint + "/_aws/execute-api/" + id + "/"
				if stage != "" && stage != "$default" {
					u += stage + "/"
				}
				return u
			}
			apis, err := v2.GetApis(ctx, &apigatewayv2.GetApisInput{})
			if err != nil {
				return fmt.Errorf("get HTTP APIs: %w", err)
			}
			for _, a := range apis.Items {
				stages, err := v2.GetStages(ctx, &apigatewayv2.GetStagesInput{ApiId: a.ApiId})
				if err != nil {
					return fmt.Errorf("get stages of %s: %w", aws.ToString(a.ApiId), err)
				}
				if len(stages.Items) == 0 {
					fmt.Fprintf(w, "HTTP\t%s\t%s\t-\t(no stage)\n", aws.ToString(a.ApiId), aws.ToString(a.Name))
				}
				for _, s := range stages.Items {
					u := aws.ToString(a.ApiEndpoint) + "/"
					if name := aws.ToString(s.StageName); name != "$default" {
						u += name + "/"
					}
					fmt.Fprintf(w, "HTTP\t%s\t%s\t%s\t%s\t%s\n", aws.ToString(a.ApiId), aws.ToString(a.Name), aws.ToString(s.StageName), u,
						pathStyle(aws.ToString(a.ApiId), aws.ToString(s.StageName)))
				}
			}
			rest, err := v1.GetRestApis(ctx, &apigateway.GetRestApisInput{})
			if err != nil {
				return fmt.Errorf("get REST APIs: %w", err)
			}
			for _, a := range rest.Items {
				stages, err := v1.GetStages(ctx, &apigateway.GetStagesInput{RestApiId: a.Id})
				if err != nil {
					return fmt.Errorf("get stages of %s: %w", aws.ToString(a.Id), err)
				}
				if len(stages.Item) == 0 {
					fmt.Fprintf(w, "REST\t%s\t%s\t-\t(not deployed)\n", aws.ToString(a.Id), aws.ToString(a.Name))
				}
				for _, s := range stages.Item {
					host := aws.ToString(a.Id) + ".execute-api." + o.Region + ".localhost"
					if port != "" && port != "80" {
						host += ":" + port
					}
					fmt.Fprintf(w, "REST\t%s\t%s\t%s\thttp://%s/%s/\t%s\n", aws.ToString(a.Id), aws.ToString(a.Name), aws.ToString(s.StageName), host,
						aws.ToString(s.StageName), pathStyle(aws.ToString(a.Id), aws.ToString(s.StageName)))
				}
			}
			return w.Flush()
		},
	}
	cf.bind(cmd)
	return cmd
}

package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/spf13/cobra"

	"github.com/nimbus-serverless/nimbus/internal/cost"
)

func newCostCmd(cf *clientFlags) *cobra.Command {
	var since, fn string
	var hourly, asJSON bool
	cmd := &cobra.Command{
		Use:   "cost",
		Short: "Show what invocations used and would cost on AWS Lambda",
		Long: `Show each function's requests and GB-seconds (billed duration in 1 ms steps,
init included, times memory) over a period, the equivalent AWS Lambda price
(the node's price table: AWS us-east-1 on-demand by default, or
'nimbus server --price-file'), and what right-sizing memory to the peak use
plus 25% would save at the same durations.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep, raw, err := fetchCost(cmd.Context(), cf, since, fn)
			if err != nil {
				return err
			}
			if asJSON {
				_, err := cmd.OutOrStdout().Write(raw)
				return err
			}
			return printCost(cmd.OutOrStdout(), rep, hourly)
		},
	}
	cf.bind(cmd)
	cmd.Flags().StringVar(&since, "since", "24h", "period to report, ending now (e.g. 90m, 24h, 7d)")
	cmd.Flags().StringVar(&fn, "function", "", "only this function")
	cmd.Flags().BoolVar(&hourly, "hourly", false, "also print usage per function, version and hour")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

// fetchCost calls GET /_nimbus/cost, signed with SigV4 like the AWS API
// calls (same credentials, region and endpoint as the Lambda client).
func fetchCost(ctx context.Context, cf *clientFlags, since, fn string) (*cost.Report, []byte, error) {
	q := url.Values{"since": {since}}
	if fn != "" {
		q.Set("function", fn)
	}
	body, err := getNimbus(ctx, cf, "/_nimbus/cost?"+q.Encode(), "cost report", 64<<20)
	if err != nil {
		return nil, nil, err
	}
	var rep cost.Report
	if err := json.Unmarshal(body, &rep); err != nil {
		return nil, nil, fmt.Errorf("decode cost report: %w", err)
	}
	return &rep, body, nil
}

func printCost(w io.Writer, rep *cost.Report, hourly bool) error {
	p := rep.Prices
	fmt.Fprintf(w, "Usage %s to %s, priced as AWS Lambda in %s (%s): x86_64 %.10f/GB-s, arm64 %.10f/GB-s, %.2f per 1M requests\n\n",
		rep.Since.Format(time.RFC3339), rep.Until.Format(time.RFC3339), p.Region, p.Currency,
		p.GBSecond["x86_64"], p.GBSecond["arm64"], p.PerMillionCalls)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FUNCTION\tREQUESTS\tGB-SECONDS\tCOST\tMEMORY\tMAX USED\tRIGHT-SIZED\tSAVING")
	for _, f := range rep.Functions {
		right, saving := "-", "-"
		if f.SuggestedMemoryMB > 0 {
			right, saving = fmt.Sprintf("%d MB", f.SuggestedMemoryMB), fmt.Sprintf("%.8f", f.Savings)
		}
		fmt.Fprintf(tw, "%s\t%d\t%.3f\t%.8f\t%d MB\t%d MB\t%s\t%s\n", f.Function, f.Requests, f.GBSeconds, f.Cost,
			f.MemoryMB, f.MaxMemoryUsedMB, right, saving)
	}
	fmt.Fprintf(tw, "TOTAL\t%d\t%.3f\t%.8f\t\t\t\t\n", rep.Requests, rep.GBSeconds, rep.Cost)
	if err := tw.Flush(); err != nil {
		return err
	}
	if !hourly {
		return nil
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOUR (UTC)\tFUNCTION\tVERSION\tARCH\tMEMORY\tREQUESTS\tERRORS\tBILLED MS\tGB-SECONDS\tCOST")
	for _, r := range rep.Rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d MB\t%d\t%d\t%d\t%.3f\t%.8f\n", r.Hour.Format("2006-01-02 15:00"), r.Function, r.Version,
			r.Architecture, r.MemoryMB, r.Requests, r.Errors, r.BilledMs, r.GBSeconds, r.Cost)
	}
	return tw.Flush()
}

// getNimbus calls GET path on the node, signed with SigV4 like the AWS API
// calls (same credentials, region and endpoint as the Lambda client), and
// returns the body of a 200 answer of at most limit bytes; any other
// answer is an error naming what (its AWS error type and message).
func getNimbus(ctx context.Context, cf *clientFlags, path, what string, limit int64) ([]byte, error) {
	return getSigned(ctx, cf, "lambda", path, what, limit)
}

// getSigned GETs path from the node, signed for service signing.
func getSigned(ctx context.Context, cf *clientFlags, signing, path, what string, limit int64) ([]byte, error) {
	c, err := cf.lambdaClient(ctx)
	if err != nil {
		return nil, err
	}
	o := c.Options()
	endpoint := aws.ToString(o.BaseEndpoint)
	if endpoint == "" {
		return nil, fmt.Errorf("no Nimbus endpoint: set --endpoint-url or AWS_ENDPOINT_URL")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(endpoint, "/")+path, nil)
	if err != nil {
		return nil, fmt.Errorf("build %s request: %w", what, err)
	}
	creds, err := o.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("retrieve credentials: %w", err)
	}
	empty := sha256.Sum256(nil)
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(empty[:]), signing, o.Region, time.Now()); err != nil {
		return nil, fmt.Errorf("sign %s request: %w", what, err)
	}
	resp, err := nodeHTTP(o.HTTPClient).Do(req)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", what, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Message string `json:"message"`
			Msg     string `json:"Message"`
		}
		if json.Unmarshal(body, &e) != nil || e.Message+e.Msg == "" {
			return nil, fmt.Errorf("%s: %s %s", what, resp.Status, strings.TrimSpace(string(body)))
		}
		return nil, fmt.Errorf("%s: %s %s%s", what, resp.Header.Get("X-Amzn-ErrorType"), e.Message, e.Msg)
	}
	return body, nil
}

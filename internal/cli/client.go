package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmw "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/spf13/cobra"

	"github.com/nimbus-serverless/nimbus/internal/config"
	"github.com/nimbus-serverless/nimbus/internal/daemon"
	"github.com/nimbus-serverless/nimbus/internal/tlscert"
)

// clientFlags locate and authenticate against a node, like the AWS CLI's
// global options.
type clientFlags struct {
	endpoint string
	region   string
	profile  string
	dataDir  string
}

func (cf *clientFlags) bind(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&cf.endpoint, "endpoint-url", "", "node endpoint (default $AWS_ENDPOINT_URL, else http://"+config.DefaultListen+")")
	f.StringVar(&cf.region, "region", "", "region (default from the AWS configuration, else "+config.DefaultRegion+")")
	f.StringVar(&cf.profile, "profile", "", "AWS configuration profile to use")
	f.StringVar(&cf.dataDir, "data-dir", "", "data directory of a node on this machine: use its root credentials and endpoint (default $NIMBUS_DATA_DIR)")
}

// lambdaClient builds an aws-sdk-go-v2 Lambda client the way the AWS CLI
// resolves its settings, with Nimbus's defaults where nothing is configured.
func (cf *clientFlags) lambdaClient(ctx context.Context) (*lambda.Client, error) {
	cfg, err := cf.awsConfig(ctx)
	if err != nil {
		return nil, err
	}
	return lambda.NewFromConfig(cfg), nil
}

// awsConfig resolves region, credentials and endpoint the way the AWS CLI
// does (flags, AWS_* variables, profiles), then falls back to the node on
// this machine: its root credentials (NIMBUS_* or the data directory's,
// --data-dir else $NIMBUS_DATA_DIR) and the endpoint it last listened on. Any service client can be built
// from it (svc.NewFromConfig).
func (cf *clientFlags) awsConfig(ctx context.Context) (aws.Config, error) {
	// Instance metadata never holds a node's credentials: without this, a
	// machine with no AWS credentials would first wait on (and warn about)
	// an EC2 metadata endpoint before the node's root credentials are used.
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithEC2IMDSClientEnableState(imds.ClientDisabled)}
	if cf.profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(cf.profile))
	}
	if cf.region != "" {
		opts = append(opts, awsconfig.WithRegion(cf.region))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = config.DefaultRegion
	}
	node := config.FromEnv()
	if cf.dataDir != "" {
		node.DataDir = cf.dataDir
	}
	// --data-dir names the node: its root credentials win over AWS ones
	// (a profile given beside it still wins).
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil || (cf.dataDir != "" && cf.profile == "") {
		// No AWS credentials anywhere: on the node's own machine, use its
		// root credentials (NIMBUS_* or the data directory's).
		root, rerr := rootCredentials(node)
		if rerr != nil {
			return aws.Config{}, fmt.Errorf("no AWS credentials in the environment or the AWS configuration files, and %w", rerr)
		}
		cfg.Credentials = credentials.NewStaticCredentialsProvider(root.AccessKeyID, root.SecretAccessKey, "")
	}
	switch {
	case cf.endpoint != "":
		cfg.BaseEndpoint = aws.String(cf.endpoint)
	case cfg.BaseEndpoint == nil || cf.dataDir != "":
		cfg.BaseEndpoint = aws.String(nodeEndpoint(node))
	}
	if err := trustNodeCA(&cfg, node); err != nil {
		return aws.Config{}, err
	}
	if cfg.HTTPClient != nil {
		cfg.HTTPClient = bufferedBodies{next: cfg.HTTPClient}
	}
	return cfg, nil
}

// nodeHTTP is the HTTP client of an AWS client's configuration (it trusts
// the node's development CA), else the default one.
func nodeHTTP(c aws.HTTPClient) aws.HTTPClient {
	if c == nil {
		return http.DefaultClient
	}
	return c
}

// nodeCA is the development certificate authority of a node started with
// --tls-self-signed in cfg's data directory ("" when there is none).
func nodeCA(cfg config.Config) string {
	p := filepath.Join(cfg.DataDir, daemon.TLSDir, tlscert.CAFile)
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// trustNodeCA makes cfg's client trust the node's development certificate
// authority when cfg calls that node over HTTPS, beside the bundle
// AWS_CA_BUNDLE names, if any (a custom pool replaces the system's roots,
// so it is used only for the node's own endpoint).
func trustNodeCA(cfg *aws.Config, node config.Config) error {
	ca := nodeCA(node)
	if ca == "" || aws.ToString(cfg.BaseEndpoint) != nodeEndpoint(node) || !strings.HasPrefix(nodeEndpoint(node), "https://") {
		return nil
	}
	pool := x509.NewCertPool()
	if b := os.Getenv("AWS_CA_BUNDLE"); b != "" && b != ca {
		if pem, err := os.ReadFile(b); err == nil { //nolint:gosec // the user's own bundle
			pool.AppendCertsFromPEM(pem)
		}
	}
	pem, err := os.ReadFile(ca) //nolint:gosec // the node's own data directory
	if err != nil {
		return fmt.Errorf("read the node's CA %s: %w", ca, err)
	}
	if !pool.AppendCertsFromPEM(pem) {
		return fmt.Errorf("the node's CA %s holds no certificate", ca)
	}
	cfg.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
	})
	return nil
}

func newInvokeCmd(cf *clientFlags) *cobra.Command {
	var payload, qualifier string
	var tail, async bool
	cmd := &cobra.Command{
		Use:   "invoke NAME",
		Short: "Invoke a function and print its response",
		Long: `Invoke a function synchronously and print its response to stdout. With
--tail the last 4 KB of the invocation's log go to stderr. The exit status is
2 when the function failed (its error JSON is still printed).

With --async the event is queued (InvocationType Event): the command prints
the request id once the event is stored durably and returns; the function
runs later, with retries and destinations (see event invoke configs).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			body, err := readPayload(payload, cmd.InOrStdin())
			if err != nil {
				return err
			}
			c, err := cf.lambdaClient(cmd.Context())
			if err != nil {
				return err
			}
			in := &lambda.InvokeInput{FunctionName: aws.String(args[0]), Payload: body}
			if qualifier != "" {
				in.Qualifier = aws.String(qualifier)
			}
			if tail && !async {
				in.LogType = types.LogTypeTail
			}
			if async {
				in.InvocationType = types.InvocationTypeEvent
			}
			out, err := c.Invoke(cmd.Context(), in)
			if err != nil {
				return err
			}
			if async {
				id, _ := awsmw.GetRequestIDMetadata(out.ResultMetadata)
				fmt.Fprintf(cmd.OutOrStdout(), "queued %s\n", id)
				return nil
			}
			if out.LogResult != nil {
				logs, _ := base64.StdEncoding.DecodeString(*out.LogResult)
				fmt.Fprint(cmd.ErrOrStderr(), string(logs))
			}
			fmt.Fprintln(cmd.OutOrStdout(), string(out.Payload))
			if out.FunctionError != nil {
				return exitError{code: 2}
			}
			return nil
		},
	}
	cf.bind(cmd)
	cmd.Flags().StringVar(&payload, "payload", "{}", "event JSON, @file, or @- for stdin")
	cmd.Flags().StringVar(&qualifier, "qualifier", "", "version or alias to invoke")
	cmd.Flags().BoolVar(&tail, "tail", false, "print the invocation's log tail to stderr")
	cmd.Flags().BoolVar(&async, "async", false, "queue the event (InvocationType Event) and print its request id")
	return cmd
}

func newFunctionsCmd(cf *clientFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "functions",
		Short: "List functions",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := cf.lambdaClient(cmd.Context())
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			// ListFunctions carries no State (as on AWS), so none is shown.
			fmt.Fprintln(w, "NAME\tRUNTIME\tHANDLER\tMEMORY\tTIMEOUT\tLAST MODIFIED")
			p := lambda.NewListFunctionsPaginator(c, &lambda.ListFunctionsInput{})
			for p.HasMorePages() {
				page, err := p.NextPage(cmd.Context())
				if err != nil {
					return err
				}
				for _, f := range page.Functions {
					fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%d\t%s\n", aws.ToString(f.FunctionName), f.Runtime, aws.ToString(f.Handler),
						aws.ToInt32(f.MemorySize), aws.ToInt32(f.Timeout), aws.ToString(f.LastModified))
				}
			}
			return w.Flush()
		},
	}
	cf.bind(cmd)
	return cmd
}

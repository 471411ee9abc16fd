package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nimbus-serverless/nimbus/internal/auth"
	"github.com/nimbus-serverless/nimbus/internal/config"
)

// newEnvCmd is `nimbus env`: the shell exports that point the AWS CLI and
// SDKs at a node, with its root credentials.
func newEnvCmd() *cobra.Command {
	cfg := config.FromEnv()
	var endpoint string
	cmd := &cobra.Command{
		Use:   "env",
		Short: "Print the exports that point the AWS CLI and SDKs at this machine's node",
		Long: `Print shell exports of AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_ENDPOINT_URL and AWS_REGION for the node whose data directory is
--data-dir, so that

    eval "$(nimbus env)"

makes the AWS CLI, boto3 and the AWS SDKs in this shell use it. The root
credentials are NIMBUS_ACCESS_KEY_ID / NIMBUS_SECRET_ACCESS_KEY when set, else
the ones 'nimbus server' generated into the data directory (readable by their
owner only). The endpoint is the one the node last listened on.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			creds, err := rootCredentials(cfg)
			if err != nil {
				return err
			}
			if endpoint == "" {
				endpoint = nodeEndpoint(cfg)
			}
			vars := [][2]string{
				{"AWS_ACCESS_KEY_ID", creds.AccessKeyID},
				{"AWS_SECRET_ACCESS_KEY", creds.SecretAccessKey},
				{"AWS_ENDPOINT_URL", endpoint},
				{"AWS_REGION", cfg.Region},
				{"AWS_DEFAULT_REGION", cfg.Region},
			}
			if ca := nodeCA(cfg); ca != "" && strings.HasPrefix(endpoint, "https://") {
				vars = append(vars, [2]string{"AWS_CA_BUNDLE", ca})
			}
			parts := make([]string, len(vars))
			for i, v := range vars {
				parts[i] = v[0] + "=" + shellQuote(v[1])
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "export %s\nunset AWS_SESSION_TOKEN AWS_PROFILE\n", strings.Join(parts, " "))
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "data directory of the node")
	f.StringVar(&cfg.Region, "region", cfg.Region, "region of the node")
	f.StringVar(&endpoint, "endpoint-url", "", "endpoint (default: where the node last listened, else http://"+config.DefaultListen+")")
	return cmd
}

// rootCredentials are NIMBUS_ACCESS_KEY_ID / NIMBUS_SECRET_ACCESS_KEY, or
// the root credentials stored in cfg's data directory.
func rootCredentials(cfg config.Config) (auth.Credentials, error) {
	if cfg.AccessKeyID != "" && cfg.SecretAccessKey != "" {
		return auth.Credentials{AccessKeyID: cfg.AccessKeyID, SecretAccessKey: cfg.SecretAccessKey}, nil
	}
	c, err := auth.LoadRoot(cfg.DataDir)
	if errors.Is(err, fs.ErrNotExist) {
		return c, fmt.Errorf("no root credentials in %s: start 'nimbus server' (it generates them there) or set NIMBUS_ACCESS_KEY_ID and NIMBUS_SECRET_ACCESS_KEY", cfg.DataDir)
	}
	return c, err
}

// nodeEndpoint is where the node of cfg's data directory last listened,
// else the default address.
func nodeEndpoint(cfg config.Config) string {
	if e := auth.ReadEndpoint(cfg.DataDir); e != "" {
		return e
	}
	return "http://" + cfg.Listen
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/+=@%,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// tellRootCreated tells the user, once, where the generated root
// credentials are and how to use them.
func tellRootCreated(w interface{ Write([]byte) (int, error) }, dataDir string) {
	fmt.Fprintf(w, `
nimbus: generated root credentials for this node in %s
        (readable by you only). Point the AWS CLI and SDKs of a shell at the node with:

    eval "$(nimbus env --data-dir %s)"

`, auth.RootPath(dataDir), shellQuote(dataDir))
}

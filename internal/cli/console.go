package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/spf13/cobra"
)

func newConsoleCmd(cf *clientFlags) *cobra.Command {
	var printOnly bool
	cmd := &cobra.Command{
		Use:   "console",
		Short: "Open the node's web console with a one-time sign-in link",
		Long: `Ask the node for a one-time sign-in link to its web console (signed with the
same credentials as the other client commands) and open it in a browser.
The link works once and expires after two minutes; the browser then holds a
session of an hour. --print only prints the link.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			link, err := consoleLink(cmd.Context(), cf)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if printOnly {
				_, err := fmt.Fprintln(out, link)
				return err
			}
			if opener := browserOpener(); opener != "" {
				if err := exec.CommandContext(cmd.Context(), opener, link).Start(); err == nil { //nolint:gosec // the node's own link
					_, err := fmt.Fprintf(out, "Opened the console in your browser (one-time link):\n%s\n", link)
					return err
				}
			}
			_, err = fmt.Fprintf(out, "Open this one-time link in a browser:\n%s\n", link)
			return err
		},
	}
	cf.bind(cmd)
	cmd.Flags().BoolVar(&printOnly, "print", false, "only print the link; do not open a browser")
	return cmd
}

// browserOpener is the desktop's command that opens a URL, if any.
func browserOpener() string {
	names := []string{"xdg-open"}
	if runtime.GOOS == "darwin" {
		names = []string{"open"}
	}
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

// consoleLink asks the node for a one-time sign-in token (POST
// /_nimbus/console/api/link, signed) and makes the link: on a loopback
// endpoint http://console.localhost:<port>/link?t=..., elsewhere the
// endpoint's own /_nimbus/console/link?t=....
func consoleLink(ctx context.Context, cf *clientFlags) (string, error) {
	c, err := cf.lambdaClient(ctx)
	if err != nil {
		return "", err
	}
	o := c.Options()
	endpoint := strings.TrimRight(aws.ToString(o.BaseEndpoint), "/")
	if endpoint == "" {
		return "", fmt.Errorf("no Nimbus endpoint: set --endpoint-url or AWS_ENDPOINT_URL")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+"/_nimbus/console/api/link", http.NoBody)
	if err != nil {
		return "", fmt.Errorf("build console link request: %w", err)
	}
	creds, err := o.Credentials.Retrieve(ctx)
	if err != nil {
		return "", fmt.Errorf("retrieve credentials: %w", err)
	}
	empty := sha256.Sum256(nil)
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(empty[:]), "lambda", o.Region, time.Now()); err != nil {
		return "", fmt.Errorf("sign console link request: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("ask for a console link: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", fmt.Errorf("read console link: %w", err)
	}
	var out struct {
		Token   string `json:"token"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(body, &out); err != nil || resp.StatusCode != http.StatusOK || out.Token == "" {
		if out.Message != "" {
			return "", fmt.Errorf("console link refused: %s", out.Message)
		}
		return "", fmt.Errorf("console link: %s %s", resp.Status, strings.TrimSpace(string(body)))
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", fmt.Errorf("endpoint %q: %w", endpoint, err)
	}
	q := "link?t=" + url.QueryEscape(out.Token)
	host := u.Hostname()
	if ip := net.ParseIP(host); (ip != nil && ip.IsLoopback()) || host == "localhost" {
		port := u.Port()
		if port == "" {
			port = map[string]string{"https": "443"}[u.Scheme]
		}
		if port == "" {
			port = "80"
		}
		return u.Scheme + "://" + net.JoinHostPort("console.localhost", port) + "/" + q, nil
	}
	return endpoint + "/_nimbus/console/" + q, nil
}

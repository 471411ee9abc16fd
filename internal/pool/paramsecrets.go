package pool

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/function"
)

// The AWS Parameters and Secrets Lambda Extension is AWS's closed binary
// layer; Nimbus serves its protocol itself (Options.ParamsSecrets, package
// secretsext wired by the daemon) on the environment's own 127.0.0.1:2773
// for a function with a layer of that name, fetching with the function's
// credentials through the node's API as the function's SDK would.
const paramsSecretsLayer = "AWS-Parameters-and-Secrets-Lambda-Extension"

// ParamsSecretsFactory builds the Parameters and Secrets extension's
// handler for one environment of fn: creds are the environment's (the
// session token is the extension's X-Aws-Parameters-Secrets-Token), api
// reaches the node's API at endpoint as the function does.
type ParamsSecretsFactory func(fn *function.Config, creds Credentials, api *http.Client, endpoint string) (http.Handler, error)

// wantsParamsSecrets reports whether fn has the extension's layer (any
// account, either architecture's name).
func wantsParamsSecrets(fn *function.Config) bool {
	for _, l := range fn.Layers {
		parts := strings.Split(l.Arn, ":")
		if len(parts) == 8 && parts[5] == "layer" && strings.HasPrefix(parts[6], paramsSecretsLayer) {
			return true
		}
	}
	return false
}

// paramsSecretsPort is the extension's port: the function's
// PARAMETERS_SECRETS_EXTENSION_HTTP_PORT, else 2773.
func paramsSecretsPort(fn *function.Config) int {
	if p, err := strconv.Atoi(fn.Variables()["PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"]); err == nil &&
		p > 0 && p < 65536 && p != RuntimeAPIPort && p != APIPort {
		return p
	}
	return 2773
}

// paramsSecretsHandler builds the extension for e, or nil (no factory, no
// node API, no credentials).
func (e *environment) paramsSecretsHandler(fn *function.Config, creds Credentials) http.Handler {
	if e.m.opts.ParamsSecrets == nil || e.m.opts.APIHandler == nil || creds.SessionToken == "" {
		e.m.log.Warn("parameters and secrets extension not started: no extension handler, node API or credentials",
			"function", fn.FunctionName)
		return nil
	}
	// The node's API as the function reaches it: its listener inside the
	// environment.
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return e.dial(ctx, e.apiPort)
		},
		MaxIdleConnsPerHost: 1,
	}}
	h, err := e.m.opts.ParamsSecrets(fn, creds, client, "http://127.0.0.1:"+strconv.Itoa(APIPort))
	if err != nil {
		e.m.log.Warn("parameters and secrets extension not started", "function", fn.FunctionName, "err", err)
		return nil
	}
	return h
}

// serveParamsSecrets serves h on l until the environment closes.
func (e *environment) serveParamsSecrets(h http.Handler, l net.Listener) {
	e.secretsSrv = &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(e.m.log.Handler(), slog.LevelWarn)}
	e.serveWG.Add(1)
	go func() {
		defer e.serveWG.Done()
		_ = e.secretsSrv.Serve(l)
	}()
}

package daemon

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/config"
	"github.com/nimbus-serverless/nimbus/internal/tlscert"
)

// TLSDir is where --tls-self-signed keeps its development certificate,
// under the data directory.
const TLSDir = "tls"

// selfSignedValidity: long enough for development, within what browsers
// accept of a certificate (825 days).
const selfSignedValidity = 825 * 24 * time.Hour

// serverTLS is the front door's TLS configuration (nil: plain HTTP): the
// certificate and key files of --tls-cert/--tls-key, reloaded when they
// change, or the development pair of --tls-self-signed, made on first
// start.
func serverTLS(cfg config.Config, log *slog.Logger) (*tls.Config, error) {
	certFile, keyFile := cfg.TLSCert, cfg.TLSKey
	if cfg.TLSSelfSigned {
		dir := filepath.Join(cfg.DataDir, TLSDir)
		certFile, keyFile = filepath.Join(dir, tlscert.CertFile), filepath.Join(dir, tlscert.KeyFile)
		if _, err := os.Stat(certFile); os.IsNotExist(err) {
			if err := tlscert.Generate(dir, tlscert.Hosts(cfg.Region), selfSignedValidity); err != nil {
				return nil, fmt.Errorf("--tls-self-signed: %w", err)
			}
			log.Info("made a development TLS certificate; clients trust it with AWS_CA_BUNDLE (nimbus env exports it)",
				"ca", filepath.Join(dir, tlscert.CAFile))
		}
	}
	if certFile == "" {
		return nil, nil
	}
	r, err := tlscert.NewReloader(certFile, keyFile, log.With("component", "tls"))
	if err != nil {
		return nil, err
	}
	return r.Config(), nil
}

package daemon

import (
	"context"
	"fmt"

	"github.com/nimbus-serverless/nimbus/internal/kms"
)

// newSecrets builds the node's KMS (and, over it, the services that seal
// values with it). The master key comes from --master-key-file, else on a
// cluster from the cluster's shared secret (every node derives the same),
// else from the data directory (docs/design/secrets.md); a node whose key
// is not the one the backbone's keys are sealed with refuses to start.
func (d *Daemon) newSecrets(ctx context.Context) error {
	mo := kms.MasterKeyOptions{DataDir: d.cfg.DataDir, File: d.cfg.MasterKeyFile}
	if d.cfg.Cluster.Enabled() {
		mo.ClusterSecret, mo.ClusterName = d.cfg.Cluster.Secret, d.cfg.Cluster.Name
	}
	mk, err := kms.LoadMasterKey(mo)
	if err != nil {
		return fmt.Errorf("master key: %w", err)
	}
	d.kms, err = kms.New(ctx, kms.Options{Store: d.st, MasterKey: mk, Region: d.cfg.Region, AccountID: d.cfg.AccountID,
		Logger: d.log.With("component", "kms")})
	if err != nil {
		return fmt.Errorf("create kms: %w", err)
	}
	return nil
}

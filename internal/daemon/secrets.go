package daemon

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	nimbusinvoke "github.com/nimbus-serverless/nimbus/internal/invoke"
	"github.com/nimbus-serverless/nimbus/internal/kms"
	"github.com/nimbus-serverless/nimbus/internal/secretsmanager"
	"github.com/nimbus-serverless/nimbus/internal/ssm"
)

// newSecrets builds the node's KMS and, over it, Secrets Manager and
// Parameter Store. The
// master key comes from --master-key-file, else on a cluster from the
// cluster's shared secret (every node derives the same), else from the
// data directory (docs/design/secrets.md); a node whose key is not the
// one the backbone's keys are sealed with refuses to start.
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
	d.secrets, err = secretsmanager.New(secretsmanager.Options{Store: d.st, Keys: d.kms, Functions: rotationInvoker{d},
		Region: d.cfg.Region, AccountID: d.cfg.AccountID, Logger: d.log.With("component", "secretsmanager")})
	if err != nil {
		return fmt.Errorf("create secretsmanager: %w", err)
	}
	d.params, err = ssm.New(ssm.Options{Store: d.st, Keys: d.kms, Secrets: d.secrets, Region: d.cfg.Region,
		AccountID: d.cfg.AccountID, Logger: d.log.With("component", "ssm")})
	if err != nil {
		return fmt.Errorf("create ssm: %w", err)
	}
	return nil
}

// rotationInvoker invokes rotation functions synchronously on this node,
// as Secrets Manager invokes them.
type rotationInvoker struct{ d *Daemon }

func (r rotationInvoker) InvokeRotation(ctx context.Context, arn string, payload []byte) (string, error) {
	ref, err := awsapi.ParseFunctionRef(arn)
	if err != nil {
		return "", err
	}
	cfg, err := r.d.reg.Resolve(ctx, ref.Name, ref.Qualifier)
	if err != nil {
		return "", fmt.Errorf("rotation function %s: %w", ref.Name, err)
	}
	res, err := r.d.pool.Invoke(ctx, cfg, &nimbusinvoke.Request{RequestID: uuid.NewString(), InvokedFunctionArn: arn, Payload: payload})
	if err != nil {
		return "", fmt.Errorf("invoke rotation function %s: %w", ref.Name, err)
	}
	return res.FunctionError, nil
}

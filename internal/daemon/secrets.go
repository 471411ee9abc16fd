package daemon

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/cfn"
	"github.com/nimbus-serverless/nimbus/internal/events"
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
func (d *Daemon) newSecrets(ctx context.Context, clock events.Clock) error {
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
	so := secretsmanager.Options{Store: d.st, Keys: d.kms, Functions: rotationInvoker{d},
		Region: d.cfg.Region, AccountID: d.cfg.AccountID, Logger: d.log.With("component", "secretsmanager")}
	if clock != nil {
		so.Now, so.After = clock.Now, clock.After
	}
	d.secrets, err = secretsmanager.New(so)
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

// rotationLease is the lease whose holder starts scheduled secret
// rotations (a secret's record moves its next rotation time in the same
// compare-and-swap that starts one, so two holders start it once).
const rotationLease = "secrets-rotation"

// runRotations starts Secrets Manager's scheduled rotations on one node
// of the cluster until ctx ends.
func (d *Daemon) runRotations(ctx context.Context) {
	_ = d.runOnce(ctx, rotationLease, func(ctx context.Context) error {
		return d.secrets.RunRotations(ctx, 0)
	})
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

// templateSecrets answers templates' dynamic references and SSM
// parameter types from this node's Parameter Store and Secrets Manager.
type templateSecrets struct{ d *Daemon }

// clientMessage is an API error's message, or a generic one.
func clientMessage(err error) string {
	if e := awsapi.As(err); e != nil {
		return e.Code + ": " + e.Message
	}
	return "the value could not be read"
}

func (t templateSecrets) Resolve(ctx context.Context, ref cfn.DynamicRef) (string, error) {
	switch ref.Service {
	case "ssm":
		name := ref.Name
		if ref.Version != "" {
			name += ":" + ref.Version
		}
		p, err := t.d.params.Get(ctx, name, false)
		if err != nil {
			return "", fmt.Errorf("dynamic reference %s: %s", ref.Text, clientMessage(err))
		}
		if p.Type == "SecureString" {
			return "", fmt.Errorf("dynamic reference %s: the parameter is a SecureString; use ssm-secure where CloudFormation allows it", ref.Text)
		}
		return p.Value, nil
	case "ssm-secure":
		// CloudFormation resolves ssm-secure only in a few properties of
		// resource types (RDS, Redshift, IAM user passwords, ...) that
		// Nimbus does not serve.
		return "", fmt.Errorf("SSM Secure reference is not supported in: %s (CloudFormation allows ssm-secure only in a few password properties of resource types Nimbus does not serve; use {{resolve:secretsmanager:...}})", ref.Text)
	case "secretsmanager":
		str, _, _, _, err := t.d.secrets.GetValue(ctx, ref.Name, ref.VersionID, ref.VersionStage)
		if err != nil {
			return "", fmt.Errorf("dynamic reference %s: %s", ref.Text, clientMessage(err))
		}
		if str == nil {
			return "", fmt.Errorf("dynamic reference %s: the secret's value is binary; a dynamic reference reads SecretString only", ref.Text)
		}
		if ref.JSONKey == "" {
			return *str, nil
		}
		var m map[string]any
		if json.Unmarshal([]byte(*str), &m) != nil {
			return "", fmt.Errorf("dynamic reference %s: the secret's value is not a JSON object, so it has no key %s", ref.Text, ref.JSONKey)
		}
		v, ok := m[ref.JSONKey]
		if !ok {
			return "", fmt.Errorf("dynamic reference %s: the secret has no key %s", ref.Text, ref.JSONKey)
		}
		if s, ok := v.(string); ok {
			return s, nil
		}
		b, _ := json.Marshal(v)
		return string(b), nil
	}
	return "", fmt.Errorf("dynamic reference %s: unknown service %s", ref.Text, ref.Service)
}

func (t templateSecrets) Parameter(ctx context.Context, name string) (string, error) {
	p, err := t.d.params.Get(ctx, name, false)
	if err != nil {
		return "", fmt.Errorf("%s", clientMessage(err))
	}
	if p.Type == "SecureString" {
		return "", fmt.Errorf("parameter %s is a SecureString, which SSM parameter types cannot read", name)
	}
	return p.Value, nil
}

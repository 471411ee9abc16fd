package daemon

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/uuid"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/cfn"
	"github.com/nimbus-serverless/nimbus/internal/events"
	"github.com/nimbus-serverless/nimbus/internal/function"
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
	// S3 seals SSE-S3 data keys under a key of its own, derived from the
	// master key (docs/design/object-storage.md).
	if d.s3Key, err = hkdf.Key(sha256.New, mk, nil, "nimbus s3 sse-s3 key v1", 32); err != nil {
		return fmt.Errorf("derive s3 key: %w", err)
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
	if d.iam != nil {
		d.registerKeyPolicies()
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
// parameter types from this node's Parameter Store and Secrets Manager,
// for whoever the stack acts as (templateMayRead: its caller or service
// role needs ssm:GetParameters or secretsmanager:GetSecretValue).
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
		if err := t.d.templateMayRead(ctx, "ssm:GetParameters", t.d.parameterArn(ref.Name)); err != nil {
			return "", fmt.Errorf("dynamic reference %s: %w", ref.Text, err)
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
		str, _, _, arn, err := t.d.secrets.GetValue(ctx, ref.Name, ref.VersionID, ref.VersionStage)
		if err != nil {
			return "", fmt.Errorf("dynamic reference %s: %s", ref.Text, clientMessage(err))
		}
		if err := t.d.templateMayRead(ctx, "secretsmanager:GetSecretValue", arn); err != nil {
			return "", fmt.Errorf("dynamic reference %s: %w", ref.Text, err)
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
	if err := t.d.templateMayRead(ctx, "ssm:GetParameters", t.d.parameterArn(name)); err != nil {
		return "", err
	}
	p, err := t.d.params.Get(ctx, name, false)
	if err != nil {
		return "", fmt.Errorf("%s", clientMessage(err))
	}
	if p.Type == "SecureString" {
		return "", fmt.Errorf("parameter %s is a SecureString, which SSM parameter types cannot read", name)
	}
	return p.Value, nil
}

// envKeys encrypt functions' environment variables under their
// KMSKeyArn with the node's KMS (envelope encryption, encryption context
// {"LambdaFunctionName": name} as Lambda uses), and answer KMS's refusals
// as Lambda does.
type envKeys struct{ d *Daemon }

func (k envKeys) ectx(name string) map[string]string {
	return map[string]string{"LambdaFunctionName": name}
}

func (k envKeys) SealEnvironment(ctx context.Context, keyArn, name string, vars map[string]string) ([]byte, error) {
	if vars == nil {
		vars = map[string]string{}
	}
	plain, err := json.Marshal(vars)
	if err != nil {
		return nil, fmt.Errorf("encode environment: %w", err)
	}
	sealed, _, err := k.d.kms.SealValue(ctx, keyArn, plain, k.ectx(name))
	if err != nil {
		if e := awsapi.As(err); e != nil {
			return nil, awsapi.InvalidParameter("Lambda was unable to configure access to your environment variables because the KMS key is invalid for Encrypt. Please check your KMS key settings. KMS Exception: %s KMS Message: %s", e.Code, e.Message)
		}
		return nil, err
	}
	return sealed, nil
}

func (k envKeys) OpenEnvironment(ctx context.Context, name string, sealed []byte) (map[string]string, error) {
	plain, _, err := k.d.kms.OpenValue(ctx, sealed, k.ectx(name))
	if err != nil {
		return nil, lambdaKMSError(err)
	}
	var vars map[string]string
	if err := json.Unmarshal(plain, &vars); err != nil {
		return nil, fmt.Errorf("decode environment: %w", err)
	}
	return vars, nil
}

func (k envKeys) open(ctx context.Context, fn *function.Config) (map[string]string, error) {
	return k.OpenEnvironment(ctx, fn.FunctionName, fn.Environment.Sealed)
}

// lambdaKMSError is a KMS refusal as Lambda answers an invoke whose
// environment variables cannot be decrypted (502, the KMS* errors of
// Lambda's model).
func lambdaKMSError(err error) error {
	const check = " Please check the function's KMS key settings."
	e := awsapi.As(err)
	switch {
	case e == nil && !errors.Is(err, kms.ErrSealed):
		return err
	case e == nil:
		return &awsapi.Error{Status: http.StatusBadGateway, Code: "KMSAccessDeniedException", Type: "Service",
			Message: "Lambda was unable to decrypt the environment variables because KMS access was denied." + check + " KMS Exception: InvalidCiphertextException"}
	case e.Code == "DisabledException":
		return &awsapi.Error{Status: http.StatusBadGateway, Code: "KMSDisabledException", Type: "Service",
			Message: "Lambda was unable to decrypt the environment variables because the KMS key used is disabled." + check}
	case e.Code == "KMSInvalidStateException":
		return &awsapi.Error{Status: http.StatusBadGateway, Code: "KMSInvalidStateException", Type: "Service",
			Message: "Lambda was unable to decrypt the environment variables because the KMS key used is in an invalid state for Decrypt." + check}
	case e.Code == "NotFoundException":
		return &awsapi.Error{Status: http.StatusBadGateway, Code: "KMSNotFoundException", Type: "Service",
			Message: "Lambda was unable to decrypt the environment variables because the KMS key was not found." + check}
	}
	return &awsapi.Error{Status: http.StatusBadGateway, Code: "KMSAccessDeniedException", Type: "Service",
		Message: "Lambda was unable to decrypt the environment variables because KMS access was denied." + check +
			" KMS Exception: " + e.Code + " KMS Message: " + e.Message}
}

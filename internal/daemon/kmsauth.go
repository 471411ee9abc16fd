package daemon

import (
	"context"
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/iam"
	"github.com/nimbus-serverless/nimbus/internal/kms"
	"github.com/nimbus-serverless/nimbus/internal/policy"
)

// KMS key policies, as KMS evaluates them (docs/design/secrets.md): a
// customer managed key's policy is the primary control of the key. A
// caller may use the key when the key policy allows the caller itself
// (its user, role or session), or when the key policy allows the account
// (arn:aws:iam::<account>:root, "delegate to IAM") and the caller's IAM
// policies allow it too; an explicit Deny in either wins. IAM policies
// alone never open a key whose policy does not name the account.

// registerKeyPolicies makes customer managed keys' policies the resource
// policies of kms:* calls.
func (d *Daemon) registerKeyPolicies() {
	d.iam.RegisterResourcePolicies("kms", iam.ResourcePolicyFunc(func(ctx context.Context, arn string) (string, error) {
		if d.kms == nil || !strings.Contains(arn, ":key/") {
			return "", nil
		}
		p, _ := d.kms.KeyPolicy(ctx, arn)
		return p, nil
	}))
}

// kmsResource is the key ARN a KMS call is evaluated on: the key an
// alias names, or for Decrypt and ReEncrypt (kms:ReEncryptFrom) without
// a key id the key the ciphertext blob names (as KMS authorises them on
// the key).
func (d *Daemon) kmsResource(r *http.Request, action, resource string) string {
	if d.kms == nil || !strings.HasPrefix(action, "kms:") {
		return resource
	}
	id := ""
	switch {
	case strings.Contains(resource, ":alias/"):
		id = resource
	case resource == "*" && (action == "kms:Decrypt" || action == "kms:ReEncryptFrom"):
		m := jsonFields(peekBody(r))
		b, err := base64.StdEncoding.DecodeString(str(m, "CiphertextBlob"))
		if err != nil {
			return resource
		}
		kid, ok := kms.BlobKeyID(b)
		if !ok {
			return resource
		}
		id = kid
	default:
		return resource
	}
	if _, arn := d.kms.KeyPolicy(r.Context(), id); arn != "" {
		return arn
	}
	return resource
}

// reEncryptOperation is ReEncrypt as KMS authorises it: kms:ReEncryptFrom
// on the key that encrypted the ciphertext (SourceKeyId, else the key the
// blob names: kmsResource) and kms:ReEncryptTo on DestinationKeyId, each
// with its key policy. (Judging it as one made-up action on "*" let a
// caller re-encrypt under a key it may not use.)
func (d *Daemon) reEncryptOperation(ctx context.Context, m map[string]any) operation {
	o := operation{service: "kms", name: "ReEncrypt", action: "kms:ReEncryptFrom", resource: "*"}
	if src := str(m, "SourceKeyId"); src != "" {
		o.resource = d.kmsKeyArn(ctx, src)
	}
	o.also = []check{{action: "kms:ReEncryptTo", resource: d.kmsKeyArn(ctx, str(m, "DestinationKeyId"))}}
	return o
}

// kmsKeyArn is the ARN of the key id (a key id, key ARN, alias name or
// alias ARN) names: the key's when it exists, else the ARN the id
// spells; "*" for none.
func (d *Daemon) kmsKeyArn(ctx context.Context, id string) string {
	if id == "" {
		return "*"
	}
	if d.kms != nil {
		if _, arn := d.kms.KeyPolicy(ctx, id); arn != "" {
			return arn
		}
	}
	if strings.HasPrefix(id, "arn:") {
		return id
	}
	return d.namedResource("kms", map[string]any{"KeyId": id})
}

// kmsKeyPolicy narrows IAM's decision dec on a KMS call to what the key
// policy keyPolicy (nil: none applies, e.g. an AWS managed key) allows.
func kmsKeyPolicy(dec policy.Decision, req *policy.Request, keyPolicy *policy.Policy, account string) policy.Decision {
	if !dec.Allowed || keyPolicy == nil {
		return dec
	}
	ps := &policy.Policies{Resource: []*policy.Policy{keyPolicy}}
	if policy.Evaluate(ps, req).Allowed {
		return dec // the key policy names the caller
	}
	root := *req
	root.Principal = policy.Principal{ARN: "arn:aws:iam::" + account + ":root", Account: account}
	if policy.Evaluate(ps, &root).Allowed {
		return dec // it delegates to IAM, which allowed
	}
	return policy.Decision{Type: policy.ResourceBased}
}

// resourceKeys sets the condition keys a call's resource supplies:
// Secrets Manager's (secretsmanager:resource/AllowRotationLambdaArn,
// resource tags) and kms:CallerAccount.
func (d *Daemon) resourceKeys(ctx context.Context, action, resource string, req *policy.Request) {
	switch {
	case strings.HasPrefix(action, "kms:"):
		req.Set("kms:CallerAccount", d.cfg.AccountID)
	case strings.HasPrefix(action, "secretsmanager:") && d.secrets != nil && strings.Contains(resource, ":secret:"):
		for k, v := range d.secrets.ConditionKeys(ctx, strings.TrimSuffix(resource, "-??????")) {
			req.Set(k, v)
		}
	}
}

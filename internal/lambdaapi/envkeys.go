package lambdaapi

import (
	"context"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/function"
)

// EnvironmentKeys encrypt and decrypt a function's environment variables
// under its KMSKeyArn (the daemon's, over the node's KMS). Their errors
// are Lambda's: KMSDisabledException, KMSInvalidStateException,
// KMSNotFoundException, KMSAccessDeniedException (502).
type EnvironmentKeys interface {
	SealEnvironment(ctx context.Context, keyArn, functionName string, vars map[string]string) ([]byte, error)
	OpenEnvironment(ctx context.Context, functionName string, sealed []byte) (map[string]string, error)
}

// checkKMSKeyArn validates KMSKeyArn: "" (Lambda's own key) or a KMS key
// or alias ARN, and only when this node can encrypt with KMS keys.
func (h *Handler) checkKMSKeyArn(arn string) error {
	if arn == "" {
		return nil
	}
	if h.keys == nil {
		return notSupported("KMSKeyArn (customer managed keys) is")
	}
	if !strings.HasPrefix(arn, "arn:aws:kms:") || len(arn) > 2048 {
		return awsapi.InvalidParameter("KMSKeyArn %s is not a valid KMS key ARN.", arn)
	}
	return nil
}

// sealEnvironment brings cfg's stored variables in line with its
// KMSKeyArn (prevKey is the key before this change): variables given in
// plain text (a new Environment) are sealed under the key; sealed ones
// are kept as they are while the key stays, and are opened and sealed
// again when it changed, or kept in plain text when it was removed.
func (h *Handler) sealEnvironment(ctx context.Context, cfg *function.Config, prevKey string) error {
	if cfg.Environment == nil || h.keys == nil {
		return nil
	}
	if cfg.Environment.Sealed != nil && cfg.KMSKeyArn == prevKey {
		return nil
	}
	e := *cfg.Environment // the registry's copy may share it
	env := &e
	cfg.Environment = env
	env.Error = nil
	if env.Sealed != nil {
		vars, err := h.keys.OpenEnvironment(ctx, cfg.FunctionName, env.Sealed)
		if err != nil {
			return err
		}
		env.Variables, env.Sealed = vars, nil
	}
	if cfg.KMSKeyArn == "" {
		return nil
	}
	sealed, err := h.keys.SealEnvironment(ctx, cfg.KMSKeyArn, cfg.FunctionName, env.Variables)
	if err != nil {
		return err
	}
	env.Variables, env.Sealed = nil, sealed
	return nil
}

// reveal is cfg as the API answers it: sealed variables opened, or
// Environment.Error saying why they cannot be. cfg itself (the
// registry's) is not changed.
func (h *Handler) reveal(ctx context.Context, cfg *function.Config) *function.Config {
	if cfg == nil || cfg.Environment == nil || cfg.Environment.Sealed == nil {
		return cfg
	}
	out := *cfg
	env := &function.Environment{}
	out.Environment = env
	if h.keys == nil {
		env.Error = &function.EnvironmentError{ErrorCode: "KMSAccessDeniedException", Message: "This node cannot decrypt the environment variables."}
		return &out
	}
	vars, err := h.keys.OpenEnvironment(ctx, cfg.FunctionName, cfg.Environment.Sealed)
	if err != nil {
		e := awsapi.As(err)
		if e == nil {
			e = &awsapi.Error{Code: "KMSInternalException", Message: "Lambda was unable to decrypt the environment variables."}
		}
		env.Error = &function.EnvironmentError{ErrorCode: e.Code, Message: e.Message}
		return &out
	}
	env.Variables = vars
	return &out
}

// revealAll reveals each configuration of a list in place of the entry.
func (h *Handler) revealAll(ctx context.Context, cfgs []*function.Config) {
	for i, c := range cfgs {
		cfgs[i] = h.reveal(ctx, c)
	}
}

package stack

import (
	"context"
	"net/url"
	"strings"

	"github.com/nimbus-serverless/nimbus/internal/cfn"
)

// CodeAccess judges whether the caller on ctx may read (s3:GetObject) the
// object a code location names; it returns the denial, or nil.
type CodeAccess func(ctx context.Context, bucket, key string) error

// codeLocations are the properties of code in a bucket that Lambda reads
// when a provider creates the resource: the provider calls Lambda as the
// node's root, so the stack's caller is judged here, when the stack or
// change set is asked for.
var codeLocations = map[string]string{
	"AWS::Lambda::Function":     "Code",
	"AWS::Lambda::LayerVersion": "Content",
}

// checkCodeAccess refuses a template whose functions or layers take code
// from an object the caller may not read. Locations that depend on other
// resources (Fn::GetAtt, a Ref to a bucket the stack makes) are not known
// yet and are left to the provider; the artifact bucket `nimbus deploy`
// uploads to is content-addressed and not judged.
func (s *Service) checkCodeAccess(ctx context.Context, t *cfn.Template, env *cfn.Env, order []string) error {
	if s.codeAccess == nil {
		return nil
	}
	e := *env
	e.Dynamic = nil
	for _, id := range order {
		r := t.Resources[id]
		if r.Type == stackResourceType {
			// A nested stack's template is read with the node's
			// credentials: it is judged here as the caller.
			v, err := cfn.Eval(r.Properties["TemplateURL"], &e)
			raw, _ := v.(string)
			b, k, ok := ParseTemplateURL(raw)
			if err != nil || !ok {
				continue
			}
			if err := s.codeAccess(ctx, b, k); err != nil {
				return validationError("Resource %s: TemplateURL %s: Your access has been denied by S3, please make sure your request credentials have permission to GetObject for %s/%s. S3 Error Code: AccessDenied. S3 Error Message: %v", id, raw, b, k, err)
			}
			continue
		}
		prop, ok := codeLocations[r.Type]
		if !ok {
			continue
		}
		loc, _ := r.Properties[prop].(map[string]any)
		if loc == nil {
			continue
		}
		bucket, errB := cfn.Eval(loc["S3Bucket"], &e)
		key, errK := cfn.Eval(loc["S3Key"], &e)
		b, okB := bucket.(string)
		k, okK := key.(string)
		if errB != nil || errK != nil || !okB || !okK || b == ArtifactBucket {
			continue
		}
		if err := s.codeAccess(ctx, b, k); err != nil {
			return validationError("Resource %s: Your access has been denied by S3, please make sure your request credentials have permission to GetObject for %s/%s. S3 Error Code: AccessDenied. S3 Error Message: %v", id, b, k, err)
		}
	}
	return nil
}

// ParseTemplateURL finds the bucket and key a TemplateURL names:
// https://<bucket>.s3[.<region>|-<region>].amazonaws.com/<key>,
// https://s3[.<region>|-<region>].amazonaws.com/<bucket>/<key>, or the
// node's own address (localhost, 127.0.0.1, *.localhost) virtual-hosted
// (<bucket>.s3[.<region>].localhost) or path-style.
func ParseTemplateURL(raw string) (bucket, key string, ok bool) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return "", "", false
	}
	host := strings.ToLower(u.Hostname())
	path := strings.TrimPrefix(u.Path, "/")
	local := host == "localhost" || host == "127.0.0.1" || host == "::1" || strings.HasSuffix(host, ".localhost")
	aws := strings.HasSuffix(host, ".amazonaws.com")
	if !local && !aws {
		return "", "", false
	}
	switch {
	case strings.Contains(host, ".s3.") || strings.Contains(host, ".s3-"):
		i := strings.Index(host, ".s3")
		bucket, key = host[:i], path
	case aws && !strings.HasPrefix(host, "s3.") && !strings.HasPrefix(host, "s3-"):
		return "", "", false
	default:
		bucket, key, _ = strings.Cut(path, "/")
	}
	if bucket == "" || key == "" {
		return "", "", false
	}
	return bucket, key, true
}

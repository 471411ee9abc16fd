package stack

import (
	"context"

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

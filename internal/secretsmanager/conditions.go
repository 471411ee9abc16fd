package secretsmanager

import "context"

// ConditionKeys are the IAM condition keys of the secret id (its name or
// ARN) that policies test, as Secrets Manager supplies them:
// secretsmanager:resource/AllowRotationLambdaArn (the secret's rotation
// function, which AWS's rotation policy templates require),
// secretsmanager:ResourceTag/<key> and aws:ResourceTag/<key>. A secret
// that does not exist has none.
func (s *Service) ConditionKeys(ctx context.Context, id string) map[string]string {
	sec, _, err := s.load(ctx, id)
	if err != nil {
		return nil
	}
	keys := map[string]string{}
	if sec.RotationARN != "" {
		keys["secretsmanager:resource/AllowRotationLambdaArn"] = sec.RotationARN
	}
	for _, t := range sec.Tags {
		keys["secretsmanager:ResourceTag/"+t.Key] = t.Value
		keys["aws:ResourceTag/"+t.Key] = t.Value
	}
	return keys
}

package sfn

import "context"

// StateMachineTags are the tags of the state machine arn, for the
// aws:ResourceTag/<key> condition keys of a call on it (nil if there is
// no such state machine).
func (s *Service) StateMachineTags(ctx context.Context, arn string) map[string]string {
	m, _, err := s.getMachine(ctx, arn)
	if err != nil {
		return nil
	}
	out := make(map[string]string, len(m.Tags))
	for k, v := range m.Tags {
		out[k] = v
	}
	return out
}

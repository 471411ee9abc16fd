package lambdaapi

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/errdefs"
)

// Every category the core can return has Lambda's answer, and the answer
// keeps the category's message, Reason and Retry-After, also when the
// error was wrapped on its way up.
func TestWireErrorCoversEveryCategory(t *testing.T) {
	for _, cat := range errdefs.Categories {
		err := fmt.Errorf("somewhere: %w", &errdefs.Error{Category: cat, Message: "the message"})
		e := awsapi.As(wireError(err))
		if e == nil {
			t.Errorf("%v: no wire error", cat)
			continue
		}
		if e.Message != "the message" || e.Status == 0 || e.Code == "" {
			t.Errorf("%v: %+v", cat, e)
		}
	}
	e := awsapi.As(wireError(errdefs.Throttled("ReservedFunctionConcurrentInvocationLimitExceeded", 1, "Rate Exceeded.")))
	if e == nil || e.Status != http.StatusTooManyRequests || e.Code != awsapi.CodeTooManyRequests ||
		e.Reason != "ReservedFunctionConcurrentInvocationLimitExceeded" || e.RetryAfterSeconds != 1 {
		t.Errorf("throttle: %+v", e)
	}
	plain := errors.New("internal detail")
	if got := wireError(plain); got != plain { //nolint:errorlint // the very value, unchanged
		t.Errorf("an uncategorised error changed: %v", got)
	}
}

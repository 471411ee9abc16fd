package lambdaapi

import (
	"errors"
	"net/http"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
	"github.com/nimbus-serverless/nimbus/internal/errdefs"
)

// wireErrors is how Lambda answers each error category of the core
// (registry, pool, async): the one place this API maps them.
var wireErrors = []struct {
	category error
	status   int
	code     string
	typ      string
}{
	{errdefs.ErrNotFound, http.StatusNotFound, awsapi.CodeResourceNotFound, "User"},
	{errdefs.ErrConflict, http.StatusConflict, awsapi.CodeResourceConflict, "User"},
	{errdefs.ErrThrottled, http.StatusTooManyRequests, awsapi.CodeTooManyRequests, "User"},
	{errdefs.ErrShuttingDown, http.StatusInternalServerError, awsapi.CodeService, "Service"},
	{errdefs.ErrEnvironmentFailed, http.StatusInternalServerError, awsapi.CodeService, "Service"},
	// Invoke reports a package that cannot be unpacked, and a runtime
	// the node lacks, as 502s of the function's fault.
	{errdefs.ErrBadCode, http.StatusBadGateway, awsapi.CodeInvalidZipFile, "User"},
	{errdefs.ErrBadRuntime, http.StatusBadGateway, awsapi.CodeInvalidRuntime, "User"},
	{errdefs.ErrTooLarge, http.StatusRequestEntityTooLarge, awsapi.CodeRequestTooLarge, "User"},
}

// wireError is err as Lambda answers it: a categorised error becomes its
// *awsapi.Error (with the category's message, Reason and Retry-After);
// anything else is returned as is (awsapi.WriteError answers an error that
// is not an *awsapi.Error as a bare ServiceException).
func wireError(err error) error {
	e := errdefs.As(err)
	if e == nil {
		return err
	}
	for _, w := range wireErrors {
		if errors.Is(e.Category, w.category) {
			return &awsapi.Error{Status: w.status, Code: w.code, Type: w.typ, Message: e.Message,
				Reason: e.Reason, RetryAfterSeconds: e.RetryAfterSeconds}
		}
	}
	return err
}

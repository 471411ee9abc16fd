package lambdaapi

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/awsapi"
)

// CostReporter answers the Nimbus cost report (package cost implements
// it): usage and its AWS Lambda price since now-since, of one function or
// of all ("").
type CostReporter interface {
	CostReport(ctx context.Context, since time.Duration, function string) (any, error)
}

// costPath is the Nimbus-specific (non-AWS) operation `nimbus cost` calls,
// signed like every other API call.
const costPath = "/_nimbus/cost"

// costFunctionRE is a plain function name (Lambda's, at most 64 characters).
var costFunctionRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`) })

// maxCostSince bounds the report's period (the records' retention).
const maxCostSince = 366 * 24 * time.Hour

// getCostReport is GET /_nimbus/cost?since=24h&function=name.
func (h *Handler) getCostReport(c *call) error {
	if h.cost == nil {
		return awsapi.NotFound("Cost metering is off on this Nimbus server (it runs with --telemetry=false).")
	}
	q := c.r.URL.Query()
	since := 24 * time.Hour
	if s := q.Get("since"); s != "" {
		d, err := parseSince(s)
		if err != nil || d <= 0 || d > maxCostSince {
			return awsapi.InvalidParameter("since %q must be a positive duration such as 90m, 24h or 7d, at most 366d.", s)
		}
		since = d
	}
	fn := q.Get("function")
	if fn != "" && !costFunctionRE().MatchString(fn) {
		return awsapi.InvalidParameter("function %q is not a function name.", fn)
	}
	rep, err := h.cost.CostReport(c.r.Context(), since, fn)
	if err != nil {
		h.log.Error("cost report failed", "err", err)
		return awsapi.Service("The cost report could not be read.")
	}
	return c.writeJSON(http.StatusOK, rep)
}

// parseSince reads a Go duration or a number of days ("7d").
func parseSince(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil {
			return 0, err
		}
		if days < 0 || days > 100000 {
			return 0, strconv.ErrRange
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

package awsapi

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Epoch is a timestamp as the JSON protocols send it: seconds since the
// Unix epoch, a number with millisecond precision.
type Epoch time.Time

// MarshalJSON writes the seconds with up to three decimals.
func (t Epoch) MarshalJSON() ([]byte, error) {
	ms := time.Time(t).UnixMilli()
	return []byte(strconv.FormatFloat(float64(ms)/1000, 'f', -1, 64)), nil
}

// UnmarshalJSON reads seconds (integer or fractional).
func (t *Epoch) UnmarshalJSON(b []byte) error {
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("timestamp %s: %w", b, err)
	}
	*t = Epoch(time.UnixMilli(int64(f * 1000)).UTC())
	return nil
}

// ClientError is a 400 error with an AWS exception name, for the JSON
// services, whose client errors all travel with status 400.
func ClientError(code, format string, args ...any) *Error {
	return newErr(http.StatusBadRequest, code, "User", format, args...)
}

package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestTransientErrorsAreUnavailable: the backbone's failures that pass on
// their own (no stream leader, a timeout, JetStream's 503) are marked for
// the API edges' 503; every other error is left as it is.
func TestTransientErrorsAreUnavailable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nats.ErrNoResponders, true},
		{fmt.Errorf("publish async events: %w", jetstream.ErrNoStreamResponse), true},
		{nats.ErrTimeout, true},
		{context.DeadlineExceeded, true},
		{jetstream.ErrConsumerLeadershipChanged, true},
		{&jetstream.APIError{Code: 503, ErrorCode: jsClusterNotAvail, Description: "JetStream system temporarily unavailable"}, true},
		{&jetstream.APIError{Code: 400, ErrorCode: jetstream.JSErrCodeStreamWrongLastSequence}, false},
		{jetstream.ErrKeyExists, false},
		{ErrNotFound, false},
		{ErrStorageFull, false},
		{errors.New("decode: bad json"), false},
		{nil, false},
	} {
		err := Unavailable(tc.err)
		var u interface {
			Unavailable() string
			Transient()
		}
		if got := errors.As(err, &u); got != tc.want || Transient(tc.err) != tc.want {
			t.Errorf("Unavailable(%v) marked %v, want %v", tc.err, got, tc.want)
		}
		if tc.err == nil {
			continue
		}
		if !errors.Is(err, tc.err) || err.Error() != tc.err.Error() {
			t.Errorf("Unavailable(%v) = %v: lost the error it wraps", tc.err, err)
		}
		if tc.want && (!errors.Is(err, ErrUnavailable) || Unavailable(err) != err) { //nolint:errorlint // the very value: not marked twice
			t.Errorf("Unavailable(%v) is not ErrUnavailable, or marked twice", tc.err)
		}
	}
}

// TestRetryLeaderless: a request that found no stream leader is sent
// again until one answers, within leaderWait; any other error (which may
// have changed something) is returned at once, and on one node nothing
// is retried.
func TestRetryLeaderless(t *testing.T) {
	defer func(w time.Duration) { leaderWait = w }(leaderWait)
	leaderWait = 2 * time.Second
	ctx := t.Context()
	tries := 0
	v, err := retryLeaderless(ctx, true, func() (int, error) {
		tries++
		if tries < 3 {
			return 0, jetstream.ErrNoStreamResponse
		}
		return 7, nil
	})
	if v != 7 || err != nil || tries != 3 {
		t.Errorf("leader elected on the third try: %d, %v after %d tries", v, err, tries)
	}
	for _, tc := range []struct {
		cluster bool
		err     error
		want    int
	}{
		{true, nats.ErrTimeout, 1}, // may have been stored
		{false, nats.ErrNoResponders, 1},
		{true, &jetstream.APIError{Code: 503, ErrorCode: jsClusterNotAvail}, 0}, // until leaderWait
	} {
		tries = 0
		start := time.Now()
		_, err := retryLeaderless(ctx, tc.cluster, func() (int, error) { tries++; return 0, tc.err })
		if !errors.Is(err, tc.err) || tc.want > 0 && tries != tc.want || tc.want == 0 && (tries < 3 || time.Since(start) > time.Minute) {
			t.Errorf("cluster %v, %v: %d tries, %v", tc.cluster, tc.err, tries, err)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	tries = 0
	if _, err := retryLeaderless(cctx, true, func() (int, error) { tries++; return 0, nats.ErrNoResponders }); err == nil || tries != 1 {
		t.Errorf("a cancelled request was tried %d times (%v)", tries, err)
	}
}

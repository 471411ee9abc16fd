package store

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// leaderWait bounds how long a request waits, trying again, for a stream
// that has no leader. After a node dies, the Raft groups it led elect
// another within an election timeout (4-9 s in nats-server) once their
// followers notice; a request in that gap finds no responder.
var leaderWait = 10 * time.Second

// Transient reports whether err is a failure of the backbone that passes
// on its own: no stream leader answered (no responders: the stream's
// Raft group is electing one, after a node died or while a restarted
// node's groups catch up), JetStream answered 503 ("temporarily
// unavailable": a group without a leader), a consumer's leader changed,
// or a request timed out (its leader died under it, or this node is cut
// off from the majority). The client is told to try again (503), not
// that the service failed (500).
func Transient(err error) bool {
	if err == nil {
		return false
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.Code == http.StatusServiceUnavailable
	}
	return leaderless(err) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, jetstream.ErrConsumerLeadershipChanged)
}

// jsClusterNotAvail is nats-server's JSClusterNotAvailErr (503, "JetStream
// system temporarily unavailable"): a member of a group without a
// leader answers it instead of the leader.
const jsClusterNotAvail jetstream.ErrorCode = 10008

// leaderless: the request reached no stream leader, so it changed
// nothing and may be sent again, a write included.
func leaderless(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode == jsClusterNotAvail
	}
	return errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse)
}

// ErrUnavailable matches (errors.Is) every error Unavailable wrapped.
var ErrUnavailable = errors.New("backbone temporarily unavailable")

// Unavailable returns err marked for the API edges when it is Transient
// (else err as it is): it keeps err's text and unwraps to it, and its
// Unavailable and Transient methods (awsapi.Unavailable,
// awsapi.Transient) make every edge answer 503 with a message telling
// the client to retry, instead of its internal error.
func Unavailable(err error) error {
	if !Transient(err) || errors.Is(err, ErrUnavailable) {
		return err
	}
	return unavailable{err}
}

type unavailable struct{ err error }

func (u unavailable) Error() string { return u.err.Error() }

func (u unavailable) Unwrap() []error { return []error{u.err, ErrUnavailable} }

// Unavailable is what a client is told.
func (unavailable) Unavailable() string {
	return "The service is briefly unavailable: the cluster is electing a leader for the data this request needs. Retry the request."
}

// Transient marks the error as one that passes on its own (awsapi.Transient).
func (unavailable) Transient() {}

// retryLeaderless calls f until it succeeds, fails for another reason
// than a missing stream leader, leaderWait has passed or ctx ends; the
// pauses grow from 100 ms to 1 s. f's failed tries reached no leader, so
// they changed nothing. Only on a cluster (cluster false: f once): on one
// node no responder means no stream (or JetStream off on a full disk),
// which waiting does not mend.
func retryLeaderless[T any](ctx context.Context, cluster bool, f func() (T, error)) (T, error) {
	if !cluster {
		return f()
	}
	deadline := time.Now().Add(leaderWait)
	pause := 100 * time.Millisecond
	for {
		v, err := f()
		if err == nil || !leaderless(err) || ctx.Err() != nil || time.Now().Add(pause).After(deadline) {
			return v, err
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return v, err
		case <-t.C:
		}
		pause = min(2*pause, time.Second)
	}
}

// errNoMajority: see Store.majority.
var errNoMajority = errors.New("this node's routes reach no majority of the cluster's servers")

// majority refuses a write at once (Unavailable) when this node's routes
// reach fewer servers than a majority of a group of the store's replica
// count: no write can commit (a partition's cut-off side, the last node
// of three), and one sent anyway waited out its 30 s timeout (to a
// stream leader that had not yet stepped down). Nil with an external
// NATS or one replica.
func (s *Store) majority() error {
	if s.ns == nil || s.replicas <= 1 || s.ns.NumRemotes()+1 >= s.replicas/2+1 {
		return nil
	}
	return unavailable{errNoMajority}
}

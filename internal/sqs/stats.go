package sqs

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// QueueStat is a queue's depth, read from its stream and consumer, and
// this node's counters of it (since the node started).
type QueueStat struct {
	Account, Name string
	// Visible is ApproximateNumberOfMessagesVisible: stored, not in flight.
	Visible uint64
	// NotVisible is ApproximateNumberOfMessagesNotVisible: in flight.
	NotVisible uint64
	// OldestAge is ApproximateAgeOfOldestMessage: the age of the oldest
	// message in the queue (visible or not), 0 for an empty queue.
	OldestAge time.Duration
	// DeadLetterQueue is the name of the queue's redrive target, if any.
	DeadLetterQueue string
	// Node-local counters, as CloudWatch's AWS/SQS names them.
	Sent, Received, Deleted, EmptyReceives uint64
}

// counters are one queue's node-local counters.
type counters struct {
	sent, received, deleted, emptyReceives atomic.Uint64
}

// countersOf returns q's counters, creating them.
func (s *Service) countersOf(account, name string) *counters {
	k := account + "/" + name
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.counters[k]
	if c == nil {
		c = new(counters)
		s.counters[k] = c
	}
	return c
}

// Stats reads every queue's depth (every account's), sorted by account
// and name.
func (s *Service) Stats(ctx context.Context) ([]QueueStat, error) {
	lister, err := s.kv.ListKeysFiltered(ctx, "q.>")
	if err != nil {
		return nil, fmt.Errorf("list queues: %w", err)
	}
	var out []QueueStat
	for k := range lister.Keys() {
		e, err := s.kv.Get(ctx, k)
		if err != nil {
			continue // deleted meanwhile
		}
		var q queue
		if err := json.Unmarshal(e.Value(), &q); err != nil {
			continue
		}
		st := QueueStat{Account: q.Account, Name: q.Name}
		if rp, ok := q.redrive(); ok {
			_, st.DeadLetterQueue, _ = parseARN(rp.DeadLetterTargetArn)
		}
		c, err := s.consumer(ctx, &q)
		if err != nil {
			continue
		}
		info, err := c.Info(ctx)
		if err != nil {
			continue
		}
		st.Visible, st.NotVisible = info.NumPending, uint64(max(info.NumAckPending, 0)) //nolint:gosec // not negative
		if strm, err := s.stream(ctx, &q); err == nil {
			if si, err := strm.Info(ctx); err == nil && si.State.Msgs > 0 && !si.State.FirstTime.IsZero() {
				st.OldestAge = max(s.now().Sub(si.State.FirstTime), 0)
			}
		}
		n := s.countersOf(q.Account, q.Name)
		st.Sent, st.Received, st.Deleted, st.EmptyReceives = n.sent.Load(), n.received.Load(), n.deleted.Load(), n.emptyReceives.Load()
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Account != out[j].Account {
			return out[i].Account < out[j].Account
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

func sqsDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, []string{"account", "queue"}, nil)
}

var (
	descVisible    = sqsDesc("nimbus_sqs_approximate_number_of_messages_visible", "Messages available for retrieval, like AWS/SQS ApproximateNumberOfMessagesVisible.")
	descNotVisible = sqsDesc("nimbus_sqs_approximate_number_of_messages_not_visible", "Messages in flight, like AWS/SQS ApproximateNumberOfMessagesNotVisible.")
	descOldest     = sqsDesc("nimbus_sqs_approximate_age_of_oldest_message_seconds", "Age of the oldest message in the queue, like AWS/SQS ApproximateAgeOfOldestMessage.")
	descSent       = sqsDesc("nimbus_sqs_number_of_messages_sent_total", "Messages stored by sends to this node, like AWS/SQS NumberOfMessagesSent.")
	descReceived   = sqsDesc("nimbus_sqs_number_of_messages_received_total", "Messages returned by receives on this node, like AWS/SQS NumberOfMessagesReceived.")
	descDeleted    = sqsDesc("nimbus_sqs_number_of_messages_deleted_total", "Messages deleted through this node, like AWS/SQS NumberOfMessagesDeleted.")
	descDLQ        = prometheus.NewDesc("nimbus_sqs_dead_letter_queue_info", "A queue's redrive target (RedrivePolicy deadLetterTargetArn), value 1.",
		[]string{"account", "queue", "dead_letter_queue"}, nil)
	descEmpty = sqsDesc("nimbus_sqs_number_of_empty_receives_total", "Receives on this node that returned no message, like AWS/SQS NumberOfEmptyReceives.")
)

// collector exposes Stats on /metrics.
type collector struct{ s *Service }

// Collector returns a Prometheus collector of every queue's depth and
// this node's counters, read at scrape time.
func (s *Service) Collector() prometheus.Collector { return collector{s} }

func (collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descVisible, descNotVisible, descOldest, descSent, descReceived, descDeleted, descEmpty, descDLQ} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stats, err := c.s.Stats(ctx)
	if err != nil {
		return // the families are absent from this scrape
	}
	g, n := prometheus.GaugeValue, prometheus.CounterValue
	for _, st := range stats {
		l := []string{st.Account, st.Name}
		ch <- prometheus.MustNewConstMetric(descVisible, g, float64(st.Visible), l...)
		ch <- prometheus.MustNewConstMetric(descNotVisible, g, float64(st.NotVisible), l...)
		ch <- prometheus.MustNewConstMetric(descOldest, g, st.OldestAge.Seconds(), l...)
		ch <- prometheus.MustNewConstMetric(descSent, n, float64(st.Sent), l...)
		ch <- prometheus.MustNewConstMetric(descReceived, n, float64(st.Received), l...)
		ch <- prometheus.MustNewConstMetric(descDeleted, n, float64(st.Deleted), l...)
		ch <- prometheus.MustNewConstMetric(descEmpty, n, float64(st.EmptyReceives), l...)
		if st.DeadLetterQueue != "" {
			ch <- prometheus.MustNewConstMetric(descDLQ, g, 1, st.Account, st.Name, st.DeadLetterQueue)
		}
	}
}

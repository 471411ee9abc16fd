package daemon

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/nimbus-serverless/nimbus/internal/cost"
	"github.com/nimbus-serverless/nimbus/internal/events"
	"github.com/nimbus-serverless/nimbus/internal/lambdaapi"
	"github.com/nimbus-serverless/nimbus/internal/pool"
	"github.com/nimbus-serverless/nimbus/internal/scheduler"
	"github.com/nimbus-serverless/nimbus/internal/sns"
	"github.com/nimbus-serverless/nimbus/internal/telemetry"
)

// readiness: the store's connection is up, the registry has loaded every
// function, the pool takes invocations.
func (d *Daemon) readiness() []telemetry.Check {
	return []telemetry.Check{
		{Name: "store", Check: func(context.Context) error {
			if nc := d.st.Conn(); nc == nil || !nc.IsConnected() {
				return errors.New("not connected to NATS")
			}
			return d.st.StorageErr() // writes fail while the disk is full
		}},
		{Name: "registry", Check: func(context.Context) error {
			select {
			case <-d.reg.Ready():
				return nil
			default:
				return errors.New("function registry not synced yet")
			}
		}},
		{Name: "pool", Check: func(context.Context) error {
			if !d.pool.Accepting() {
				return errors.New("pool is shutting down")
			}
			return nil
		}},
		d.quorumCheck(),
	}
}

// newTelemetry builds the metrics registry and the cost meter (unless
// telemetry is off) and returns the pool's invocation observer.
func (d *Daemon) newTelemetry(ctx context.Context) (pool.Observer, error) {
	if err := d.newTracer(ctx); err != nil {
		return nil, err
	}
	if !d.cfg.Telemetry {
		if d.tracer != nil {
			return d.tracer, nil
		}
		return nil, nil
	}
	d.prices = cost.DefaultPrices()
	if d.cfg.PriceFile != "" {
		p, err := cost.LoadPrices(d.cfg.PriceFile)
		if err != nil {
			return nil, err
		}
		d.prices = p
	}
	d.metrics = telemetry.NewMetrics(telemetry.MetricsOptions{
		Async:  d.asyncStats,
		Logger: d.log.With("component", "telemetry"),
	})
	m, err := cost.New(ctx, cost.Options{JetStream: d.st.JetStream(), Replicas: d.st.Replicas(), Logger: d.log.With("component", "cost")})
	if err != nil {
		return nil, fmt.Errorf("create cost meter: %w", err)
	}
	d.meter = m
	obs := pool.Observers{d.metrics, d.meter}
	if d.tracer != nil {
		obs = append(obs, d.tracer)
	}
	return obs, nil
}

// newTracer starts the OTLP exporter when an endpoint is configured; nil
// (tracing off) otherwise.
func (d *Daemon) newTracer(ctx context.Context) error {
	t, err := telemetry.NewTracer(ctx, d.cfg.OTLPEndpoint, d.log.With("component", "tracing"))
	if err != nil {
		return fmt.Errorf("start tracing: %w", err)
	}
	d.tracer = t
	return nil
}

// stopTracer exports the spans still buffered.
func (d *Daemon) stopTracer() {
	if d.tracer == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.tracer.Shutdown(ctx); err != nil {
		d.log.Warn("stop tracing", "err", err)
	}
	d.tracer = nil
}

// costReporter answers `nimbus cost`; nil with telemetry off.
func (d *Daemon) costReporter() lambdaapi.CostReporter {
	if d.meter == nil {
		return nil
	}
	return &cost.Reporter{Meter: d.meter, Prices: d.prices}
}

// startMeter runs the meter until stopMeter.
func (d *Daemon) startMeter(ctx context.Context) {
	if d.meter == nil {
		return
	}
	mctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	d.meterStop, d.meterDone = cancel, make(chan struct{})
	go func() {
		defer close(d.meterDone)
		_ = d.meter.Run(mctx)
	}()
}

// stopMeter stores the meter's last batch and waits for it.
func (d *Daemon) stopMeter() {
	if d.meterStop != nil {
		d.meterStop()
		<-d.meterDone
		d.meterStop = nil
	}
}

// asyncStats reads the async queue's counters for /metrics.
func (d *Daemon) asyncStats(ctx context.Context) (telemetry.AsyncStat, error) {
	if d.async == nil {
		return telemetry.AsyncStat{}, errors.New("no async service")
	}
	st, err := d.async.Stats(ctx)
	if err != nil {
		return telemetry.AsyncStat{}, err
	}
	return telemetry.AsyncStat{
		Depth: st.QueueDepth, OldestAge: st.OldestEventAge, Received: st.Enqueued,
		Retries: st.Retries, ThrottleRetries: st.Throttles,
		DroppedDeleted: st.Dropped, DroppedForAge: st.DroppedForAge, RetriesExhausted: st.RetriesExhausted,
		DestinationDeliveries: st.DestinationDeliveries, DestinationFailures: st.DestinationFailures,
	}, nil
}

// componentMetrics exposes the counters other components keep on
// /metrics: API Gateway's and the meter's (the log writer's are
// registered by logsink.go).
func (d *Daemon) componentMetrics() {
	if d.metrics == nil {
		return
	}
	m := d.metrics
	if d.gw != nil {
		gw := d.gw
		for _, c := range []struct {
			name, help string
			read       func() uint64
		}{
			{"nimbus_apigw_requests_total", "Requests to API Gateway invoke URLs.", func() uint64 { return gw.Stats().Requests }},
			{"nimbus_apigw_throttled_total", "API Gateway requests refused by stage, route or usage-plan throttling and quotas (429).", func() uint64 { return gw.Stats().Throttled }},
			{"nimbus_apigw_cache_hits_total", "REST API stage cache hits.", func() uint64 { return gw.Stats().CacheHits }},
			{"nimbus_apigw_cache_misses_total", "REST API stage cache misses.", func() uint64 { return gw.Stats().CacheMisses }},
			{"nimbus_apigw_authorizer_cache_hits_total", "Lambda authorizer results served from cache.", func() uint64 { return gw.Stats().AuthorizerCacheHits }},
			{"nimbus_apigw_denied_total", "API Gateway requests refused by an authorizer, AWS_IAM or an API key (401/403).", func() uint64 { return gw.Stats().Denied }},
			{"nimbus_apigw_integration_errors_total", "API Gateway integrations that failed (function errors mapped to 5xx, timeouts).", func() uint64 { return gw.Stats().IntegrationErrors }},
		} {
			m.CounterFunc(c.name, c.help, c.read)
		}
	}
	if d.events != nil {
		ev := d.events
		for _, c := range []struct {
			name, help string
			read       func(events.Stats) uint64
		}{
			{"nimbus_events_put_events_total", "EventBridge entries accepted by PutEvents (stored before the answer).", func(s events.Stats) uint64 { return s.PutEvents }},
			{"nimbus_events_matched_events_total", "EventBridge events that matched a rule, counted per rule (MatchedEvents).", func(s events.Stats) uint64 { return s.MatchedEvents }},
			{"nimbus_events_invocations_total", "EventBridge deliveries to targets that succeeded (Invocations).", func(s events.Stats) uint64 { return s.Invocations }},
			{"nimbus_events_failed_invocations_total", "EventBridge delivery attempts that failed (FailedInvocations).", func(s events.Stats) uint64 { return s.FailedInvocations }},
			{"nimbus_events_dead_letter_invocations_total", "EventBridge events sent to a target's dead-letter queue (DeadLetterInvocations).", func(s events.Stats) uint64 { return s.DeadLetterInvocations }},
			{"nimbus_events_triggered_rules_total", "Scheduled-rule firings this node published (TriggeredRules; the backbone keeps one per tick across nodes).", func(s events.Stats) uint64 { return s.TriggeredRules }},
		} {
			read := c.read
			m.CounterFunc(c.name, c.help, func() uint64 { return read(ev.Stats()) })
		}
	}
	if d.sched != nil {
		sc := d.sched
		for _, c := range []struct {
			name, help string
			read       func(scheduler.Stats) uint64
		}{
			{"nimbus_scheduler_fired_total", "EventBridge Scheduler due times this node recorded (the backbone keeps one per due time across nodes).", func(s scheduler.Stats) uint64 { return s.Fired }},
			{"nimbus_scheduler_invocations_total", "EventBridge Scheduler deliveries to targets that succeeded (InvocationAttemptCount's successes).", func(s scheduler.Stats) uint64 { return s.Invocations }},
			{"nimbus_scheduler_failed_invocations_total", "EventBridge Scheduler delivery attempts that failed (TargetErrorCount).", func(s scheduler.Stats) uint64 { return s.FailedInvocations }},
			{"nimbus_scheduler_dead_letters_total", "EventBridge Scheduler firings sent to a dead-letter queue (InvocationsSentToDeadLetterCount).", func(s scheduler.Stats) uint64 { return s.DeadLetters }},
		} {
			read := c.read
			m.CounterFunc(c.name, c.help, func() uint64 { return read(sc.Stats()) })
		}
	}
	if d.sns != nil {
		topics := d.sns
		for _, c := range []struct {
			name, help string
			read       func(sns.Stats) uint64
		}{
			{"nimbus_sns_number_of_messages_published_total", "SNS messages accepted by Publish and PublishBatch, stored before the answer (NumberOfMessagesPublished).", func(s sns.Stats) uint64 { return s.NumberOfMessagesPublished }},
			{"nimbus_sns_number_of_notifications_delivered_total", "SNS notifications delivered to a subscription (NumberOfNotificationsDelivered).", func(s sns.Stats) uint64 { return s.NumberOfNotificationsDelivered }},
			{"nimbus_sns_number_of_notifications_failed_total", "SNS delivery attempts that failed, retried ones included (NumberOfNotificationsFailed).", func(s sns.Stats) uint64 { return s.NumberOfNotificationsFailed }},
			{"nimbus_sns_number_of_notifications_filtered_out_total", "SNS notifications a subscription's filter policy rejected (NumberOfNotificationsFilteredOut).", func(s sns.Stats) uint64 { return s.NumberOfNotificationsFilteredOut }},
			{"nimbus_sns_number_of_notifications_redriven_to_dlq_total", "SNS notifications moved to a subscription's dead-letter queue (NumberOfNotificationsRedrivenToDlq).", func(s sns.Stats) uint64 { return s.NumberOfNotificationsRedrivenToDlq }},
		} {
			read := c.read
			m.CounterFunc(c.name, c.help, func() uint64 { return read(topics.Stats()) })
		}
	}
	if d.pool != nil {
		p := d.pool
		for _, g := range []struct {
			name, help string
			read       func(pool.Stats) int
		}{
			{"nimbus_pool_environments", "Execution environments alive (starting, idle or busy).", func(s pool.Stats) int { return s.Environments }},
			{"nimbus_pool_idle_environments", "Execution environments idle, provisioned ones included.", func(s pool.Stats) int { return s.Idle }},
			{"nimbus_pool_provisioned_environments", "Provisioned-concurrency environments, alive or starting.", func(s pool.Stats) int { return s.Provisioned }},
			{"nimbus_pool_concurrent_executions", "Invocations running on this node, like Lambda's account-level ConcurrentExecutions.", func(s pool.Stats) int { return s.Concurrent }},
			{"nimbus_pool_memory_bytes", "Memory size of live environments and starts under way.", func(s pool.Stats) int { return s.MemoryMB << 20 }},
		} {
			read := g.read
			m.GaugeFunc(g.name, g.help, func() float64 { return float64(read(p.Stats())) })
		}
	}
	if d.conns != nil {
		c := d.conns
		m.GaugeFunc("nimbus_http_connections_open", "Client connections open on the API endpoint.", func() float64 { return float64(c.Open()) })
		m.CounterFunc("nimbus_http_connections_refused_total", "Client connections answered 503 and closed because --max-connections were open.", c.Refused)
	}
	if d.meter != nil {
		m.CounterFunc("nimbus_metering_records_dropped_total", "Metering records dropped because too many waited for the backbone.", d.meter.Dropped)
	}
}

// newMetricsServer decides where /metrics is served. With --metrics-listen
// it gets a listener of its own (with /healthz and /readyz beside it) and
// leaves the API's route table; otherwise it stays on the API's listener.
// Either way it is behind metricsGuard. Its output names functions,
// versions and aliases, and the dimension values of EMF lines functions
// print.
func (d *Daemon) newMetricsServer(ctx context.Context, h *routeHandlers) error {
	if h.metrics == nil {
		return nil
	}
	if d.cfg.MetricsListen == "" {
		h.metrics = d.metricsGuard(h.metrics, true)
		return nil
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", d.cfg.MetricsListen)
	if err != nil {
		return fmt.Errorf("listen for metrics on %s: %w", d.cfg.MetricsListen, err)
	}
	d.metricsLn = ln
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", d.metricsGuard(h.metrics, false))
	mux.Handle("GET /healthz", h.healthz)
	mux.Handle("GET /readyz", h.readyz)
	d.metricsSrv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       d.cfg.ConnIdleTimeout,
		ErrorLog:          slog.NewLogLogger(d.log.Handler(), slog.LevelWarn),
	}
	h.metrics = nil
	if d.cfg.MetricsToken == "" && !isLoopback(ln.Addr()) {
		d.log.Warn("metrics are served without a token on a non-loopback address; they name functions and EMF dimension values (set NIMBUS_METRICS_TOKEN)",
			"metrics_addr", ln.Addr().String())
	}
	return nil
}

// MetricsAddr is the address of the --metrics-listen listener ("" without
// one).
func (d *Daemon) MetricsAddr() string {
	if d.metricsLn == nil {
		return ""
	}
	return d.metricsLn.Addr().String()
}

// metricsGuard lets a scrape through when it carries the bearer token
// (with --metrics-token), or, without a token, when it arrived on a
// loopback address of the API's listener (apiListener) or on the metrics
// listener the operator chose. Anything else is 401 (wrong or missing
// token) or 403 (not loopback).
func (d *Daemon) metricsGuard(next http.Handler, apiListener bool) http.Handler {
	token := d.cfg.MetricsToken
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token != "" {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="nimbus metrics"`)
				http.Error(w, "metrics need the bearer token (--metrics-token)", http.StatusUnauthorized)
				return
			}
		} else if apiListener {
			la, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
			if la == nil || !isLoopback(la) {
				http.Error(w, "metrics are served to loopback connections only; set --metrics-token or --metrics-listen", http.StatusForbidden)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// isLoopback reports whether a is a loopback TCP address.
func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

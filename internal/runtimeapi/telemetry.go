package runtimeapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Telemetry API (and the older Logs API) wire names [DG:telemetry-api,
// DG:runtimes-logs-api].
const (
	telemetryPath = "/2022-07-01/telemetry"
	logsPath      = "/2020-08-15/logs"

	// Buffering limits and defaults [DG:telemetry-api].
	minMaxItems, maxMaxItems, defMaxItems    = 1000, 10000, 10000
	minMaxBytes, maxMaxBytes, defMaxBytes    = 262144, 1048576, 262144
	minTimeoutMs, maxTimeoutMs, defTimeoutMs = 25, 30000, 1000

	// maxSubscribeBody bounds a subscription request.
	maxSubscribeBody = 64 << 10
	// deliverTimeout bounds one POST to a subscriber.
	deliverTimeout = 5 * time.Second
	// pendingFactor: a subscriber that does not keep up loses records
	// beyond this many buffers' worth.
	pendingFactor = 4
)

// telemetryTypes are the record categories a subscription may ask for.
var telemetryTypes = map[string]bool{"platform": true, "function": true, "extension": true}

// subscribeRequest is the body of PUT /telemetry (and /logs).
type subscribeRequest struct {
	SchemaVersion string   `json:"schemaVersion"`
	Types         []string `json:"types"`
	Buffering     *struct {
		MaxItems  *int `json:"maxItems"`
		MaxBytes  *int `json:"maxBytes"`
		TimeoutMs *int `json:"timeoutMs"`
	} `json:"buffering"`
	Destination *struct {
		Protocol string `json:"protocol"`
		URI      string `json:"URI"`
	} `json:"destination"`
}

// subscription is a checked subscribeRequest.
type subscription struct {
	types    map[string]bool
	maxItems int
	maxBytes int
	timeout  time.Duration
	port     int
	path     string // request URI (path and query) of the destination
}

func validationErr(msg string) *apiError {
	return &apiError{status: http.StatusBadRequest, errorType: "ValidationError", message: msg}
}

// parseSubscription checks a Telemetry API (or Logs API, with logs)
// subscription. The destination must be an HTTP listener inside the
// environment: sandbox.localdomain (Lambda's name for it), sandbox,
// localhost or 127.0.0.1, on a port that is not one of reserved.
func parseSubscription(body []byte, logs bool, reserved []int) (*subscription, *apiError) {
	var req subscribeRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&req); err != nil {
		return nil, validationErr("The subscription request is not valid JSON")
	}
	switch req.SchemaVersion {
	case "2022-07-01", "2022-12-13", "2025-01-29":
		if logs {
			return nil, validationErr("Unsupported schema version " + req.SchemaVersion + " for the Logs API")
		}
	case "2020-08-15", "2021-03-18":
		if !logs {
			return nil, validationErr("Unsupported schema version " + req.SchemaVersion + " for the Telemetry API")
		}
	case "":
		return nil, validationErr("schemaVersion is required")
	default:
		return nil, validationErr("Unsupported schema version " + req.SchemaVersion)
	}
	sub := &subscription{types: map[string]bool{}, maxItems: defMaxItems, maxBytes: defMaxBytes, timeout: defTimeoutMs * time.Millisecond}
	if len(req.Types) == 0 {
		return nil, validationErr("types must name at least one of platform, function, extension")
	}
	for _, t := range req.Types {
		if !telemetryTypes[t] {
			return nil, validationErr(fmt.Sprintf("Unknown type %q: use platform, function or extension", t))
		}
		sub.types[t] = true
	}
	if b := req.Buffering; b != nil {
		var err *apiError
		if sub.maxItems, err = inRange("maxItems", b.MaxItems, minMaxItems, maxMaxItems, defMaxItems); err != nil {
			return nil, err
		}
		if sub.maxBytes, err = inRange("maxBytes", b.MaxBytes, minMaxBytes, maxMaxBytes, defMaxBytes); err != nil {
			return nil, err
		}
		ms, err := inRange("timeoutMs", b.TimeoutMs, minTimeoutMs, maxTimeoutMs, defTimeoutMs)
		if err != nil {
			return nil, err
		}
		sub.timeout = time.Duration(ms) * time.Millisecond
	}
	d := req.Destination
	if d == nil {
		return nil, validationErr("destination is required")
	}
	switch d.Protocol {
	case "HTTP":
	case "TCP":
		return nil, validationErr("The TCP destination protocol is not supported by Nimbus; use HTTP")
	default:
		return nil, validationErr("destination.protocol must be HTTP or TCP")
	}
	u, err := url.Parse(d.URI)
	if err != nil || u.Scheme != "http" || u.User != nil || u.Opaque != "" {
		return nil, validationErr("destination.URI must be an http:// URL inside the execution environment")
	}
	switch strings.ToLower(u.Hostname()) {
	case "sandbox.localdomain", "sandbox", "localhost", "127.0.0.1":
	default:
		return nil, validationErr("destination.URI must point into the execution environment (http://sandbox.localdomain:PORT/...)")
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil || port < 1 || port > 65535 {
		return nil, validationErr("destination.URI must name a port")
	}
	for _, r := range reserved {
		if port == r {
			return nil, validationErr(fmt.Sprintf("Port %d is reserved by Lambda in the execution environment", port))
		}
	}
	sub.port = port
	sub.path = u.RequestURI()
	return sub, nil
}

func inRange(name string, v *int, lo, hi, def int) (int, *apiError) {
	if v == nil {
		return def, nil
	}
	if *v < lo || *v > hi {
		return 0, validationErr(fmt.Sprintf("buffering.%s must be between %d and %d", name, lo, hi))
	}
	return *v, nil
}

// telemetry is the set of subscriptions of one generation.
type telemetry struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	subs   []*subscriber
}

// subscriber delivers one extension's subscription.
type subscriber struct {
	ext      string
	sub      *subscription
	wake     chan struct{} // buffered 1
	flushNow atomic.Bool   // deliver without waiting for the timeout

	mu      sync.Mutex
	pending [][]byte // guarded by mu: records (JSON objects) not yet sent
	bytes   int      // guarded by mu
	dropped int      // guarded by mu: records lost to a full buffer
}

// handleSubscribe is PUT /2022-07-01/telemetry (and /2020-08-15/logs).
func (s *Server) handleSubscribe(w http.ResponseWriter, r *http.Request, logs bool) error {
	body, rerr := readBody(w, r, maxSubscribeBody)
	if rerr != nil {
		return validationErr("The subscription request could not be read")
	}
	s.mu.Lock()
	if s.staleLocked(r) {
		s.mu.Unlock()
		return errEnded
	}
	x, err := s.extLocked(r)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	s.mu.Unlock()
	sub, aerr := parseSubscription(body, logs, s.opts.ReservedPorts)
	if aerr != nil {
		return aerr
	}
	if s.opts.Dial == nil {
		return &apiError{status: http.StatusInternalServerError, errorType: "InternalServerError", message: "Telemetry delivery is not available in this environment"}
	}
	s.mu.Lock()
	if s.closed || s.staleLocked(r) {
		s.mu.Unlock()
		return errEnded
	}
	if s.tel == nil {
		ctx, cancel := context.WithCancel(context.Background())
		s.tel = &telemetry{ctx: ctx, cancel: cancel}
	}
	t := s.tel
	for i, old := range t.subs {
		if old.ext == x.name { // a new subscription replaces the old one
			t.subs = append(t.subs[:i], t.subs[i+1:]...)
			break
		}
	}
	sb := &subscriber{ext: x.name, sub: sub, wake: make(chan struct{}, 1)}
	t.subs = append(t.subs, sb)
	if s.phase == phaseInitializing {
		for _, e := range s.early {
			if sub.types[e.cat] {
				sb.add(e.rec)
			}
		}
	}
	s.hasTel.Store(true)
	t.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer t.wg.Done()
		s.deliverLoop(t.ctx, sb)
	}()
	if !logs {
		types := make([]string, 0, len(sub.types))
		for _, ty := range []string{"platform", "function", "extension"} {
			if sub.types[ty] {
				types = append(types, ty)
			}
		}
		s.Publish("platform.telemetrySubscription", map[string]any{"name": x.name, "state": "Subscribed", "types": types})
	}
	s.log.Debug("telemetry subscription", "extension", x.name, "port", sub.port)
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("OK"))
	return nil
}

// Publish hands a record to the subscribers whose types include it:
// typ is "function", "extension" or a platform type ("platform.start", ...);
// record is a JSON value (a log line is a string). It never blocks.
//
// Records published during init, before any subscription, are kept (up to
// maxEarly) and handed to the subscriptions made during init, so a
// subscriber sees platform.initStart as on Lambda.
func (s *Server) Publish(typ string, record any) {
	tel, early := s.hasTel.Load(), s.keepEarly.Load()
	if !tel && !early {
		return
	}
	b, err := json.Marshal(struct {
		Time   string `json:"time"`
		Type   string `json:"type"`
		Record any    `json:"record"`
	}{time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), typ, record})
	if err != nil {
		return
	}
	cat, _, _ := strings.Cut(typ, ".")
	s.mu.Lock()
	if s.phase == phaseInitializing && len(s.early) < maxEarly {
		s.early = append(s.early, earlyRecord{cat: cat, rec: b})
	} else if s.phase != phaseInitializing {
		s.early = nil
		s.keepEarly.Store(false)
	}
	t := s.tel
	var subs []*subscriber
	if t != nil {
		for _, sb := range t.subs {
			if sb.sub.types[cat] {
				subs = append(subs, sb)
			}
		}
	}
	s.mu.Unlock()
	for _, sb := range subs {
		sb.add(b)
	}
}

// maxEarly bounds the records kept for subscriptions made during init.
const maxEarly = 256

// earlyRecord is a record published during init.
type earlyRecord struct {
	cat string
	rec []byte
}

func (sb *subscriber) add(rec []byte) {
	sb.mu.Lock()
	if sb.bytes+len(rec) > pendingFactor*sb.sub.maxBytes || len(sb.pending) >= pendingFactor*sb.sub.maxItems {
		sb.dropped++
		sb.mu.Unlock()
		return
	}
	sb.pending = append(sb.pending, rec)
	sb.bytes += len(rec)
	full := len(sb.pending) >= sb.sub.maxItems || sb.bytes >= sb.sub.maxBytes
	first := len(sb.pending) == 1
	sb.mu.Unlock()
	if full || first {
		select {
		case sb.wake <- struct{}{}:
		default:
		}
	}
}

// take removes one batch (at most maxItems records, about maxBytes).
func (sb *subscriber) take() [][]byte {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	n, size := 0, 0
	for n < len(sb.pending) && n < sb.sub.maxItems {
		if n > 0 && size+len(sb.pending[n]) > sb.sub.maxBytes {
			break
		}
		size += len(sb.pending[n])
		n++
	}
	batch := sb.pending[:n:n]
	sb.pending = sb.pending[n:]
	sb.bytes -= size
	return batch
}

func (sb *subscriber) ready() bool {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return len(sb.pending) >= sb.sub.maxItems || sb.bytes >= sb.sub.maxBytes
}

// deliverLoop sends sb's records in batches: when the buffer is full, or
// timeoutMs after the first record of a batch arrived.
func (s *Server) deliverLoop(ctx context.Context, sb *subscriber) {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return s.opts.Dial(ctx, sb.sub.port)
		},
		MaxIdleConnsPerHost: 1,
		IdleConnTimeout:     time.Hour, // each connection uses one of few sockets
		DisableCompression:  true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: deliverTimeout}
	url := "http://sandbox.localdomain:" + strconv.Itoa(sb.sub.port) + sb.sub.path
	for {
		select {
		case <-ctx.Done():
			return
		case <-sb.wake:
		}
		if !sb.ready() && !sb.flushNow.Swap(false) {
			timer := time.NewTimer(sb.sub.timeout)
		wait:
			for {
				select {
				case <-ctx.Done():
					timer.Stop()
					return
				case <-timer.C:
					break wait
				case <-sb.wake:
					if sb.ready() || sb.flushNow.Swap(false) {
						timer.Stop()
						break wait
					}
				}
			}
		}
		for {
			batch := sb.take()
			if len(batch) == 0 {
				break
			}
			if err := post(ctx, client, url, batch); err != nil {
				if ctx.Err() != nil {
					return
				}
				s.log.Debug("telemetry delivery failed", "extension", sb.ext, "records", len(batch), "err", err)
			}
			if !sb.ready() {
				break // the rest waits for its own timeout
			}
		}
		sb.mu.Lock()
		more := len(sb.pending) > 0
		sb.mu.Unlock()
		if more {
			select {
			case sb.wake <- struct{}{}:
			default:
			}
		}
	}
}

func post(ctx context.Context, client *http.Client, url string, batch [][]byte) error {
	body := make([]byte, 0, 2+len(batch)*64)
	body = append(body, '[')
	for i, rec := range batch {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, rec...)
	}
	body = append(body, ']')
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close() //nolint:errcheck // drained below
	var discard [512]byte
	for {
		if _, err := resp.Body.Read(discard[:]); err != nil {
			break
		}
	}
	if resp.StatusCode >= 300 {
		return errors.New("subscriber answered " + resp.Status)
	}
	return nil
}

// FlushTelemetry has what is buffered delivered now, without waiting for
// the buffering timeout: before a shutdown, so a subscriber sees the last
// records.
func (s *Server) FlushTelemetry() {
	s.mu.Lock()
	t := s.tel
	var subs []*subscriber
	if t != nil {
		subs = append(subs, t.subs...)
	}
	s.mu.Unlock()
	for _, sb := range subs {
		sb.flushNow.Store(true)
		select {
		case sb.wake <- struct{}{}:
		default:
		}
	}
}

// stopTelemetryLocked ends the generation's deliveries (Reset, Close); it
// does not wait: Close waits for them with waitTelemetry.
func (s *Server) stopTelemetryLocked() {
	if s.tel == nil {
		return
	}
	s.tel.cancel()
	s.stoppedTel = append(s.stoppedTel, s.tel)
	s.tel = nil
	s.hasTel.Store(false)
}

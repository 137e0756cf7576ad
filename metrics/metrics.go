// Package metrics defines tinyscale's Prometheus metrics. Every method is
// safe on a nil *Metrics (it does nothing), so packages and tests can run
// without a registry.
package metrics

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// CallbackKinds are the kinds of callback relayed, as used in the "kind"
// label of tinyscale_callback_deliveries_total.
var CallbackKinds = []string{"recording-ready", "analytics", "meeting-ended", "webhook"}

// StoreOps are the values of the "op" label of tinyscale_store_errors_total:
// what was being done when the store failed.
var StoreOps = []string{"request", "poll", "callback", "admin"}

// Metrics holds the event metrics that handlers, the poller and the callback
// relay update. Per-server gauges (up, state, meetings, participants, load)
// are collected from the fleet snapshot by a separate collector.
type Metrics struct {
	requests        *prometheus.CounterVec
	requestDuration *prometheus.HistogramVec
	backendRequests *prometheus.CounterVec
	backendDuration *prometheus.HistogramVec
	placements      *prometheus.CounterVec
	callbacks       *prometheus.CounterVec
	storeErrors     *prometheus.CounterVec
	polls           *prometheus.CounterVec
	pollDuration    prometheus.Histogram

	// The children of requests, requestDuration, backendRequests and
	// backendDuration, by label values: WithLabelValues hashes and checks
	// the labels on every call, a map lookup is much cheaper.
	mu       sync.RWMutex
	reqSeen  map[[2]string]requestSeries
	backSeen map[[3]string]requestSeries
}

// requestSeries are the children that one request updates.
type requestSeries struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

// series returns the cached children for key, made by mk on first use.
func series[K comparable](m *Metrics, seen *map[K]requestSeries, key K, mk func() requestSeries) requestSeries {
	m.mu.RLock()
	s, ok := (*seen)[key]
	m.mu.RUnlock()
	if ok {
		return s
	}
	s = mk()
	m.mu.Lock()
	if *seen == nil {
		*seen = make(map[K]requestSeries)
	}
	(*seen)[key] = s
	m.mu.Unlock()
	return s
}

// New creates the metrics and registers them with reg (none if reg is nil).
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "tinyscale", Name: "api_requests_total",
			Help: "BBB API requests answered, by call and result (SUCCESS, FAILED messageKey, redirect).",
		}, []string{"call", "result"}),
		requestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "tinyscale", Name: "api_request_duration_seconds",
			Help:    "Time to answer a BBB API request, by call.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"call"}),
		backendRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "tinyscale", Name: "backend_requests_total",
			Help: "Requests sent to BBB servers, by server, call and result (ok or error).",
		}, []string{"server", "call", "result"}),
		backendDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "tinyscale", Name: "backend_request_duration_seconds",
			Help:    "Latency of requests to BBB servers, by server.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"server"}),
		placements: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "tinyscale", Name: "placements_total",
			Help: "New meetings placed, by server.",
		}, []string{"server"}),
		callbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "tinyscale", Name: "callback_deliveries_total",
			Help: "Callback and webhook deliveries relayed to front ends, by kind and result (ok, retry, failed, rejected, duplicate).",
		}, []string{"kind", "result"}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "tinyscale", Name: "store_errors_total",
			Help: "Failed store operations, by operation.",
		}, []string{"op"}),
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "tinyscale", Name: "polls_total",
			Help: "Health polls of BBB servers, by server and result (ok or error).",
		}, []string{"server", "result"}),
		pollDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "tinyscale", Name: "poll_round_duration_seconds",
			Help:    "Time for one poll round over all servers.",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
	}
	// Series that may stay at zero for a long time are created up front, so
	// dashboards and alerts see them from the start.
	for _, kind := range CallbackKinds {
		for _, result := range []string{"ok", "failed", "rejected"} {
			m.callbacks.WithLabelValues(kind, result)
		}
	}
	for _, op := range StoreOps {
		m.storeErrors.WithLabelValues(op)
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.requestDuration, m.backendRequests, m.backendDuration,
			m.placements, m.callbacks, m.storeErrors, m.polls, m.pollDuration)
	}
	return m
}

// Request records one answered API request.
func (m *Metrics) Request(call, result string, d time.Duration) {
	if m == nil {
		return
	}
	if call == "" {
		call = "index"
	}
	s := series(m, &m.reqSeen, [2]string{call, result}, func() requestSeries {
		return requestSeries{m.requests.WithLabelValues(call, result), m.requestDuration.WithLabelValues(call)}
	})
	s.count.Inc()
	s.duration.Observe(d.Seconds())
}

// Backend records one request to a BBB server; err nil means ok.
func (m *Metrics) Backend(server, call string, d time.Duration, err error) {
	if m == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "error"
	}
	s := series(m, &m.backSeen, [3]string{server, call, result}, func() requestSeries {
		return requestSeries{m.backendRequests.WithLabelValues(server, call, result), m.backendDuration.WithLabelValues(server)}
	})
	s.count.Inc()
	s.duration.Observe(d.Seconds())
}

// Placement records a new meeting placed on server.
func (m *Metrics) Placement(server string) {
	if m == nil {
		return
	}
	m.placements.WithLabelValues(server).Inc()
}

// Callback records a callback delivery attempt outcome.
func (m *Metrics) Callback(kind, result string) {
	if m == nil {
		return
	}
	m.callbacks.WithLabelValues(kind, result).Inc()
}

// StoreError records a failed store operation; op is one of StoreOps.
func (m *Metrics) StoreError(op string) {
	if m == nil {
		return
	}
	m.storeErrors.WithLabelValues(op).Inc()
}

// Poll records one poll of a server; err nil means ok.
func (m *Metrics) Poll(server string, err error) {
	if m == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.polls.WithLabelValues(server, result).Inc()
}

// PollRound records the duration of a whole poll round.
func (m *Metrics) PollRound(d time.Duration) {
	if m == nil {
		return
	}
	m.pollDuration.Observe(d.Seconds())
}

package httpapi

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/ledger"
)

// Metrics are the process's Prometheus metrics, on a registry of its own
// (no globals: two servers in one test process do not collide).
type Metrics struct {
	Registry *prometheus.Registry

	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	outcomes  *prometheus.CounterVec
	appendLat *prometheus.HistogramVec
}

// NewMetrics registers the metrics, with Go runtime and process collectors.
func NewMetrics() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "recall_http_requests_total", Help: "HTTP requests by route, method and status.",
		}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "recall_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "method"}),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "recall_outcomes_total", Help: "Recall attempts by outcome: recalled or the refusal reason.",
		}, []string{"outcome"}),
		appendLat: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "recall_store_append_duration_seconds", Help: "Durable append latency (until fsynced), by result.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25},
		}, []string{"result"}),
	}
	reg.MustRegister(m.requests, m.latency, m.outcomes, m.appendLat,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, r := range domain.Reasons {
		m.outcomes.WithLabelValues(string(r))
	}
	m.outcomes.WithLabelValues("recalled")
	return m
}

// MustRegister adds collectors of other components to the same endpoint.
func (m *Metrics) MustRegister(cs ...prometheus.Collector) { m.Registry.MustRegister(cs...) }

func (m *Metrics) recallOutcome(o ledger.Outcome) {
	if o.Replayed {
		return
	}
	label := "recalled"
	if !o.Decision.Recalled {
		label = string(o.Decision.Reason)
	}
	m.outcomes.WithLabelValues(label).Inc()
}

// ObserveAppend records one append's latency.
func (m *Metrics) ObserveAppend(d time.Duration, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.appendLat.WithLabelValues(result).Observe(d.Seconds())
}

// InstrumentStore wraps an event store so each append's latency is
// observed. A store that can hand over raw JSON, or keeps stream
// snapshots, still can.
func (m *Metrics) InstrumentStore(s domain.EventStore) domain.EventStore {
	is := instrumentedStore{EventStore: s, m: m}
	rf, raw := s.(domain.RawFollower)
	sn, snaps := s.(domain.StreamSnapshots)
	switch {
	case raw && snaps:
		return struct {
			instrumentedRawStore
			domain.StreamSnapshots
		}{instrumentedRawStore{instrumentedStore: is, raw: rf}, sn}
	case raw:
		return instrumentedRawStore{instrumentedStore: is, raw: rf}
	case snaps:
		return struct {
			instrumentedStore
			domain.StreamSnapshots
		}{is, sn}
	}
	return is
}

type instrumentedRawStore struct {
	instrumentedStore
	raw domain.RawFollower
}

func (s instrumentedRawStore) FollowRaw(ctx context.Context, from uint64, handle func(raws [][]byte, last uint64) error) error {
	return s.raw.FollowRaw(ctx, from, handle)
}

type instrumentedStore struct {
	domain.EventStore
	m *Metrics
}

func (s instrumentedStore) Append(ctx context.Context, stream string, expected int64, evs []domain.Event) (domain.Appended, error) {
	start := time.Now()
	out, err := s.EventStore.Append(ctx, stream, expected, evs)
	s.m.ObserveAppend(time.Since(start), err)
	return out, err
}

// instrument counts and times requests of one route.
func (m *Metrics) instrument(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		m.requests.WithLabelValues(route, r.Method, strconv.Itoa(sw.status)).Inc()
		m.latency.WithLabelValues(route, r.Method).Observe(time.Since(start).Seconds())
	})
}

func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request, _ caller) {
	promhttp.HandlerFor(s.metrics.Registry, promhttp.HandlerOpts{}).ServeHTTP(w, r)
}

// statusWriter remembers the status written, and still lets handlers flush
// (server-sent events) through http.ResponseController.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

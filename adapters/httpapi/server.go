// Package httpapi is Recall Ledger's HTTP API v1: a thin layer that
// authenticates, decodes and validates a request, hands it to the ledger,
// and maps the outcome to a status and a JSON body. Rules live in domain;
// nothing here decides a recall.
package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/ledger"
	"github.com/recallledger/recall/projections/conversation"
)

// Config tunes the server; the zero value of a field takes its default.
type Config struct {
	// RatePerTenant is the sustained requests/s one tenant may make
	// (default 20000); Burst is the bucket size (default 2×rate).
	RatePerTenant float64
	Burst         int
	// MaxBodyBytes bounds a request body (default 256 KiB: a message's
	// content is at most 64 KiB, JSON escaping can triple it).
	MaxBodyBytes int64
	// SignIn is the console's operator sign-in; nil: bearer tokens only.
	SignIn *SignIn
	// Compliance serves legal holds and erasure requests; nil: those
	// routes answer 503.
	Compliance Compliance
	// MaxStreams and MaxStreamsPerTenant cap the live conversation
	// streams open at once in this server (default 10000) and for one
	// tenant (default 2000): beyond them a new stream gets 429.
	MaxStreams, MaxStreamsPerTenant int
	// StreamBuffer is how many updates a live stream may have queued and
	// not yet sent before it is dropped, told where to resume (default
	// 1024).
	StreamBuffer int
}

func (c Config) withDefaults() Config {
	if c.RatePerTenant <= 0 {
		c.RatePerTenant = 20000
	}
	if c.Burst <= 0 {
		c.Burst = int(2 * c.RatePerTenant)
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 256 << 10
	}
	if c.MaxStreams <= 0 {
		c.MaxStreams = 10000
	}
	if c.MaxStreamsPerTenant <= 0 {
		c.MaxStreamsPerTenant = 2000
	}
	if c.StreamBuffer <= 0 {
		c.StreamBuffer = 1024
	}
	return c
}

// Authenticator tells who a bearer token speaks for; false for a token it
// does not know. recalld gives the tenant registry (adapters/tenants).
type Authenticator interface {
	Authenticate(token string) (domain.Principal, bool)
}

// Readiness reports whether the server can serve reads that depend on
// background work (projections caught up). Nil means always ready.
type Readiness func(ctx context.Context) error

// Server serves the API over a ledger, authenticating callers with an
// Authenticator.
type Server struct {
	ledger     *ledger.Service
	auth       Authenticator
	log        *slog.Logger
	cfg        Config
	metrics    *Metrics
	ready      Readiness
	readModels *ReadSide
	streams    *streamHub // nil: no live pushes (the read side has no conversation.Live)

	streamsEnd chan struct{} // closed by EndStreams
	endOnce    sync.Once

	limMu    sync.Mutex
	limiters map[domain.Tenant]*rate.Limiter

	mux    *http.ServeMux
	routes []route
}

// New builds the server. metrics may be shared with other parts of the
// process (the store's append latency is observed there).
//
// read may be nil: the process then serves only the command side.
func New(l *ledger.Service, auth Authenticator, metrics *Metrics, log *slog.Logger, cfg Config, ready Readiness, read *ReadSide) *Server {
	s := &Server{
		ledger: l, auth: auth, log: log, cfg: cfg.withDefaults(), metrics: metrics, ready: ready, readModels: read,
		streamsEnd: make(chan struct{}), limiters: map[domain.Tenant]*rate.Limiter{}, mux: http.NewServeMux(),
	}
	if read != nil && read.Conversations != nil {
		if p, ok := read.Conversations.Projection().(conversation.Projection); ok && p.Live != nil {
			// the projection hands each commit's updates to the hub, which
			// queues them on the streams of their conversations only
			s.streams = newStreamHub(s.cfg.StreamBuffer, s.cfg.MaxStreamsPerTenant, s.cfg.MaxStreams)
			if metrics != nil {
				metrics.MustRegister(s.streams.collectors()...)
			}
			p.Live.Follow(s.streams.publish)
			read.Conversations.Watch(func(e domain.Event) { p.Live.Committed(e.Position) })
		}
	}
	s.register()
	return s
}

// EndStreams ends every live stream (server-sent events) at once and
// refuses new ones. A graceful shutdown waits for requests to finish and a
// stream never finishes on its own, so register it with
// http.Server.RegisterOnShutdown: viewers then see their stream end (and
// reconnect elsewhere with Last-Event-ID) instead of holding the shutdown
// for its whole timeout. It may be called more than once.
func (s *Server) EndStreams() { s.endOnce.Do(func() { close(s.streamsEnd) }) }

// ServeHTTP makes the server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// HTTPServer wraps h with the timeouts and limits that stop slow or
// greedy clients from holding the process. headerTimeout bounds how long a
// client may take to send its request headers (0: 5 s).
func HTTPServer(addr string, h http.Handler, log *slog.Logger, headerTimeout time.Duration) *http.Server {
	if headerTimeout <= 0 {
		headerTimeout = 5 * time.Second
	}
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: headerTimeout,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// limiter returns the tenant's token bucket.
func (s *Server) limiter(t domain.Tenant) *rate.Limiter {
	s.limMu.Lock()
	defer s.limMu.Unlock()
	l, ok := s.limiters[t]
	if !ok {
		l = rate.NewLimiter(rate.Limit(s.cfg.RatePerTenant), s.cfg.Burst)
		s.limiters[t] = l
	}
	return l
}

// retryAfter is the whole seconds until the limiter would admit a request.
func retryAfter(l *rate.Limiter) string {
	r := l.Reserve()
	d := r.Delay()
	r.Cancel()
	return strconv.Itoa(max(1, int((d+time.Second-1)/time.Second)))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	// the status is sent: a body that fails to write means the client went
	// away, and there is no one left to tell
	_ = enc.Encode(v)
}

// responseCut notes a response body that could not be written in full
// (err nil: it was): the client went away after the status was sent, so
// nothing can be reported to it; it is logged at debug for whoever traces
// a truncated download.
func (s *Server) responseCut(r *http.Request, err error) {
	if err != nil {
		s.log.Debug("response cut short", slog.String("path", r.URL.Path), slog.Any("err", err))
	}
}

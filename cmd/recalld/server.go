package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/recallledger/recall/adapters/auditsign"
	"github.com/recallledger/recall/adapters/console"
	"github.com/recallledger/recall/adapters/contentshred"
	"github.com/recallledger/recall/adapters/erasure"
	"github.com/recallledger/recall/adapters/expiry"
	"github.com/recallledger/recall/adapters/feedbus"
	"github.com/recallledger/recall/adapters/httpapi"
	"github.com/recallledger/recall/adapters/natsbus"
	"github.com/recallledger/recall/adapters/operators"
	"github.com/recallledger/recall/adapters/readmodel"
	"github.com/recallledger/recall/adapters/tenants"
	"github.com/recallledger/recall/cmd/internal/contentkeys"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/ledger"
	"github.com/recallledger/recall/projections"
	"github.com/recallledger/recall/projections/catalog"
	"github.com/recallledger/recall/projections/conversation"
	"github.com/recallledger/recall/projections/messageindex"
)

// Config is what a Server is built from: recalld's flags and environment
// fill it (parseFlags), tests fill it in directly. The zero value of a
// field takes its default.
type Config struct {
	Data    string // data directory (default ./data)
	Addr    string // listen address; port 0 picks a free one, which Addr tells
	Store   string // event store: embedded (default) or esdb
	ESDBURL string // EventStoreDB connection string, for Store esdb
	Bus     string // inproc (default), or nats to forward every event to JetStream
	NATSURL string // NATS server, for Bus nats
	Demo    string // ORG/APP: create this tenant on first start and print its tokens

	// The tenants' key-encryption key: from KEKFile if set, else from
	// KEKEnv (RECALL_KEK's value: id=base64,… the first current), else
	// from DATA/kek.json, created on the first start (cmd/internal/contentkeys).
	KEKFile string
	KEKEnv  string

	RatePerTenant   float64       // requests/s a tenant may make; 0: the API's default
	HeaderTimeout   time.Duration // how long a client may take to send its headers (default 5 s)
	ShutdownTimeout time.Duration // how long run lets Shutdown take (default 10 s)
	DebugAddr       string        // a loopback address to serve pprof on; off when empty
	// MaxStreams and MaxStreamsPerTenant cap the live conversation
	// streams open at once, in all and for one tenant; 0: the API's
	// defaults (10000 and 2000).
	MaxStreams, MaxStreamsPerTenant int

	// TLSProxy says browsers reach recalld through a TLS-terminating
	// proxy: console session cookies are then marked Secure.
	TLSProxy bool
	// SessionIdle and SessionMax end a console session nobody used for
	// that long, and every session that long after sign-in (defaults 30
	// minutes and 8 hours).
	SessionIdle, SessionMax time.Duration
	// PasswordParams is argon2id's cost for operator passwords (default
	// operators.DefaultParams); tests that sign in often take a cheap one.
	PasswordParams operators.Params

	// The audit log's signed checkpoints: the signing key's name (made on
	// the first start; default recall-ledger-<random>), and how often a
	// tenant's tree is signed — once it grew by CheckpointEvery entries
	// (default 1000), or when it grew and CheckpointInterval passed
	// (default 1 minute) — and the JSON-lines file every checkpoint is
	// appended to (default DATA/audit-checkpoints.jsonl).
	AuditKeyName       string
	CheckpointEvery    uint64
	CheckpointInterval time.Duration
	CheckpointLog      string

	// Clock is what recall windows, expiry and audit retention go by: nil
	// is the system clock; tests give one they advance.
	Clock domain.Clock
	// Log gets the server's logs; nil discards them.
	Log *slog.Logger
	// Stdout gets what recalld tells its operator: where it listens, where
	// the console is, a demo tenant's tokens; nil discards it.
	Stdout io.Writer
}

func (c Config) withDefaults() (Config, error) {
	c.Data = or(c.Data, "./data")
	c.Addr = or(c.Addr, "127.0.0.1:8080")
	c.Store, c.Bus = or(c.Store, "embedded"), or(c.Bus, "inproc")
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = 10 * time.Second
	}
	if c.SessionIdle <= 0 {
		c.SessionIdle = 30 * time.Minute
	}
	if c.SessionMax <= 0 {
		c.SessionMax = 8 * time.Hour
	}
	if c.PasswordParams == (operators.Params{}) {
		c.PasswordParams = operators.DefaultParams
	}
	if c.Clock == nil {
		c.Clock = domain.SystemClock{}
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Stdout == nil {
		c.Stdout = io.Discard
	}
	if c.CheckpointEvery == 0 {
		c.CheckpointEvery = auditsign.DefaultEvery
	}
	if c.CheckpointInterval == 0 {
		c.CheckpointInterval = auditsign.DefaultInterval
	}
	switch {
	case c.Store != "embedded" && c.Store != "esdb":
		return c, fmt.Errorf("--store %s: want embedded or esdb", c.Store)
	case c.Store == "esdb" && c.ESDBURL == "":
		return c, fmt.Errorf("--store esdb needs --esdb-url")
	case c.Bus != "inproc" && c.Bus != "nats":
		return c, fmt.Errorf("--bus %s: want inproc or nats", c.Bus)
	case c.Bus == "nats" && c.NATSURL == "":
		return c, fmt.Errorf("--bus nats needs --nats-url")
	case c.CheckpointInterval < 0:
		return c, fmt.Errorf("--checkpoint-interval %s: want a positive duration such as 30s or 5m", c.CheckpointInterval)
	case c.AuditKeyName != "":
		if err := auditsign.CheckKeyName(c.AuditKeyName); err != nil {
			return c, fmt.Errorf("--audit-key-name: %w", err)
		}
	}
	return c, nil
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// Server is recalld: the HTTP API and the console over the event store,
// with the read models, the expiry scheduler, audit retention and, as
// configured, the policy follower, the NATS forwarder and the pprof
// server. It is built by New, started by Start and stopped by Shutdown;
// the same code runs in the command and in its tests.
//
// Every background loop runs in one errgroup the Server owns. Shutdown
// stops them in one order, written once in shutdown; the stores are closed
// only after every loop and every request that uses them has returned, so
// nothing writes to a closed store.
type Server struct {
	*lifecycle
	cfg Config

	started  atomic.Bool
	serving  atomic.Bool    // Start got as far as serving
	ready    chan struct{}  // closed once serving with the projections caught up
	requests sync.WaitGroup // the requests being served: the stores outlive them
	inFlight atomic.Int64   // how many, for tests

	ln         net.Listener
	store      eventStore
	policyFrom uint64 // the head before any policy was loaded
	reg        *tenants.Registry
	signIn     *httpapi.SignIn
	operators  *operators.Registry
	ledger     *ledger.Service
	keys       *contentkeys.Keys
	sched      *expiry.Scheduler
	rm         *readmodel.Store
	runners    []*projections.Runner
	feed       *feedbus.Feed
	signer     *auditsign.Signer
	erasures   *erasure.Service
	metrics    *httpapi.Metrics
	api        *httpapi.Server
	console    *console.Handler
	http       *http.Server
	debug      *http.Server
	debugLn    net.Listener

	shutdownOnce sync.Once
	shutdownErr  error
}

// New checks cfg and returns a Server that has opened nothing yet.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Server{lifecycle: newLifecycle(cfg.Log), cfg: cfg, ready: make(chan struct{})}, nil
}

// Addr is the address the Server listens on once Start claimed it; nil
// before.
func (s *Server) Addr() net.Addr {
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Ready is closed once the Server serves requests and every projection
// has applied the log as it was at start: the moment /readyz first says
// ready. (/readyz goes on telling whether it still is: a projection may
// stall or fall behind later.)
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Start opens the data directory, listens, opens the stores and starts
// serving and every background loop; it returns once the Server serves.
// ctx bounds only the start (connecting to EventStoreDB, NATS): the Server
// runs until Shutdown, or until a loop fails (Failed). A Start that fails
// closes what it opened. A Server starts once.
func (s *Server) Start(ctx context.Context) (err error) {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("recalld: a server starts once (this one was started, or shut down, already)")
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, s.closeAll())
		}
	}()
	s.logConfig()
	if err := s.claim(); err != nil {
		return err
	}
	if err := s.openStores(ctx); err != nil {
		return err
	}
	if err := s.openReadSide(); err != nil {
		return err
	}
	s.buildHTTP()
	if s.cfg.DebugAddr != "" {
		if s.debug, s.debugLn, err = debugServer(s.cfg.DebugAddr, s.log); err != nil {
			return err
		}
		s.closeLater("pprof listener", s.debugLn.Close)
	}
	s.runLoops()
	s.greet()
	return nil
}

func (s *Server) logConfig() {
	c := s.cfg
	s.log.Info("starting", slog.String("data", c.Data), slog.String("addr", c.Addr),
		slog.String("store", c.Store), slog.String("esdb_url", redactURL(c.ESDBURL)), slog.String("bus", c.Bus), slog.String("nats_url", redactURL(c.NATSURL)),
		slog.Float64("rate_per_tenant", c.RatePerTenant), slog.Duration("header_timeout", c.HeaderTimeout), slog.String("debug_addr", c.DebugAddr),
		slog.Bool("tls_proxy", c.TLSProxy), slog.Duration("session_idle", c.SessionIdle), slog.Duration("session_max", c.SessionMax))
}

// claim takes the data directory and the listen address before anything
// is opened or written: a second recalld, or a busy port, is told what to
// do and leaves nothing behind.
func (s *Server) claim() error {
	if err := os.MkdirAll(s.cfg.Data, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	lock, err := lockDataDir(s.cfg.Data)
	if err != nil {
		return err
	}
	s.closeLater("data directory lock", lock.Close)
	if s.ln, err = listen(s.cfg.Addr, "--addr"); err != nil {
		return err
	}
	s.closeLater("listener", s.ln.Close) // serving closes it too; this covers a start that fails
	return nil
}

// openStores opens the event store, the token registry (creating the demo
// tenant), the ledger over the store and the expiry index.
func (s *Server) openStores(ctx context.Context) error {
	var policies atomic.Pointer[ledger.Service] // for the EventStoreDB store's $maxAge
	store, err := openStore(ctx, s.cfg, s.log, &policies)
	if err != nil {
		return err
	}
	s.store = store
	s.closeLater("event store", store.Close)
	kekEnv := func(string) string { return s.cfg.KEKEnv }
	if s.keys, err = contentkeys.Open(s.cfg.Data, s.cfg.KEKFile, kekEnv, true, nil); err != nil {
		return err
	}
	s.closeLater("key store", s.keys.Close)
	s.log.Info("content keys", slog.String("kek", s.keys.Source), slog.String("kek_current", s.keys.KEK.IDs()[0]))
	sealed := ledger.WithKeyring(s.keys.Keyring)
	if s.reg, err = tenants.Open(s.cfg.Data); err != nil {
		return err
	}
	if s.cfg.Demo != "" {
		if err := ensureDemo(ctx, s.reg, store, s.cfg, "http://"+s.Addr().String(), sealed); err != nil {
			return err
		}
	}
	s.metrics = httpapi.NewMetrics()
	s.ledger = ledger.New(s.metrics.InstrumentStore(store), s.cfg.Clock, sealed)
	// the legal holds are the ledger's (its hold streams): from here on a
	// recall's, an expiry's, retention's or an erasure's shred is refused
	// for what a hold covers
	s.keys.Keyring.SetHoldChecker(s.ledger)
	policies.Store(s.ledger)
	s.policyFrom = store.Head() + 1 // before anything loads a policy into the ledger's cache
	if s.sched, err = expiry.Open(filepath.Join(s.cfg.Data, "expiry"), s.ledger, s.cfg.Clock, s.log); err != nil {
		return err
	}
	s.closeLater("expiry index", s.sched.Close)
	return nil
}

// openReadSide opens the read models, their projections (and, with the
// NATS bus, the forwarder as one more), the feed that runs them, and the
// API over the ledger and the read models.
func (s *Server) openReadSide() error {
	var err error
	if s.rm, err = readmodel.Open(filepath.Join(s.cfg.Data, "readmodels")); err != nil {
		return err
	}
	s.closeLater("read models", s.rm.Close)
	if s.runners, err = catalog.Runners(s.rm); err != nil {
		return err
	}
	if s.cfg.Bus == "nats" {
		fwd, err := natsbus.NewForwarder(s.cfg.NATSURL, s.ledger.Redactor(), s.log)
		if err != nil {
			return err
		}
		s.closeLater("NATS forwarder", fwd.Close)
		fr, err := projections.NewRunner(fwd, s.rm)
		if err != nil {
			return err
		}
		s.runners = append(s.runners, fr)
	}
	shredder, err := contentshred.New(s.ledger)
	if err != nil {
		return err
	}
	sr, err := projections.NewRunner(shredder, s.rm)
	if err != nil {
		return err
	}
	s.runners = append(s.runners, sr)
	s.feed = feedbus.New(s.store, s.runners, s.log, feedbus.Options{})
	registerProjectionMetrics(s.metrics, s.store, s.runners, s.feed)
	if s.signer, err = s.startCheckpoints(); err != nil {
		return err
	}
	if err := s.openSignIn(); err != nil {
		return err
	}
	// an erasure destroys both copies' keys through the keyring, which
	// asks the ledger's holds again for each
	s.erasures = erasure.New(s.ledger, s.rm, s.keys.Keyring, s.indexCaughtUp, s.log)
	s.api = httpapi.New(s.ledger, s.reg, s.metrics, s.log, httpapi.Config{RatePerTenant: s.cfg.RatePerTenant, SignIn: s.signIn,
		MaxStreams: s.cfg.MaxStreams, MaxStreamsPerTenant: s.cfg.MaxStreamsPerTenant, Compliance: s.erasures},
		readiness(s.store, s.runners, s.feed), &httpapi.ReadSide{Store: s.rm, Conversations: s.runner(conversation.Name), Checkpoints: s.signer})
	return nil
}

// openSignIn opens the operator registry in the data directory, and the
// console's sign-in over it: in-memory sessions and the login throttle.
func (s *Server) openSignIn() error {
	// two hashes at a time: 2 × 64 MiB at most, whatever the sign-in burst
	hasher, err := operators.NewHasher(s.cfg.PasswordParams, 2)
	if err != nil {
		return err
	}
	if s.operators, err = operators.Open(s.cfg.Data, s.cfg.Clock, hasher); err != nil {
		return err
	}
	s.signIn = httpapi.NewSignIn(s.operators, s.cfg.Clock, httpapi.SignInConfig{
		SessionIdle: s.cfg.SessionIdle, SessionMax: s.cfg.SessionMax, SecureCookies: s.cfg.TLSProxy,
	})
	return nil
}

// indexCaughtUp returns once the message index has applied the log up to
// position: an erasure lists the user's messages from it. It waits at most
// 30 s (a stalled projection): the erasure is then refused, and a repeat
// of the request carries it out.
func (s *Server) indexCaughtUp(ctx context.Context, position uint64) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	r := s.runner(messageindex.Name)
	if !waitCaughtUp(ctx, position, []*projections.Runner{r}, s.feed, s.log) || r.Position() < position {
		return fmt.Errorf("message index at %d, behind position %d: %w", r.Position(), position, domain.ErrUnavailable)
	}
	return nil
}

func (s *Server) runner(name string) *projections.Runner {
	for _, r := range s.runners {
		if r.Name() == name {
			return r
		}
	}
	return nil
}

// buildHTTP puts the console at /console/ and the API everywhere else.
// Every request is counted, so that the stores outlive the last one.
func (s *Server) buildHTTP() {
	root := http.NewServeMux()
	s.console = console.New()
	s.console.Register(root)
	root.Handle(console.Prefix+"api/", s.api) // the console's sign-in, served by the API
	root.Handle("/", s.api)
	counted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		s.inFlight.Add(1)
		defer func() { s.inFlight.Add(-1); s.requests.Done() }()
		root.ServeHTTP(w, r)
	})
	s.http = httpapi.HTTPServer(s.cfg.Addr, counted, s.log, s.cfg.HeaderTimeout)
	s.http.RegisterOnShutdown(s.api.EndStreams) // live streams end with the shutdown, not at its timeout
}

// runLoops starts serving and every background loop in the group.
func (s *Server) runLoops() {
	s.serving.Store(true)
	s.run("serve", func(context.Context) error { return served(s.http.Serve(s.ln)) })
	if s.debug != nil {
		s.run("pprof", func(context.Context) error { return served(s.debug.Serve(s.debugLn)) })
	}
	s.run("expiry scheduler", s.sched.Run)
	s.run("projections", s.feed.Run)
	s.run("checkpoint signer", s.signer.Run) // checkpoints are signed off the append path
	s.run("operator publisher", operators.NewPublisher(s.operators, s.store, s.log).Run)
	s.run("audit retention", func(ctx context.Context) error {
		purgeAuditLoop(ctx, s.rm, s.store, s.keys, s.ledger, s.reg, s.cfg.Clock, s.log)
		return nil
	})
	s.run("erasures", s.erasures.Run) // finish what a crash cut short, or a release let go while down
	if s.cfg.Store == "esdb" {
		// other nodes write to the same log; the embedded store has one writer
		s.run("policy follower", func(ctx context.Context) error {
			followPolicies(ctx, s.store, s.policyFrom, s.ledger, s.log)
			return nil
		})
	}
	s.run("readiness", func(ctx context.Context) error {
		if waitCaughtUp(ctx, s.store.Head(), s.runners, nil, nil) {
			close(s.ready)
		}
		return nil
	})
}

// served is what a Serve returned, nil once it was shut down.
func served(err error) error {
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// greet tells the operator where the server and its console are.
func (s *Server) greet() {
	fmt.Fprintf(s.cfg.Stdout, "recalld listening on http://%s\n", s.Addr())
	if s.console.Built() {
		fmt.Fprintf(s.cfg.Stdout, "console: http://%s%s\n", s.Addr(), console.Prefix)
	} else {
		fmt.Fprintf(s.cfg.Stdout, "console: not built into this binary (run `make console`, or `make run`, which builds it)\n")
	}
	s.log.Info("listening", slog.String("addr", s.Addr().String()))
}

// Shutdown stops the Server within ctx, in this order: stop accepting
// connections, end the live streams and let the requests in flight finish
// (an append is acknowledged only once durable); let the projections apply
// everything acknowledged, so a restart starts ready (not after a loop
// failed, nor waiting for a stalled projection); stop the background loops
// and wait for them; close the stores. It returns the loop failure that
// ended the Server, if one did, and whatever went wrong in stopping. When
// ctx ends first, Shutdown returns saying what still runs, and the stores
// are closed once it returns, never under it. Calling Shutdown again, or
// before Start, returns what the first call did.
func (s *Server) Shutdown(ctx context.Context) error {
	// a caller while the first one runs waits for it (and its bound)
	s.shutdownOnce.Do(func() { s.shutdownErr = s.shutdown(ctx) })
	return s.shutdownErr
}

func (s *Server) shutdown(ctx context.Context) error {
	if s.started.CompareAndSwap(false, true) || !s.serving.Load() {
		return nil // never started (and now never will), or its Start failed and closed what it opened
	}
	s.log.Info("shutting down")
	failure := s.firstFailure()
	errs := []error{failure}
	if err := s.http.Shutdown(ctx); err != nil {
		s.log.Warn("shutdown: requests still in flight", slog.Any("err", err))
		errs = append(errs, fmt.Errorf("shutdown: requests in flight: %w", err))
		_ = s.http.Close() // no request starts after it; those still running hold the stores
	}
	if s.debug != nil {
		_ = s.debug.Close()
	}
	if failure == nil {
		waitCaughtUp(ctx, s.store.Head(), s.runners, s.feed, s.log)
	}
	loops := s.stopLoops()
	idle := make(chan struct{})
	go func() {
		<-loops
		s.requests.Wait() // no request starts any more: the server is shut down or closed
		close(idle)
	}()
	errs = append(errs, s.closeWhenDone(ctx, idle, "background work or requests"))
	return errors.Join(errs...)
}

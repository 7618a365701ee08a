// Command recalld is the Recall Ledger server: the HTTP API over the event
// store, with the expiry scheduler. With no other process needed it runs on
// the embedded store in a data directory.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/recallledger/recall/adapters/console"
	"github.com/recallledger/recall/adapters/eventstore/embedded"
	"github.com/recallledger/recall/adapters/eventstore/esdbstore"
	"github.com/recallledger/recall/adapters/expiry"
	"github.com/recallledger/recall/adapters/feedbus"
	"github.com/recallledger/recall/adapters/httpapi"
	"github.com/recallledger/recall/adapters/natsbus"
	"github.com/recallledger/recall/adapters/operators"
	"github.com/recallledger/recall/adapters/readmodel"
	"github.com/recallledger/recall/adapters/signin"
	"github.com/recallledger/recall/adapters/tenants"
	"github.com/recallledger/recall/cmd/internal/flaghelp"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/ledger"
	"github.com/recallledger/recall/projections"
	"github.com/recallledger/recall/projections/all"
	"github.com/recallledger/recall/projections/conversation"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr, withClock(domain.SystemClock{})); err != nil {
		fmt.Fprintln(os.Stderr, "recalld:", err)
		os.Exit(1)
	}
}

type config struct {
	data      string
	addr      string
	store     string
	bus       string
	natsURL   string
	esdbURL   string
	demo      string
	rate      float64
	logLevel  string
	shutdownT time.Duration
	headerT   time.Duration
	debugAddr string
	tlsProxy  bool
	sessIdle  time.Duration
	sessMax   time.Duration
}

// usage is the top of `recalld --help`; the flags follow it.
const usage = `usage:
  recalld [flags]          serve the HTTP API: the event store, the expiry scheduler and the read models
  recalld worker [flags]   a projection worker: keep the read models in --data from the NATS JetStream bus
                           (recalld worker --help lists its flags)

A flag marked (env RECALL_…) can also be set by that environment variable.

flags:
`

func parseFlags(args []string, getenv func(string) string, stdout, stderr io.Writer) (config, error) {
	env := func(k, def string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return def
	}
	var c config
	fs := flag.NewFlagSet("recalld", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.data, "data", env("RECALL_DATA", "./data"), "data directory (env RECALL_DATA)")
	fs.StringVar(&c.addr, "addr", env("RECALL_ADDR", "127.0.0.1:8080"), "listen address (env RECALL_ADDR)")
	fs.StringVar(&c.store, "store", env("RECALL_STORE", "embedded"), "event store: embedded, or esdb for EventStoreDB at --esdb-url (env RECALL_STORE)")
	fs.StringVar(&c.esdbURL, "esdb-url", env("RECALL_ESDB_URL", ""), "EventStoreDB connection string for --store esdb, e.g. esdb://127.0.0.1:2113?tls=false (env RECALL_ESDB_URL)")
	fs.StringVar(&c.bus, "bus", env("RECALL_BUS", "inproc"), "event bus: inproc, or nats to forward every event to JetStream (env RECALL_BUS)")
	fs.StringVar(&c.natsURL, "nats-url", env("RECALL_NATS_URL", ""), "NATS server URL for --bus nats and for workers (env RECALL_NATS_URL)")
	fs.StringVar(&c.demo, "demo", env("RECALL_DEMO", ""), "create this ORG/APP tenant on first start and print its tokens (env RECALL_DEMO)")
	rate, err := parseRate("RECALL_RATE_PER_TENANT", env("RECALL_RATE_PER_TENANT", "0"))
	if err != nil {
		return c, err
	}
	fs.Float64Var(&c.rate, "rate-per-tenant", rate, "requests/s one tenant may make; 0 = default 20000 (env RECALL_RATE_PER_TENANT)")
	fs.StringVar(&c.logLevel, "log-level", env("RECALL_LOG_LEVEL", "info"), "debug, info, warn or error (env RECALL_LOG_LEVEL)")
	fs.DurationVar(&c.shutdownT, "shutdown-timeout", 10*time.Second, "how long graceful shutdown waits for requests in flight and projections")
	fs.DurationVar(&c.headerT, "header-timeout", 5*time.Second, "how long a client may take to send request headers")
	fs.StringVar(&c.debugAddr, "debug-addr", env("RECALL_DEBUG_ADDR", ""), "serve Go's pprof profiles on this loopback address (env RECALL_DEBUG_ADDR); off when empty")
	tlsProxy, err := parseBool("RECALL_TLS_PROXY", env("RECALL_TLS_PROXY", "false"))
	if err != nil {
		return c, err
	}
	fs.BoolVar(&c.tlsProxy, "tls-proxy", tlsProxy, "browsers reach recalld through a TLS-terminating proxy: console session cookies are marked Secure (env RECALL_TLS_PROXY)")
	fs.DurationVar(&c.sessIdle, "session-idle", 30*time.Minute, "a console session nobody uses for this long ends")
	fs.DurationVar(&c.sessMax, "session-max", 8*time.Hour, "every console session ends this long after sign-in")
	fs.Usage = func() { fmt.Fprint(fs.Output(), usage); fs.PrintDefaults() }
	if err := flaghelp.Parse(fs, args, stdout); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if _, err := parseRate("--rate-per-tenant", strconv.FormatFloat(c.rate, 'g', -1, 64)); err != nil {
		return c, err
	}
	switch {
	case c.store != "embedded" && c.store != "esdb":
		return c, fmt.Errorf("--store %s: want embedded or esdb", c.store)
	case c.store == "esdb" && c.esdbURL == "":
		return c, fmt.Errorf("--store esdb needs --esdb-url")
	case c.bus != "inproc" && c.bus != "nats":
		return c, fmt.Errorf("--bus %s: want inproc or nats", c.bus)
	case c.bus == "nats" && c.natsURL == "":
		return c, fmt.Errorf("--bus nats needs --nats-url")
	case c.sessIdle <= 0 || c.sessMax <= 0:
		return c, fmt.Errorf("--session-idle and --session-max must be longer than 0")
	}
	return c, nil
}

// parseBool reads a true/false setting by name.
func parseBool(name, v string) (bool, error) {
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		return false, fmt.Errorf("%s=%q: want true or false", name, v)
	}
	return b, nil
}

// parseRate reads a per-tenant request rate: a finite number of requests
// per second, 0 or more (0 takes the default). A value that is not one is
// refused by name rather than taken as the default.
func parseRate(name, v string) (float64, error) {
	rate, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || rate < 0 || math.IsInf(rate, 0) || math.IsNaN(rate) {
		return 0, fmt.Errorf("%s=%q: want requests per second, a number 0 or more (0 = the default 20000)", name, v)
	}
	return rate, nil
}

// option is what a caller of run chooses beyond flags and environment.
type option func(*options)

type options struct {
	clock    domain.Clock
	password operators.Params
}

// withClock is the clock recall windows, expiry and audit retention go
// by: main passes the system clock, tests one they advance.
func withClock(c domain.Clock) option { return func(o *options) { o.clock = c } }

// withPasswordParams sets argon2id's cost for new operator passwords:
// tests that sign in often take a cheaper one; recalld uses
// operators.DefaultParams.
func withPasswordParams(p operators.Params) option { return func(o *options) { o.password = p } }

// run wires the server from its configuration and serves until ctx ends;
// end-to-end tests call it as main does.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, opts ...option) error {
	o := options{clock: domain.SystemClock{}, password: operators.DefaultParams}
	for _, opt := range opts {
		opt(&o)
	}
	if len(args) > 0 && args[0] == "worker" {
		return flaghelp.Done(runWorker(ctx, args[1:], getenv, stdout, stderr))
	}
	cfg, err := parseFlags(args, getenv, stdout, stderr)
	if err != nil {
		return flaghelp.Done(err) // --help printed the usage: done
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.logLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	log.Info("starting", slog.String("data", cfg.data), slog.String("addr", cfg.addr),
		slog.String("store", cfg.store), slog.String("esdb_url", redactURL(cfg.esdbURL)), slog.String("bus", cfg.bus), slog.String("nats_url", redactURL(cfg.natsURL)),
		slog.Float64("rate_per_tenant", cfg.rate), slog.Duration("header_timeout", cfg.headerT), slog.String("debug_addr", cfg.debugAddr),
		slog.Bool("tls_proxy", cfg.tlsProxy), slog.Duration("session_idle", cfg.sessIdle), slog.Duration("session_max", cfg.sessMax))

	if err := os.MkdirAll(cfg.data, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	// the data directory is this process's and the address is free before
	// anything is opened or written
	lock, err := lockDataDir(cfg.data)
	if err != nil {
		return err
	}
	defer lock.Close()
	ln, err := listen(cfg.addr, "--addr")
	if err != nil {
		return err
	}
	defer ln.Close() // Serve closes it too; this covers a start that fails

	var policies atomic.Pointer[ledger.Service] // for the EventStoreDB store's $maxAge
	store, err := openStore(ctx, cfg, log, &policies)
	if err != nil {
		return err
	}
	defer store.Close()

	reg, err := tenants.Open(cfg.data)
	if err != nil {
		return err
	}
	if cfg.demo != "" {
		if err := ensureDemo(ctx, reg, store, o.clock, cfg, stdout); err != nil {
			return err
		}
	}

	metrics := httpapi.NewMetrics()
	l := ledger.New(metrics.InstrumentStore(store), o.clock)
	policies.Store(l)
	policyFrom := store.Head() + 1 // before anything loads a policy into l's cache
	sched, err := expiry.Open(filepath.Join(cfg.data, "expiry"), l, o.clock, log)
	if err != nil {
		return err
	}
	defer sched.Close()

	rm, err := readmodel.Open(filepath.Join(cfg.data, "readmodels"))
	if err != nil {
		return err
	}
	defer rm.Close()
	runners, err := all.Runners(rm)
	if err != nil {
		return err
	}
	if cfg.bus == "nats" {
		fwd, err := natsbus.NewForwarder(cfg.natsURL, l.Redactor(), log)
		if err != nil {
			return err
		}
		defer fwd.Close()
		fr, err := projections.NewRunner(fwd, rm)
		if err != nil {
			return err
		}
		runners = append(runners, fr)
	}
	feed := feedbus.New(store, runners, log, feedbus.Options{})
	registerProjectionMetrics(metrics, store, runners, feed)
	var convRunner *projections.Runner
	for _, r := range runners {
		if r.Name() == conversation.Name {
			convRunner = r
		}
	}

	signIn, err := openSignIn(cfg, o)
	if err != nil {
		return err
	}
	api := httpapi.New(l, reg, metrics, log, httpapi.Config{RatePerTenant: cfg.rate, SignIn: signIn}, readiness(store, runners, feed),
		&httpapi.ReadSide{Store: rm, Conversations: convRunner})
	// The console's files at /console/, its sign-in under /console/api/
	// and the API everywhere else.
	root := http.NewServeMux()
	web := console.New()
	web.Register(root)
	root.Handle(console.Prefix+"api/", api)
	root.Handle("/", api)
	srv := httpapi.HTTPServer(cfg.addr, root, log, cfg.headerT)
	srv.RegisterOnShutdown(api.EndStreams) // live streams end with the shutdown, not at its timeout

	if cfg.debugAddr != "" {
		stopDebug, err := serveDebug(cfg.debugAddr, log)
		if err != nil {
			return err
		}
		defer stopDebug()
	}

	bg, cancelBG := context.WithCancel(context.Background())
	schedDone := make(chan error, 1)
	go func() { schedDone <- sched.Run(bg) }()
	projDone := make(chan error, 1)
	go func() { projDone <- feed.Run(bg) }()
	var bgWork sync.WaitGroup // background work the stores must outlive
	bgWork.Go(func() { purgeAuditLoop(bg, rm, store, reg, o.clock, log) })
	bgWork.Go(func() { _ = operators.NewPublisher(signIn.Operators, store, log).Run(bg) })
	if cfg.store == "esdb" {
		// other nodes write to the same log; the embedded store has one writer
		bgWork.Go(func() { followPolicies(bg, store, policyFrom, l, log) })
	}
	serveDone := make(chan error, 1)
	go func() { serveDone <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "recalld listening on http://%s\n", ln.Addr())
	if web.Built() {
		fmt.Fprintf(stdout, "console: http://%s%s\n", ln.Addr(), console.Prefix)
	} else {
		fmt.Fprintf(stdout, "console: not built into this binary (run `make console`, or `make run`, which builds it)\n")
	}
	log.Info("listening", slog.String("addr", ln.Addr().String()))

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-serveDone:
		runErr = fmt.Errorf("serve: %w", err)
	case err := <-schedDone:
		runErr = fmt.Errorf("expiry scheduler: %w", err)
	case err := <-projDone:
		runErr = fmt.Errorf("projections: %w", err)
	}

	// Shutdown order: stop taking requests, end the live streams (they
	// would never finish) and let the requests in flight finish (their
	// appends are acknowledged only once durable), then stop background
	// work and wait for it, then close the stores (deferred).
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownT)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("shutdown", slog.Any("err", err))
	}
	// let the projections apply what was acknowledged before they stop, so a
	// restart starts ready
	if runErr == nil {
		waitCaughtUp(sctx, store, runners, feed, log)
	}
	cancelBG()
	rest := make(chan error)
	go func() { bgWork.Wait(); close(rest) }()
	for _, w := range []struct {
		what string
		done <-chan error
	}{{"expiry scheduler", schedDone}, {"projections", projDone}, {"audit retention and policy follower", rest}} {
		select {
		case <-w.done:
		case <-sctx.Done():
			log.Warn("shutdown timeout passed with background work still running", slog.String("work", w.what))
		}
	}
	return runErr
}

// openSignIn opens the operator registry in the data directory and the
// console's in-memory sessions and login throttle.
func openSignIn(cfg config, o options) (*httpapi.SignIn, error) {
	// two hashes at a time: 2 × 64 MiB at most, whatever the sign-in burst
	hasher, err := operators.NewHasher(o.password, 2)
	if err != nil {
		return nil, err
	}
	ops, err := operators.Open(cfg.data, o.clock, hasher)
	if err != nil {
		return nil, err
	}
	return &httpapi.SignIn{
		Operators:     ops,
		Sessions:      signin.NewSessions(o.clock, signin.SessionConfig{Idle: cfg.sessIdle, Absolute: cfg.sessMax}),
		Throttle:      signin.NewThrottle(o.clock, signin.ThrottleConfig{}),
		SecureCookies: cfg.tlsProxy,
	}, nil
}

// eventStore is what recalld needs of its event store beyond the port:
// the raw feed for projections and expiry, and retention's purge.
type eventStore interface {
	domain.EventStore
	FollowRaw(ctx context.Context, from uint64, handle func(raws [][]byte, last uint64) error) error
	PurgeTenant(ctx context.Context, tenant string, upTo uint64) (int, error)
	Close() error
}

// openStore opens the configured event store: the embedded one in DATA,
// or EventStoreDB with this node's index of it in DATA/esdb-index. New
// EventStoreDB streams get the tenant's audit retention as $maxAge (its
// effective one: never shorter than the message retention and windows).
func openStore(ctx context.Context, cfg config, log *slog.Logger, policies *atomic.Pointer[ledger.Service]) (eventStore, error) {
	if cfg.store == "embedded" {
		return embedded.Open(filepath.Join(cfg.data, "events"))
	}
	maxAge := func(tenant string) time.Duration {
		l := policies.Load()
		tn, err := domain.ParseTenant(tenant)
		if l == nil || err != nil {
			return domain.DefaultAuditRetentionS * time.Second
		}
		p, err := l.Policy(context.Background(), tn)
		if err != nil {
			return domain.DefaultAuditRetentionS * time.Second
		}
		return p.AuditRetention() // never shorter than what may still be recalled
	}
	return esdbstore.Open(ctx, esdbstore.Options{URL: cfg.esdbURL, Dir: filepath.Join(cfg.data, "esdb-index"), MaxAge: maxAge, Logger: log})
}

// ensureDemo creates the demo tenant on first start, with a day of
// recall history for the console to chart (seedDemo), and prints its
// tokens. The tokens are also written to DATA/demo.env (mode 0600) so a
// developer can `source` them on later runs: the registry itself keeps
// only hashes.
func ensureDemo(ctx context.Context, reg *tenants.Registry, store domain.EventStore, clock domain.Clock, cfg config, stdout io.Writer) error {
	t, err := domain.ParseTenant(cfg.demo)
	if err != nil {
		return fmt.Errorf("--demo: %w", err)
	}
	envFile := filepath.Join(cfg.data, "demo.env")
	if reg.Has(t) {
		fmt.Fprintf(stdout, "tenant %s exists; its tokens are in %s (source it)\n", t, envFile)
		return nil
	}
	toks, err := reg.Create(t)
	if err != nil {
		return err
	}
	env := fmt.Sprintf("export SERVICE_TOKEN=%s\nexport ADMIN_TOKEN=%s\nexport AUDITOR_TOKEN=%s\n",
		toks[tenants.RoleService], toks[tenants.RoleAdmin], toks[tenants.RoleAuditor])
	if err := os.WriteFile(envFile, []byte(env), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", envFile, err)
	}
	attempts, err := seedDemo(ctx, store, t, clock.Now())
	if err != nil {
		return err
	}
	base := "http://" + cfg.addr
	fmt.Fprintf(stdout, "created tenant %s with a day of demo history (%d recall attempts); tokens (also in %s):\n%s", t, attempts, envFile, env)
	// carol and dave, with a client_msg_id of its own: the README's first
	// session (alice and bob, c1) must start from a clean conversation
	fmt.Fprintf(stdout, "try:\n  source %s\n  curl -sS -X POST %s/v1/%s/messages -H \"Authorization: Bearer $SERVICE_TOKEN\" -H 'Content-Type: application/json' -d '{\"from\":\"carol\",\"to\":\"dave\",\"chat_type\":\"chat\",\"type\":\"txt\",\"content\":\"hello from the start banner\",\"client_msg_id\":\"banner-1\"}'\n",
		envFile, base, t)
	fmt.Fprintf(stdout, "console: add an operator, then sign in at %s%s:\n  go run ./cmd/recallctl --data %s operator add %s alice --role admin\n", base, console.Prefix, cfg.data, t)
	return nil
}

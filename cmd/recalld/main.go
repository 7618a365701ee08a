// Command recalld is the Recall Ledger server: the HTTP API over the event
// store, with the expiry scheduler. With no other process needed it runs on
// the embedded store in a data directory.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/recallledger/recall/adapters/console"
	"github.com/recallledger/recall/adapters/eventstore/embedded"
	"github.com/recallledger/recall/adapters/eventstore/esdbstore"
	"github.com/recallledger/recall/adapters/tenants"
	"github.com/recallledger/recall/cmd/internal/flaghelp"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/ledger"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "recalld:", err)
		os.Exit(1)
	}
}

// usage is the top of `recalld --help`; the flags follow it.
const usage = `usage:
  recalld [flags]          serve the HTTP API: the event store, the expiry scheduler and the read models
  recalld worker [flags]   a projection worker: keep the read models in --data from the NATS JetStream bus
                           (recalld worker --help lists its flags)

A flag marked (env RECALL_…) can also be set by that environment variable.

flags:
`

// parseFlags reads recalld's flags, with the environment's RECALL_*
// variables as their defaults, into the Server's Config: it logs to
// stderr at --log-level and tells the operator what it does on stdout.
func parseFlags(args []string, getenv func(string) string, stdout, stderr io.Writer) (Config, error) {
	env := func(k, def string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return def
	}
	c := Config{Stdout: stdout}
	fs := flag.NewFlagSet("recalld", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Data, "data", env("RECALL_DATA", "./data"), "data directory (env RECALL_DATA)")
	fs.StringVar(&c.Addr, "addr", env("RECALL_ADDR", "127.0.0.1:8080"), "listen address (env RECALL_ADDR)")
	fs.StringVar(&c.Store, "store", env("RECALL_STORE", "embedded"), "event store: embedded, or esdb for EventStoreDB at --esdb-url (env RECALL_STORE)")
	fs.StringVar(&c.ESDBURL, "esdb-url", env("RECALL_ESDB_URL", ""), "EventStoreDB connection string for --store esdb, e.g. esdb://127.0.0.1:2113?tls=false (env RECALL_ESDB_URL)")
	fs.StringVar(&c.Bus, "bus", env("RECALL_BUS", "inproc"), "event bus: inproc, or nats to forward every event to JetStream (env RECALL_BUS)")
	fs.StringVar(&c.NATSURL, "nats-url", env("RECALL_NATS_URL", ""), "NATS server URL for --bus nats and for workers (env RECALL_NATS_URL)")
	fs.StringVar(&c.Demo, "demo", env("RECALL_DEMO", ""), "create this ORG/APP tenant on first start and print its tokens (env RECALL_DEMO)")
	rate, err := parseRate("RECALL_RATE_PER_TENANT", env("RECALL_RATE_PER_TENANT", "0"))
	if err != nil {
		return c, err
	}
	fs.Float64Var(&c.RatePerTenant, "rate-per-tenant", rate, "requests/s one tenant may make; 0 = default 20000 (env RECALL_RATE_PER_TENANT)")
	level := fs.String("log-level", env("RECALL_LOG_LEVEL", "info"), "debug, info, warn or error (env RECALL_LOG_LEVEL)")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "how long graceful shutdown waits for requests in flight and projections")
	fs.DurationVar(&c.HeaderTimeout, "header-timeout", 5*time.Second, "how long a client may take to send request headers")
	fs.StringVar(&c.DebugAddr, "debug-addr", env("RECALL_DEBUG_ADDR", ""), "serve Go's pprof profiles on this loopback address (env RECALL_DEBUG_ADDR); off when empty")
	tlsProxy, err := parseBool("RECALL_TLS_PROXY", env("RECALL_TLS_PROXY", "false"))
	if err != nil {
		return c, err
	}
	fs.BoolVar(&c.TLSProxy, "tls-proxy", tlsProxy, "browsers reach recalld through a TLS-terminating proxy: console session cookies are marked Secure (env RECALL_TLS_PROXY)")
	fs.IntVar(&c.MaxStreams, "max-streams", 10000, "live conversation streams this server keeps open at once; more get 429")
	fs.IntVar(&c.MaxStreamsPerTenant, "max-streams-per-tenant", 2000, "live conversation streams one tenant may keep open at once; more get 429")
	fs.DurationVar(&c.SessionIdle, "session-idle", 30*time.Minute, "a console session nobody uses for this long ends")
	fs.DurationVar(&c.SessionMax, "session-max", 8*time.Hour, "every console session ends this long after sign-in")
	if err := checkpointFlags(fs, &c, env); err != nil {
		return c, err
	}
	fs.Usage = func() { fmt.Fprint(fs.Output(), usage); fs.PrintDefaults() }
	if err := flaghelp.Parse(fs, args, stdout); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if _, err := parseRate("--rate-per-tenant", strconv.FormatFloat(c.RatePerTenant, 'g', -1, 64)); err != nil {
		return c, err
	}
	if c.Log, err = newLogger(*level, stderr); err != nil {
		return c, err
	}
	return c.withDefaults()
}

// newLogger logs text lines to w from level on.
func newLogger(level string, w io.Writer) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
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

// run reads the configuration, then serves with a Server (or, for
// `recalld worker`, a Worker) until ctx ends or a part of it fails; main
// calls it, and so do the tests of the command line.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "worker" {
		cfg, err := parseWorkerFlags(args[1:], getenv, stdout, stderr)
		if err != nil {
			return flaghelp.Done(err) // --help printed the usage: done
		}
		return serveUntil(ctx, NewWorker(cfg), workerShutdownTimeout)
	}
	cfg, err := parseFlags(args, getenv, stdout, stderr)
	if err != nil {
		return flaghelp.Done(err)
	}
	srv, err := New(cfg)
	if err != nil {
		return err
	}
	return serveUntil(ctx, srv, cfg.ShutdownTimeout)
}

// service is what serveUntil runs: a Server or a Worker.
type service interface {
	Start(ctx context.Context) error
	Failed() <-chan struct{}
	Shutdown(ctx context.Context) error
}

// serveUntil starts s and keeps it until ctx ends or a part of it fails,
// then shuts it down within timeout.
func serveUntil(ctx context.Context, s service, timeout time.Duration) error {
	if err := s.Start(ctx); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case <-s.Failed():
	}
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return s.Shutdown(sctx)
}

// eventStore is what recalld needs of its event store beyond the port:
// the raw feed for projections, expiry and the policy follower, retention's
// purge, and a Close.
type eventStore interface {
	domain.EventStore
	domain.RawFollower
	domain.TenantPurger
	io.Closer
}

// openStore opens the configured event store: the embedded one in DATA,
// or EventStoreDB with this node's index of it in DATA/esdb-index. New
// EventStoreDB streams get the tenant's audit retention as $maxAge (its
// effective one: never shorter than the message retention and windows).
func openStore(ctx context.Context, cfg Config, log *slog.Logger, policies *atomic.Pointer[ledger.Service]) (eventStore, error) {
	if cfg.Store == "embedded" {
		return embedded.Open(filepath.Join(cfg.Data, "events"))
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
	return esdbstore.Open(ctx, esdbstore.Options{URL: cfg.ESDBURL, Dir: filepath.Join(cfg.Data, "esdb-index"), MaxAge: maxAge, Logger: log,
		OpenIndex: func(dir string) (esdbstore.Index, error) { return embedded.Open(dir) }})
}

// ensureDemo creates the demo tenant on first start, with a day of
// recall history for the console to chart (seedDemo), and prints its
// tokens. The tokens are also written to DATA/demo.env (mode 0600) so a
// developer can `source` them on later runs: the registry itself keeps
// only hashes.
func ensureDemo(ctx context.Context, reg *tenants.Registry, store domain.EventStore, cfg Config, base string) error {
	stdout := cfg.Stdout
	t, err := domain.ParseTenant(cfg.Demo)
	if err != nil {
		return fmt.Errorf("--demo: %w", err)
	}
	envFile := filepath.Join(cfg.Data, "demo.env")
	if reg.Has(t) {
		fmt.Fprintf(stdout, "tenant %s exists; its tokens are in %s (source it)\n", t, envFile)
		return nil
	}
	toks, err := reg.Create(t)
	if err != nil {
		return err
	}
	env := fmt.Sprintf("export SERVICE_TOKEN=%s\nexport ADMIN_TOKEN=%s\nexport AUDITOR_TOKEN=%s\n",
		toks[domain.AccessService], toks[domain.AccessAdmin], toks[domain.AccessAuditor])
	if err := os.WriteFile(envFile, []byte(env), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", envFile, err)
	}
	attempts, err := seedDemo(ctx, store, t, cfg.Clock.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created tenant %s with a day of demo history (%d recall attempts); tokens (also in %s):\n%s", t, attempts, envFile, env)
	// carol and dave, with a client_msg_id of its own: the README's first
	// session (alice and bob, c1) must start from a clean conversation
	fmt.Fprintf(stdout, "try:\n  source %s\n  curl -sS -X POST %s/v1/%s/messages -H \"Authorization: Bearer $SERVICE_TOKEN\" -H 'Content-Type: application/json' -d '{\"from\":\"carol\",\"to\":\"dave\",\"chat_type\":\"chat\",\"type\":\"txt\",\"content\":\"hello from the start banner\",\"client_msg_id\":\"banner-1\"}'\n",
		envFile, base, t)
	fmt.Fprintf(stdout, "console: add an operator, then sign in at %s%s:\n  go run ./cmd/recallctl --data %s operator add %s alice --role admin\n", base, console.Prefix, cfg.Data, t)
	return nil
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/recallledger/recall/adapters/natsbus"
	"github.com/recallledger/recall/adapters/readmodel"
	"github.com/recallledger/recall/cmd/internal/flaghelp"
	"github.com/recallledger/recall/projections/catalog"
)

// workerShutdownTimeout bounds a worker's shutdown: its bus subscription
// takes up to 10 s to close.
const workerShutdownTimeout = 15 * time.Second

// WorkerConfig is what a Worker is built from.
type WorkerConfig struct {
	Data     string // data directory for the read models (default ./data)
	NATSURL  string // the NATS server; required
	Consumer string // durable consumer name, one running worker per name (default recall-worker)
	// Log gets the worker's logs; nil discards them.
	Log *slog.Logger
}

// Worker is `recalld worker`: a projection worker that keeps the read
// models in its data directory from the NATS JetStream bus, with a
// durable consumer, instead of from a local event store. Like the Server
// it is started by Start and stopped by Shutdown, its one loop owned by
// the same lifecycle.
type Worker struct {
	*lifecycle
	cfg WorkerConfig

	started      atomic.Bool
	shutdownOnce sync.Once
	shutdownErr  error
}

// NewWorker returns a Worker that has opened nothing yet.
func NewWorker(cfg WorkerConfig) *Worker {
	cfg.Data, cfg.Consumer = or(cfg.Data, "./data"), or(cfg.Consumer, "recall-worker")
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Worker{lifecycle: newLifecycle(cfg.Log), cfg: cfg}
}

// Start takes the data directory, opens the read models and starts
// applying the bus to them. Taking the consumer name happens on the bus,
// in the loop: a worker on a name another one holds fails (Failed) at
// once, and Shutdown says why.
func (w *Worker) Start(context.Context) (err error) {
	if !w.started.CompareAndSwap(false, true) {
		return errors.New("recalld worker: started already")
	}
	if w.cfg.NATSURL == "" {
		return errors.New("worker: --nats-url is required")
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, w.closeAll())
		}
	}()
	w.log.Info("worker starting", slog.String("data", w.cfg.Data), slog.String("nats_url", redactURL(w.cfg.NATSURL)), slog.String("consumer", w.cfg.Consumer))
	if err := os.MkdirAll(w.cfg.Data, 0o700); err != nil {
		return err
	}
	lock, err := lockDataDir(w.cfg.Data)
	if err != nil {
		return err
	}
	w.closeLater("data directory lock", lock.Close)
	rm, err := readmodel.Open(filepath.Join(w.cfg.Data, "readmodels"))
	if err != nil {
		return err
	}
	w.closeLater("read models", rm.Close)
	runners, err := catalog.Runners(rm)
	if err != nil {
		return err
	}
	w.run("", func(ctx context.Context) error {
		return natsbus.RunWorker(ctx, w.cfg.NATSURL, w.cfg.Consumer, runners, w.log)
	})
	return nil
}

// Shutdown stops applying (the event in hand is applied and acked first),
// releases the consumer name and closes the read models, within ctx. It
// returns the failure that ended the worker, if one did. Calling it again
// returns what the first call did.
func (w *Worker) Shutdown(ctx context.Context) error {
	w.shutdownOnce.Do(func() {
		if w.started.CompareAndSwap(false, true) {
			return // never started, and now never will
		}
		failure := w.firstFailure()
		w.shutdownErr = errors.Join(failure, w.closeWhenDone(ctx, w.stopLoops(), "the bus consumer"))
	})
	return w.shutdownErr
}

// parseWorkerFlags reads `recalld worker`'s flags, with the environment's
// RECALL_* variables as their defaults; it logs to stderr.
func parseWorkerFlags(args []string, getenv func(string) string, stdout, stderr io.Writer) (WorkerConfig, error) {
	env := func(k, def string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return def
	}
	var c WorkerConfig
	fs := flag.NewFlagSet("recalld worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Data, "data", env("RECALL_DATA", "./data"), "data directory for the read models (env RECALL_DATA)")
	fs.StringVar(&c.NATSURL, "nats-url", env("RECALL_NATS_URL", ""), "NATS server URL (env RECALL_NATS_URL)")
	fs.StringVar(&c.Consumer, "consumer", env("RECALL_CONSUMER", "recall-worker"), "durable consumer name, one running worker per name: each worker needs its own (env RECALL_CONSUMER)")
	level := fs.String("log-level", env("RECALL_LOG_LEVEL", "info"), "debug, info, warn or error (env RECALL_LOG_LEVEL)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage:\n  recalld worker --nats-url URL [flags]   keep the read models in --data from the NATS JetStream bus\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := flaghelp.Parse(fs, args, stdout); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("worker: unexpected argument %q", fs.Arg(0))
	}
	if c.NATSURL == "" {
		return c, errors.New("worker: --nats-url is required")
	}
	var err error
	c.Log, err = newLogger(*level, stderr)
	return c, err
}

// redactURL hides a password in a URL for logs.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	return u.Redacted()
}

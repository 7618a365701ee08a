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

	"github.com/recallledger/recall/adapters/natsbus"
	"github.com/recallledger/recall/adapters/readmodel"
	"github.com/recallledger/recall/cmd/internal/flaghelp"
	"github.com/recallledger/recall/projections/catalog"
)

// runWorker is `recalld worker`: a projection worker that keeps the read
// models in its data directory from the NATS JetStream bus, with a durable
// consumer, instead of from a local event store.
func runWorker(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	env := func(k, def string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return def
	}
	fs := flag.NewFlagSet("recalld worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", env("RECALL_DATA", "./data"), "data directory for the read models (env RECALL_DATA)")
	natsURL := fs.String("nats-url", env("RECALL_NATS_URL", ""), "NATS server URL (env RECALL_NATS_URL)")
	consumer := fs.String("consumer", env("RECALL_CONSUMER", "recall-worker"), "durable consumer name, one running worker per name: each worker needs its own (env RECALL_CONSUMER)")
	level := fs.String("log-level", env("RECALL_LOG_LEVEL", "info"), "debug, info, warn or error (env RECALL_LOG_LEVEL)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage:\n  recalld worker --nats-url URL [flags]   keep the read models in --data from the NATS JetStream bus\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := flaghelp.Parse(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("worker: unexpected argument %q", fs.Arg(0))
	}
	if *natsURL == "" {
		return errors.New("worker: --nats-url is required")
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lvl}))
	log.Info("worker starting", slog.String("data", *data), slog.String("nats_url", redactURL(*natsURL)), slog.String("consumer", *consumer))
	if err := os.MkdirAll(*data, 0o700); err != nil {
		return err
	}
	lock, err := lockDataDir(*data)
	if err != nil {
		return err
	}
	defer lock.Close()
	rm, err := readmodel.Open(filepath.Join(*data, "readmodels"))
	if err != nil {
		return err
	}
	defer rm.Close()
	runners, err := catalog.Runners(rm)
	if err != nil {
		return err
	}
	err = natsbus.RunWorker(ctx, *natsURL, *consumer, runners, log)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// redactURL hides a password in a URL for logs.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	return u.Redacted()
}

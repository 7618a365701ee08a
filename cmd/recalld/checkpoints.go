package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"time"

	"github.com/recallledger/recall/adapters/auditsign"
	"github.com/recallledger/recall/adapters/natsbus"
	"github.com/recallledger/recall/adapters/tenants"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/projections"
	"github.com/recallledger/recall/projections/auditlog"
)

// checkpointsFile is the default JSON-lines file of signed checkpoints.
const checkpointsFile = "audit-checkpoints.jsonl"

// startCheckpoints readies the audit log's proofs before the feed runs:
// the deployment's signing key (made on the first start), the tree of
// every tenant whose log was written before the tree existed (migrated
// once), and the signer, woken by the audit log's commits and publishing
// to the checkpoints file and, with --bus nats, to JetStream. The caller
// runs the signer and closes it (and the returned closer).
func startCheckpoints(cfg config, rm projections.Store, reg *tenants.Registry, audit *projections.Runner, clock domain.Clock, log *slog.Logger, stdout io.Writer) (*auditsign.Signer, io.Closer, error) {
	key, created, err := auditsign.LoadOrCreateKey(cfg.data, cfg.auditKeyName)
	if err != nil {
		return nil, nil, err
	}
	if created {
		log.Info("audit signing key created", slog.String("name", key.Name), slog.String("verifier_key", key.Verifier))
		fmt.Fprintf(stdout, "audit signing key created in %s; its verifier key (give it to auditors; `recallctl --data %s audit key` prints it again):\n%s\n",
			filepath.Join(cfg.data, auditsign.KeyFile), cfg.data, key.Verifier)
	}
	ts, err := reg.Tenants()
	if err != nil {
		return nil, nil, err
	}
	for _, t := range ts {
		n, err := auditlog.MigrateTree(rm, t.String())
		if err != nil {
			return nil, nil, err
		}
		if n > 0 {
			log.Info("audit tree built over the entries written before it (once)", slog.String("tenant", t.String()), slog.Int("entries", n))
		}
	}
	scfg := auditsign.Config{Every: cfg.checkpointEvery, Interval: cfg.checkpointInterval, LogPath: cfg.checkpointLog, Clock: clock, Log: log}
	if scfg.LogPath == "" {
		scfg.LogPath = filepath.Join(cfg.data, checkpointsFile)
	}
	var closer io.Closer = io.NopCloser(nil)
	if cfg.bus == "nats" {
		pub, err := natsbus.NewCheckpointPublisher(cfg.natsURL)
		if err != nil {
			return nil, nil, err
		}
		closer = pub
		scfg.Publish = func(ctx context.Context, s auditsign.Signed) error {
			b, err := json.Marshal(s)
			if err != nil {
				return err
			}
			return pub.Publish(ctx, s.Tenant, s.Size, b)
		}
	}
	signer, err := auditsign.New(rm, cfg.data, reg.Tenants, scfg)
	if err != nil {
		closer.Close()
		return nil, nil, err
	}
	if audit != nil {
		audit.Watch(func(domain.Event) { signer.Wake() })
	}
	return signer, closer, nil
}

// checkpointFlags adds the audit key's and the checkpoint signer's flags.
func checkpointFlags(fs *flag.FlagSet, c *config, env func(k, def string) string) error {
	every, err := strconv.ParseUint(env("RECALL_CHECKPOINT_EVERY", strconv.Itoa(auditsign.DefaultEvery)), 10, 64)
	if err != nil || every == 0 {
		return fmt.Errorf("RECALL_CHECKPOINT_EVERY=%q: want a number of audit entries, 1 or more", env("RECALL_CHECKPOINT_EVERY", ""))
	}
	interval, err := time.ParseDuration(env("RECALL_CHECKPOINT_INTERVAL", auditsign.DefaultInterval.String()))
	if err != nil || interval <= 0 {
		return fmt.Errorf("RECALL_CHECKPOINT_INTERVAL=%q: want a duration such as 30s or 5m", env("RECALL_CHECKPOINT_INTERVAL", ""))
	}
	fs.StringVar(&c.auditKeyName, "audit-key-name", env("RECALL_AUDIT_KEY_NAME", ""), "name of the audit signing key made on the first start: the deployment's name in every checkpoint's origin (env RECALL_AUDIT_KEY_NAME; default recall-ledger-<random>)")
	fs.Uint64Var(&c.checkpointEvery, "checkpoint-every", every, "sign a tenant's audit checkpoint once its log grew by this many entries (env RECALL_CHECKPOINT_EVERY)")
	fs.DurationVar(&c.checkpointInterval, "checkpoint-interval", interval, "sign a tenant's audit checkpoint when its log grew and this long passed since the last one (env RECALL_CHECKPOINT_INTERVAL)")
	fs.StringVar(&c.checkpointLog, "checkpoint-log", env("RECALL_CHECKPOINT_LOG", ""), "JSON-lines file every signed checkpoint is appended to, for shipping elsewhere (env RECALL_CHECKPOINT_LOG; default DATA/"+checkpointsFile+")")
	return nil
}

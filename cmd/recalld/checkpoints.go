package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"time"

	"github.com/recallledger/recall/adapters/auditsign"
	"github.com/recallledger/recall/adapters/natsbus"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/projections/auditlog"
)

// checkpointsFile is the default JSON-lines file of signed checkpoints.
const checkpointsFile = "audit-checkpoints.jsonl"

// startCheckpoints readies the audit log's proofs before the feed runs:
// the deployment's signing key (made on the first start), the tree of
// every tenant whose log was written before the tree existed (migrated
// once), and the signer, woken by the audit log's commits and publishing
// to the checkpoints file and, with --bus nats, to JetStream. runLoops
// runs the signer; the Server closes it (and the publisher) with the
// stores.
func (s *Server) startCheckpoints() (*auditsign.Signer, error) {
	cfg, log := s.cfg, s.log
	key, created, err := auditsign.LoadOrCreateKey(cfg.Data, cfg.AuditKeyName)
	if err != nil {
		return nil, err
	}
	if created {
		log.Info("audit signing key created", slog.String("name", key.Name), slog.String("verifier_key", key.Verifier))
		fmt.Fprintf(cfg.Stdout, "audit signing key created in %s; its verifier key (give it to auditors; `recallctl --data %s audit key` prints it again):\n%s\n",
			filepath.Join(cfg.Data, auditsign.KeyFile), cfg.Data, key.Verifier)
	}
	ts, err := s.reg.Tenants()
	if err != nil {
		return nil, err
	}
	for _, t := range ts {
		n, err := auditlog.MigrateTree(s.rm, t.String())
		if err != nil {
			return nil, err
		}
		if n > 0 {
			log.Info("audit tree built over the entries written before it (once)", slog.String("tenant", t.String()), slog.Int("entries", n))
		}
	}
	scfg := auditsign.Config{Every: cfg.CheckpointEvery, Interval: cfg.CheckpointInterval, LogPath: cfg.CheckpointLog, Clock: cfg.Clock, Log: log}
	if scfg.LogPath == "" {
		scfg.LogPath = filepath.Join(cfg.Data, checkpointsFile)
	}
	if cfg.Bus == "nats" {
		pub, err := natsbus.NewCheckpointPublisher(cfg.NATSURL)
		if err != nil {
			return nil, err
		}
		s.closeLater("NATS checkpoint publisher", pub.Close)
		scfg.Publish = func(ctx context.Context, sg auditsign.Signed) error {
			b, err := json.Marshal(sg)
			if err != nil {
				return err
			}
			return pub.Publish(ctx, sg.Tenant, sg.Size, b)
		}
	}
	signer, err := auditsign.New(s.rm, cfg.Data, s.reg.Tenants, scfg)
	if err != nil {
		return nil, err
	}
	s.closeLater("checkpoint signer", signer.Close)
	if audit := s.runner(auditlog.Name); audit != nil {
		audit.Watch(func(domain.Event) { signer.Wake() })
	}
	return signer, nil
}

// checkpointFlags adds the audit key's and the checkpoint signer's flags.
func checkpointFlags(fs *flag.FlagSet, c *Config, env func(k, def string) string) error {
	every, err := strconv.ParseUint(env("RECALL_CHECKPOINT_EVERY", strconv.Itoa(auditsign.DefaultEvery)), 10, 64)
	if err != nil || every == 0 {
		return fmt.Errorf("RECALL_CHECKPOINT_EVERY=%q: want a number of audit entries, 1 or more", env("RECALL_CHECKPOINT_EVERY", ""))
	}
	interval, err := time.ParseDuration(env("RECALL_CHECKPOINT_INTERVAL", auditsign.DefaultInterval.String()))
	if err != nil || interval <= 0 {
		return fmt.Errorf("RECALL_CHECKPOINT_INTERVAL=%q: want a duration such as 30s or 5m", env("RECALL_CHECKPOINT_INTERVAL", ""))
	}
	fs.StringVar(&c.AuditKeyName, "audit-key-name", env("RECALL_AUDIT_KEY_NAME", ""), "name of the audit signing key made on the first start: the deployment's name in every checkpoint's origin (env RECALL_AUDIT_KEY_NAME; default recall-ledger-<random>)")
	fs.Uint64Var(&c.CheckpointEvery, "checkpoint-every", every, "sign a tenant's audit checkpoint once its log grew by this many entries (env RECALL_CHECKPOINT_EVERY)")
	fs.DurationVar(&c.CheckpointInterval, "checkpoint-interval", interval, "sign a tenant's audit checkpoint when its log grew and this long passed since the last one (env RECALL_CHECKPOINT_INTERVAL)")
	fs.StringVar(&c.CheckpointLog, "checkpoint-log", env("RECALL_CHECKPOINT_LOG", ""), "JSON-lines file every signed checkpoint is appended to, for shipping elsewhere (env RECALL_CHECKPOINT_LOG; default DATA/"+checkpointsFile+")")
	return nil
}

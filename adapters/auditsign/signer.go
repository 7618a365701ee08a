package auditsign

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/projections"
	"github.com/recallledger/recall/projections/auditlog"
	"github.com/recallledger/recall/projections/auditlog/auditproof"
)

// Namespace is where signed checkpoints are kept in the read-model store:
// beside the audit log but not in its namespace, so a rebuild of the audit
// log never drops them (they are signed statements, not derived state).
const Namespace = "audit_checkpoints"

// Defaults of Config.
const (
	DefaultEvery    = 1000
	DefaultInterval = time.Minute
)

// Signed is one signed checkpoint, as stored, published to the JSON-lines
// file and to the bus.
type Signed struct {
	Tenant     string    `json:"tenant"`
	Origin     string    `json:"origin"`
	Size       uint64    `json:"size"`
	Root       tlog.Hash `json:"root_hash"`
	Checkpoint string    `json:"checkpoint"` // the signed note
	SignedAt   time.Time `json:"signed_at"`
}

// Config tunes the signer; zero fields take their defaults.
type Config struct {
	// Every and Interval: a tenant's tree is signed once it grew by Every
	// entries, or grew at all and Interval passed since its last signing.
	Every    uint64
	Interval time.Duration
	// LogPath is the JSON-lines file every signed checkpoint is appended
	// to (and synced) before it is served; empty: none.
	LogPath string
	// Publish, if set, is given every new checkpoint after it is stored
	// (recalld: the NATS subject recall.checkpoints.<org>.<app>). A
	// failure is logged; the checkpoint stays signed and served.
	Publish func(ctx context.Context, s Signed) error
	Clock   domain.Clock
	Log     *slog.Logger
}

// Signer signs the audit log's checkpoints. It only reads the audit log
// (a snapshot of its tree) and writes its own namespace: the append path
// never waits for it.
type Signer struct {
	rm      projections.Store
	dataDir string
	tenants func() ([]domain.Tenant, error)
	cfg     Config

	mu   sync.Mutex // one signing at a time: sizes only grow
	logF *os.File
	wake chan struct{}

	closeOnce sync.Once
	closeErr  error
}

// New makes a signer over the read models, with the key in dataDir (made
// on the first start by LoadOrCreateKey). tenants lists the tenants to
// sign for.
func New(rm projections.Store, dataDir string, tenants func() ([]domain.Tenant, error), cfg Config) (*Signer, error) {
	if cfg.Every == 0 {
		cfg.Every = DefaultEvery
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Clock == nil {
		cfg.Clock = domain.SystemClock{}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	s := &Signer{rm: rm, dataDir: dataDir, tenants: tenants, cfg: cfg, wake: make(chan struct{}, 1)}
	if cfg.LogPath != "" {
		f, err := os.OpenFile(cfg.LogPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("audit checkpoint log: %w", err)
		}
		s.logF = f
	}
	return s, nil
}

// Wake asks for a round soon (the audit log committed entries); it never
// blocks, so it may be called from the audit runner's commit watcher.
func (s *Signer) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// minRoundGap spaces rounds while entries stream in: a round reads every
// tenant's tree size, which need not happen on each commit.
const minRoundGap = 100 * time.Millisecond

// Run signs what is due when woken and every second, until ctx ends.
func (s *Signer) Run(ctx context.Context) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		if err := s.Round(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Log.Warn("audit checkpoint signing", slog.Any("err", err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(minRoundGap):
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake:
		case <-tick.C:
		}
	}
}

// Round signs every tenant's tree that is due by the clock and the entry
// count.
func (s *Signer) Round(ctx context.Context) error {
	ts, err := s.tenants()
	if err != nil {
		return err
	}
	var errs []error
	for _, t := range ts {
		if ctx.Err() != nil {
			return nil
		}
		if _, _, err := s.sign(ctx, t.String(), false); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// SignNow signs the tenant's current tree unless its latest checkpoint is
// already of that size, and returns the latest checkpoint (false when the
// tree is empty).
func (s *Signer) SignNow(ctx context.Context, tenant string) (Signed, bool, error) {
	return s.sign(ctx, tenant, true)
}

func (s *Signer) sign(ctx context.Context, tenant string, now bool) (Signed, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	last, found, err := s.Latest(tenant)
	if err != nil {
		return Signed{}, false, err
	}
	tree, err := auditlog.Tree(s.rm, tenant)
	if err != nil {
		return Signed{}, false, err
	}
	at := s.cfg.Clock.Now().UTC()
	grew := tree.Size > last.Size
	due := grew && (now || !found || tree.Size-last.Size >= s.cfg.Every || at.Sub(last.SignedAt) >= s.cfg.Interval)
	if !due {
		return last, found, nil
	}
	key, err := LoadKey(s.dataDir) // each time: a rotation takes effect without a restart
	if err != nil {
		return Signed{}, false, err
	}
	c := auditproof.Checkpoint{Origin: auditproof.Origin(key.Name, tenant), Size: tree.Size, Root: tree.Root}
	signed, err := auditproof.SignCheckpoint(c, key.Signer)
	if err != nil {
		return Signed{}, false, fmt.Errorf("sign checkpoint of %s: %w", tenant, err)
	}
	cp := Signed{Tenant: tenant, Origin: c.Origin, Size: c.Size, Root: c.Root, Checkpoint: signed, SignedAt: at}
	line, err := json.Marshal(cp)
	if err != nil {
		return Signed{}, false, err
	}
	// published to the file first: whatever a proof names is outside
	if s.logF != nil {
		if _, err := s.logF.Write(append(line, '\n')); err != nil {
			return Signed{}, false, fmt.Errorf("audit checkpoint log: %w", err)
		}
		if err := s.logF.Sync(); err != nil {
			return Signed{}, false, fmt.Errorf("audit checkpoint log: %w", err)
		}
	}
	if err := s.rm.Update(Namespace, func(tx projections.Tx) error { return tx.Set(checkpointKey(tenant, c.Size), line) }); err != nil {
		return Signed{}, false, fmt.Errorf("store checkpoint of %s: %w", tenant, err)
	}
	s.cfg.Log.Info("audit checkpoint signed", slog.String("tenant", tenant), slog.Uint64("size", c.Size), slog.String("root", c.Root.String()))
	if s.cfg.Publish != nil {
		if err := s.cfg.Publish(ctx, cp); err != nil {
			s.cfg.Log.Warn("audit checkpoint not published to the bus", slog.String("tenant", tenant), slog.Uint64("size", c.Size), slog.Any("err", err))
		}
	}
	return cp, true, nil
}

func checkpointKey(tenant string, size uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte(tenant), 0), size)
}

// Latest returns the tenant's newest signed checkpoint; false when none.
func (s *Signer) Latest(tenant string) (Signed, bool, error) {
	return Latest(s.rm, tenant)
}

// Latest reads the tenant's newest signed checkpoint from the read models.
func Latest(rm projections.Store, tenant string) (Signed, bool, error) {
	var out Signed
	found := false
	prefix := append([]byte(tenant), 0)
	err := rm.View(Namespace, func(tx projections.Tx) error {
		var decodeErr error
		err := tx.Scan(prefix, projections.PrefixEnd(prefix), true, func(_, v []byte) bool {
			found, decodeErr = true, json.Unmarshal(v, &out)
			return false
		})
		if err != nil {
			return err
		}
		return decodeErr
	})
	if err != nil {
		return Signed{}, false, fmt.Errorf("latest checkpoint of %s: %w", tenant, err)
	}
	return out, found, nil
}

// At returns the checkpoint the tenant's tree was signed at size; false
// when that size was never signed.
func At(rm projections.Store, tenant string, size uint64) (Signed, bool, error) {
	var out Signed
	var found bool
	err := rm.View(Namespace, func(tx projections.Tx) error {
		b, err := tx.Get(checkpointKey(tenant, size))
		if err != nil || b == nil {
			return err
		}
		found = true
		return json.Unmarshal(b, &out)
	})
	if err != nil {
		return Signed{}, false, fmt.Errorf("checkpoint of %s at %d: %w", tenant, size, err)
	}
	return out, found, nil
}

// All calls fn with each of the tenant's signed checkpoints, oldest first.
func All(rm projections.Store, tenant string, fn func(Signed) error) error {
	prefix := append([]byte(tenant), 0)
	return rm.View(Namespace, func(tx projections.Tx) error {
		var fnErr error
		err := tx.Scan(prefix, projections.PrefixEnd(prefix), false, func(_, v []byte) bool {
			var s Signed
			if fnErr = json.Unmarshal(bytes.Clone(v), &s); fnErr == nil {
				fnErr = fn(s)
			}
			return fnErr == nil
		})
		if err != nil {
			return err
		}
		return fnErr
	})
}

// Close closes the checkpoint log file; it may be called more than once.
func (s *Signer) Close() error {
	s.closeOnce.Do(func() {
		if s.logF != nil {
			s.closeErr = s.logF.Close()
		}
	})
	return s.closeErr
}

// At returns the checkpoint signed at size; false when none was.
func (s *Signer) At(tenant string, size uint64) (Signed, bool, error) { return At(s.rm, tenant, size) }

// SignStatement signs a note text with the deployment's key: the server's
// word on an export page (auditproof.StatementText).
func (s *Signer) SignStatement(text string) (string, error) {
	key, err := LoadKey(s.dataDir)
	if err != nil {
		return "", err
	}
	b, err := note.Sign(&note.Note{Text: text}, key.Signer)
	return string(b), err
}

// Keys are the deployment's verifier keys, every one it has signed with.
func (s *Signer) Keys() (auditproof.Keys, error) {
	key, err := LoadKey(s.dataDir)
	if err != nil {
		return auditproof.Keys{}, err
	}
	return auditproof.ParseKeys(strings.Join(key.VerifierKeys(), "\n"))
}

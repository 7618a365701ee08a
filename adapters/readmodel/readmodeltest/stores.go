package readmodeltest

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"github.com/recallledger/recall/adapters/eventstore/embedded"
	"github.com/recallledger/recall/adapters/readmodel"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/ledger"
	"github.com/recallledger/recall/projections"
)

// Stores is what recalld keeps in a data directory, for tests of what
// reads it: the event store (DIR/events, embedded pebble), the read models
// (DIR/readmodels) and runners of some projections over them, fed only
// when the test says (Feed), so what they hold is never a race.
type Stores struct {
	Events  *embedded.Store
	Models  *readmodel.Store
	Runners []*projections.Runner

	t    testing.TB
	once sync.Once
}

// OpenStores opens the stores in dir with a runner of each of ps; they
// are closed when the test ends, or before by Close (a test that opens
// the directory again, as a restart does).
func OpenStores(t testing.TB, dir string, ps ...projections.Projection) *Stores {
	t.Helper()
	events, err := embedded.Open(filepath.Join(dir, "events"))
	if err != nil {
		t.Fatal(err)
	}
	models, err := readmodel.Open(filepath.Join(dir, "readmodels"))
	if err != nil {
		events.Close()
		t.Fatal(err)
	}
	s := &Stores{Events: events, Models: models, t: t}
	t.Cleanup(s.Close)
	for _, p := range ps {
		r, err := projections.NewRunner(p, models)
		if err != nil {
			t.Fatal(err)
		}
		s.Runners = append(s.Runners, r)
	}
	return s
}

// Runner is the runner of the projection named, nil if there is none.
func (s *Stores) Runner(name string) *projections.Runner {
	for _, r := range s.Runners {
		if r.Name() == name {
			return r
		}
	}
	return nil
}

// Feed hands each runner every stored event after its position, one at a
// time, as the live feed does.
func (s *Stores) Feed() {
	s.t.Helper()
	for _, r := range s.Runners {
		evs, err := s.Events.ReadAll(context.Background(), r.Position()+1, "", 1_000_000)
		if err != nil {
			s.t.Fatal(err)
		}
		for _, e := range evs {
			if err := r.Handle(e); err != nil {
				s.t.Fatal(err)
			}
		}
	}
}

// Close closes the read models, then the event store, once.
func (s *Stores) Close() {
	s.once.Do(func() {
		if err := errors.Join(s.Models.Close(), s.Events.Close()); err != nil {
			s.t.Error(err)
		}
	})
}

// Send records a message of tenant tn (type txt, from ios) through l and
// returns its id.
func Send(t testing.TB, l *ledger.Service, tn domain.Tenant, from, to, chat, content string) domain.MsgID {
	t.Helper()
	cmd, err := domain.NewSendCommand(from, to, chat, "txt", content, "ios", "")
	if err != nil {
		t.Fatal(err)
	}
	res, err := l.Send(context.Background(), tn, cmd)
	if err != nil {
		t.Fatal(err)
	}
	return res.MsgID
}

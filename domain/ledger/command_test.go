package ledger

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/recallledger/recall/adapters/eventstore/embedded"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/clocktest"
)

// racing is a real store where someone else appends to the stream just
// before each of the first n appends: every one of them meets a
// concurrent change.
type racing struct {
	*embedded.Store
	n       atomic.Int32
	tenant  domain.Tenant
	appends atomic.Int32 // every append this store was asked for
}

func (r *racing) Append(ctx context.Context, stream string, expected int64, evs []domain.Event) (domain.Appended, error) {
	r.appends.Add(1)
	if r.n.Add(-1) >= 0 {
		other := domain.NewEvent(fmt.Sprint("other-", r.appends.Load()), r.tenant, time.Now(), domain.MessageRead{MsgID: "m1", Reader: "someone-else"})
		if _, err := r.Store.Append(ctx, stream, domain.AnyVersion, []domain.Event{other}); err != nil {
			return domain.Appended{}, err
		}
	}
	return r.Store.Append(ctx, stream, expected, evs)
}

func newRacing(t *testing.T, races int32) (*racing, *Service, *clocktest.Clock) {
	t.Helper()
	store, err := embedded.Open(filepath.Join(t.TempDir(), "events"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	tn, _ := domain.ParseTenant("a/a")
	r := &racing{Store: store, tenant: tn}
	r.n.Store(races)
	clock := clocktest.New(time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC))
	return r, New(r, clock), clock
}

// countReads is a command that records one read more than the stream
// holds, noting each state it was decided against.
func countReads(s *Service, r *racing, decided *[]int64, stamps *[]time.Time, refuse error) command[domain.Message] {
	stream := domain.MessageStream(r.tenant, "m1")
	return command[domain.Message]{
		tenant: r.tenant, what: "test", load: s.message(stream),
		decide: func(m domain.Message, version int64, now time.Time) (change, error) {
			*decided, *stamps = append(*decided, version), append(*stamps, now)
			return appendTo(stream, version, domain.MessageRead{MsgID: "m1", Reader: "bob"}), refuse
		},
	}
}

func TestCommandLoop(t *testing.T) {
	cases := []struct {
		name      string
		races     int32
		refuse    error
		decisions []int64 // the versions each decision saw
		err       error
		stored    int // events the store holds after, the racers' included
	}{
		{"no race: decided once and appended", 0, nil, []int64{-1}, nil, 1},
		{"a concurrent change is decided again against the newer state", 2, nil, []int64{-1, 0, 1}, nil, 3},
		{"losing every race is contention, and this command records nothing", maxAttempts, nil, nil, ErrContention, maxAttempts},
		{"a refusal records nothing and is the command's error", 0, errRefused, []int64{-1}, errRefused, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, s, clock := newRacing(t, c.races)
			var decided []int64
			var stamps []time.Time
			received := clock.Now()
			cmd := countReads(s, r, &decided, &stamps, c.refuse)
			cmd.decide = advancing(cmd.decide, clock) // time passes while it retries
			_, err := run(context.Background(), s, cmd)
			if !errors.Is(err, c.err) {
				t.Fatalf("error %v, want %v", err, c.err)
			}
			if c.decisions != nil && !slices.Equal(decided, c.decisions) {
				t.Fatalf("decided against versions %v, want %v", decided, c.decisions)
			}
			for _, at := range stamps {
				if !at.Equal(received) {
					t.Fatalf("decided at %v, want the time of receipt %v each time", stamps, received)
				}
			}
			if got := len(mustRead(t, r)); got != c.stored {
				t.Fatalf("the stream holds %d events, want %d", got, c.stored)
			}
		})
	}
}

var errRefused = errors.New("refused")

func advancing(decide func(domain.Message, int64, time.Time) (change, error), clock *clocktest.Clock) func(domain.Message, int64, time.Time) (change, error) {
	return func(m domain.Message, v int64, now time.Time) (change, error) {
		clock.Advance(time.Second)
		return decide(m, v, now)
	}
}

func mustRead(t *testing.T, r *racing) []domain.Event {
	t.Helper()
	evs, err := r.ReadStream(context.Background(), domain.MessageStream(r.tenant, "m1"))
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

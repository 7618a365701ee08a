package conversation

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/recallledger/recall/domain"
)

// Logged is one update as the projection logged it: its tenant, and the
// send time of its message (zero for an update logged before updates
// carried it), by which a stream leaves out a message past retention.
type Logged struct {
	Tenant string
	Update
	SentAt domain.Time
}

// Live hands the updates the projection logs to whoever follows the view
// live — recalld's streams — once the transaction that logged them is
// committed, so that a commit reaches only the streams of the
// conversations it touched, and no stream reads the store for it.
//
// The projection tells it each update as it logs it (Projection.Live);
// the runner's watcher tells it each commit (Committed). An update logged
// by a transaction that failed is logged again when its events are
// applied again, and is handed over once, at the commit that stored it.
type Live struct {
	following atomic.Bool

	mu      sync.Mutex
	sink    func([]Logged)
	pending []Logged // logged, not yet committed
}

// NewLive returns a Live that collects nothing until Follow.
func NewLive() *Live { return &Live{} }

// Follow has sink called, after each commit, with the updates it
// stored, in position order. sink runs on the projection's goroutine: it
// must not block (recalld's stream hub only queues them).
func (l *Live) Follow(sink func([]Logged)) {
	l.mu.Lock()
	l.sink = sink
	l.mu.Unlock()
	l.following.Store(true)
}

// logged notes an update logged by a transaction not yet committed.
func (l *Live) logged(tenant string, u Update, sentAt domain.Time) {
	if l == nil || !l.following.Load() {
		return
	}
	l.mu.Lock()
	l.pending = append(l.pending, Logged{Tenant: tenant, Update: u, SentAt: sentAt})
	l.mu.Unlock()
}

// Committed tells l that every event up to position is committed: the
// updates logged for them go to the sink, once each.
func (l *Live) Committed(position uint64) {
	if !l.following.Load() {
		return
	}
	l.mu.Lock()
	slices.SortStableFunc(l.pending, func(a, b Logged) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	// one update per event: a repeat is the same event applied again
	l.pending = slices.CompactFunc(l.pending, func(a, b Logged) bool { return a.ID == b.ID })
	n, _ := slices.BinarySearchFunc(l.pending, position+1, func(x Logged, pos uint64) int {
		switch {
		case x.ID < pos:
			return -1
		case x.ID > pos:
			return 1
		}
		return 0
	})
	out := slices.Clone(l.pending[:n])
	l.pending = slices.Delete(l.pending, 0, n)
	sink := l.sink
	l.mu.Unlock()
	if len(out) > 0 && sink != nil {
		sink(out)
	}
}

// Retained reports whether a stream may tell the update to a viewer when
// the tenant retains messages sent since retainedSince: an expiry always
// (the viewer drops the message), others while their message is within
// retention. An update without a send time (logged by an earlier version)
// is told.
func (l Logged) Retained(retainedSince time.Time) bool {
	return l.Kind == "expired" || l.SentAt.IsZero() || !l.SentAt.Time().Before(retainedSince)
}

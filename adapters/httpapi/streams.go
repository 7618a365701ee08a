package httpapi

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/recallledger/recall/projections/conversation"
)

// streamHub fans the conversation view's committed updates out to the
// live streams (server-sent events) of the conversations they touch.
//
// It runs off the write path: the projection hands it each commit's
// updates (conversation.Live), and publish only queues each one on the
// streams of its conversation, which write it on their own goroutines. A
// commit costs what it delivers: a stream of another conversation is not
// woken, and no stream reads the store for it. A stream whose viewer
// does not keep up — more than buffer updates queued — is dropped: it is
// told where to resume (its last event id) and closed, so a slow audience
// never holds the projection, the other viewers or the writers.
type streamHub struct {
	buffer, perTenant, total int

	mu       sync.Mutex
	byConv   map[convKey]map[*liveStream]struct{}
	byTenant map[string]int
	open     int

	drops atomic.Uint64
}

type convKey struct{ tenant, conv string }

// liveStream is one viewer's stream, as the hub feeds it.
type liveStream struct {
	key  convKey
	wake chan struct{} // signalled (without blocking) when updates are queued

	mu      sync.Mutex
	queued  []*hubUpdate
	dropped bool // fell behind: queued is empty and stays so
}

// hubUpdate is one committed update, shared by every stream it goes to:
// encoded once for all the viewers it says the same thing to.
type hubUpdate struct {
	conversation.Logged
	once   sync.Once
	shared []byte // the SSE frame without a notice; recalled updates carry one per viewer
	err    error
}

// errStreamCap is a stream refused for the caps.
type errStreamCap struct{ scope string }

func (e errStreamCap) Error() string { return "too many live streams open " + e.scope }

func newStreamHub(buffer, perTenant, total int) *streamHub {
	return &streamHub{buffer: buffer, perTenant: perTenant, total: total, byConv: map[convKey]map[*liveStream]struct{}{}, byTenant: map[string]int{}}
}

// collectors are the hub's metrics: open streams, and streams dropped
// for falling behind.
func (h *streamHub) collectors() []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "recall_streams_open", Help: "Live conversation streams (server-sent events) open."},
			func() float64 { h.mu.Lock(); defer h.mu.Unlock(); return float64(h.open) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "recall_stream_drops_total",
			Help: "Live streams closed because their viewer fell more updates behind than the buffer holds (told to resume from its last event id)."},
			func() float64 { return float64(h.drops.Load()) }),
	}
}

// subscribe opens a stream of the conversation, within the caps.
func (h *streamHub) subscribe(tenant, conv string) (*liveStream, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.open >= h.total:
		return nil, errStreamCap{"in this server"}
	case h.byTenant[tenant] >= h.perTenant:
		return nil, errStreamCap{"for this tenant"}
	}
	ls := &liveStream{key: convKey{tenant, conv}, wake: make(chan struct{}, 1)}
	set := h.byConv[ls.key]
	if set == nil {
		set = map[*liveStream]struct{}{}
		h.byConv[ls.key] = set
	}
	set[ls] = struct{}{}
	h.byTenant[tenant]++
	h.open++
	return ls, nil
}

// unsubscribe closes a stream; closing it again does nothing.
func (h *streamHub) unsubscribe(ls *liveStream) {
	h.mu.Lock()
	defer h.mu.Unlock()
	set := h.byConv[ls.key]
	if _, ok := set[ls]; !ok {
		return
	}
	delete(set, ls)
	if len(set) == 0 {
		delete(h.byConv, ls.key)
	}
	if h.byTenant[ls.key.tenant]--; h.byTenant[ls.key.tenant] == 0 {
		delete(h.byTenant, ls.key.tenant)
	}
	h.open--
}

// publish queues a commit's updates on the streams of their
// conversations. It never blocks on a stream.
func (h *streamHub) publish(us []conversation.Logged) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.open == 0 {
		return
	}
	for _, u := range us {
		set := h.byConv[convKey{u.Tenant, u.ConversationID}]
		if len(set) == 0 {
			continue
		}
		hu := &hubUpdate{Logged: u}
		for ls := range set {
			if !ls.queue(hu, h.buffer) {
				h.drops.Add(1)
			}
		}
	}
}

// queue adds u and wakes the stream; false when the stream just fell
// behind the bound (it is then told so and closes).
func (ls *liveStream) queue(u *hubUpdate, bound int) bool {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.dropped {
		return true // told once already
	}
	if len(ls.queued) >= bound {
		ls.queued, ls.dropped = nil, true
	} else {
		ls.queued = append(ls.queued, u)
	}
	select {
	case ls.wake <- struct{}{}:
	default:
	}
	return !ls.dropped
}

// take returns what is queued, and whether the stream fell behind.
func (ls *liveStream) take() ([]*hubUpdate, bool) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	q := ls.queued
	ls.queued = nil
	return q, ls.dropped
}

// frame is the update's SSE frame for a viewer in locale: shared by every
// viewer but for a recall, whose notice names the viewer's part in it.
func (u *hubUpdate) frame(locale, viewer string) ([]byte, error) {
	if u.Kind == "recalled" {
		return sseFrame(u.Update, conversation.Notice(locale, u.Actor, viewer))
	}
	u.once.Do(func() { u.shared, u.err = sseFrame(u.Update, "") })
	return u.shared, u.err
}

// sseFrame is one update as a server-sent event: its position as the id,
// its kind as the event name.
func sseFrame(u conversation.Update, notice string) ([]byte, error) {
	data, err := json.Marshal(streamUpdate{Update: u, Notice: notice})
	if err != nil {
		return nil, err
	}
	return fmt.Appendf(nil, "id: %d\nevent: %s\ndata: %s\n\n", u.ID, u.Kind, data), nil
}

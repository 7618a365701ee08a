package feedbus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"

	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/projections"
)

// Options tune a Feed; the zero value takes the defaults.
type Options struct {
	// RetryInitial and RetryMax bound the backoff before a failed feed is
	// read again and before events a projection failed on are sent again
	// (defaults 100 ms and 30 s; it doubles in between, and starts over
	// once the projection applies events again).
	RetryInitial, RetryMax time.Duration
}

func (o Options) withDefaults() Options {
	if o.RetryInitial <= 0 {
		o.RetryInitial = 100 * time.Millisecond
	}
	if o.RetryMax <= 0 {
		o.RetryMax = 30 * time.Second
	}
	o.RetryMax = max(o.RetryMax, o.RetryInitial)
	return o
}

// Stages a projection can fail at.
const (
	// StageFeed: reading the store's feed failed; the subscription
	// resumes from the projection's checkpoint after a backoff.
	StageFeed = "feed"
	// StageApply: the projection failed on events after its retries (a
	// poison event, a full read-model disk); they are sent again after a
	// backoff, never skipped.
	StageApply = "apply"
)

// Stall says why a projection is not applying events.
type Stall struct {
	Projection string
	Stage      string // StageFeed or StageApply
	Applied    uint64 // the last position it applied: it is stuck after it
	Err        error  // the last failure's cause
	Since      time.Time
	Failures   int // in a row, since it last applied events
}

func (s Stall) Error() string {
	return fmt.Sprintf("projection %s is not applying: its %s failed %d time(s) in a row since %s, stuck after position %d: %v (retrying)",
		s.Projection, s.Stage, s.Failures, s.Since.UTC().Format(time.RFC3339), s.Applied, s.Err)
}

func (s Stall) Unwrap() error { return s.Err }

// health is one projection's record: its counters and its stall.
type health struct {
	feedFailures, applyFailures atomic.Uint64
	stall                       *Stall // guarded by Feed.mu; nil while applying
}

// Feed feeds every runner from the store through a watermill Router and
// keeps what went wrong where an operator can see it: each failure is
// logged at error with its cause and counted, and while a projection is
// not applying its Stall says so (recalld's /readyz names it). Nothing is
// given up: a failed feed resumes from the projection's checkpoint and
// events a projection failed on are sent again, each after a backoff.
type Feed struct {
	store   domain.EventStore
	runners map[string]*projections.Runner
	order   []*projections.Runner
	log     *slog.Logger
	opts    Options

	mu     sync.Mutex
	health map[string]*health
}

// New returns a feed of runners from store; Run starts it.
func New(store domain.EventStore, runners []*projections.Runner, log *slog.Logger, opts Options) *Feed {
	f := &Feed{store: store, runners: map[string]*projections.Runner{}, order: runners, log: log, opts: opts.withDefaults(), health: map[string]*health{}}
	for _, r := range runners {
		f.runners[r.Name()] = r
		f.health[r.Name()] = &health{}
	}
	return f
}

// Run feeds every runner from the store through a watermill Router until
// ctx ends. The store's feed is read and decoded once for all of them;
// each runner is a handler on its own topic, so each resumes from its own
// checkpoint; a panic in a projection becomes an error, retried with
// backoff, and a message that still fails is sent again rather than
// skipped, so no event is ever lost to a projection.
func Run(ctx context.Context, store domain.EventStore, runners []*projections.Runner, log *slog.Logger) error {
	return New(store, runners, log, Options{}).Run(ctx)
}

// Run runs the feed until ctx ends.
func (f *Feed) Run(ctx context.Context) error {
	// the shared reading starts where the furthest projection is: those
	// behind it (one just rebuilt) catch up from the store on their own
	// and then join it, so a catch-up never holds up the live ones
	var start uint64
	for _, r := range f.order {
		start = max(start, r.Position()+1)
	}
	sub := NewSubscriber(f.store, func(topic string) uint64 { return f.runners[topic].Position() + 1 }, SubscriberConfig{
		RetryInitial: f.opts.RetryInitial, RetryMax: f.opts.RetryMax, FeedFailed: f.feedFailed, Start: start,
	})
	wlog := watermill.NewSlogLoggerWithLevelMapping(f.log, map[slog.Level]slog.Level{slog.LevelInfo: slog.LevelDebug})
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 10 * time.Second}, wlog)
	if err != nil {
		return fmt.Errorf("projections router: %w", err)
	}
	router.AddMiddleware(
		f.observe, // outermost: it sees what is left after the retries
		middleware.Retry{MaxRetries: 5, InitialInterval: 10 * time.Millisecond, MaxInterval: time.Second, Multiplier: 2, Logger: wlog}.Middleware,
		middleware.Recoverer,
	)
	for _, r := range f.order {
		r := r
		router.AddConsumerHandler(r.Name(), r.Name(), sub, func(msg *message.Message) error {
			b, err := BatchOf(msg)
			if err != nil {
				return err
			}
			return r.HandleBatch(b)
		})
	}
	err = router.Run(ctx)
	err = errors.Join(err, sub.Close())
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("projections router: %w", err)
	}
	return ctx.Err()
}

// Stalled reports whether the projection named is not applying events, and
// why.
func (f *Feed) Stalled(name string) (Stall, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := f.health[name]
	if h == nil || h.stall == nil {
		return Stall{}, false
	}
	return *h.stall, true
}

// FeedFailures is how often reading the store's feed failed for the
// projection named.
func (f *Feed) FeedFailures(name string) uint64 {
	if h := f.health[name]; h != nil {
		return h.feedFailures.Load()
	}
	return 0
}

// ApplyFailures is how often the projection named failed on events after
// its retries.
func (f *Feed) ApplyFailures(name string) uint64 {
	if h := f.health[name]; h != nil {
		return h.applyFailures.Load()
	}
	return 0
}

// observe records each handler outcome after the retries: a failure stalls
// the projection, a success ends its stall.
func (f *Feed) observe(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		out, err := h(msg)
		name := message.HandlerNameFromCtx(msg.Context())
		if err != nil {
			f.applyFailed(name, msg.Metadata.Get(PositionKey), err)
		} else {
			f.applied(name)
		}
		return out, err
	}
}

func (f *Feed) feedFailed(name string, err error, retryIn time.Duration) {
	f.failed(name, StageFeed, err, "projection feed failed; it resumes from its checkpoint", slog.Duration("retry_in", retryIn))
}

func (f *Feed) applyFailed(name, position string, err error) {
	f.failed(name, StageApply, err, "projection failed to apply events after its retries; they are sent again", slog.String("up_to_position", position))
}

// failed counts a failure of the projection named at stage, records its
// stall and logs it at error with its cause.
func (f *Feed) failed(name, stage string, err error, msg string, detail slog.Attr) {
	h := f.health[name]
	if h == nil {
		return
	}
	if stage == StageFeed {
		h.feedFailures.Add(1)
	} else {
		h.applyFailures.Add(1)
	}
	applied := f.runners[name].Position()
	f.mu.Lock()
	if h.stall == nil {
		h.stall = &Stall{Projection: name, Since: time.Now()}
	}
	h.stall.Stage, h.stall.Err, h.stall.Applied = stage, err, applied
	h.stall.Failures++
	failures := h.stall.Failures
	f.mu.Unlock()
	f.log.Error(msg, slog.String("projection", name), slog.Uint64("after_position", applied),
		slog.Int("failures_in_a_row", failures), detail, slog.Any("err", err))
}

// applied ends the projection's stall, if it had one.
func (f *Feed) applied(name string) {
	f.mu.Lock()
	h := f.health[name]
	if h == nil || h.stall == nil {
		f.mu.Unlock()
		return
	}
	st := *h.stall
	h.stall = nil
	f.mu.Unlock()
	f.log.Info("projection applying again", slog.String("projection", name), slog.Int("failures", st.Failures),
		slog.Duration("stalled_for", time.Since(st.Since)), slog.Uint64("position", f.runners[name].Position()))
}

// BatchOf is the batch of events a feed message carries: decoded once,
// when the feed was read, for every handler. A message from elsewhere
// carries its events as JSON, one a line, decoded here.
func BatchOf(msg *message.Message) (projections.Batch, error) {
	if b, ok := msg.Context().Value(batchKey{}).(projections.Batch); ok {
		return b, nil
	}
	lines := bytes.Split(msg.Payload, []byte{'\n'})
	b := projections.Batch{Events: make([]domain.Event, len(lines)), Raw: lines}
	for i, line := range lines {
		var err error
		if b.Events[i], err = domain.DecodeEvent(line); err != nil {
			return projections.Batch{}, fmt.Errorf("message %s line %d: %w", msg.UUID, i+1, err)
		}
	}
	return b, nil
}

// Package feedbus carries the event store's feed over watermill: a
// message.Subscriber whose topics are the store's consumers (read models,
// the forwarder), and a Router that runs each as a handler with recovery
// and retry. The feed is read once and each stored event decoded once per
// batch, and the decoded batch is handed to every consumer; each still
// starts from, and resumes at, its own checkpoint (catch-up from the
// store, then live).
//
// The feed comes from the store itself, never from an in-process bus
// alone: a bus holds nothing across a restart, the store does.
package feedbus

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/cenkalti/backoff/v5"

	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/projections"
)

// PositionKey is the metadata key carrying an event's global position.
const PositionKey = "position"

// Subscriber is a watermill subscriber over an event store, its topics the
// store's consumers. The store's feed is read once and each chunk decoded
// once (a hub), and every subscription takes the decoded events from its
// own position: a message carries consecutive events of the log, as a
// projections.Batch (BatchOf) — as many as were stored when they were
// read, so a busy log is applied in batches and a quiet one event at a
// time. The next message is sent only once the previous is acked, and a
// nacked one is sent again after a backoff, so a handler sees the log in
// order, at least once.
//
// A subscription does not end when reading the store fails: the failure is
// reported (SubscriberConfig.FeedFailed) and, after a backoff, the
// subscription reads again from where its consumer's checkpoint says.
type Subscriber struct {
	store domain.EventStore
	from  func(topic string) uint64
	cfg   SubscriberConfig
	hub   *hub

	closing   chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

// SubscriberConfig tunes a Subscriber; the zero value takes the defaults.
type SubscriberConfig struct {
	// RetryInitial and RetryMax bound the backoff before a failed feed is
	// read again and before a nacked message is sent again (defaults 100
	// ms and 30 s); an ack starts it over.
	RetryInitial, RetryMax time.Duration
	// FeedFailed, if not nil, is told each time reading the store fails
	// for topic, and how long until it is read again.
	FeedFailed func(topic string, err error, retryIn time.Duration)
	// Start is where the shared reading of the feed begins; a
	// subscription that starts before it reads the store itself until it
	// catches up. Zero is where the first subscription starts.
	Start uint64
}

// keptChunks is how many chunks of the feed (each up to the store's read
// of it) the hub keeps for subscriptions slower than the others.
const keptChunks = 8

var _ message.Subscriber = (*Subscriber)(nil)

// NewSubscriber returns a subscriber over store; from tells where a topic's
// subscription starts (its consumer's checkpoint + 1), when it starts and
// each time it resumes after a failure.
func NewSubscriber(store domain.EventStore, from func(topic string) uint64, cfg SubscriberConfig) *Subscriber {
	o := Options{RetryInitial: cfg.RetryInitial, RetryMax: cfg.RetryMax}.withDefaults()
	cfg.RetryInitial, cfg.RetryMax = o.RetryInitial, o.RetryMax
	s := &Subscriber{store: store, from: from, cfg: cfg, closing: make(chan struct{})}
	s.hub = newHub(store, cfg.Start, keptChunks, s.backoff())
	return s
}

func (s *Subscriber) backoff() *backoff.ExponentialBackOff {
	return &backoff.ExponentialBackOff{InitialInterval: s.cfg.RetryInitial, MaxInterval: s.cfg.RetryMax, Multiplier: 2, RandomizationFactor: 0.2}
}

// ErrClosed is returned by Subscribe after Close.
var ErrClosed = errors.New("feed subscriber closed")

// Subscribe implements message.Subscriber.
func (s *Subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	select {
	case <-s.closing:
		return nil, ErrClosed
	default:
	}
	if s.cfg.Start == 0 {
		s.hub.startAt(s.from(topic))
	}
	s.hub.start()
	out := make(chan *message.Message)
	ctx, cancel := context.WithCancel(ctx)
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		select {
		case <-s.closing:
		case <-ctx.Done():
		}
		cancel()
	}()
	go func() {
		defer s.wg.Done()
		defer close(out)
		s.subscription(ctx, topic, out)
	}()
	return out, nil
}

// subscription delivers topic's events from its consumer's checkpoint
// until ctx ends.
func (s *Subscriber) subscription(ctx context.Context, topic string, out chan<- *message.Message) {
	c := &cursor{}
	defer s.hub.release(c)
	bo := s.backoff()
	pos := s.from(topic)
	for ctx.Err() == nil {
		b, last, ok, failed := s.hub.take(ctx, c, pos)
		if ctx.Err() != nil {
			return
		}
		if failed != nil {
			// the shared reading failed: it reads again after its backoff
			s.feedFailed(topic, failed.err, failed.retryIn)
			continue
		}
		if !ok {
			// behind what the hub keeps: catch up from the store
			evs, err := s.store.ReadAll(ctx, pos, "", followChunk)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				wait := bo.NextBackOff()
				s.feedFailed(topic, err, wait)
				if !sleep(ctx, wait) {
					return
				}
				pos = s.from(topic)
				continue
			}
			if len(evs) == 0 {
				continue
			}
			b, last = projections.Batch{Events: evs}, evs[len(evs)-1].Position
		}
		if !s.deliver(ctx, c, out, b, last, bo) {
			return
		}
		pos = last + 1
	}
}

// followChunk is how many events a subscription behind the hub reads from
// the store at a time.
const followChunk = 512

func (s *Subscriber) feedFailed(topic string, err error, retryIn time.Duration) {
	if s.cfg.FeedFailed != nil {
		s.cfg.FeedFailed(topic, err, retryIn)
	}
}

// sleep waits d, or until ctx ends (then it reports false).
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// batchKey carries a message's batch in its context.
type batchKey struct{}

// deliver sends one message until a handler acks it; after a nack it
// detaches from the hub (a handler that keeps failing holds no one up) and
// waits out the backoff before sending it again, and an ack starts the
// backoff over. The message's UUID is its last event's position: unique
// in the log, and known without decoding. It reports false when ctx ended.
func (s *Subscriber) deliver(ctx context.Context, c *cursor, out chan<- *message.Message, b projections.Batch, last uint64, bo *backoff.ExponentialBackOff) bool {
	id := strconv.FormatUint(last, 10)
	for {
		msg := message.NewMessage(id, nil)
		msg.Metadata.Set(PositionKey, id)
		msg.SetContext(context.WithValue(ctx, batchKey{}, b))
		select {
		case out <- msg:
		case <-ctx.Done():
			return false
		}
		select {
		case <-msg.Acked():
			bo.Reset()
			return true
		case <-msg.Nacked():
			// the handler's retries are spent: send it again, in order,
			// once the backoff has passed
			s.hub.release(c)
			if !sleep(ctx, bo.NextBackOff()) {
				return false
			}
		case <-ctx.Done():
			return false
		}
	}
}

// Close ends every subscription.
func (s *Subscriber) Close() error {
	s.closeOnce.Do(func() { close(s.closing) })
	s.wg.Wait()
	s.hub.stop()
	return nil
}

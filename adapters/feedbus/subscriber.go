// Package feedbus carries the event store's feed over watermill: a
// message.Subscriber whose topics are read models, each subscription
// starting at its projection's checkpoint (catch-up from the store, then
// live), and a Router that runs every projection as a handler with
// recovery and retry.
//
// The feed comes from the store itself, never from an in-process bus
// alone: a bus holds nothing across a restart, the store does.
package feedbus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/cenkalti/backoff/v5"

	"github.com/recallledger/recall/domain"
)

// PositionKey is the metadata key carrying an event's global position.
const PositionKey = "position"

// Subscriber is a watermill subscriber over an event store. Each message
// carries the JSON (schema v1) of one or more consecutive events, one to a
// line — as many as were stored when it was read, so a busy log is applied
// in batches and a quiet one event at a time; the next message is sent only
// once the previous is acked, and a nacked one is sent again after a
// backoff, so a handler sees the log in order, at least once.
//
// A subscription does not end when reading the store fails: the failure is
// reported (SubscriberConfig.FeedFailed) and, after a backoff, the
// subscription reads again from where its consumer's checkpoint says.
type Subscriber struct {
	store domain.EventStore
	from  func(topic string) uint64
	cfg   SubscriberConfig

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
}

var _ message.Subscriber = (*Subscriber)(nil)

// NewSubscriber returns a subscriber over store; from tells where a topic's
// subscription starts (its consumer's checkpoint + 1), when it starts and
// each time it resumes after a failure.
func NewSubscriber(store domain.EventStore, from func(topic string) uint64, cfg SubscriberConfig) *Subscriber {
	o := Options{RetryInitial: cfg.RetryInitial, RetryMax: cfg.RetryMax}.withDefaults()
	cfg.RetryInitial, cfg.RetryMax = o.RetryInitial, o.RetryMax
	return &Subscriber{store: store, from: from, cfg: cfg, closing: make(chan struct{})}
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
		bo := &backoff.ExponentialBackOff{InitialInterval: s.cfg.RetryInitial, MaxInterval: s.cfg.RetryMax, Multiplier: 2, RandomizationFactor: 0.2}
		for {
			err := s.follow(ctx, topic, out, bo)
			if ctx.Err() != nil {
				return
			}
			wait := bo.NextBackOff()
			if s.cfg.FeedFailed != nil {
				s.cfg.FeedFailed(topic, err, wait)
			}
			if !sleep(ctx, wait) {
				return
			}
		}
	}()
	return out, nil
}

// follow delivers topic's events from its consumer's checkpoint until
// reading fails or ctx ends.
func (s *Subscriber) follow(ctx context.Context, topic string, out chan<- *message.Message, bo *backoff.ExponentialBackOff) error {
	// a store that hands over its stored JSON saves encoding it again
	if rf, ok := s.store.(domain.RawFollower); ok {
		return rf.FollowRaw(ctx, s.from(topic), func(raws [][]byte, last uint64) error {
			return deliver(ctx, out, last, bytes.Join(raws, []byte{'\n'}), bo)
		})
	}
	return s.store.Follow(ctx, s.from(topic), "", func(e domain.Event) error {
		payload, err := json.Marshal(e)
		if err != nil {
			return err
		}
		return deliver(ctx, out, e.Position, payload, bo)
	})
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

// deliver sends one message until a handler acks it; after a nack it
// waits out the backoff before sending it again, and an ack starts the
// backoff over. The message's UUID is its last event's position: unique
// in the log, and known without decoding.
func deliver(ctx context.Context, out chan<- *message.Message, position uint64, payload []byte, bo *backoff.ExponentialBackOff) error {
	id := strconv.FormatUint(position, 10)
	for {
		msg := message.NewMessage(id, payload)
		msg.Metadata.Set(PositionKey, id)
		msg.SetContext(ctx)
		select {
		case out <- msg:
		case <-ctx.Done():
			return ctx.Err()
		}
		select {
		case <-msg.Acked():
			bo.Reset()
			return nil
		case <-msg.Nacked():
			// the handler's retries are spent: send it again, in order,
			// once the backoff has passed
			if !sleep(ctx, bo.NextBackOff()) {
				return ctx.Err()
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Close ends every subscription.
func (s *Subscriber) Close() error {
	s.closeOnce.Do(func() { close(s.closing) })
	s.wg.Wait()
	return nil
}

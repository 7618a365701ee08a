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

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/recallledger/recall/domain"
)

// PositionKey is the metadata key carrying an event's global position.
const PositionKey = "position"

// rawFollower is a store that can hand over events as their stored JSON;
// the subscriber then forwards those bytes instead of encoding again.
type rawFollower interface {
	FollowRaw(ctx context.Context, from uint64, handle func(raws [][]byte, last uint64) error) error
}

// Subscriber is a watermill subscriber over an event store. Each message
// carries the JSON (schema v1) of one or more consecutive events, one to a
// line — as many as were stored when it was read, so a busy log is applied
// in batches and a quiet one event at a time; the next message is sent only
// once the previous is acked, and a nacked one is sent again, so a handler
// sees the log in order, at least once.
type Subscriber struct {
	store domain.EventStore
	from  func(topic string) uint64

	closing   chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

var _ message.Subscriber = (*Subscriber)(nil)

// NewSubscriber returns a subscriber over store; from tells where a topic's
// subscription starts (its consumer's checkpoint + 1).
func NewSubscriber(store domain.EventStore, from func(topic string) uint64) *Subscriber {
	return &Subscriber{store: store, from: from, closing: make(chan struct{})}
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
		if rf, ok := s.store.(rawFollower); ok {
			_ = rf.FollowRaw(ctx, s.from(topic), func(raws [][]byte, last uint64) error {
				return deliver(ctx, out, last, bytes.Join(raws, []byte{'\n'}))
			})
			return
		}
		_ = s.store.Follow(ctx, s.from(topic), "", func(e domain.Event) error {
			payload, err := json.Marshal(e)
			if err != nil {
				return err
			}
			return deliver(ctx, out, e.Position, payload)
		})
	}()
	return out, nil
}

// deliver sends one message until a handler acks it. The message's UUID
// is its last event's position: unique in the log, and known without
// decoding.
func deliver(ctx context.Context, out chan<- *message.Message, position uint64, payload []byte) error {
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
			return nil
		case <-msg.Nacked():
			// sent again: the handler's retries are spent, keep the order
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

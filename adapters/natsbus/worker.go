package natsbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/nats-io/nats.go"

	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/projections"
)

// ErrGap is a message whose prev_position is ahead of what was applied:
// an earlier event has not arrived yet, so this one waits (nack).
var ErrGap = errors.New("an earlier event has not been applied yet")

// NewSubscriber is a watermill subscriber on the events stream with the
// durable consumer named consumer: one message in flight at a time
// (MaxAckPending 1), so the stream's order is the order of delivery, and
// acks are synchronous. A second consumer name reads the same events
// independently — an analytics pipeline, say.
func NewSubscriber(url, consumer string, log *slog.Logger) (*wmnats.Subscriber, error) {
	nc, err := nats.Connect(url, nats.Name("recall consumer "+consumer))
	if err != nil {
		return nil, fmt.Errorf("nats %s: %w", url, err)
	}
	if err := EnsureStream(nc); err != nil {
		nc.Close()
		return nil, err
	}
	sub, err := wmnats.NewSubscriberWithNatsConn(nc, wmnats.SubscriberSubscriptionConfig{
		Unmarshaler:       &wmnats.NATSMarshaler{},
		SubscribersCount:  1,
		AckWaitTimeout:    30 * time.Second,
		CloseTimeout:      10 * time.Second,
		SubscribeTimeout:  10 * time.Second,
		SubjectCalculator: wmnats.DefaultSubjectCalculator,
		QueueGroupPrefix:  consumer,
		NakDelay:          wmnats.NewStaticDelay(100 * time.Millisecond),
		JetStream: wmnats.JetStreamConfig{
			DurablePrefix:    consumer,
			AckAsync:         false,
			SubscribeOptions: []nats.SubOpt{nats.DeliverAll(), nats.AckExplicit(), nats.MaxAckPending(1)},
		},
	}, watermill.NewSlogLogger(log))
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats subscriber: %w", err)
	}
	return sub, nil
}

// Decode reads an event and its prev_position from a bus message.
func Decode(msg *message.Message) (domain.Event, uint64, error) {
	var e domain.Event
	if err := json.Unmarshal(msg.Payload, &e); err != nil {
		return e, 0, fmt.Errorf("decode %s: %w", msg.UUID, err)
	}
	prev, err := strconv.ParseUint(msg.Metadata.Get(MetaPrevPosition), 10, 64)
	if err != nil {
		return e, 0, fmt.Errorf("message %s: prev_position: %w", msg.UUID, err)
	}
	return e, prev, nil
}

// RunWorker keeps read models from the bus until ctx ends: each event is
// applied to every runner before it is acked. An event already applied is
// acked and dropped; one that arrives before its predecessor was applied
// is nacked and comes again, so nothing is skipped.
func RunWorker(ctx context.Context, url, consumer string, runners []*projections.Runner, log *slog.Logger) error {
	sub, err := NewSubscriber(url, consumer, log)
	if err != nil {
		return err
	}
	wlog := watermill.NewSlogLoggerWithLevelMapping(log, map[slog.Level]slog.Level{slog.LevelInfo: slog.LevelDebug})
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 10 * time.Second}, wlog)
	if err != nil {
		return err
	}
	router.AddMiddleware(middleware.Recoverer)
	router.AddConsumerHandler("projections", AllSubjects, sub, func(msg *message.Message) error {
		e, prev, err := Decode(msg)
		if err != nil {
			return err
		}
		applied := runners[0].Position()
		for _, r := range runners[1:] {
			applied = min(applied, r.Position())
		}
		if e.Position <= applied {
			return nil // a re-send: already applied everywhere
		}
		if prev > applied {
			return fmt.Errorf("event %d after %d, applied %d: %w", e.Position, prev, applied, ErrGap)
		}
		for _, r := range runners {
			if err := r.Handle(e); err != nil {
				return err
			}
		}
		return nil
	})
	err = router.Run(ctx)
	_ = sub.Close()
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("worker: %w", err)
	}
	return ctx.Err()
}

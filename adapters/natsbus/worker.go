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

// WorkerOptions tune RunWorkerWith; the zero value takes the defaults.
type WorkerOptions struct {
	// ClaimTTL is how long a worker's claim on its consumer name lasts
	// without renewal, set when the claims bucket is first created
	// (default DefaultClaimTTL); an existing bucket keeps its own.
	ClaimTTL time.Duration
}

// RunWorker is RunWorkerWith with the default options.
func RunWorker(ctx context.Context, url, consumer string, runners []*projections.Runner, log *slog.Logger) error {
	return RunWorkerWith(ctx, url, consumer, runners, log, WorkerOptions{})
}

// RunWorkerWith keeps read models from the bus until ctx ends: each event
// is applied to every runner before it is acked. An event already applied
// is acked and dropped; one that arrives before its predecessor was
// applied is nacked and comes again, so nothing is skipped.
//
// One worker runs a consumer name at a time: it claims the name first
// (ErrConsumerInUse, saying who holds it, if a live worker does), renews
// the claim while it runs and releases it when it stops; a worker that
// dies releases it when the claim expires. A worker that cannot renew its
// claim stops with ErrClaimLost before another could take it over.
func RunWorkerWith(ctx context.Context, url, consumer string, runners []*projections.Runner, log *slog.Logger, o WorkerOptions) error {
	if o.ClaimTTL <= 0 {
		o.ClaimTTL = DefaultClaimTTL
	}
	cc, err := nats.Connect(url, nats.Name("recall worker claim "+consumer))
	if err != nil {
		return fmt.Errorf("worker: nats %s: %w", url, err)
	}
	defer cc.Close()
	c, err := claimConsumer(cc, consumer, o.ClaimTTL, log)
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	// the claim is released only once the subscription is closed, so a
	// successor never finds the consumer still bound
	keepCtx, stopKeeping := context.WithCancel(context.Background())
	runCtx, stopRun := context.WithCancelCause(ctx)
	defer stopRun(nil)
	kept := make(chan struct{})
	go func() {
		defer close(kept)
		if err := c.keep(keepCtx); err != nil {
			stopRun(err)
		}
	}()
	defer func() { stopKeeping(); <-kept }()

	sub, err := NewSubscriber(url, consumer, log)
	if err != nil {
		return err
	}
	wlog := watermill.NewSlogLoggerWithLevelMapping(log, map[slog.Level]slog.Level{slog.LevelInfo: slog.LevelDebug})
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 10 * time.Second}, wlog)
	if err != nil {
		return errors.Join(err, sub.Close())
	}
	router.AddMiddleware(middleware.Recoverer)
	router.AddConsumerHandler("projections", AllSubjects, sub, func(msg *message.Message) error {
		if !c.held() {
			return fmt.Errorf("consumer %q: %w", consumer, ErrClaimLost) // nacked: its successor applies it
		}
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
	err = router.Run(runCtx)
	if cerr := sub.Close(); cerr != nil {
		log.Warn("worker: closing the subscription", slog.Any("err", cerr))
	}
	if cause := context.Cause(runCtx); errors.Is(cause, ErrClaimLost) {
		return fmt.Errorf("worker: %w", cause)
	}
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("worker: %w", err)
	}
	return ctx.Err()
}

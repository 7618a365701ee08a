package feedbus

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	json "github.com/segmentio/encoding/json"

	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/projections"
)

// Run feeds every runner from the store through a watermill Router until
// ctx ends. Each runner is a handler on its own topic, so each resumes from
// its own checkpoint; a panic in a projection becomes an error, retried
// with backoff, and a message that still fails is sent again rather than
// skipped, so no event is ever lost to a projection.
func Run(ctx context.Context, store domain.EventStore, runners []*projections.Runner, log *slog.Logger) error {
	byName := map[string]*projections.Runner{}
	for _, r := range runners {
		byName[r.Name()] = r
	}
	sub := NewSubscriber(store, func(topic string) uint64 { return byName[topic].Position() + 1 })
	wlog := watermill.NewSlogLoggerWithLevelMapping(log, map[slog.Level]slog.Level{slog.LevelInfo: slog.LevelDebug})
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 10 * time.Second}, wlog)
	if err != nil {
		return fmt.Errorf("projections router: %w", err)
	}
	router.AddMiddleware(
		middleware.Retry{MaxRetries: 5, InitialInterval: 10 * time.Millisecond, MaxInterval: time.Second, Multiplier: 2, Logger: wlog}.Middleware,
		middleware.Recoverer,
	)
	for _, r := range runners {
		r := r
		router.AddConsumerHandler(r.Name(), r.Name(), sub, func(msg *message.Message) error {
			evs, err := Events(msg)
			if err != nil {
				return err
			}
			if len(evs) == 1 {
				return r.Handle(evs[0])
			}
			return r.HandleBatch(evs)
		})
	}
	err = router.Run(ctx)
	_ = sub.Close()
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("projections router: %w", err)
	}
	return ctx.Err()
}

// Events decodes the events a feed message carries, one JSON object a line.
func Events(msg *message.Message) ([]domain.Event, error) {
	lines := bytes.Split(msg.Payload, []byte{'\n'})
	evs := make([]domain.Event, len(lines))
	for i, line := range lines {
		if err := json.Unmarshal(line, &evs[i]); err != nil {
			return nil, fmt.Errorf("decode message %s line %d: %w", msg.UUID, i+1, err)
		}
	}
	return evs, nil
}

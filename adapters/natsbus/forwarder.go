package natsbus

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/ThreeDotsLabs/watermill"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"

	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/projections"
)

// ForwarderName is the forwarder's name as a consumer of the store's feed:
// its checkpoint is the last position JetStream acknowledged.
const ForwarderName = "nats_forwarder"

// Forwarder publishes each event it is given to its tenant's subject and
// returns only once JetStream acknowledged it (AckAsync off). It is run as
// a projection of the store's feed, so its checkpoint commits after the
// publish: a crash between the two re-sends the event, which JetStream's
// duplicate window (Nats-Msg-Id = event id) and the worker's prev_position
// check both drop.
//
// Each event goes out as its tenant's feed_content says (the redactor,
// ledger.Redactor): the bus is part of the feed, and what it holds is not
// rewritten by a later policy change.
type Forwarder struct {
	pub    *wmnats.Publisher
	redact Redactor
}

// Redactor gives an event as the feed carries it, and whether that
// differs from the event as stored (ledger.Redactor).
type Redactor interface {
	Redact(ctx context.Context, e domain.Event) (out domain.Event, redacted bool, err error)
}

// NewForwarder connects to the NATS server at url and makes sure the
// stream exists.
func NewForwarder(url string, redact Redactor, log *slog.Logger) (*Forwarder, error) {
	if redact == nil {
		return nil, errors.New("nats forwarder: no redactor: every event must go out as its tenant's feed_content says")
	}
	nc, err := nats.Connect(url, nats.Name("recalld forwarder"))
	if err != nil {
		return nil, fmt.Errorf("nats %s: %w", url, err)
	}
	if err := EnsureStream(nc); err != nil {
		nc.Close()
		return nil, err
	}
	pub, err := wmnats.NewPublisherWithNatsConn(nc, wmnats.PublisherPublishConfig{
		Marshaler:         &wmnats.NATSMarshaler{},
		SubjectCalculator: wmnats.DefaultSubjectCalculator,
		JetStream:         wmnats.JetStreamConfig{TrackMsgId: true, AckAsync: false},
	}, watermill.NewSlogLogger(log))
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("nats publisher: %w", err)
	}
	return &Forwarder{pub: pub, redact: redact}, nil
}

// Close closes the connection.
func (f *Forwarder) Close() error { return f.pub.Close() }

func (f *Forwarder) Name() string { return ForwarderName }

var lastKey = []byte("last")

// Apply implements projections.Projection: it publishes e.
func (f *Forwarder) Apply(tx projections.Tx, e domain.Event) error { return f.ApplyStored(tx, e, nil) }

// ApplyStored implements projections.StoredApplier: it publishes e, as
// the stored JSON the feed read when the tenant's feed_content leaves it
// as it is, encoded once more only when it was redacted (or not given).
func (f *Forwarder) ApplyStored(tx projections.Tx, e domain.Event, stored []byte) error {
	subject, err := Subject(e.Tenant)
	if err != nil {
		return fmt.Errorf("forward %d: %w", e.Position, err)
	}
	prev := uint64(0)
	if v, err := tx.Get(lastKey); err != nil {
		return err
	} else if len(v) == 8 {
		prev = binary.BigEndian.Uint64(v)
	}
	// Apply has no context to pass; the redactor reads a tenant's policy
	// history from the event store once, and again after each change
	out, redacted, err := f.redact.Redact(context.Background(), e)
	if err != nil {
		return fmt.Errorf("forward %d: %w", e.Position, err)
	}
	payload := stored
	if redacted || payload == nil {
		if payload, err = json.Marshal(out); err != nil {
			return err
		}
	}
	msg := message.NewMessage(e.ID, payload)
	msg.Metadata.Set(MetaPosition, strconv.FormatUint(e.Position, 10))
	msg.Metadata.Set(MetaPrevPosition, strconv.FormatUint(prev, 10))
	msg.Metadata.Set(MetaType, e.Type())
	msg.Metadata.Set(MetaTenant, e.Tenant)
	if err := f.pub.Publish(subject, msg); err != nil {
		return fmt.Errorf("forward %d to %s: %w", e.Position, subject, err)
	}
	return tx.Set(lastKey, binary.BigEndian.AppendUint64(nil, e.Position))
}

var _ projections.StoredApplier = (*Forwarder)(nil)

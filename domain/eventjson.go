package domain

import (
	"errors"
	"fmt"

	"github.com/recallledger/recall/domain/codec"
)

// envelope is an event's JSON in schema v1 without its data: the fields in
// the order they are written. Data follows it in wireEvent.
type envelope struct {
	ID            string `json:"event_id"`
	Type          string `json:"type"`
	SchemaVersion int    `json:"schema_version"`
	Tenant        string `json:"tenant"`
	Stream        string `json:"stream"`
	StreamVersion int64  `json:"stream_version"`
	Position      uint64 `json:"position"`
	OccurredAt    Time   `json:"occurred_at"`
}

// wireEvent is the envelope with its data as it was read: decoded in a
// second step, by type.
type wireEvent struct {
	envelope
	Data codec.RawMessage `json:"data"`
}

// ErrNoPayload is an event without data: nothing records it.
var ErrNoPayload = errors.New("event has no payload")

// UnknownTypeError is stored or received JSON of an event type that schema
// v1 does not have.
type UnknownTypeError struct {
	ID, Type string
}

func (e *UnknownTypeError) Error() string {
	return fmt.Sprintf("event %s: unknown type %q (schema v%d has %s)", e.ID, e.Type, SchemaVersion, eventTypeList)
}

const eventTypeList = TypeMessageSent + ", " + TypeMessageRead + ", " + TypeMessageRecalled + ", " + TypeRecallRejected + ", " +
	TypeMessageExpired + ", " + TypeTenantPolicySet + ", " + TypeAuditQueried + ", " +
	TypeOperatorCreated + ", " + TypeOperatorRoleChanged + ", " + TypeOperatorDisabled + ", " +
	TypeOperatorEnabled + ", " + TypeOperatorPasswordReset + ", " + TypeLegalHoldPlaced + ", " + TypeLegalHoldReleased + ", " +
	TypeErasureRequested + " and " + TypeContentErased

// MarshalJSON is the event's v1 JSON: the envelope, its type named by the
// payload, and the payload as data.
func (e Event) MarshalJSON() ([]byte, error) { return e.AppendJSON(nil) }

// AppendJSON appends the event's v1 JSON (MarshalJSON) to b.
func (e Event) AppendJSON(b []byte) ([]byte, error) {
	if e.Data == nil {
		return nil, fmt.Errorf("encode event %s: %w", e.ID, ErrNoPayload)
	}
	b, err := codec.Append(b, envelope{
		ID: e.ID, Type: e.Data.EventType(), SchemaVersion: e.SchemaVersion, Tenant: e.Tenant,
		Stream: e.Stream, StreamVersion: e.StreamVersion, Position: e.Position, OccurredAt: e.OccurredAt,
	})
	if err != nil {
		return nil, fmt.Errorf("encode event %s: %w", e.ID, err)
	}
	b = append(b[:len(b)-1], `,"data":`...) // the envelope's closing brace makes way for data
	if b, err = e.AppendData(b); err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// AppendData appends the JSON of the event's payload, its data, to b. A
// payload of a type that schema v1 lacks is an *UnknownTypeError: what
// cannot be decoded again is never written.
func (e Event) AppendData(b []byte) ([]byte, error) {
	switch e.Data.(type) {
	case MessageSent, MessageRead, MessageRecalled, RecallRejected, MessageExpired, TenantPolicySet, AuditQueried,
		OperatorCreated, OperatorRoleChanged, OperatorDisabled, OperatorEnabled, OperatorPasswordReset,
		LegalHoldPlaced, LegalHoldReleased, ErasureRequested, ContentErased:
	case nil:
		return nil, fmt.Errorf("encode event %s: %w", e.ID, ErrNoPayload)
	default:
		return nil, fmt.Errorf("encode: %w", &UnknownTypeError{ID: e.ID, Type: e.Type()})
	}
	b, err := codec.Append(b, e.Data)
	if err != nil {
		return nil, fmt.Errorf("encode %s %s: %w", e.Data.EventType(), e.ID, err)
	}
	return b, nil
}

// UnmarshalJSON decodes the event's v1 JSON, as DecodeEvent does.
func (e *Event) UnmarshalJSON(b []byte) error {
	ev, err := DecodeEvent(b)
	if err != nil {
		return err
	}
	*e = ev
	return nil
}

// DecodeEvent decodes an event's v1 JSON, payload and all: the type picks
// the payload's Go type, once; an unknown type is an *UnknownTypeError.
// Nothing of b is kept.
func DecodeEvent(b []byte) (Event, error) {
	var w wireEvent
	// data borrows b's bytes: it is decoded (copied) right here
	if err := codec.UnmarshalBorrowing(b, &w); err != nil {
		return Event{}, fmt.Errorf("decode event: %w", err)
	}
	p, err := decodePayload(w.ID, w.Type, w.Data)
	if err != nil {
		return Event{}, err
	}
	return Event{
		ID: w.ID, SchemaVersion: w.SchemaVersion, Tenant: w.Tenant, Stream: w.Stream,
		StreamVersion: w.StreamVersion, Position: w.Position, OccurredAt: w.OccurredAt, Data: p,
	}, nil
}

// decodePayload decodes data as the payload of an event of type typ.
func decodePayload(id, typ string, data []byte) (Payload, error) {
	switch typ {
	case TypeMessageSent:
		return decodeAs[MessageSent](id, data)
	case TypeMessageRead:
		return decodeAs[MessageRead](id, data)
	case TypeMessageRecalled:
		return decodeAs[MessageRecalled](id, data)
	case TypeRecallRejected:
		return decodeAs[RecallRejected](id, data)
	case TypeMessageExpired:
		return decodeAs[MessageExpired](id, data)
	case TypeTenantPolicySet:
		p, err := decodeAs[TenantPolicySet](id, data)
		if err != nil {
			return nil, err
		}
		if set := p.(TenantPolicySet); set.FeedContent == "" {
			// recorded before feed_content existed: what the feed carried then
			set.FeedContent = FeedPlaintext
			return set, nil
		}
		return p, nil
	case TypeAuditQueried:
		return decodeAs[AuditQueried](id, data)
	case TypeOperatorCreated:
		return decodeAs[OperatorCreated](id, data)
	case TypeOperatorRoleChanged:
		return decodeAs[OperatorRoleChanged](id, data)
	case TypeOperatorDisabled:
		return decodeAs[OperatorDisabled](id, data)
	case TypeOperatorEnabled:
		return decodeAs[OperatorEnabled](id, data)
	case TypeOperatorPasswordReset:
		return decodeAs[OperatorPasswordReset](id, data)
	case TypeLegalHoldPlaced:
		return decodeAs[LegalHoldPlaced](id, data)
	case TypeLegalHoldReleased:
		return decodeAs[LegalHoldReleased](id, data)
	case TypeErasureRequested:
		return decodeAs[ErasureRequested](id, data)
	case TypeContentErased:
		return decodeAs[ContentErased](id, data)
	}
	return nil, &UnknownTypeError{ID: id, Type: typ}
}

func decodeAs[P Payload](id string, data []byte) (Payload, error) {
	var p P
	if len(data) == 0 {
		return nil, fmt.Errorf("decode %s %s: %w", p.EventType(), id, ErrNoPayload)
	}
	if err := codec.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("decode %s %s: %w", p.EventType(), id, err)
	}
	return p, nil
}

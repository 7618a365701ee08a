package domain

import (
	"fmt"

	"github.com/recallledger/recall/domain/codec"
)

// Snapshot is a stream's state as of one of its events, kept beside the
// stream by a store with StreamSnapshots so that a command does not apply
// every event of a long stream (a group message read by a thousand
// members) to decide. It is a cache: the log is the truth, and a snapshot
// that no longer matches the stream is not used.
type Snapshot struct {
	// Version is the stream version of the last event it covers; NoStream
	// when there is no snapshot.
	Version int64
	// EventID is that event's id, by which the store checks that the
	// stream still holds the event the snapshot was made from.
	EventID string
	// State is the state, encoded by its owner (Message.Snapshot);
	// opaque to the store.
	State []byte
}

// snapshotSchema is the version of messageSnapshot's encoding; a state of
// another version is not read (the stream is replayed instead).
const snapshotSchema = 1

// messageSnapshot is a Message as a snapshot encodes it (JSON, schema 1).
// The message's content is left out: no decision reads it (a repeated
// send is compared by content_sha256), and a cache should hold no more of
// it than it needs.
type messageSnapshot struct {
	Schema     int               `json:"schema"`
	Exists     bool              `json:"exists,omitempty"`
	Sent       MessageSent       `json:"sent"`
	SentAt     Time              `json:"sent_at"`
	ReadBy     []UserID          `json:"read_by"`
	Recalled   bool              `json:"recalled,omitempty"`
	RecalledAt Time              `json:"recalled_at"`
	RecalledBy UserID            `json:"recalled_by,omitempty"`
	Expired    bool              `json:"expired,omitempty"`
	Attempts   []attemptSnapshot `json:"attempts,omitempty"`
}

type attemptSnapshot struct {
	RequestID     string   `json:"request_id,omitempty"`
	Actor         UserID   `json:"actor"`
	At            Time     `json:"at"`
	Recalled      bool     `json:"recalled,omitempty"`
	Reason        Reason   `json:"reason,omitempty"`
	ElapsedMs     int64    `json:"elapsed_ms"`
	WindowMs      int64    `json:"window_ms"`
	PolicyVersion int64    `json:"policy_version"`
	ReadBy        []UserID `json:"read_by"`
	Forced        bool     `json:"forced,omitempty"`
}

// Snapshot encodes m, without its content, for a stream snapshot at
// m.Version(); MessageFromSnapshot decodes it.
func (m Message) Snapshot() ([]byte, error) {
	s := messageSnapshot{Schema: snapshotSchema, Exists: m.Exists, Sent: m.Sent, SentAt: m.SentAt, ReadBy: m.ReadBy,
		Recalled: m.Recalled, RecalledAt: m.RecalledAt, RecalledBy: m.RecalledBy, Expired: m.Expired}
	s.Sent.Content = ""
	for _, a := range m.Attempts {
		d := a.Decision
		s.Attempts = append(s.Attempts, attemptSnapshot{RequestID: a.RequestID, Actor: a.Actor, At: a.At, Recalled: d.Recalled, Reason: d.Reason,
			ElapsedMs: d.ElapsedMs, WindowMs: d.WindowMs, PolicyVersion: d.PolicyVersion, ReadBy: d.ReadBy, Forced: d.Forced})
	}
	return codec.Marshal(s)
}

// MessageFromSnapshot is the message a snapshot of its stream at version
// holds (without its content): events after version apply to it as to
// the message rebuilt from the whole stream.
func MessageFromSnapshot(state []byte, version int64) (Message, error) {
	var s messageSnapshot
	if err := codec.Unmarshal(state, &s); err != nil {
		return Message{}, fmt.Errorf("message snapshot: %w", err)
	}
	return s.message(version)
}

// MessageFromSnapshotWithoutReaders is MessageFromSnapshot leaving
// ReadBy out (those read after the snapshot are in it): for a decision
// that does not need the readers of a message read by thousands — a read
// receipt, whose repeat the store's idempotency catches by its event id.
func MessageFromSnapshotWithoutReaders(state []byte, version int64) (Message, error) {
	var s struct {
		messageSnapshot
		ReadBy skipped `json:"read_by"`
	}
	if err := codec.Unmarshal(state, &s); err != nil {
		return Message{}, fmt.Errorf("message snapshot: %w", err)
	}
	return s.messageSnapshot.message(version)
}

// skipped is a JSON value decoded into nothing.
type skipped struct{}

func (*skipped) UnmarshalJSON([]byte) error { return nil }

func (s messageSnapshot) message(version int64) (Message, error) {
	if s.Schema != snapshotSchema {
		return Message{}, fmt.Errorf("message snapshot: schema %d, want %d", s.Schema, snapshotSchema)
	}
	if version < 0 {
		return Message{}, fmt.Errorf("message snapshot: at version %d", version)
	}
	m := Message{Exists: s.Exists, Sent: s.Sent, SentAt: s.SentAt, ReadBy: s.ReadBy, Recalled: s.Recalled,
		RecalledAt: s.RecalledAt, RecalledBy: s.RecalledBy, Expired: s.Expired, next: version + 1}
	for _, a := range s.Attempts {
		m.Attempts = append(m.Attempts, Attempt{RequestID: a.RequestID, Actor: a.Actor, At: a.At, Decision: Decision{
			Recalled: a.Recalled, Reason: a.Reason, ElapsedMs: a.ElapsedMs, WindowMs: a.WindowMs, PolicyVersion: a.PolicyVersion, ReadBy: a.ReadBy, Forced: a.Forced,
		}})
	}
	return m, nil
}

// Package natsbus carries the event log over NATS JetStream with watermill:
// a forwarder publishes every appended event, in position order, to a
// subject per tenant, and workers (projection workers, analytics pipelines)
// consume it with durable consumers.
//
// The event store stays the system of record: JetStream acknowledges a
// publish before it is synced to disk unless the server runs with
// `sync_interval: always`, so a lost broker message is re-sent from the
// store (the forwarder's checkpoint is only advanced after JetStream's ack).
// Each message's Nats-Msg-Id is the event id, so a re-send after a crash is
// dropped by JetStream's duplicate window; a worker also carries
// prev_position and drops what it has already applied, so ordering and
// exactly-once application hold beyond that window too.
package natsbus

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/recallledger/recall/domain"
)

// StreamName is the JetStream stream holding every event.
const StreamName = "RECALL_EVENTS"

// SubjectPrefix starts every event subject; the tenant's org and app
// follow: recall.events.<org>.<app>. Org and app never contain dots.
const SubjectPrefix = "recall.events."

// AllSubjects matches every tenant's events.
const AllSubjects = SubjectPrefix + ">"

// Metadata keys carried by each message besides the event JSON.
const (
	MetaPosition     = "position"
	MetaPrevPosition = "prev_position"
	MetaType         = "type"
	MetaTenant       = "tenant"
)

// Subject is the subject of a tenant's events.
func Subject(tenant string) (string, error) {
	t, err := domain.ParseTenant(tenant)
	if err != nil {
		return "", err
	}
	return SubjectPrefix + t.Org() + "." + t.App(), nil
}

// EnsureStream creates the events stream if it is missing: file storage,
// every tenant's subject, a duplicate window for re-sends after a crash.
func EnsureStream(nc *nats.Conn) error {
	js, err := nc.JetStream()
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	_, err = js.StreamInfo(StreamName)
	if err == nil {
		return nil
	}
	if !errors.Is(err, nats.ErrStreamNotFound) {
		return fmt.Errorf("stream %s: %w", StreamName, err)
	}
	_, err = js.AddStream(&nats.StreamConfig{
		Name:       StreamName,
		Subjects:   []string{AllSubjects},
		Storage:    nats.FileStorage,
		Duplicates: 10 * time.Minute,
	})
	if err != nil && !strings.Contains(err.Error(), "already in use") {
		return fmt.Errorf("create stream %s: %w", StreamName, err)
	}
	return nil
}

package natsbus

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/recallledger/recall/domain"
)

// The audit log's signed checkpoints go to their own JetStream stream, one
// subject per tenant, so a witness outside the ledger can follow (and
// replay) every checkpoint a deployment signed.
const (
	CheckpointStream        = "RECALL_CHECKPOINTS"
	CheckpointSubjectPrefix = "recall.checkpoints."
)

// CheckpointSubject is a tenant's checkpoint subject:
// recall.checkpoints.<org>.<app>.
func CheckpointSubject(tenant string) (string, error) {
	t, err := domain.ParseTenant(tenant)
	if err != nil {
		return "", err
	}
	return CheckpointSubjectPrefix + t.Org() + "." + t.App(), nil
}

// CheckpointPublisher publishes signed checkpoints.
type CheckpointPublisher struct {
	nc *nats.Conn
	js nats.JetStreamContext
}

// NewCheckpointPublisher connects to url and makes sure the checkpoint
// stream exists.
func NewCheckpointPublisher(url string) (*CheckpointPublisher, error) {
	nc, err := nats.Connect(url, nats.Name("recalld checkpoints"))
	if err != nil {
		return nil, fmt.Errorf("nats %s: %w", url, err)
	}
	js, err := nc.JetStream()
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	if _, err := js.StreamInfo(CheckpointStream); errors.Is(err, nats.ErrStreamNotFound) {
		_, err = js.AddStream(&nats.StreamConfig{Name: CheckpointStream, Subjects: []string{CheckpointSubjectPrefix + ">"}, Storage: nats.FileStorage})
		if err != nil && !strings.Contains(err.Error(), "already in use") {
			nc.Close()
			return nil, fmt.Errorf("create stream %s: %w", CheckpointStream, err)
		}
	} else if err != nil {
		nc.Close()
		return nil, fmt.Errorf("stream %s: %w", CheckpointStream, err)
	}
	return &CheckpointPublisher{nc: nc, js: js}, nil
}

// Publish sends one checkpoint (its JSON) to the tenant's subject and
// waits for JetStream's ack; the message id (tenant and size) makes a
// re-send after a crash a duplicate JetStream drops.
func (p *CheckpointPublisher) Publish(ctx context.Context, tenant string, size uint64, data []byte) error {
	subject, err := CheckpointSubject(tenant)
	if err != nil {
		return err
	}
	if _, err := p.js.Publish(subject, data, nats.Context(ctx), nats.MsgId(tenant+"@"+strconv.FormatUint(size, 10))); err != nil {
		return fmt.Errorf("publish checkpoint to %s: %w", subject, err)
	}
	return nil
}

// Close closes the connection; it may be called more than once.
func (p *CheckpointPublisher) Close() error {
	p.nc.Close()
	return nil
}

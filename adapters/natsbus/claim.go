package natsbus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
)

// ClaimBucket is the JetStream key-value bucket in which each running
// worker claims its consumer name: one key per name, holding who runs it.
const ClaimBucket = "recall_worker_claims"

// DefaultClaimTTL is how long a claim lasts without being renewed: a
// worker that dies without releasing its name holds it this long at most.
const DefaultClaimTTL = 15 * time.Second

// ErrConsumerInUse refuses a worker whose consumer name another running
// worker holds. Workers sharing a durable consumer would split its events
// between them, so neither would have complete read models (and the one
// whose predecessor events went to the other would wait for them forever).
var ErrConsumerInUse = errors.New("consumer name in use by another worker")

// ErrClaimLost stops a worker that could not renew its claim in time (a
// partition from the NATS server, say) or whose claim another worker took
// after it expired: it stops applying before the other one starts.
var ErrClaimLost = errors.New("the worker lost its claim on the consumer name")

var consumerName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// claimant is what a claim records of the worker holding it.
type claimant struct {
	ID      string    `json:"id"`
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
}

// claim is a worker's hold on its consumer name: created only if no live
// worker holds the name, renewed every third of the bucket's TTL, given up
// when the worker stops. held turns false once a renewal is overdue, before
// the server would let the claim expire, so two workers never apply at
// once.
type claim struct {
	kv       nats.KeyValue
	consumer string
	value    []byte
	ttl      time.Duration
	log      *slog.Logger

	mu       sync.Mutex
	revision uint64
	validTo  time.Time // on this process's monotonic clock
	lost     error
}

// claimConsumer claims consumer on the NATS server of nc, or says who
// holds it and what to do. ttl is used when the bucket does not exist yet.
func claimConsumer(nc *nats.Conn, consumer string, ttl time.Duration, log *slog.Logger) (*claim, error) {
	if !consumerName.MatchString(consumer) {
		return nil, fmt.Errorf("consumer name %q: use 1 to 64 letters, digits, - or _", consumer)
	}
	js, err := nc.JetStream()
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	kv, err := claimBucket(js, ttl)
	if err != nil {
		return nil, err
	}
	st, err := kv.Status()
	if err != nil {
		return nil, fmt.Errorf("claims bucket %s: %w", ClaimBucket, err)
	}
	if st.TTL() > 0 {
		ttl = st.TTL() // the bucket's, which decides when a claim expires
	}
	host, _ := os.Hostname()
	value, err := json.Marshal(claimant{ID: uuid.NewString(), Host: host, PID: os.Getpid(), Started: time.Now().UTC()})
	if err != nil {
		return nil, err
	}
	asked, rev, held, err := create(kv, consumer, value)
	if errors.Is(err, nats.ErrKeyExists) {
		return nil, fmt.Errorf("consumer %q: %w (%s); %s", consumer, ErrConsumerInUse, held, whatToDo(ttl))
	}
	if err != nil {
		return nil, fmt.Errorf("claim consumer %q: %w", consumer, err)
	}
	c := &claim{kv: kv, consumer: consumer, value: value, ttl: ttl, log: log, revision: rev}
	c.validTo = asked.Add(c.margin())
	// a consumer bound to a subscriber is in use whatever the claims say
	// (a worker of a version before claims, say); a predecessor that just
	// released its claim may still be unsubscribing, so wait a little
	if err := awaitUnbound(js, consumer, boundGrace); err != nil {
		c.release()
		if errors.Is(err, ErrConsumerInUse) {
			return nil, fmt.Errorf("consumer %q: JetStream reports it bound to a running subscriber: %w; %s", consumer, err, whatToDo(ttl))
		}
		return nil, fmt.Errorf("consumer %q: %w", consumer, err)
	}
	return c, nil
}

// boundGrace is how long a new holder waits for its predecessor's
// subscription to go.
const boundGrace = 3 * time.Second

// awaitUnbound returns once the durable consumer has no subscriber (or
// does not exist yet), ErrConsumerInUse if it still has one after grace.
func awaitUnbound(js nats.JetStreamContext, consumer string, grace time.Duration) error {
	for deadline := time.Now().Add(grace); ; time.Sleep(50 * time.Millisecond) {
		ci, err := js.ConsumerInfo(StreamName, consumer)
		switch {
		case errors.Is(err, nats.ErrConsumerNotFound) || errors.Is(err, nats.ErrStreamNotFound):
			return nil
		case err != nil:
			return err
		case !ci.PushBound:
			return nil
		case time.Now().After(deadline):
			return ErrConsumerInUse
		}
	}
}

// claimBucket opens the claims bucket, creating it on first use.
func claimBucket(js nats.JetStreamContext, ttl time.Duration) (nats.KeyValue, error) {
	kv, err := js.KeyValue(ClaimBucket)
	if !errors.Is(err, nats.ErrBucketNotFound) {
		if err != nil {
			return nil, fmt.Errorf("claims bucket %s: %w", ClaimBucket, err)
		}
		return kv, nil
	}
	kv, err = js.CreateKeyValue(&nats.KeyValueConfig{Bucket: ClaimBucket, TTL: ttl, History: 1, Storage: nats.FileStorage,
		Description: "recalld workers: which worker runs each durable consumer name"})
	if err != nil && strings.Contains(err.Error(), "already in use") {
		kv, err = js.KeyValue(ClaimBucket) // another worker created it first
	}
	if err != nil {
		return nil, fmt.Errorf("create claims bucket %s: %w", ClaimBucket, err)
	}
	return kv, nil
}

// create makes consumer's claim with value, and says when it asked; when
// the name is held it says by whom. A claim that expires between a
// refused create and the look at its holder is free: create asks again (a
// few times, for a name that keeps changing hands) rather than refuse in
// the name of a worker that is gone.
func create(kv nats.KeyValue, consumer string, value []byte) (asked time.Time, rev uint64, held string, err error) {
	for tries := 0; ; tries++ {
		asked = time.Now()
		rev, err = kv.Create(consumer, value)
		if !errors.Is(err, nats.ErrKeyExists) {
			return asked, rev, "", err
		}
		e, gerr := kv.Get(consumer)
		if !errors.Is(gerr, nats.ErrKeyNotFound) || tries == 2 {
			return asked, 0, holder(e, gerr), err
		}
	}
}

// holder says who holds a claim, from its entry, as well as it can.
func holder(e nats.KeyValueEntry, err error) string {
	if err != nil {
		return "held by a worker that could not be read: " + err.Error()
	}
	var c claimant
	if json.Unmarshal(e.Value(), &c) != nil {
		return "held by a worker that could not be read"
	}
	return fmt.Sprintf("held by the worker with pid %d on %s since %s, last renewed %s",
		c.PID, c.Host, c.Started.Format(time.RFC3339), e.Created().UTC().Format(time.RFC3339))
}

func whatToDo(ttl time.Duration) string {
	return fmt.Sprintf("workers sharing a consumer name do not share the work: give each worker its own --consumer name "+
		"(each keeps complete read models), or stop the other worker first; a worker that died releases its name within %s", ttl)
}

// margin is how long after a renewal was asked for the claim counts as
// held here: short of the TTL by a fifth, for clock rates and the trip to
// the server.
func (c *claim) margin() time.Duration { return c.ttl - c.ttl/5 }

// held reports whether the claim is surely still this worker's.
func (c *claim) held() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lost == nil && time.Now().Before(c.validTo)
}

// keep renews the claim until ctx ends, then releases it. It returns
// ErrClaimLost, wrapped, as soon as the claim is no longer surely held.
func (c *claim) keep(ctx context.Context) error {
	t := time.NewTicker(c.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			c.release()
			return nil
		case <-t.C:
		}
		asked := time.Now()
		c.mu.Lock()
		rev := c.revision
		c.mu.Unlock()
		next, err := c.kv.Update(c.consumer, c.value, rev)
		c.mu.Lock()
		switch {
		case err == nil:
			c.revision, c.validTo = next, asked.Add(c.margin())
		case errors.Is(err, nats.ErrKeyRevisionMismatch):
			c.lost = fmt.Errorf("consumer %q: %w: it expired and another worker claimed it (%s)", c.consumer, ErrClaimLost, holder(c.kv.Get(c.consumer)))
		case !time.Now().Before(c.validTo):
			c.lost = fmt.Errorf("consumer %q: %w: not renewed for %s: %v", c.consumer, ErrClaimLost, c.margin(), err)
		default:
			c.log.Warn("worker: renewing the consumer claim failed; retrying", slog.String("consumer", c.consumer), slog.Any("err", err))
		}
		lost := c.lost
		c.mu.Unlock()
		if lost != nil {
			return lost
		}
	}
}

// release gives the name up at once, if it is still this worker's, so a
// successor need not wait for it to expire.
func (c *claim) release() {
	c.mu.Lock()
	rev, lost := c.revision, c.lost
	c.mu.Unlock()
	if lost != nil {
		return
	}
	if err := c.kv.Delete(c.consumer, nats.LastRevision(rev)); err != nil {
		c.log.Warn("worker: releasing the consumer claim failed; it expires on its own", slog.String("consumer", c.consumer), slog.Any("err", err))
	}
}

package erasure_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/recallledger/recall/adapters/kek"
	"github.com/recallledger/recall/domain"
)

// BenchmarkEraseAUserWith100kMessages measures an erasure request of a
// user who sent 100,000 messages (beside 20,000 of another user's), each
// sealed under a live and an audit key in the pebble key store: the whole
// first pass — the user's messages listed from the message index, a hold
// check for each, their 200,000 keys destroyed by the keyring (one durable
// write per 1,000 messages), a ContentErased per 1,000 appended durably —
// and, apart, the read models applying what it recorded (the
// conversation view and the audit log dropping each message's content).
// The first iteration destroys the keys; later ones find them destroyed.
func BenchmarkEraseAUserWith100kMessages(b *testing.B) {
	const mine, others = 100_000, 20_000
	r := newRig(b, nil)
	at := r.clock.Now()
	master, _ := kek.NewSet("k1", map[string][]byte{"k1": bytes.Repeat([]byte{7}, kek.KeySize)})
	batch := make([]domain.Event, 0, 200)
	for i := 0; i < mine+others; i += len(batch) {
		batch = batch[:0]
		var keys []domain.StoredKey
		for j := 0; j < 200; j++ {
			from, to := domain.UserID("alice"), domain.UserID("bob")
			if (i+j)%6 == 5 {
				from, to = to, from
			}
			id := domain.MsgID(fmt.Sprint("m", i+j))
			var copies [2]domain.SealedContent
			for c := range copies {
				kid := strings.ReplaceAll(uuid.NewString(), "-", "")
				w, err := master.Wrap(r.ctx, r.tn, bytes.Repeat([]byte{byte(c)}, 32), []byte(kid))
				if err != nil {
					b.Fatal(err)
				}
				keys = append(keys, domain.StoredKey{ID: kid, Wrapped: w})
				copies[c] = domain.SealedContent{KeyID: kid, Ciphertext: []byte("sealed content, 44 bytes of ciphertext here")}
			}
			batch = append(batch, domain.NewEvent(uuid.NewString(), r.tn, at, domain.MessageSent{MsgID: id,
				ConversationID: domain.ConversationID(domain.ChatSingle, from, to), ChatType: domain.ChatSingle, From: from, To: to,
				MsgType: "txt", ContentSHA256: "ab", Platform: "ios", ContentLive: &copies[0], ContentAudit: &copies[1]}))
		}
		if err := r.keys.Put(r.ctx, r.tn, keys); err != nil {
			b.Fatal(err)
		}
		if _, err := r.store.Append(r.ctx, fmt.Sprint("bench-", i), domain.NoStream, batch); err != nil {
			b.Fatal(err)
		}
	}
	r.feed()
	r.clock.Advance(time.Second)
	b.ResetTimer()
	var erased int
	var applying time.Duration
	for i := range b.N {
		cmd, _ := domain.NewErasureCommand("alice", fmt.Sprint("request ", i), "", "token:admin")
		e, _, err := r.svc.Request(r.ctx, r.tn, cmd)
		if err != nil {
			b.Fatal(err)
		}
		erased += len(e.Erased)
		b.StopTimer()
		start := time.Now()
		r.feed()
		applying += time.Since(start)
		b.StartTimer()
	}
	if erased != b.N*(mine+others)*5/6 {
		b.Fatalf("erased %d messages, want %d", erased, b.N*(mine+others)*5/6)
	}
	if _, st, err := r.keys.Get(r.ctx, r.tn, firstKey(b, r)); err != nil || st != domain.KeyDestroyed {
		b.Fatalf("an erased message's key is %v (%v), want destroyed", st, err)
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/erasure")
	b.ReportMetric(applying.Seconds()/float64(b.N), "read-models-s/erasure")
	b.ReportMetric(0, "ns/op")
}

// firstKey is the live key id of alice's first message, as the log has it.
func firstKey(b *testing.B, r *rig) string {
	evs, err := r.store.ReadStream(r.ctx, "bench-0")
	if err != nil || len(evs) == 0 {
		b.Fatalf("bench-0: %v", err)
	}
	return evs[0].Data.(domain.MessageSent).ContentLive.KeyID
}

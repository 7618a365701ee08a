package erasure_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/recallledger/recall/domain"
)

// BenchmarkEraseAUserWith100kMessages measures an erasure request of a
// user who sent 100,000 messages (beside 20,000 of another user's): the
// whole first pass — the user's messages listed from the message index, a
// hold check and a shred for each, a ContentErased per 1,000 appended
// durably — and, apart, the read models applying what it recorded (the
// conversation view and the audit log dropping each message's content).
// The shredder is NoKeys (a hold check, no key store: content encryption
// is not in this build), so s/erasure is the erasure's own cost.
func BenchmarkEraseAUserWith100kMessages(b *testing.B) {
	const mine, others = 100_000, 20_000
	r := newRig(b, nil)
	at := r.clock.Now()
	batch := make([]domain.Event, 0, 200)
	for i := 0; i < mine+others; i += len(batch) {
		batch = batch[:0]
		for j := 0; j < 200; j++ {
			from, to := domain.UserID("alice"), domain.UserID("bob")
			if (i+j)%6 == 5 {
				from, to = to, from
			}
			id := domain.MsgID(fmt.Sprint("m", i+j))
			batch = append(batch, domain.NewEvent(uuid.NewString(), r.tn, at, domain.MessageSent{MsgID: id,
				ConversationID: domain.ConversationID(domain.ChatSingle, from, to), ChatType: domain.ChatSingle, From: from, To: to,
				MsgType: "txt", Content: "hello there, see you at nine", ContentSHA256: "ab", Platform: "ios"}))
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
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/erasure")
	b.ReportMetric(applying.Seconds()/float64(b.N), "read-models-s/erasure")
	b.ReportMetric(0, "ns/op")
}

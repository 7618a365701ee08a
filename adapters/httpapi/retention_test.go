package httpapi

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/recallledger/recall/domain"
)

// No read model serves a message past its tenant's message retention,
// even when no MessageExpired was recorded for it (the expiry scheduler
// is behind, stopped, or lost the message): the view and the stream leave
// it out by the policy and the clock at query time.
func TestConversationNeverServesAMessagePastItsRetention(t *testing.T) {
	r := newRig(t)
	day := int64(86400)
	r.setPolicy(domain.PolicySpec{MessageRetentionS: &day, AdminWindowS: &day, AuditRetentionS: &day})
	old := r.send("alice", "bob", "chat", "old secret")
	r.clock.Advance(23 * time.Hour)
	recent := r.send("alice", "bob", "chat", "recent")
	r.feed()
	if v := r.view("chat:alice:bob", "bob"); len(v.Messages) != 2 || v.Unread != 2 {
		t.Fatalf("inside retention: %d messages, %d unread; want 2, 2", len(v.Messages), v.Unread)
	}

	cases := []struct {
		name    string
		advance time.Duration // the clock starts 23 h after the old send
		shown   []domain.MsgID
	}{
		{"at exactly the retention it is still shown", time.Hour, []domain.MsgID{old, recent}},
		{"1 ms past retention it is gone", time.Millisecond, []domain.MsgID{recent}},
		{"a day after the recent one was sent it is gone too", 23 * time.Hour, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r.clock.Advance(c.advance)
			v := r.view("chat:alice:bob", "bob")
			var got []domain.MsgID
			for _, m := range v.Messages {
				if m.From == "alice" {
					got = append(got, domain.MsgID(m.MsgID))
				}
			}
			if !slices.Equal(got, c.shown) || v.Unread != len(c.shown) {
				t.Fatalf("shown %v (unread %d), want %v", got, v.Unread, c.shown)
			}
			// the stream replays from the start; a send now marks its end
			marker := r.send("bob", "alice", "chat", "marker")
			r.feed()
			replayed := r.streamed("chat:alice:bob", "bob", marker)
			for _, id := range []domain.MsgID{old, recent} {
				if slices.Contains(replayed, "sent "+string(id)) != slices.Contains(c.shown, id) {
					t.Fatalf("stream replayed %v; %s shown in the view: %v", replayed, id, slices.Contains(c.shown, id))
				}
			}
		})
	}
	// nothing was recorded: the view, not the log, kept the promise
	evs, err := r.store.ReadAll(context.Background(), 0, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.Type() == domain.TypeMessageExpired {
			t.Fatalf("an expiry was recorded: %+v", e)
		}
	}
}

// An expired message leaves the conversation read model whole: its
// record, and every update about it in the change log behind the stream;
// a client replaying the stream is told only that it expired.
func TestExpiredMessageLeavesTheStreamsChangeLog(t *testing.T) {
	r := newRig(t)
	gone := r.send("alice", "bob", "chat", "ephemeral")
	rd, _ := domain.NewReadCommand(string(gone), "bob", "android")
	if _, err := r.l.Read(context.Background(), r.tenant, rd); err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(7*24*time.Hour + time.Second)
	if ok, err := r.l.Expire(context.Background(), r.tenant, gone); err != nil || !ok {
		t.Fatalf("expire: %v %v", ok, err)
	}
	marker := r.send("bob", "alice", "chat", "marker")
	r.feed()
	if v := r.view("chat:alice:bob", "bob"); len(v.Messages) != 1 || v.Messages[0].MsgID != string(marker) {
		t.Fatalf("view %+v", v.Messages)
	}
	want := []string{"expired " + string(gone), "sent " + string(marker)}
	if got := r.streamed("chat:alice:bob", "alice", marker); !slices.Equal(got, want) {
		t.Fatalf("stream replayed %v, want %v", got, want)
	}
}

package readmodel_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/clocktest"
	"github.com/recallledger/recall/projections"
	"github.com/recallledger/recall/projections/conversation"
)

// unreadByCounting is the unread count as the view defines it, counted
// from every message of the view: visible, from someone else, not read
// by the viewer.
func unreadByCounting(v conversation.View, viewer string) int {
	n := 0
	for _, m := range v.Messages {
		if m.Status == "visible" && m.From != viewer && !slices.Contains(m.ReadBy, viewer) {
			n++
		}
	}
	return n
}

// checkUnread compares each viewer's unread count with a count of the
// whole view, with and without a retention boundary at since.
func checkUnread(t *testing.T, w *world, conv string, viewers []string, since time.Time, step string) {
	t.Helper()
	for _, s := range []time.Time{{}, since} {
		for _, viewer := range viewers {
			v, err := conversation.Query(w.rm, w.tenant.String(), conv, viewer, "en", "", 500, s)
			if err != nil {
				t.Fatal(err)
			}
			if want := unreadByCounting(v, viewer); v.Unread != want {
				t.Fatalf("%s: %s's unread %d (retained since %v), counting the view gives %d", step, viewer, v.Unread, s, want)
			}
		}
	}
}

func TestUnreadCountsKeptBySendReadRecallAndExpiryEqualACountOfTheView(t *testing.T) {
	clock := clocktest.New(start)
	w := newWorld(t, t.TempDir(), clock)
	defer w.close()
	w.retainTwoDays()
	rng := rand.New(rand.NewPCG(19, 1))
	users := []string{"u0", "u1", "u2", "u3", "u4"}
	const conv = "groupchat:team"
	var sent []domain.MsgID
	var senders []string
	var since time.Time
	for i := range 120 {
		step := ""
		switch k := rng.IntN(10); {
		case k < 4 || len(sent) == 0:
			from := users[rng.IntN(len(users))]
			sent, senders = append(sent, w.send(from, "team", "groupchat", fmt.Sprint("m", i))), append(senders, from)
			step = "send"
		case k < 8:
			w.read(sent[rng.IntN(len(sent))], users[rng.IntN(len(users))])
			step = "read"
		default:
			j := rng.IntN(len(sent))
			w.recall(sent[j], senders[j], "")
			step = "recall"
		}
		if i == 60 {
			since = clock.Now() // the first half will be past retention
		}
		clock.Advance(time.Second)
		w.feed()
		checkUnread(t, w, conv, users, since, fmt.Sprintf("step %d (%s)", i, step))
	}
	// the first half passes retention: expired one by one, the view counts
	// what is left
	clock.Advance(since.Add(2*86400*time.Second + time.Millisecond).Sub(clock.Now()))
	for i, id := range sent[:len(sent)/2] {
		if _, err := w.l.Expire(context.Background(), w.tenant, id); err != nil {
			t.Fatal(err)
		}
		w.feed()
		checkUnread(t, w, conv, users, since, fmt.Sprintf("expiry %d", i))
	}

	// the counts are rebuilt to the same bytes
	live := w.dump()
	rebuildAll(t, w)
	if rebuilt := w.dump(); rebuilt != live {
		t.Fatalf("rebuilt counts differ from the live ones:\n%s\n---\n%s", rebuilt, live)
	}
}

// rebuildAll resets every read model and applies the log again in
// batches, as recallctl does.
func rebuildAll(t *testing.T, w *world) {
	t.Helper()
	evs, err := w.store.ReadAll(context.Background(), 0, "", 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range w.runners {
		if err := r.Reset(); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(evs); i += 7 {
			if err := r.HandleBatch(projections.Batch{Events: evs[i:min(i+7, len(evs))]}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestConversationsFromBeforeTheCountsAreCountedOnTheirNextChange(t *testing.T) {
	clock := clocktest.New(start)
	w := newWorld(t, t.TempDir(), clock)
	defer w.close()
	users := []string{"alice", "bob", "carol"}
	a := w.send("alice", "team", "groupchat", "one")
	b := w.send("bob", "team", "groupchat", "two")
	w.send("carol", "team", "groupchat", "three")
	w.read(a, "bob")
	w.read(b, "carol")
	w.feed()
	// a read model written before the counts: no n or v keys
	err := w.rm.Update(conversation.Name, func(tx projections.Tx) error {
		var drop [][]byte
		for _, kind := range []byte{'n', 'v'} {
			if err := tx.Scan([]byte{kind}, []byte{kind + 1}, false, func(k, _ []byte) bool {
				drop = append(drop, bytes.Clone(k))
				return true
			}); err != nil {
				return err
			}
		}
		if len(drop) == 0 {
			return fmt.Errorf("no counts to drop")
		}
		for _, k := range drop {
			if err := tx.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checkUnread(t, w, "groupchat:team", users, time.Time{}, "before any change")
	w.read(a, "carol")
	w.recall(b, "bob", "")
	w.send("alice", "team", "groupchat", "four")
	w.feed()
	checkUnread(t, w, "groupchat:team", users, time.Time{}, "after changes")
	live := w.dump()
	rebuildAll(t, w)
	if rebuilt := w.dump(); rebuilt != live {
		t.Fatalf("counts made from old records differ from a rebuild's:\n%s\n---\n%s", rebuilt, live)
	}
}

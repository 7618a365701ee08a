package retention_test

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/recallledger/recall/adapters/kek"
	"github.com/recallledger/recall/adapters/keystore"
	"github.com/recallledger/recall/adapters/retention"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/keyring"
	"github.com/recallledger/recall/domain/ledger"
)

// holdsSender holds every message of one sender.
type holdsSender domain.UserID

func (h holdsSender) Held(_ context.Context, ref domain.ContentRef) ([]string, error) {
	if ref.From == domain.UserID(h) {
		return []string{"case-7"}, nil
	}
	return nil, nil
}

// Audit retention is key destruction: the content keys (live and audit)
// of every send whose entry it removes are destroyed first — except what a
// legal hold covers, whose entry and keys it keeps, naming the hold.
func TestRetentionDestroysTheKeysOfWhatItPurgesUnlessHeld(t *testing.T) {
	const twoDays = 2 * 86400
	r := newRetentionRig(t, twoDays)
	st, err := keystore.Open(filepath.Join(t.TempDir(), "keys"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	set, err := kek.NewSet("k1", map[string][]byte{"k1": bytes.Repeat([]byte{5}, kek.KeySize)})
	if err != nil {
		t.Fatal(err)
	}
	holds := holdsSender("mallory")
	keys := keyring.New(st, set, holds)
	r.l = ledger.New(r.store, r.clock, ledger.WithKeyring(keys))
	ctx := context.Background()
	sealedBy := map[domain.UserID]domain.MessageSent{}
	for _, from := range []string{"alice", "mallory"} {
		cmd, _ := domain.NewSendCommand(from, "bob", "chat", "txt", "said by "+from, "", "")
		res, err := r.l.Send(ctx, r.tn, cmd)
		if err != nil {
			t.Fatal(err)
		}
		m, err := r.l.Message(ctx, r.tn, res.MsgID)
		if err != nil || !m.Sent.Sealed() {
			t.Fatalf("send of %s: %+v %v", from, m.Sent, err)
		}
		sealedBy[domain.UserID(from)] = m.Sent
	}
	r.feed()
	r.clock.Advance(3 * 24 * time.Hour)
	res, err := retention.Apply(ctx, r.rm, r.store, keys, holds, r.tn.String(), r.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	// alice's send went first (its keys with it); the purge stopped at
	// mallory's, which the hold keeps, so the shredder never met it
	if res.Shredded != 1 || res.Held != 0 || res.Entries == 0 || !slices.Equal(res.HeldBy, []string{"case-7"}) {
		t.Fatalf("retention: %+v, want one send shredded and the purge held by case-7", res)
	}
	for from, want := range map[domain.UserID]domain.KeyState{"alice": domain.KeyDestroyed, "mallory": domain.KeyLive} {
		s := sealedBy[from]
		for _, id := range []string{s.ContentLive.KeyID, s.ContentAudit.KeyID} {
			if _, state, err := st.Get(ctx, r.tn, id); err != nil || state != want {
				t.Errorf("%s's key %s is %v after retention, want %v (%v)", from, id, state, want, err)
			}
		}
	}
}

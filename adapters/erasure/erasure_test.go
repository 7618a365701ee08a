package erasure_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/recallledger/recall/adapters/erasure"
	"github.com/recallledger/recall/adapters/eventstore/embedded"
	"github.com/recallledger/recall/adapters/kek"
	"github.com/recallledger/recall/adapters/keystore"
	"github.com/recallledger/recall/adapters/readmodel"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/clocktest"
	"github.com/recallledger/recall/domain/keyring"
	"github.com/recallledger/recall/domain/ledger"
	"github.com/recallledger/recall/projections"
	"github.com/recallledger/recall/projections/auditlog"
	"github.com/recallledger/recall/projections/catalog"
	"github.com/recallledger/recall/projections/conversation"
)

// rig is an embedded store, every read model of the catalog fed when the
// erasure service waits for them (and when the test says), a ledger on a
// clock the test advances, the keyring over a real key store (asking the
// ledger's hold check) and tenant acme/chat.
type rig struct {
	t       testing.TB
	ctx     context.Context
	clock   *clocktest.Clock
	store   *embedded.Store
	rm      *readmodel.Store
	runners []*projections.Runner
	l       *ledger.Service
	keys    *keystore.Store
	ring    *keyring.Keyring
	svc     *erasure.Service
	tn      domain.Tenant
}

// newRig's shredder, when given, wraps the keyring; else the keyring
// shreds, as in production.
func newRig(t testing.TB, shredder func(r *rig) erasure.Shredder) *rig {
	dir := t.TempDir()
	r := &rig{t: t, ctx: context.Background(), clock: clocktest.New(time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC))}
	var err error
	if r.store, err = embedded.Open(filepath.Join(dir, "events")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.store.Close() })
	if r.rm, err = readmodel.Open(filepath.Join(dir, "rm")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.rm.Close() })
	if r.runners, err = catalog.Runners(r.rm); err != nil {
		t.Fatal(err)
	}
	r.l = ledger.New(r.store, r.clock)
	r.tn, _ = domain.ParseTenant("acme/chat")
	if r.keys, err = keystore.Open(filepath.Join(dir, "keys")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.keys.Close() })
	master, err := kek.NewSet("k1", map[string][]byte{"k1": bytes.Repeat([]byte{7}, kek.KeySize)})
	if err != nil {
		t.Fatal(err)
	}
	r.ring = keyring.New(r.keys, master, r.l)
	var sh erasure.Shredder = r.ring
	if shredder != nil {
		sh = shredder(r)
	}
	r.svc = erasure.New(r.l, r.rm, sh, func(ctx context.Context, pos uint64) error { r.feed(); return nil }, slog.New(slog.DiscardHandler))
	return r
}

// feed applies every stored event to every read model.
func (r *rig) feed() {
	r.t.Helper()
	for _, run := range r.runners {
		if _, err := run.CatchUp(r.ctx, r.store, 1000, nil); err != nil {
			r.t.Fatal(err)
		}
	}
}

func (r *rig) send(from, to, chat, content string) domain.MsgID {
	r.t.Helper()
	cmd, err := domain.NewSendCommand(from, to, chat, "txt", content, "", "")
	if err != nil {
		r.t.Fatal(err)
	}
	res, err := r.l.Send(r.ctx, r.tn, cmd)
	if err != nil {
		r.t.Fatal(err)
	}
	r.clock.Advance(time.Second)
	return res.MsgID
}

// sendSealed records a send whose content is sealed under its own live
// and audit keys, as content protection records one; it returns the
// message and its key ids.
func (r *rig) sendSealed(from, to, chat, content string) (domain.MsgID, []string) {
	r.t.Helper()
	cmd, err := domain.NewSendCommand(from, to, chat, "txt", content, "", "")
	if err != nil {
		r.t.Fatal(err)
	}
	id := domain.MsgID(uuid.NewString())
	sent := cmd.Sent(id)
	live, audit, err := r.ring.Seal(r.ctx, r.tn, id, content)
	if err != nil {
		r.t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(content))
	sent.Content, sent.ContentSHA256, sent.ContentLive, sent.ContentAudit = "", hex.EncodeToString(sum[:]), &live, &audit
	if _, err := r.store.Append(r.ctx, domain.MessageStream(r.tn, id), domain.NoStream, []domain.Event{domain.NewEvent(uuid.NewString(), r.tn, r.clock.Now(), sent)}); err != nil {
		r.t.Fatal(err)
	}
	r.clock.Advance(time.Second)
	return id, []string{live.KeyID, audit.KeyID}
}

// keyStates is the state of each key: live or destroyed.
func (r *rig) keyStates(ids []string) []string {
	r.t.Helper()
	var out []string
	for _, id := range ids {
		_, st, err := r.keys.Get(r.ctx, r.tn, id)
		if err != nil {
			r.t.Fatal(err)
		}
		out = append(out, map[domain.KeyState]string{domain.KeyLive: "live", domain.KeyDestroyed: "destroyed", domain.KeyUnknown: "unknown"}[st])
	}
	return out
}

func (r *rig) hold(scope, id string) string {
	r.t.Helper()
	cmd, err := domain.NewPlaceHold(r.tn, uuid.NewString(), scope, id, nil, nil, "CASE-1", "litigation", "token:admin")
	if err != nil {
		r.t.Fatal(err)
	}
	h, err := r.svc.PlaceHold(r.ctx, r.tn, cmd)
	if err != nil {
		r.t.Fatal(err)
	}
	return h.ID
}

func (r *rig) erase(user, reason string) (domain.Erasure, bool) {
	r.t.Helper()
	cmd, err := domain.NewErasureCommand(user, reason, "", "token:admin")
	if err != nil {
		r.t.Fatal(err)
	}
	e, created, err := r.svc.Request(r.ctx, r.tn, cmd)
	if err != nil {
		r.t.Fatal(err)
	}
	r.feed()
	return e, created
}

// content is what the conversation view shows of msg in conv, and
// whether it shows it as erased.
func (r *rig) content(conv string, msg domain.MsgID) (string, bool) {
	r.t.Helper()
	v, err := conversation.Query(r.rm, r.tn.String(), conv, "carol", "en", "", 500, time.Time{})
	if err != nil {
		r.t.Fatal(err)
	}
	for _, m := range v.Messages {
		if m.MsgID == string(msg) {
			if m.Content == nil {
				return "", m.ContentErased
			}
			return *m.Content, m.ContentErased
		}
	}
	r.t.Fatalf("%s is not in %s", msg, conv)
	return "", false
}

// auditContent is the content the audit log keeps of msg's send.
func (r *rig) auditContent(msg domain.MsgID) *string {
	r.t.Helper()
	page, err := auditlog.Query(r.rm, r.tn.String(), auditlog.Filter{MsgID: string(msg), Action: auditlog.ActionSend, Limit: 10})
	if err != nil || len(page.Entries) != 1 {
		r.t.Fatalf("audit of %s: %v %v", msg, page.Entries, err)
	}
	return page.Entries[0].Content
}

func TestAnErasureDestroysTheUsersContentButWhatAHoldKeepsAndTheReleaseFinishesIt(t *testing.T) {
	r := newRig(t, nil)
	direct := r.send("alice", "bob", "chat", "alice to bob")
	group := r.send("alice", "g1", "groupchat", "alice in the group")
	bobs := r.send("bob", "alice", "chat", "bob to alice")
	sealed, sealedKeys := r.sendSealed("alice", "bob", "chat", "sealed, to bob")
	sealedInGroup, groupKeys := r.sendSealed("alice", "g1", "groupchat", "sealed, in the group")
	_, bobsKeys := r.sendSealed("bob", "alice", "chat", "bob's, sealed")
	h := r.hold("conversation", "groupchat:g1")

	e, created := r.erase("alice", "GDPR art. 17")
	if !created || e.Status() != domain.ErasureDeferred || !reflect.DeepEqual(e.Erased, []domain.MsgID{direct, sealed}) ||
		!reflect.DeepEqual(e.Held, []domain.HeldContent{{MsgID: group, HoldIDs: []string{h}}, {MsgID: sealedInGroup, HoldIDs: []string{h}}}) {
		t.Fatalf("erasure: created %v, %s, erased %v, held %v", created, e.Status(), e.Erased, e.Held)
	}
	// the keys of what was erased are destroyed, live and audit copies
	// both; what the hold covers and what bob sent keep theirs
	for what, want := range map[string][]string{
		"erased": r.keyStates(sealedKeys), "held": r.keyStates(groupKeys), "another sender's": r.keyStates(bobsKeys),
	} {
		if wantState := map[string]string{"erased": "destroyed", "held": "live", "another sender's": "live"}[what]; !reflect.DeepEqual(want, []string{wantState, wantState}) {
			t.Fatalf("the %s message's keys: %v, want both %s", what, want, wantState)
		}
	}
	if _, err := r.ring.Open(r.ctx, r.tn, sealed, domain.PurposeAudit, domain.SealedContent{KeyID: sealedKeys[1]}); err == nil {
		t.Fatal("the erased message's audit copy still opens")
	}
	if c, erased := r.content("chat:alice:bob", direct); c != "" || !erased {
		t.Fatalf("the erased message still shows %q (erased %v)", c, erased)
	}
	if c, _ := r.content("groupchat:g1", group); c != "alice in the group" {
		t.Fatalf("the held message lost its content: %q", c)
	}
	if c, erased := r.content("chat:alice:bob", bobs); c != "bob to alice" || erased {
		t.Fatalf("bob's message was touched: %q %v", c, erased)
	}
	if c := r.auditContent(direct); c != nil {
		t.Fatalf("the audit log kept the erased content %q", *c)
	}
	if c := r.auditContent(group); c == nil || *c != "alice in the group" {
		t.Fatalf("the audit log lost held content: %v", c)
	}

	// the same request again is the same erasure, and changes nothing
	again, created := r.erase("alice", "GDPR art. 17")
	if created || again.ID != e.ID || again.Passes != 1 {
		t.Fatalf("repeat: created %v, id %s (want %s), passes %d", created, again.ID, e.ID, again.Passes)
	}

	hold, resumed, err := r.svc.ReleaseHold(r.ctx, r.tn, h, "case closed", "token:admin")
	if err != nil || !hold.Released {
		t.Fatalf("release: %+v %v", hold, err)
	}
	r.feed()
	if len(resumed) != 1 || resumed[0].ID != e.ID || resumed[0].Status() != domain.ErasureDone ||
		!reflect.DeepEqual(resumed[0].Erased, []domain.MsgID{direct, sealed, group, sealedInGroup}) {
		t.Fatalf("resumed %+v", resumed)
	}
	if got := r.keyStates(groupKeys); !reflect.DeepEqual(got, []string{"destroyed", "destroyed"}) {
		t.Fatalf("after the release the held message's keys are %v", got)
	}
	if c, erased := r.content("groupchat:g1", group); c != "" || !erased {
		t.Fatalf("after the release the held message still shows %q", c)
	}
	if c := r.auditContent(group); c != nil {
		t.Fatalf("after the release the audit log keeps %q", *c)
	}
	// the content is gone from every read model, a rebuild included
	for _, run := range r.runners {
		if err := run.Reset(); err != nil {
			t.Fatal(err)
		}
	}
	r.feed()
	if c, erased := r.content("groupchat:g1", group); c != "" || !erased {
		t.Fatalf("after a rebuild the erased message shows %q", c)
	}
}

func TestOverlappingHoldsDeferAnErasureUntilTheLastIsReleased(t *testing.T) {
	r := newRig(t, nil)
	m := r.send("alice", "g1", "groupchat", "held twice")
	byUser := r.hold("user", "alice")
	byConv := r.hold("conversation", "groupchat:g1")
	e, _ := r.erase("alice", "request")
	if !reflect.DeepEqual(e.Held, []domain.HeldContent{{MsgID: m, HoldIDs: []string{byUser, byConv}}}) || len(e.Erased) != 0 {
		t.Fatalf("held %v, erased %v", e.Held, e.Erased)
	}
	_, resumed, err := r.svc.ReleaseHold(r.ctx, r.tn, byUser, "", "token:admin")
	if err != nil || len(resumed) != 1 {
		t.Fatalf("first release: %v %v", resumed, err)
	}
	if got := resumed[0]; got.Status() != domain.ErasureDeferred || !reflect.DeepEqual(got.Held, []domain.HeldContent{{MsgID: m, HoldIDs: []string{byConv}}}) {
		t.Fatalf("after the first release: %s %v", got.Status(), got.Held)
	}
	_, resumed, err = r.svc.ReleaseHold(r.ctx, r.tn, byConv, "", "token:admin")
	if err != nil || len(resumed) != 1 || resumed[0].Status() != domain.ErasureDone || !reflect.DeepEqual(resumed[0].Erased, []domain.MsgID{m}) {
		t.Fatalf("second release: %+v %v", resumed, err)
	}
	// a repeat of a release records nothing and resumes nothing
	_, resumed, err = r.svc.ReleaseHold(r.ctx, r.tn, byConv, "", "token:admin")
	if err != nil || len(resumed) != 0 {
		t.Fatalf("repeat release: %v %v", resumed, err)
	}
}

// crashingShredder destroys keys through the keyring, then fails as a
// process killed before the erasure recorded them would: the keys are
// gone, the chunk is not recorded.
type crashingShredder struct {
	next   erasure.Shredder
	crash  bool
	called int
}

func (c *crashingShredder) ShredAll(ctx context.Context, items []keyring.ShredItem, reason domain.ShredReason) ([]keyring.ShredOutcome, error) {
	c.called++
	out, err := c.next.ShredAll(ctx, items, reason)
	if err == nil && c.crash {
		return nil, errors.New("killed after the keys were destroyed")
	}
	return out, err
}

func TestAnErasureCutShortIsFinishedAtStartWithoutErasingTwice(t *testing.T) {
	var sh *crashingShredder
	r := newRig(t, func(r *rig) erasure.Shredder {
		sh = &crashingShredder{next: r.ring, crash: true}
		return sh
	})
	var sent []domain.MsgID
	var keys []string
	for range 3 {
		id, k := r.sendSealed("alice", "bob", "chat", "x")
		sent, keys = append(sent, id), append(keys, k...)
	}
	cmd, _ := domain.NewErasureCommand("alice", "request", "dsr-7", "token:admin")
	if _, _, err := r.svc.Request(r.ctx, r.tn, cmd); err == nil {
		t.Fatal("the pass went on past a shredder that failed")
	}
	e, err := r.svc.Erasure(r.ctx, r.tn, ledger.ErasureIDFor(r.tn, cmd))
	if err != nil || e.Status() != domain.ErasurePending || len(e.Erased) != 0 {
		t.Fatalf("after the crash: %s %v %v", e.Status(), e.Erased, err)
	}
	sh.crash = false
	if err := r.svc.Run(r.ctx); err != nil {
		t.Fatal(err)
	}
	e, err = r.svc.Erasure(r.ctx, r.tn, e.ID)
	if err != nil || e.Status() != domain.ErasureDone || !reflect.DeepEqual(e.Erased, sent) {
		t.Fatalf("after the start: %s erased %v, want %v (%v)", e.Status(), e.Erased, sent, err)
	}
	// the keys destroyed before the crash are shredded again (a no-op),
	// and the chunk recorded once
	evs, err := r.store.ReadStream(r.ctx, domain.ErasureStream(r.tn, e.ID))
	if err != nil || len(evs) != 2 || sh.called != 2 {
		t.Fatalf("the erasure's stream holds %d events (want the request and one chunk), the shredder was called %d times (%v)", len(evs), sh.called, err)
	}
	for _, st := range r.keyStates(keys) {
		if st != "destroyed" {
			t.Fatalf("keys after the erasure: %v", r.keyStates(keys))
		}
	}
}

func TestAHoldPlacedDuringAPassIsHonouredByTheShredder(t *testing.T) {
	var placed string
	r := newRig(t, func(r *rig) erasure.Shredder {
		return shredFunc(func(ctx context.Context, items []keyring.ShredItem, reason domain.ShredReason) ([]keyring.ShredOutcome, error) {
			if placed == "" {
				placed = r.hold("user", "alice") // after the pass read the holds
			}
			return r.ring.ShredAll(ctx, items, reason)
		})
	})
	m, keys := r.sendSealed("alice", "bob", "chat", "x")
	e, _ := r.erase("alice", "request")
	if !reflect.DeepEqual(e.Held, []domain.HeldContent{{MsgID: m, HoldIDs: []string{placed}}}) || len(e.Erased) != 0 {
		t.Fatalf("held %v erased %v", e.Held, e.Erased)
	}
	if got := r.keyStates(keys); !reflect.DeepEqual(got, []string{"live", "live"}) {
		t.Fatalf("a held message's keys: %v", got)
	}
}

type shredFunc func(ctx context.Context, items []keyring.ShredItem, reason domain.ShredReason) ([]keyring.ShredOutcome, error)

func (f shredFunc) ShredAll(ctx context.Context, items []keyring.ShredItem, reason domain.ShredReason) ([]keyring.ShredOutcome, error) {
	return f(ctx, items, reason)
}

func TestAnErasureCoversOnlyWhatWasSentBeforeIt(t *testing.T) {
	r := newRig(t, nil)
	before := r.send("alice", "bob", "chat", "before")
	e, _ := r.erase("alice", "request")
	after := r.send("alice", "bob", "chat", "after")
	r.feed()
	if !reflect.DeepEqual(e.Erased, []domain.MsgID{before}) {
		t.Fatalf("erased %v", e.Erased)
	}
	if c, _ := r.content("chat:alice:bob", after); c != "after" {
		t.Fatalf("a message sent after the request lost its content: %q", c)
	}
	again, created := r.erase("alice", "request")
	if created || slices.Contains(again.Erased, after) {
		t.Fatalf("a repeat erased what came after the request: %v", again.Erased)
	}
}

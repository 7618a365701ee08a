package erasure_test

import (
	"context"
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
	"github.com/recallledger/recall/adapters/readmodel"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/clocktest"
	"github.com/recallledger/recall/domain/ledger"
	"github.com/recallledger/recall/projections"
	"github.com/recallledger/recall/projections/auditlog"
	"github.com/recallledger/recall/projections/catalog"
	"github.com/recallledger/recall/projections/conversation"
)

// rig is an embedded store, every read model of the catalog fed when the
// erasure service waits for them (and when the test says), a ledger on a
// clock the test advances, and tenant acme/chat.
type rig struct {
	t       testing.TB
	ctx     context.Context
	clock   *clocktest.Clock
	store   *embedded.Store
	rm      *readmodel.Store
	runners []*projections.Runner
	l       *ledger.Service
	svc     *erasure.Service
	tn      domain.Tenant
}

func newRig(t testing.TB, shredder func(l *ledger.Service) domain.ContentShredder) *rig {
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
	var sh domain.ContentShredder
	if shredder != nil {
		sh = shredder(r.l)
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
	h := r.hold("conversation", "groupchat:g1")

	e, created := r.erase("alice", "GDPR art. 17")
	if !created || e.Status() != domain.ErasureDeferred || !reflect.DeepEqual(e.Erased, []domain.MsgID{direct}) ||
		!reflect.DeepEqual(e.Held, []domain.HeldContent{{MsgID: group, HoldIDs: []string{h}}}) {
		t.Fatalf("erasure: created %v, %s, erased %v, held %v", created, e.Status(), e.Erased, e.Held)
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
		!reflect.DeepEqual(resumed[0].Erased, []domain.MsgID{direct, group}) {
		t.Fatalf("resumed %+v", resumed)
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

// failingShredder destroys content until it is told to fail, and
// remembers what it destroyed.
type failingShredder struct {
	holds    domain.HoldChecker
	failFrom int
	shredded []domain.MsgID
}

func (f *failingShredder) Shred(ctx context.Context, ref domain.ContentRef) ([]string, error) {
	if len(f.shredded) >= f.failFrom {
		return nil, errors.New("key store unreachable")
	}
	if ids, err := f.holds.Held(ctx, ref); err != nil || len(ids) > 0 {
		return ids, err
	}
	f.shredded = append(f.shredded, ref.MsgID)
	return nil, nil
}

func TestAnErasureCutShortIsFinishedAtStartWithoutErasingTwice(t *testing.T) {
	var sh *failingShredder
	r := newRig(t, func(l *ledger.Service) domain.ContentShredder {
		sh = &failingShredder{holds: l, failFrom: 1}
		return sh
	})
	var sent []domain.MsgID
	for range 3 {
		sent = append(sent, r.send("alice", "bob", "chat", "x"))
	}
	cmd, _ := domain.NewErasureCommand("alice", "request", "dsr-7", "token:admin")
	if _, _, err := r.svc.Request(r.ctx, r.tn, cmd); err == nil {
		t.Fatal("the pass went on past a shredder that failed")
	}
	e, err := r.svc.Erasure(r.ctx, r.tn, ledger.ErasureIDFor(r.tn, cmd))
	if err != nil || e.Status() != domain.ErasurePending || len(e.Erased) != 0 {
		t.Fatalf("after the failure: %s %v %v", e.Status(), e.Erased, err)
	}
	sh.failFrom = 100
	if err := r.svc.Run(r.ctx); err != nil {
		t.Fatal(err)
	}
	e, err = r.svc.Erasure(r.ctx, r.tn, e.ID)
	if err != nil || e.Status() != domain.ErasureDone || !reflect.DeepEqual(e.Erased, sent) {
		t.Fatalf("after the start: %s erased %v, want %v (%v)", e.Status(), e.Erased, sent, err)
	}
	// the first message was destroyed before the failure, not recorded:
	// destroying it again is the shredder's no-op; nothing else twice
	if !reflect.DeepEqual(sh.shredded, append([]domain.MsgID{sent[0]}, sent...)) {
		t.Fatalf("shredded %v", sh.shredded)
	}
}

func TestAHoldPlacedDuringAPassIsHonouredByTheShredder(t *testing.T) {
	var placed string
	var r *rig
	r = newRig(t, func(l *ledger.Service) domain.ContentShredder {
		return shredFunc(func(ctx context.Context, ref domain.ContentRef) ([]string, error) {
			if placed == "" {
				placed = r.hold("user", "alice") // after the pass read the holds
			}
			return l.Held(ctx, ref)
		})
	})
	m := r.send("alice", "bob", "chat", "x")
	e, _ := r.erase("alice", "request")
	if !reflect.DeepEqual(e.Held, []domain.HeldContent{{MsgID: m, HoldIDs: []string{placed}}}) || len(e.Erased) != 0 {
		t.Fatalf("held %v erased %v", e.Held, e.Erased)
	}
}

type shredFunc func(ctx context.Context, ref domain.ContentRef) ([]string, error)

func (f shredFunc) Shred(ctx context.Context, ref domain.ContentRef) ([]string, error) {
	return f(ctx, ref)
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

package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recallledger/recall/adapters/auditsign"
	"github.com/recallledger/recall/adapters/erasure"
	"github.com/recallledger/recall/adapters/eventstore/embedded"
	"github.com/recallledger/recall/adapters/readmodel"
	"github.com/recallledger/recall/adapters/readmodel/readmodeltest"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/clocktest"
	"github.com/recallledger/recall/domain/ledger"
	"github.com/recallledger/recall/projections"
	"github.com/recallledger/recall/projections/catalog"
	"github.com/recallledger/recall/projections/conversation"
)

// rig is the API over a real embedded store and real read models, on a
// loopback port, with a clock the test advances. The read models are fed
// only when the test calls feed, so what they hold is never a race.
type rig struct {
	t       *testing.T
	clock   *clocktest.Clock
	stores  *readmodeltest.Stores
	store   *embedded.Store
	rm      *readmodel.Store
	l       *ledger.Service
	runners []*projections.Runner
	tenant  domain.Tenant
	tokens  map[domain.AccessRole]string
	base    string
	signer  *auditsign.Signer // the audit checkpoints' signer, over dir's key
	api     *Server
	feedMu  sync.Mutex // the test and a handler (an erasure) may feed
}

func newRig(t *testing.T) *rig {
	t.Helper()
	return newRigWith(t, Config{})
}

// newRigWith is newRig with the API configured by cfg.
func newRigWith(t *testing.T, cfg Config) *rig {
	t.Helper()
	dir := t.TempDir()
	clock := clocktest.New(time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC))
	stores := readmodeltest.OpenStores(t, dir, catalog.Served()...) // the live streams follow the conversation view's Live
	store, rm := stores.Events, stores.Models
	reg, tn, toks := registerTenant(t, dir, "acme/chat")
	l := ledger.New(store, clock)
	if _, _, err := auditsign.LoadOrCreateKey(dir, "test-deployment"); err != nil {
		t.Fatal(err)
	}
	signer, err := auditsign.New(rm, dir, reg.Tenants, auditsign.Config{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, clock: clock, stores: stores, store: store, rm: rm, l: l, runners: stores.Runners, tenant: tn, tokens: toks, signer: signer}
	if cfg.Compliance == nil {
		// erasures wait for the message index: the rig feeds it then
		cfg.Compliance = erasure.New(l, rm, nil, func(context.Context, uint64) error { return r.catchUp() }, slog.New(slog.DiscardHandler))
	}
	r.api = New(l, reg, NewMetrics(), slog.New(slog.DiscardHandler), cfg, nil, &ReadSide{Store: rm, Conversations: stores.Runner(conversation.Name), Checkpoints: signer})
	srv := httptest.NewServer(r.api)
	t.Cleanup(srv.Close)
	r.base = srv.URL
	return r
}

// feed applies every stored event the read models have not applied yet.
func (r *rig) feed() {
	r.t.Helper()
	if err := r.catchUp(); err != nil {
		r.t.Fatal(err)
	}
}

// catchUp is feed for a caller off the test's goroutine (a handler
// carrying out an erasure): it reports what failed instead of failing
// the test, and takes turns with the test's own feeds.
func (r *rig) catchUp() error {
	r.feedMu.Lock()
	defer r.feedMu.Unlock()
	for _, run := range r.runners {
		evs, err := r.store.ReadAll(context.Background(), run.Position()+1, "", 1_000_000)
		if err != nil {
			return err
		}
		for _, e := range evs {
			if err := run.Handle(e); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *rig) send(from, to, chat, content string) domain.MsgID {
	r.t.Helper()
	return readmodeltest.Send(r.t, r.l, r.tenant, from, to, chat, content)
}

func (r *rig) setPolicy(spec domain.PolicySpec) {
	r.t.Helper()
	p, err := domain.NewPolicy(spec)
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := r.l.SetPolicy(context.Background(), r.tenant, p, "test"); err != nil {
		r.t.Fatal(err)
	}
}

// get calls path (after /v1/acme/chat) as role and returns status and body.
func (r *rig) get(role domain.AccessRole, path string) (int, []byte) {
	r.t.Helper()
	return r.do("GET", role, path)
}

// do calls path (after /v1/acme/chat) with method, without a body.
func (r *rig) do(method string, role domain.AccessRole, path string) (int, []byte) {
	r.t.Helper()
	return r.post(method, role, path, "")
}

// post calls path (after /v1/acme/chat) with method and a JSON body
// (none when body is empty).
func (r *rig) post(method string, role domain.AccessRole, path, body string) (int, []byte) {
	r.t.Helper()
	req, err := http.NewRequest(method, r.base+"/v1/acme/chat"+path, strings.NewReader(body))
	if err != nil {
		r.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+r.tokens[role])
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		r.t.Fatal(err)
	}
	return resp.StatusCode, b
}

// view is GET …/conversations/{conv}/messages as viewer; it fails the test
// unless the answer is 200.
func (r *rig) view(conv, viewer string) conversation.View {
	r.t.Helper()
	status, body := r.get(domain.AccessService, "/conversations/"+conv+"/messages?viewer="+viewer)
	if status != http.StatusOK {
		r.t.Fatalf("view %s: %d %s", conv, status, body)
	}
	var v conversation.View
	if err := json.Unmarshal(body, &v); err != nil {
		r.t.Fatal(err)
	}
	return v
}

// streamed opens …/conversations/{conv}/stream as viewer and returns the
// kind and message id of each update it replays, up to and including the
// first update of message until. The stream writes every stored update at
// once; the deadline only ends a test whose stream never sends until.
func (r *rig) streamed(conv, viewer string, until domain.MsgID) []string {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", r.base+"/v1/acme/chat/conversations/"+conv+"/stream?viewer="+viewer, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+r.tokens[domain.AccessService])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		r.t.Fatalf("stream %s: %d %s", conv, resp.StatusCode, b)
	}
	var got []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var u conversation.Update
		if err := json.Unmarshal([]byte(data), &u); err != nil {
			r.t.Fatal(err)
		}
		got = append(got, u.Kind+" "+u.MsgID)
		if u.MsgID == string(until) {
			return got
		}
	}
	r.t.Fatalf("stream %s ended before an update of %s: %v (%v)", conv, until, got, sc.Err())
	return nil
}

// lines splits an NDJSON body into events.
func lines(t *testing.T, body []byte) []domain.Event {
	t.Helper()
	var out []domain.Event
	dec := json.NewDecoder(bytes.NewReader(body))
	for dec.More() {
		var e domain.Event
		if err := dec.Decode(&e); err != nil {
			t.Fatalf("%v in %s", err, body)
		}
		out = append(out, e)
	}
	return out
}

package httpapi

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/recallledger/recall/adapters/eventstore/embedded"
	"github.com/recallledger/recall/adapters/tenants"
	"github.com/recallledger/recall/adapters/tenants/tenantstest"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/clocktest"
	"github.com/recallledger/recall/domain/ledger"
)

// testAPI is the HTTP API over a real embedded store and tenant registry,
// deciding by a clock the test moves: what recalld serves, minus the read
// side, with time under the test's control.
type testAPI struct {
	t      *testing.T
	url    string
	clock  *clocktest.Clock
	store  *embedded.Store
	ledger *ledger.Service
	tokens map[domain.AccessRole]string // tenant a/a's
}

var testStart = time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)

// newTestAPI starts the API; wrap, when not nil, wraps the store the
// ledger appends to (a test uses it to let a concurrent write land at a
// chosen moment).
func newTestAPI(t *testing.T, wrap func(domain.EventStore) domain.EventStore) *testAPI {
	t.Helper()
	dir := t.TempDir()
	store, err := embedded.Open(filepath.Join(dir, "events"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := store.Close(); err != nil {
			t.Error(err)
		}
	})
	reg, _, tokens := registerTenant(t, dir, "a/a")
	clock := clocktest.New(testStart)
	var es domain.EventStore = store
	if wrap != nil {
		es = wrap(store)
	}
	l := ledger.New(es, clock)
	srv := httptest.NewServer(New(l, reg, NewMetrics(), slog.New(slog.DiscardHandler), Config{}, nil, nil))
	t.Cleanup(srv.Close)
	return &testAPI{t: t, url: srv.URL, clock: clock, store: store, ledger: l, tokens: tokens}
}

// registerTenant opens dir's token registry with tenant name in it and
// returns the tenant's tokens, by role.
func registerTenant(t *testing.T, dir, name string) (*tenants.Registry, domain.Tenant, map[domain.AccessRole]string) {
	t.Helper()
	reg, tokens := tenantstest.Register(t, dir, name)
	tn, _ := domain.ParseTenant(name)
	return reg, tn, tokens
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("status %d, body %q is not a JSON object: %v", r.status, r.body, err)
	}
	return m
}

// do sends a request as role (none if empty); header holds extra headers,
// "Content-Type" defaulting to application/json when there is a body.
func (a *testAPI) do(method, path string, role domain.AccessRole, body string, header ...string) reply {
	a.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, a.url+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if role != "" {
		req.Header.Set("Authorization", "Bearer "+a.tokens[role])
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

// send records a message and returns its id.
func (a *testAPI) send(from, to, chat string) string {
	a.t.Helper()
	r := a.do("POST", "/v1/a/a/messages", domain.AccessService, `{"from":"`+from+`","to":"`+to+`","chat_type":"`+chat+`","content":"hello"}`)
	if r.status != http.StatusCreated {
		a.t.Fatalf("send: %d %s", r.status, r.body)
	}
	return r.json(a.t)["msg_id"].(string)
}

// events returns every event of tenant a/a, decoded, of the given type
// (all when typ is empty).
func (a *testAPI) events(typ string) []domain.Event {
	a.t.Helper()
	evs, err := a.store.ReadAll(a.t.Context(), 0, "a/a", 100000)
	if err != nil {
		a.t.Fatal(err)
	}
	var out []domain.Event
	for _, e := range evs {
		if typ == "" || e.Type() == typ {
			out = append(out, e)
		}
	}
	return out
}

func roleOf(s string) domain.AccessRole { return domain.AccessRole(s) }

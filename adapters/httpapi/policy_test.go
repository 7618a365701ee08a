package httpapi

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/recallledger/recall/domain"
)

const (
	svc = domain.AccessService
	adm = domain.AccessAdmin
	aud = domain.AccessAuditor
)

const mergePatch = "application/merge-patch+json"

// policyIs fails unless r is a 200 with the policy at version and its ETag.
func policyIs(t *testing.T, what string, r reply, version int) map[string]any {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("%s: %d %s", what, r.status, r.body)
	}
	p := r.json(t)
	if p["version"] != float64(version) || r.header.Get("ETag") != fmt.Sprintf(`"v%d"`, version) {
		t.Fatalf("%s: version %v, ETag %q; want %d and \"v%d\"", what, p["version"], r.header.Get("ETag"), version, version)
	}
	return p
}

func TestPolicyIsReadWithItsVersionAsAStrongETag(t *testing.T) {
	a := newTestAPI(t, nil)
	policyIs(t, "the default policy", a.do("GET", "/v1/a/a/policy", adm, ""), 0)
	policyIs(t, "a replaced policy", a.do("PUT", "/v1/a/a/policy", adm, `{"sender_window_s":300}`), 1)
	policyIs(t, "read after", a.do("GET", "/v1/a/a/policy", adm, ""), 1)
	if r := a.do("GET", "/v1/a/a/policy", adm, "", "If-None-Match", `"v1"`); r.status != 304 {
		t.Fatalf("GET with the current ETag in If-None-Match: %d, want 304", r.status)
	}
}

func TestPolicyPutHonoursIfMatch(t *testing.T) {
	a := newTestAPI(t, nil)
	cases := []struct {
		name, ifMatch string
		status        int
		version       int // after
	}{
		{"the current ETag", `"v0"`, 200, 1},
		{"a stale ETag is a version conflict", `"v0"`, 412, 1},
		{"one of a list", `"v7", "v1"`, 200, 2},
		{"a weak ETag never matches (strong comparison)", `W/"v2"`, 412, 2},
		{"* is unconditional", `*`, 200, 3},
		{"no If-Match is unconditional", ``, 200, 4},
		{"a malformed If-Match", `v4`, 400, 4},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var h []string
			if c.ifMatch != "" {
				h = []string{"If-Match", c.ifMatch}
			}
			r := a.do("PUT", "/v1/a/a/policy", adm, fmt.Sprintf(`{"sender_window_s":%d}`, 200+i), h...)
			if r.status != c.status {
				t.Fatalf("status %d, want %d: %s", r.status, c.status, r.body)
			}
			if c.status == 412 {
				e := r.json(t)
				want := fmt.Sprintf("v%d", c.version)
				if e["error"] != "version_conflict" || !strings.Contains(e["message"].(string), want) || r.header.Get("ETag") != `"`+want+`"` {
					t.Fatalf("conflict %s (ETag %q) does not name the current version %s", r.body, r.header.Get("ETag"), want)
				}
			}
			policyIs(t, "after", a.do("GET", "/v1/a/a/policy", adm, ""), c.version)
		})
	}
	if n := len(a.events(domain.TypeTenantPolicySet)); n != 4 {
		t.Fatalf("%d policy events, want 4 (refused changes write nothing)", n)
	}
}

func TestPolicyPutAcceptsItsOwnGetBody(t *testing.T) {
	a := newTestAPI(t, nil)
	policyIs(t, "set", a.do("PUT", "/v1/a/a/policy", adm, `{"deny_recall_users":["mallory"],"block_after_read":true}`), 1)
	got := a.do("GET", "/v1/a/a/policy", adm, "")
	back := a.do("PUT", "/v1/a/a/policy", adm, string(got.body), "If-Match", got.header.Get("ETag"))
	p := policyIs(t, "the GET body sent back unchanged", back, 1)
	if p["block_after_read"] != true || fmt.Sprint(p["deny_recall_users"]) != "[mallory]" {
		t.Fatalf("policy after the round trip: %s", back.body)
	}
	if n := len(a.events(domain.TypeTenantPolicySet)); n != 1 {
		t.Fatalf("%d policy events, want 1: a PUT that changes nothing records nothing", n)
	}
	// the read-only version in the body is checked like If-Match
	stale := strings.Replace(string(got.body), `"version":1`, `"version":0`, 1)
	if r := a.do("PUT", "/v1/a/a/policy", adm, stale); r.status != 412 || r.json(t)["error"] != "version_conflict" {
		t.Fatalf("a body whose version is stale: %d %s, want 412", r.status, r.body)
	}
}

func TestPolicyPutResetsOmittedFieldsToTheirDefaults(t *testing.T) {
	a := newTestAPI(t, nil)
	a.do("PUT", "/v1/a/a/policy", adm, `{"deny_recall_users":["mallory"],"block_after_read":true}`)
	p := policyIs(t, "replace", a.do("PUT", "/v1/a/a/policy", adm, `{"sender_window_s":300}`), 2)
	if p["block_after_read"] != false || fmt.Sprint(p["deny_recall_users"]) != "[]" || p["sender_window_s"] != float64(300) {
		t.Fatalf("PUT replaces: %v", p)
	}
}

func TestPolicyPatchChangesOnlyTheFieldsNamed(t *testing.T) {
	a := newTestAPI(t, nil)
	a.do("PUT", "/v1/a/a/policy", adm, `{"deny_recall_users":["mallory"],"block_after_read":true,"sender_window_s":60}`)
	r := a.do("PATCH", "/v1/a/a/policy", adm, `{"sender_window_s":300}`, "Content-Type", mergePatch, "If-Match", `"v1"`)
	p := policyIs(t, "patch one field", r, 2)
	if p["sender_window_s"] != float64(300) || p["block_after_read"] != true || fmt.Sprint(p["deny_recall_users"]) != "[mallory]" {
		t.Fatalf("patch changed more than it named: %s", r.body)
	}
	r = a.do("PATCH", "/v1/a/a/policy", adm, `{"sender_window_s":null,"deny_recall_users":null}`, "Content-Type", mergePatch)
	p = policyIs(t, "null resets to the default", r, 3)
	if p["sender_window_s"] != float64(120) || fmt.Sprint(p["deny_recall_users"]) != "[]" || p["block_after_read"] != true {
		t.Fatalf("null did not reset: %s", r.body)
	}
	refused := []struct {
		name, body, ctype, ifMatch string
		status                     int
		code                       string
	}{
		{"a stale If-Match", `{"sender_window_s":90}`, mergePatch, `"v2"`, 412, "version_conflict"},
		{"a stale version in the patch", `{"version":1,"sender_window_s":90}`, mergePatch, ``, 412, "version_conflict"},
		{"application/json is not a merge patch", `{"sender_window_s":90}`, "application/json", ``, 415, "unsupported_media_type"},
		{"an unknown field", `{"sender_window":90}`, mergePatch, ``, 400, "unknown_field"},
		{"an invalid result", `{"sender_window_s":0}`, mergePatch, ``, 400, "invalid_policy"},
		{"not an object", `[1]`, mergePatch, ``, 400, "invalid_body"},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			h := []string{"Content-Type", c.ctype}
			if c.ifMatch != "" {
				h = append(h, "If-Match", c.ifMatch)
			}
			r := a.do("PATCH", "/v1/a/a/policy", adm, c.body, h...)
			if r.status != c.status || r.json(t)["error"] != c.code {
				t.Fatalf("%d %s, want %d %s", r.status, r.body, c.status, c.code)
			}
		})
	}
	if n := len(a.events(domain.TypeTenantPolicySet)); n != 3 {
		t.Fatalf("%d policy events, want 3", n)
	}
}

// policyRaceStore lets another node's policy change land between the
// ledger's version check and its append to the tenant stream.
type policyRaceStore struct {
	domain.EventStore
	mu    sync.Mutex
	other func() error // run once, before the first append to a tenant stream
}

func (s *policyRaceStore) Append(ctx context.Context, stream string, expected int64, evs []domain.Event) (domain.Appended, error) {
	s.mu.Lock()
	other := s.other
	if strings.HasPrefix(stream, "tenant-") {
		s.other = nil
	}
	s.mu.Unlock()
	if other != nil && strings.HasPrefix(stream, "tenant-") {
		if err := other(); err != nil {
			return domain.Appended{}, err
		}
	}
	return s.EventStore.Append(ctx, stream, expected, evs)
}

func TestPolicyChangeRacingAnotherIsAVersionConflict(t *testing.T) {
	for _, method := range []string{"PUT", "PATCH"} {
		t.Run(method, func(t *testing.T) {
			race := &policyRaceStore{}
			a := newTestAPI(t, func(s domain.EventStore) domain.EventStore { race.EventStore = s; return race })
			race.other = func() error {
				// another admin's change, through the same store, after this
				// request's If-Match was checked against v0
				p, err := domain.NewPolicy(domain.PolicySpec{BlockAfterRead: new(true)})
				if err != nil {
					return err
				}
				_, err = a.ledger.SetPolicy(context.Background(), mustTenant(t, "a/a"), p, "token:admin")
				return err
			}
			ctype := "application/json"
			if method == "PATCH" {
				ctype = mergePatch
			}
			r := a.do(method, "/v1/a/a/policy", adm, `{"sender_window_s":300}`, "Content-Type", ctype, "If-Match", `"v0"`)
			if r.status != 412 || r.json(t)["error"] != "version_conflict" || !strings.Contains(string(r.body), "v1") {
				t.Fatalf("change against v0 racing another: %d %s, want 412 naming v1", r.status, r.body)
			}
			p := policyIs(t, "after", a.do("GET", "/v1/a/a/policy", adm, ""), 1)
			if p["sender_window_s"] != float64(120) || p["block_after_read"] != true {
				t.Fatalf("the losing change was applied: %v", p)
			}
		})
	}
}

func TestPolicyChangeRecordsWhatChangedAndWho(t *testing.T) {
	a := newTestAPI(t, nil)
	a.do("PUT", "/v1/a/a/policy", adm, `{"deny_recall_users":["mallory"]}`)
	a.do("PATCH", "/v1/a/a/policy", adm, `{"sender_window_s":300,"deny_recall_users":null}`, "Content-Type", mergePatch)
	evs := a.events(domain.TypeTenantPolicySet)
	if len(evs) != 2 {
		t.Fatalf("%d policy events, want 2", len(evs))
	}
	data := evs[1].Data.(domain.TenantPolicySet)
	got := []string{}
	for _, c := range data.Changes {
		got = append(got, fmt.Sprintf("%s: %s -> %s", c.Field, c.Old, c.New))
	}
	want := []string{`sender_window_s: 120 -> 300`, `deny_recall_users: ["mallory"] -> []`}
	if data.ChangedBy != "token:admin" || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("recorded changes %q by %q, want %q by token:admin (event %+v)", got, data.ChangedBy, want, data)
	}
}

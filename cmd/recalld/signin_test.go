package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/recallledger/recall/adapters/operators"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/clocktest"
)

// cheapPasswords keep argon2id fast where tests sign in many times; the
// hash format and code path are the production ones.
var cheapPasswords = operators.Params{Time: 1, MemoryKiB: 64, Threads: 1}

// signInConfig runs recalld on clock with cheap password hashing.
func signInConfig(clock domain.Clock) func(*Config) {
	return func(c *Config) { c.Clock, c.PasswordParams = clock, cheapPasswords }
}

// startSignInServer starts recalld (tenants a/a and b/b) on clock, with
// cheap password hashing.
func startSignInServer(t *testing.T, clock domain.Clock, args ...string) *server {
	t.Helper()
	return startServerConfigured(t, t.TempDir(), signInConfig(clock), args...)
}

// addOperator adds an operator through the data directory's registry, as
// recallctl does while recalld runs, and returns its password.
func (s *server) addOperator(tenant, name string, role domain.AccessRole) string {
	s.t.Helper()
	return s.operatorChange(tenant, domain.OperatorCommand{Action: domain.OperatorAdd, Name: domain.OperatorName(name), Role: role, By: "recallctl"})
}

// operatorChange changes an operator as recallctl would, from another
// registry over the same data directory; it returns a new password, if any.
func (s *server) operatorChange(tenant string, cmd domain.OperatorCommand) string {
	s.t.Helper()
	h, err := operators.NewHasher(cheapPasswords, 1)
	if err != nil {
		s.t.Fatal(err)
	}
	reg, err := operators.Open(s.dir, domain.SystemClock{}, h)
	if err != nil {
		s.t.Fatal(err)
	}
	tn, _ := domain.ParseTenant(tenant)
	_, pw, err := reg.Change(context.Background(), tn, cmd, "")
	if err != nil {
		s.t.Fatal(err)
	}
	return pw
}

// operatorWithPassword makes sure the operator exists in tenant a/a (an
// admin) and returns a fresh password for it.
func (s *server) operatorWithPassword(name string) string {
	s.t.Helper()
	if info, _ := s.operatorInfo(name); info {
		return s.operatorChange("a/a", domain.OperatorCommand{Action: domain.OperatorReset, Name: domain.OperatorName(name), By: "recallctl"})
	}
	return s.addOperator("a/a", name, domain.AccessAdmin)
}

func (s *server) operatorInfo(name string) (bool, error) {
	h, err := operators.NewHasher(cheapPasswords, 1)
	if err != nil {
		return false, err
	}
	reg, err := operators.Open(s.dir, domain.SystemClock{}, h)
	if err != nil {
		return false, err
	}
	tn, _ := domain.ParseTenant("a/a")
	_, ok, err := reg.Get(tn, domain.OperatorName(name))
	return ok, err
}

// browser is an HTTP client with a cookie jar, as a browser on the
// console's page is: same origin, cookies kept.
type browser struct {
	s    *server
	c    *http.Client
	csrf string
}

func (s *server) browser() *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		s.t.Fatal(err)
	}
	return &browser{s: s, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// do sends a request with the jar's cookies and the given headers.
func (b *browser) do(method, path, body string, headers map[string]string) response {
	b.s.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, b.s.base+path, rd)
	if err != nil {
		b.s.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.s.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		b.s.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: raw}
}

// call is do with the session's CSRF token on a change, as the app sends it.
func (b *browser) call(method, path, body string) response {
	b.s.t.Helper()
	h := map[string]string{}
	if method != http.MethodGet {
		h["X-CSRF-Token"] = b.csrf
	}
	return b.do(method, path, body, h)
}

func loginBody(tenant, name, password string) string {
	raw, _ := json.Marshal(map[string]string{"tenant": tenant, "name": name, "password": password})
	return string(raw)
}

// login signs in and keeps the CSRF token; it fails the test unless 200.
func (b *browser) login(tenant, name, password string) map[string]any {
	b.s.t.Helper()
	r := b.do("POST", "/console/api/login", loginBody(tenant, name, password), nil)
	if r.status != http.StatusOK {
		b.s.t.Fatalf("login %s/%s: %d %s", tenant, name, r.status, r.body)
	}
	m := r.json(b.s.t)
	b.csrf, _ = m["csrf_token"].(string)
	return m
}

func (b *browser) cookie(name string) *http.Cookie {
	u, _ := url.Parse(b.s.base)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// auditEntries returns tenant a/a's audit entries of action, with the
// auditor token.
func (s *server) auditEntries(action string) []map[string]any {
	s.t.Helper()
	r := s.do("GET", "/v1/a/a/audit?limit=1000&action="+action, s.token("a/a", domain.AccessAuditor), "")
	if r.status != http.StatusOK {
		s.t.Fatalf("audit: %d %s", r.status, r.body)
	}
	var page struct {
		Entries []map[string]any `json:"entries"`
	}
	if err := json.Unmarshal(r.body, &page); err != nil {
		s.t.Fatal(err)
	}
	return page.Entries
}

// until waits for work recalld does in the background (projections, the
// operator publisher) to show: a wait for a condition, never for time.
func until(t *testing.T, what string, cond func() bool) {
	t.Helper()
	eventually(t, func() string {
		if cond() {
			return ""
		}
		return what + ": not yet"
	})
}

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func TestConsoleSignInActsUnderTheOperatorsNameAndLogoutEndsTheSession(t *testing.T) {
	clock := clocktest.New(t0)
	s := startSignInServer(t, clock)
	pw := s.addOperator("a/a", "alice", domain.AccessAdmin)
	b := s.browser()

	if r := b.do("GET", "/console/api/session", "", nil); r.status != http.StatusUnauthorized {
		t.Fatalf("session before sign-in: %d %s", r.status, r.body)
	}
	sess := b.login("a/a", "alice", pw)
	op := sess["operator"].(map[string]any)
	if op["name"] != "alice" || op["role"] != "admin" || sess["tenant"] != "a/a" || len(b.csrf) < 40 ||
		sess["idle_expires_at"] != "2026-12-01T09:30:00.000Z" || sess["expires_at"] != "2026-12-01T17:00:00.000Z" {
		t.Fatalf("session body %v", sess)
	}
	c := b.cookie("recall_session")
	if c == nil {
		t.Fatal("no session cookie")
	}
	r := b.do("POST", "/console/api/login", loginBody("a/a", "alice", pw), nil)
	setCookie := r.header.Get("Set-Cookie")
	for _, want := range []string{"recall_session=", "Path=/", "HttpOnly", "SameSite=Strict"} {
		if !strings.Contains(setCookie, want) {
			t.Errorf("Set-Cookie %q lacks %s", setCookie, want)
		}
	}
	if strings.Contains(setCookie, "Secure") || strings.Contains(setCookie, "Expires") {
		t.Errorf("Set-Cookie %q over plain HTTP: want no Secure, a session cookie", setCookie)
	}
	b.csrf = r.json(t)["csrf_token"].(string)
	c = b.cookie("recall_session") // the second sign-in's, which logout ends
	if strings.Contains(s.logged(), pw) || strings.Contains(s.logged(), c.Value) {
		t.Fatal("a password or a session token is in the log")
	}

	actWithTheSession(t, s, b)

	// logout ends it server-side: the old cookie, replayed, is refused
	if r := b.do("POST", "/console/api/logout", "", nil); r.status != http.StatusForbidden {
		t.Fatalf("logout without the CSRF token: %d %s", r.status, r.body)
	}
	if r := b.call("POST", "/console/api/logout", ""); r.status != http.StatusNoContent || !strings.Contains(r.header.Get("Set-Cookie"), "Max-Age=0") {
		t.Fatalf("logout: %d %v %s", r.status, r.header, r.body)
	}
	replay := &http.Request{Method: "GET", Header: http.Header{}}
	replay.URL, _ = url.Parse(s.base + "/v1/a/a/policy")
	replay.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	resp, err := http.DefaultClient.Do(replay)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the logged-out cookie replayed: %d", resp.StatusCode)
	}
}

// actWithTheSession reads and changes tenant a/a with b's session (as
// alice, an admin), is refused another tenant and a change without the
// right CSRF token, and finds alice named in the audit log.
func actWithTheSession(t *testing.T, s *server, b *browser) {
	t.Helper()
	if r := b.call("GET", "/v1/a/a/policy", ""); r.status != http.StatusOK {
		t.Fatalf("policy with the session: %d %s", r.status, r.body)
	}
	if r := b.call("GET", "/v1/b/b/policy", ""); r.status != http.StatusNotFound {
		t.Fatalf("another tenant's policy with the session: %d %s", r.status, r.body)
	}
	patch := map[string]string{"Content-Type": "application/merge-patch+json"}
	if r := b.do("PATCH", "/v1/a/a/policy", `{"sender_window_s":300}`, patch); r.status != http.StatusForbidden || r.json(t)["error"] != "csrf" {
		t.Fatalf("a change without the CSRF token: %d %s", r.status, r.body)
	}
	patch["X-CSRF-Token"] = "wrong" + b.csrf[5:]
	if r := b.do("PATCH", "/v1/a/a/policy", `{"sender_window_s":300}`, patch); r.status != http.StatusForbidden {
		t.Fatalf("a change with a wrong CSRF token: %d %s", r.status, r.body)
	}
	patch["X-CSRF-Token"] = b.csrf
	if r := b.do("PATCH", "/v1/a/a/policy", `{"sender_window_s":300}`, patch); r.status != http.StatusOK {
		t.Fatalf("a change with the CSRF token: %d %s", r.status, r.body)
	}
	if r := b.call("GET", "/v1/a/a/audit?action=send", ""); r.status != http.StatusOK {
		t.Fatalf("audit with the session: %d %s", r.status, r.body)
	}
	until(t, "the policy change and the audit read in the audit log", func() bool {
		return len(s.auditEntries("policy")) == 1 && len(s.auditEntries("audit")) >= 1
	})
	if got := s.auditEntries("policy")[0]["actor"]; got != "operator:alice" {
		t.Errorf("policy changed_by %v, want operator:alice", got)
	}
	if got := s.auditEntries("audit")[0]["actor"]; got != "operator:alice" {
		t.Errorf("audit read viewer %v, want operator:alice", got)
	}
}

func TestConsoleSessionsEndWhenIdleAndAtTheirAbsoluteExpiry(t *testing.T) {
	clock := clocktest.New(t0)
	s := startSignInServer(t, clock, "--session-idle", "10m", "--session-max", "1h")
	pw := s.addOperator("a/a", "alice", domain.AccessAuditor)
	b := s.browser()
	b.login("a/a", "alice", pw)
	clock.Advance(9 * time.Minute)
	if r := b.call("GET", "/console/api/session", ""); r.status != http.StatusOK || r.json(t)["idle_expires_at"] != "2026-12-01T09:19:00.000Z" {
		t.Fatalf("session after 9 min: %d %s", r.status, r.body)
	}
	clock.Advance(10 * time.Minute)
	if r := b.call("GET", "/v1/a/a/audit", ""); r.status != http.StatusUnauthorized {
		t.Fatalf("after 10 idle minutes: %d %s", r.status, r.body)
	}
	b.login("a/a", "alice", pw)
	for range 6 {
		clock.Advance(9 * time.Minute)
		if r := b.call("GET", "/v1/a/a/audit", ""); r.status != http.StatusOK {
			t.Fatalf("in use at %v: %d %s", clock.Now(), r.status, r.body)
		}
	}
	clock.Advance(9 * time.Minute) // 63 minutes after sign-in
	if r := b.call("GET", "/v1/a/a/audit", ""); r.status != http.StatusUnauthorized {
		t.Fatalf("past the absolute expiry: %d %s", r.status, r.body)
	}
}

func TestConsoleSessionCookieIsSecureBehindATLSProxy(t *testing.T) {
	s := startSignInServer(t, clocktest.New(t0), "--tls-proxy")
	pw := s.addOperator("a/a", "alice", domain.AccessAdmin)
	r := s.browser().do("POST", "/console/api/login", loginBody("a/a", "alice", pw), nil)
	sc := r.header.Get("Set-Cookie")
	if r.status != http.StatusOK || !strings.HasPrefix(sc, "__Host-recall_session=") || !strings.Contains(sc, "Secure") || !strings.Contains(sc, "Path=/") {
		t.Fatalf("login behind a TLS proxy: %d Set-Cookie %q", r.status, sc)
	}
}

func TestConsoleRefusesCrossSiteRequests(t *testing.T) {
	s := startSignInServer(t, clocktest.New(t0))
	pw := s.addOperator("a/a", "alice", domain.AccessAdmin)
	b := s.browser()
	b.login("a/a", "alice", pw)
	before := len(s.events())
	evil := map[string]map[string]string{
		"Sec-Fetch-Site cross-site":    {"Sec-Fetch-Site": "cross-site", "Origin": "http://evil.example"},
		"Sec-Fetch-Site same-site":     {"Sec-Fetch-Site": "same-site", "Origin": "http://127.0.0.1:1"},
		"another Origin, no Sec-Fetch": {"Origin": "http://evil.example"},
	}
	for name, h := range evil {
		h["X-CSRF-Token"] = b.csrf // even with the token: a cross-site page never has it, but the origin check stands alone
		h["Content-Type"] = "application/merge-patch+json"
		if r := b.do("PATCH", "/v1/a/a/policy", `{"recall_enabled":false}`, h); r.status != http.StatusForbidden || r.json(t)["error"] != "cross_origin" {
			t.Errorf("%s: policy change %d %s", name, r.status, r.body)
		}
		delete(h, "Content-Type")
		if r := b.do("POST", "/a/a/messages/recall", `{"msgs":[]}`, h); r.status != http.StatusForbidden {
			t.Errorf("%s: batch recall %d %s", name, r.status, r.body)
		}
		if r := b.do("POST", "/console/api/login", loginBody("a/a", "alice", pw), h); r.status != http.StatusForbidden {
			t.Errorf("%s: login %d %s", name, r.status, r.body)
		}
	}
	// a cross-site form can send only form types: login refuses them
	form := s.browser().do("POST", "/console/api/login", loginBody("a/a", "alice", pw), map[string]string{"Content-Type": "text/plain"})
	if form.status != http.StatusUnsupportedMediaType {
		t.Errorf("login as text/plain: %d %s", form.status, form.body)
	}
	noType := s.browser()
	req, _ := http.NewRequest("POST", s.base+"/console/api/login", strings.NewReader(loginBody("a/a", "alice", pw)))
	resp, err := noType.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("login without a Content-Type: %d", resp.StatusCode)
	}
	// the same origin, with the token, works
	ok := map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": s.base, "X-CSRF-Token": b.csrf, "Content-Type": "application/merge-patch+json"}
	if r := b.do("PATCH", "/v1/a/a/policy", `{"sender_window_s":200}`, ok); r.status != http.StatusOK {
		t.Fatalf("same-origin change: %d %s", r.status, r.body)
	}
	if got := len(s.events()); got != before+1 {
		t.Fatalf("%d events written, want only the same-origin change", got-before)
	}
}

func TestConsoleBadNameAndBadPasswordAnswerAlikeAndLockOutUntilAStatedTime(t *testing.T) {
	clock := clocktest.New(t0)
	s := startSignInServer(t, clock)
	pw := s.addOperator("a/a", "alice", domain.AccessAdmin)
	s.addOperator("a/a", "dora", domain.AccessAdmin)
	s.operatorChange("a/a", domain.OperatorCommand{Action: domain.OperatorDisable, Name: "dora", By: "recallctl"})
	b := s.browser()
	var first []byte
	for _, who := range [][3]string{{"a/a", "alice", "wrong password"}, {"a/a", "nobody", pw}, {"c/c", "alice", pw}, {"a/a", "dora", pw}} {
		r := b.do("POST", "/console/api/login", loginBody(who[0], who[1], who[2]), nil)
		if r.status != http.StatusUnauthorized {
			t.Fatalf("%v: %d %s", who, r.status, r.body)
		}
		if first == nil {
			first = r.body
		} else if !bytes.Equal(r.body, first) {
			t.Errorf("%v answers %s, unlike a wrong password's %s", who, r.body, first)
		}
	}
	// alice's own failures: 1 above, 4 more lock her out
	var r response
	for range 4 {
		clock.Advance(time.Minute)
		r = b.do("POST", "/console/api/login", loginBody("a/a", "alice", "still wrong"), nil)
	}
	if r.status != http.StatusTooManyRequests {
		t.Fatalf("fifth failure: %d %s", r.status, r.body)
	}
	m := r.json(t)
	until := clock.Now().Add(15 * time.Minute)
	if m["error"] != "locked_out" || m["locked_until"] != domain.NewTime(until).String() || m["retry_after_s"] != float64(900) || r.header.Get("Retry-After") != "900" {
		t.Fatalf("lockout body %v, Retry-After %q", m, r.header.Get("Retry-After"))
	}
	// the right password is refused too until then, from any client
	clock.Advance(14 * time.Minute)
	r = s.browser().do("POST", "/console/api/login", loginBody("a/a", "alice", pw), nil)
	if r.status != http.StatusTooManyRequests || r.json(t)["retry_after_s"] != float64(60) {
		t.Fatalf("right password while locked: %d %s", r.status, r.body)
	}
	clock.Advance(time.Minute)
	b.login("a/a", "alice", pw)
	if !strings.Contains(s.logged(), "sign-in locked out") {
		t.Error("the lockout was not logged")
	}
}

func TestConsoleAuditorIsRefusedAdminActionsByTheServer(t *testing.T) {
	s := startSignInServer(t, clocktest.New(t0))
	msg := s.send("alice", "bob", "chat", "txt", "hi", "c1")
	pw := s.addOperator("a/a", "aud", domain.AccessAuditor)
	b := s.browser()
	b.login("a/a", "aud", pw)
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/v1/a/a/policy", ""},
		{"PUT", "/v1/a/a/policy", `{}`},
		{"GET", "/v1/a/a/operators", ""},
		{"POST", "/v1/a/a/operators", `{"name":"eve","role":"admin"}`},
		{"POST", "/v1/a/a/operators/aud/role", `{"role":"admin"}`},
		{"POST", "/a/a/messages/recall", `{"msgs":[{"msg_id":"` + msg + `","to":"bob","chat_type":"chat"}]}`},
		{"POST", "/v1/a/a/messages/" + msg + "/recall", `{"actor":"alice"}`},
	} {
		r := b.call(c.method, c.path, c.body)
		if r.status != http.StatusForbidden || !strings.Contains(string(r.body), "forbidden_role") {
			t.Errorf("auditor %s %s: %d %s", c.method, c.path, r.status, r.body)
		}
	}
	if r := b.call("GET", "/v1/a/a/audit", ""); r.status != http.StatusOK {
		t.Fatalf("auditor's audit read: %d %s", r.status, r.body)
	}
	if n := s.countEvents(domain.TypeRecallRejected) + s.countEvents(domain.TypeMessageRecalled); n != 0 {
		t.Fatalf("refused requests recorded %d recall attempts", n)
	}
}

func TestConsoleOperatorChangesEndSessionsAtOnce(t *testing.T) {
	s := startSignInServer(t, clocktest.New(t0))
	pw := s.addOperator("a/a", "alice", domain.AccessAdmin)
	for _, c := range []domain.OperatorCommand{
		{Action: domain.OperatorReset, Name: "alice", By: "recallctl"},
		{Action: domain.OperatorSetRole, Name: "alice", Role: domain.AccessAuditor, By: "recallctl"},
		{Action: domain.OperatorDisable, Name: "alice", By: "recallctl"},
	} {
		b := s.browser()
		b.login("a/a", "alice", pw)
		if r := b.call("GET", "/v1/a/a/audit", ""); r.status != http.StatusOK {
			t.Fatalf("before %s: %d %s", c.Action, r.status, r.body)
		}
		if np := s.operatorChange("a/a", c); np != "" {
			pw = np
		}
		if r := b.call("GET", "/v1/a/a/audit", ""); r.status != http.StatusUnauthorized {
			t.Fatalf("after %s by recallctl: %d %s", c.Action, r.status, r.body)
		}
	}
}

func TestOperatorsAreAdministeredThroughTheAPIAndRecordedAsEvents(t *testing.T) {
	s := startSignInServer(t, clocktest.New(t0))
	admin := s.token("a/a", domain.AccessAdmin)
	r := s.do("POST", "/v1/a/a/operators", admin, `{"name":"bob","role":"auditor"}`)
	if r.status != http.StatusCreated {
		t.Fatalf("add: %d %s", r.status, r.body)
	}
	added := r.json(t)
	pw := added["password"].(string)
	if op := added["operator"].(map[string]any); op["name"] != "bob" || op["role"] != "auditor" || op["created_by"] != "token:admin" || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("added %v %v", added, r.header)
	}
	if r := s.do("POST", "/v1/a/a/operators", admin, `{"name":"bob","role":"admin"}`); r.status != http.StatusConflict || r.json(t)["error"] != "operator_exists" {
		t.Fatalf("add again: %d %s", r.status, r.body)
	}
	for body, code := range map[string]string{`{"name":"<b>","role":"admin"}`: "invalid_name", `{"name":"x","role":"root"}`: "invalid_role", `{"name":"x","role":"admin","password":"p"}`: "unknown_field"} {
		if r := s.do("POST", "/v1/a/a/operators", admin, body); r.status != http.StatusBadRequest || r.json(t)["error"] != code {
			t.Errorf("add %s: %d %s", body, r.status, r.body)
		}
	}
	if r := s.do("POST", "/v1/a/a/operators/nobody/disable", admin, ""); r.status != http.StatusNotFound || r.json(t)["error"] != "operator_not_found" {
		t.Fatalf("disable nobody: %d %s", r.status, r.body)
	}
	// an admin operator signed in changes bob; each change is recorded by name
	alicePw := s.addOperator("a/a", "alice", domain.AccessAdmin)
	b := s.browser()
	b.login("a/a", "alice", alicePw)
	if r := b.call("POST", "/v1/a/a/operators/bob/role", `{"role":"admin"}`); r.status != http.StatusOK || r.json(t)["operator"].(map[string]any)["role"] != "admin" {
		t.Fatalf("role: %d %s", r.status, r.body)
	}
	if r := b.call("POST", "/v1/a/a/operators/bob/disable", ""); r.status != http.StatusOK || r.json(t)["operator"].(map[string]any)["disabled"] != true {
		t.Fatalf("disable: %d %s", r.status, r.body)
	}
	if r := s.browser().do("POST", "/console/api/login", loginBody("a/a", "bob", pw), nil); r.status != http.StatusUnauthorized {
		t.Fatalf("disabled bob signs in: %d %s", r.status, r.body)
	}
	if r := b.call("POST", "/v1/a/a/operators/bob/enable", ""); r.status != http.StatusOK {
		t.Fatalf("enable: %d %s", r.status, r.body)
	}
	r = b.call("POST", "/v1/a/a/operators/bob/reset", "")
	if r.status != http.StatusOK {
		t.Fatalf("reset: %d %s", r.status, r.body)
	}
	newPw := r.json(t)["password"].(string)
	if r := s.browser().do("POST", "/console/api/login", loginBody("a/a", "bob", pw), nil); r.status != http.StatusUnauthorized {
		t.Fatalf("bob's old password after a reset: %d", r.status)
	}
	s.browser().login("a/a", "bob", newPw)
	if r := b.call("POST", "/v1/a/a/operators/alice/disable", ""); r.status != http.StatusConflict || r.json(t)["error"] != "operator_self" {
		t.Fatalf("alice disables herself: %d %s", r.status, r.body)
	}
	r = b.call("GET", "/v1/a/a/operators", "")
	var list struct {
		Operators []domain.OperatorAccount `json:"operators"`
	}
	if r.status != http.StatusOK || json.Unmarshal(r.body, &list) != nil || len(list.Operators) != 2 || list.Operators[1].Name != "bob" || list.Operators[1].LastLoginAt == nil {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	if strings.Contains(string(r.body), "argon2") {
		t.Fatal("the list shows a credential")
	}

	want := []string{"created by token:admin", "created by recallctl", "role_changed by operator:alice", "disabled by operator:alice", "enabled by operator:alice", "password_reset by operator:alice"}
	until(t, "the operator events in the audit log", func() bool { return len(s.auditEntries("operator")) == len(want) })
	for i, e := range s.auditEntries("operator") {
		if got := e["outcome"].(string) + " by " + e["actor"].(string); got != want[i] {
			t.Errorf("operator entry %d: %s, want %s", i, got, want[i])
		}
	}
	for _, e := range s.eventsAsSent() {
		if _, ok := e.Data.(domain.OperatorPayload); ok && (strings.Contains(e.JSON, "argon2") || e.Stream != "operator-a/a") {
			t.Errorf("event %s on %s: %s", e.Type(), e.Stream, e.JSON)
		}
	}
}

func TestConsoleForceRecallIsRecordedUnderTheOperatorsName(t *testing.T) {
	s := startSignInServer(t, clocktest.New(t0))
	msg := s.send("alice", "team", "groupchat", "txt", "spam", "c1")
	pw := s.addOperator("a/a", "alice", domain.AccessAdmin)
	b := s.browser()
	b.login("a/a", "alice", pw)
	r := b.call("POST", "/a/a/messages/recall", `{"msgs":[{"msg_id":"`+msg+`","to":"team","chat_type":"groupchat"},{"msg_id":"no-such","to":"x","chat_type":"chat"}]}`)
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"recalled":"yes"`) {
		t.Fatalf("batch recall: %d %s", r.status, r.body)
	}
	for _, e := range s.events() {
		var by string
		switch p := e.Data.(type) {
		case domain.MessageRecalled:
			by = p.RequestedBy
		case domain.RecallRejected:
			by = p.RequestedBy
		default:
			continue
		}
		if by != "operator:alice" {
			t.Errorf("%s does not name the operator: %+v", e.Type(), e.Data)
		}
	}
	until(t, "the recall in the audit log", func() bool {
		for _, e := range s.auditEntries("recall") {
			if e["outcome"] == "recalled" && strings.Contains(e["detail"].(string), "requested_by=operator:alice") {
				return true
			}
		}
		return false
	})
	// a token's recall stays as it was: no requested_by
	msg2 := s.send("alice", "team", "groupchat", "txt", "spam 2", "c2")
	s.do("POST", "/a/a/messages/recall", s.token("a/a", domain.AccessAdmin), `{"msgs":[{"msg_id":"`+msg2+`","to":"team","chat_type":"groupchat"}]}`)
	for _, e := range s.eventsAsSent() {
		if p, ok := e.Data.(domain.MessageRecalled); ok && string(p.MsgID) == msg2 && strings.Contains(e.JSON, "requested_by") {
			t.Errorf("a token's recall names an operator: %s", e.JSON)
		}
	}
}

// The demo tenant has recalls to chart from its first start: in time,
// timeouts, refusals, over the last day; and only then.
func TestTheDemoTenantStartsWithADayOfRecallsToChart(t *testing.T) {
	clock := clocktest.New(t0)
	dir := t.TempDir()
	s := startServerConfigured(t, dir, signInConfig(clock), "--demo", "demo/demo")
	s.caughtUp()
	toks := map[string]string{}
	for _, line := range strings.Split(s.printed(), "\n") {
		if k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "="); ok && strings.HasSuffix(k, "_TOKEN") {
			toks[k] = v
		}
	}
	rep := s.do("GET", "/v1/demo/demo/reports/recalls?group_by=outcome&from=2026-11-30T09:00:00Z&to=2026-12-01T09:00:01Z", toks["ADMIN_TOKEN"], "")
	var report struct {
		Rows []struct {
			Key                                   string
			Attempts, Recalled, Refused, Timeouts int
		} `json:"rows"`
	}
	if rep.status != http.StatusOK || json.Unmarshal(rep.body, &report) != nil {
		t.Fatalf("report: %d %s", rep.status, rep.body)
	}
	sum := map[string]int{}
	for _, r := range report.Rows {
		sum["attempts"] += r.Attempts
		sum["recalled"] += r.Recalled
		sum["timeouts"] += r.Timeouts
		sum["other refusals"] += r.Refused - r.Timeouts
	}
	for _, k := range []string{"recalled", "timeouts", "other refusals"} {
		if sum[k] < 3 {
			t.Errorf("the demo day has %d %s (%v): too few to chart", sum[k], k, sum)
		}
	}
	if !strings.Contains(s.printed(), "operator add demo/demo alice --role admin") {
		t.Errorf("the banner does not say how to sign in to the console:\n%s", s.printed())
	}
	before := len(s.do("GET", "/v1/demo/demo/events?from_position=0&limit=10000", toks["AUDITOR_TOKEN"], "").body)
	s.shutdown()
	s2 := startServerConfigured(t, dir, signInConfig(clock), "--demo", "demo/demo")
	if after := len(s2.do("GET", "/v1/demo/demo/events?from_position=0&limit=10000", toks["AUDITOR_TOKEN"], "").body); after != before {
		t.Fatalf("a second start seeded again: %d bytes of events, was %d", after, before)
	}
}

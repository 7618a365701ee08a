package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recallledger/recall/adapters/tenants"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/clocktest"
)

const (
	svc     = domain.AccessService
	adm     = domain.AccessAdmin
	auditor = domain.AccessAuditor
)

func TestAuthentication(t *testing.T) {
	s := startServer(t)
	msg := s.send("alice", "bob", "chat", "txt", "hi", "c1")
	body := `{"from":"alice","to":"bob","chat_type":"chat","type":"txt","content":"x"}`
	cases := []struct {
		name, method, path, token, body string
		status                          int
		code                            string
	}{
		{"no token is 401", "POST", "/v1/a/a/messages", "", body, 401, "unauthorized"},
		{"garbage token is 401", "POST", "/v1/a/a/messages", "nope", body, 401, "unauthorized"},
		{"other tenant's token is 404", "POST", "/v1/a/a/messages", s.token("b/b", svc), body, 404, "not_found"},
		{"other tenant's admin cannot read policy", "GET", "/v1/a/a/policy", s.token("b/b", adm), "", 404, "not_found"},
		{"other tenant's auditor cannot read events", "GET", "/v1/a/a/events", s.token("b/b", auditor), "", 404, "not_found"},
		{"other tenant cannot recall", "POST", "/v1/a/a/messages/" + msg + "/recall", s.token("b/b", svc), `{"actor":"alice"}`, 404, "not_found"},
		{"other tenant cannot batch recall", "POST", "/a/a/messages/recall", s.token("b/b", adm), `{"msgs":[{"msg_id":"` + msg + `","to":"bob","chat_type":"chat"}]}`, 404, "not_found"},
		{"auditor cannot send", "POST", "/v1/a/a/messages", s.token("a/a", auditor), body, 403, "forbidden_role"},
		{"service cannot set policy", "PUT", "/v1/a/a/policy", s.token("a/a", svc), `{}`, 403, "forbidden_role"},
		{"service cannot batch recall", "POST", "/a/a/messages/recall", s.token("a/a", svc), `{"msgs":[]}`, 403, "forbidden_role"},
		{"service cannot read events", "GET", "/v1/a/a/events", s.token("a/a", svc), "", 403, "forbidden_role"},
		{"admin cannot send", "POST", "/v1/a/a/messages", s.token("a/a", adm), body, 403, "forbidden_role"},
		{"unknown tenant path is 404", "GET", "/v1/zz/zz/policy", s.token("a/a", adm), "", 404, "not_found"},
	}
	before := len(s.events())
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := s.do(c.method, c.path, c.token, c.body)
			if r.status != c.status {
				t.Fatalf("status %d, want %d: %s", r.status, c.status, r.body)
			}
			if got := r.json(t)["error"]; got != c.code {
				t.Fatalf("error %v, want %s", got, c.code)
			}
		})
	}
	if after := len(s.events()); after != before {
		t.Fatalf("refused requests wrote %d events", after-before)
	}
}

func TestTokenRotationTakesEffectAtOnce(t *testing.T) {
	s := startServer(t)
	old := s.token("a/a", adm)
	if r := s.do("GET", "/v1/a/a/policy", old, ""); r.status != 200 {
		t.Fatalf("before rotation: %d", r.status)
	}
	// what `recallctl tenant rotate` does, from another registry handle on
	// the same data directory
	reg, err := tenants.Open(s.dir)
	if err != nil {
		t.Fatal(err)
	}
	tn, _ := domain.ParseTenant("a/a")
	var rotated struct{ Token string }
	if rotated.Token, err = reg.Rotate(tn, domain.AccessAdmin); err != nil {
		t.Fatal(err)
	}
	if r := s.do("GET", "/v1/a/a/policy", old, ""); r.status != 401 {
		t.Fatalf("old token after rotation: %d, want 401", r.status)
	}
	if r := s.do("GET", "/v1/a/a/policy", rotated.Token, ""); r.status != 200 {
		t.Fatalf("new token: %d %s", r.status, r.body)
	}
}

func TestSendIsIdempotentByClientMsgID(t *testing.T) {
	s := startServer(t)
	tok := s.token("a/a", svc)
	body := `{"from":"alice","to":"bob","chat_type":"chat","type":"txt","content":"hello","platform":"ios","client_msg_id":"k1"}`
	first := s.do("POST", "/v1/a/a/messages", tok, body)
	if first.status != 201 {
		t.Fatalf("first send: %d %s", first.status, first.body)
	}
	f := first.json(t)
	if f["conversation_id"] != "chat:alice:bob" || f["sent_at"] == "" {
		t.Fatalf("first send body: %s", first.body)
	}
	again := s.do("POST", "/v1/a/a/messages", tok, body)
	if again.status != 200 || again.json(t)["msg_id"] != f["msg_id"] || again.json(t)["sent_at"] != f["sent_at"] {
		t.Fatalf("repeat send: %d %s, want 200 with %s", again.status, again.body, first.body)
	}
	conflict := s.do("POST", "/v1/a/a/messages", tok, strings.Replace(body, "hello", "other", 1))
	if conflict.status != 409 || conflict.json(t)["error"] != "client_msg_id_conflict" {
		t.Fatalf("conflicting send: %d %s", conflict.status, conflict.body)
	}
	// the same client_msg_id from another sender is another message
	other := s.do("POST", "/v1/a/a/messages", tok, strings.Replace(strings.Replace(body, `"from":"alice"`, `"from":"carol"`, 1), "hello", "other", 1))
	if other.status != 201 || other.json(t)["msg_id"] == f["msg_id"] {
		t.Fatalf("other sender: %d %s", other.status, other.body)
	}
	if n := len(s.events()); n != 2 {
		t.Fatalf("%d events, want 2 sends", n)
	}
}

func TestBadInputIsRefusedAndWritesNothing(t *testing.T) {
	s := startServer(t)
	msg := s.send("alice", "bob", "chat", "txt", "hi", "c1")
	tok := s.token("a/a", svc)
	good := map[string]any{"from": "alice", "to": "bob", "chat_type": "chat", "type": "txt", "content": "x"}
	with := func(k string, v any) string {
		m := map[string]any{}
		for kk, vv := range good {
			m[kk] = vv
		}
		m[k] = v
		b, _ := json.Marshal(m)
		return string(b)
	}
	cases := []struct {
		name, path, body string
		status           int
		code             string
	}{
		{"malformed JSON", "/v1/a/a/messages", `{"from":`, 400, "invalid_body"},
		{"not an object", "/v1/a/a/messages", `[1,2]`, 400, "invalid_body"},
		{"empty body", "/v1/a/a/messages", ``, 400, "invalid_body"},
		{"two objects", "/v1/a/a/messages", with("from", "alice") + `{}`, 400, "invalid_body"},
		{"unknown field", "/v1/a/a/messages", with("sneaky", 1), 400, "unknown_field"},
		{"wrong field type", "/v1/a/a/messages", with("from", 42), 400, "invalid_body"},
		{"bad sender id", "/v1/a/a/messages", with("from", "al ice"), 400, "invalid_from"},
		{"empty recipient", "/v1/a/a/messages", with("to", ""), 400, "invalid_to"},
		{"bad chat type", "/v1/a/a/messages", with("chat_type", "dm"), 400, "invalid_chat_type"},
		{"bad message type", "/v1/a/a/messages", with("type", "exe"), 400, "invalid_type"},
		{"content too large", "/v1/a/a/messages", with("content", strings.Repeat("x", domain.MaxContentBytes+1)), 400, "invalid_content"},
		{"body too large", "/v1/a/a/messages", with("content", strings.Repeat("x", 300<<10)), 413, "body_too_large"},
		{"NUL in content", "/v1/a/a/messages", with("content", "a\x00b"), 400, "invalid_content"},
		{"non-UTF-8 body", "/v1/a/a/messages", `{"from":"alice","to":"bob","chat_type":"chat","content":"` + "\xff\xfe" + `"}`, 400, "invalid_body"},
		{"bad platform", "/v1/a/a/messages", with("platform", "iOS 17"), 400, "invalid_platform"},
		{"deeply nested value", "/v1/a/a/messages", `{"from":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`, 400, "invalid_body"},
		{"object where a string belongs", "/v1/a/a/messages", `{"from":{"a":{"b":{"c":1}}},"to":"bob","chat_type":"chat"}`, 400, "invalid_body"},
		{"control characters in a user id", "/v1/a/a/messages", with("from", "alice\r\nlevel=ERROR msg=forged"), 400, "invalid_from"},
		{"escape sequence in content is fine but NUL is not", "/v1/a/a/messages", with("content", "\x1b[2J\x00"), 400, "invalid_content"},
		{"client_msg_id with spaces", "/v1/a/a/messages", with("client_msg_id", "a b"), 400, "invalid_client_msg_id"},
		{"bad msg id in path", "/v1/a/a/messages/bad.id/recall", `{"actor":"alice"}`, 400, "invalid_msg_id"},
		{"bad actor role", "/v1/a/a/messages/" + msg + "/recall", `{"actor":"alice","actor_role":"god"}`, 400, "invalid_actor_role"},
		{"control characters in reason", "/v1/a/a/messages/" + msg + "/recall", `{"actor":"alice","reason":"a\nb"}`, 400, "invalid_reason"},
		{"missing actor", "/v1/a/a/messages/" + msg + "/recall", `{}`, 400, "invalid_actor"},
		{"bad reader", "/v1/a/a/messages/" + msg + "/read", `{"reader":"<script>"}`, 400, "invalid_reader"},
	}
	before := len(s.events())
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := s.do("POST", c.path, tok, c.body)
			if r.status != c.status {
				t.Fatalf("status %d, want %d: %s", r.status, c.status, r.body)
			}
			m := r.json(t)
			if m["error"] != c.code || m["message"] == "" {
				t.Fatalf("body %s, want error %s with a message", r.body, c.code)
			}
		})
	}
	if after := len(s.events()); after != before {
		t.Fatalf("bad requests wrote %d events", after-before)
	}
}

func TestReadReceipts(t *testing.T) {
	s := startServer(t)
	msg := s.send("alice", "bob", "chat", "txt", "hi", "c1")
	tok := s.token("a/a", svc)
	steps := []struct {
		name, reader string
		status       int
		recorded     bool
	}{
		{"first read by the recipient is recorded", "bob", 200, true},
		{"a repeat records nothing", "bob", 200, false},
		{"the sender's own read records nothing", "alice", 200, false},
	}
	for _, st := range steps {
		r := s.do("POST", "/v1/a/a/messages/"+msg+"/read", tok, `{"reader":"`+st.reader+`","platform":"web"}`)
		if r.status != st.status || r.json(t)["recorded"] != st.recorded {
			t.Fatalf("%s: %d %s", st.name, r.status, r.body)
		}
	}
	if r := s.do("POST", "/v1/a/a/messages/"+msg+"/read", tok, `{"reader":"mallory"}`); r.status != 400 || r.json(t)["error"] != "not_a_recipient" {
		t.Fatalf("stranger: %d %s", r.status, r.body)
	}
	if r := s.do("POST", "/v1/a/a/messages/nosuchmsg/read", tok, `{"reader":"bob"}`); r.status != 404 {
		t.Fatalf("unknown message: %d %s", r.status, r.body)
	}
	reads := 0
	for _, e := range s.events() {
		if e.Type() == domain.TypeMessageRead {
			reads++
		}
	}
	if reads != 1 {
		t.Fatalf("%d MessageRead events, want 1", reads)
	}
}

func TestRecallOverHTTP(t *testing.T) {
	s := startServer(t)
	tok := s.token("a/a", svc)
	recall := func(msg, body string) response { return s.do("POST", "/v1/a/a/messages/"+msg+"/recall", tok, body) }

	msg := s.send("alice", "bob", "chat", "txt", "oops", "c1")
	if r := recall(msg, `{"actor":"bob","platform":"android"}`); r.status != 403 || r.json(t)["reason"] != "forbidden" || r.json(t)["recalled"] != false {
		t.Fatalf("bob recalls alice's message: %d %s", r.status, r.body)
	}
	ok := recall(msg, `{"actor":"alice","platform":"ios","reason":"typo","request_id":"r1"}`)
	m := ok.json(t)
	if ok.status != 200 || m["recalled"] != true || m["recalled_at"] == nil || m["elapsed_ms"] == nil || m["window_ms"] != float64(120000) {
		t.Fatalf("sender recall: %d %s", ok.status, ok.body)
	}
	replay := recall(msg, `{"actor":"alice","platform":"ios","reason":"typo","request_id":"r1"}`)
	if replay.status != 200 || replay.json(t)["replayed"] != true || replay.json(t)["recalled_at"] != m["recalled_at"] {
		t.Fatalf("retry with the same request_id: %d %s", replay.status, replay.body)
	}
	if r := recall(msg, `{"actor":"alice","request_id":"r2"}`); r.status != 409 || r.json(t)["reason"] != "already_recalled" {
		t.Fatalf("second recall: %d %s", r.status, r.body)
	}
	if r := recall("doesnotexist", `{"actor":"alice"}`); r.status != 404 || r.json(t)["reason"] != "not_found" {
		t.Fatalf("missing message: %d %s", r.status, r.body)
	}
	money := s.send("alice", "bob", "chat", "red_packet", "¥88", "c2")
	if r := recall(money, `{"actor":"alice"}`); r.status != 409 || r.json(t)["reason"] != "type_not_recallable" {
		t.Fatalf("red packet: %d %s", r.status, r.body)
	}
	group := s.send("alice", "g1", "groupchat", "txt", "spam", "c3")
	if r := recall(group, `{"actor":"owner1","actor_role":"group_owner"}`); r.status != 200 || r.json(t)["window_ms"] != float64(86400000) {
		t.Fatalf("group owner recall: %d %s", r.status, r.body)
	}

	// every attempt is one event: bob's refusal, alice's recall, the
	// already_recalled refusal, not_found, red packet, group owner — the
	// replay records nothing
	attempts := map[string]int{}
	for _, e := range s.events() {
		if e.Type() == domain.TypeMessageRecalled || e.Type() == domain.TypeRecallRejected {
			attempts[e.Type()]++
		}
	}
	if attempts[domain.TypeMessageRecalled] != 2 || attempts[domain.TypeRecallRejected] != 4 {
		t.Fatalf("attempt events %v, want 2 recalled and 4 rejected", attempts)
	}
	metrics := s.do("GET", "/metrics", "", "")
	for _, want := range []string{`recall_outcomes_total{outcome="recalled"} 2`, `recall_outcomes_total{outcome="forbidden"} 1`, `recall_store_append_duration_seconds_count{result="ok"}`} {
		if !strings.Contains(string(metrics.body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestRecallWindowIsTheServersClock(t *testing.T) {
	clock := clocktest.New(time.Now())
	s := startServerWith(t, t.TempDir(), clock)
	if r := s.do("PUT", "/v1/a/a/policy", s.token("a/a", adm), `{"sender_window_s":1}`); r.status != 200 {
		t.Fatalf("set policy: %d %s", r.status, r.body)
	}
	msg := s.send("alice", "bob", "chat", "txt", "late", "c1")
	clock.Advance(1100 * time.Millisecond) // past the 1 s window by the server's clock, whatever the client says
	r := s.do("POST", "/v1/a/a/messages/"+msg+"/recall", s.token("a/a", svc), `{"actor":"alice"}`)
	m := r.json(t)
	if r.status != 409 || m["reason"] != "exceed_time_limit" || m["window_ms"] != float64(1000) || m["elapsed_ms"] != float64(1100) || m["policy_version"] != float64(1) {
		t.Fatalf("late recall: %d %s", r.status, r.body)
	}
}

func TestPolicy(t *testing.T) {
	s := startServer(t)
	tok := s.token("a/a", adm)
	r := s.do("GET", "/v1/a/a/policy", tok, "")
	p := r.json(t)
	if r.status != 200 || p["version"] != float64(0) || p["sender_window_s"] != float64(120) || p["audit_retention_s"] != float64(15552000) {
		t.Fatalf("default policy: %d %s", r.status, r.body)
	}
	for name, body := range map[string]string{
		"window longer than retention": `{"message_retention_s":60}`,
		"admin window over 7 days":     `{"admin_window_s":700000}`,
		"zero sender window":           `{"sender_window_s":0}`,
		"red packets recallable":       `{"recallable_types":["txt","red_packet"]}`,
		"unknown field":                `{"sender_window":5}`,
	} {
		if r := s.do("PUT", "/v1/a/a/policy", tok, body); r.status != 400 {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	r = s.do("PUT", "/v1/a/a/policy", tok, `{"recall_enabled":false}`)
	if r.status != 200 || r.json(t)["version"] != float64(1) {
		t.Fatalf("disable: %d %s", r.status, r.body)
	}
	msg := s.send("alice", "bob", "chat", "txt", "x", "c1")
	rr := s.do("POST", "/v1/a/a/messages/"+msg+"/recall", s.token("a/a", svc), `{"actor":"alice"}`)
	if rr.status != 403 || rr.json(t)["reason"] != "service_disabled" || rr.json(t)["policy_version"] != float64(1) {
		t.Fatalf("recall while disabled: %d %s", rr.status, rr.body)
	}
	policies := 0
	for _, e := range s.events() {
		if e.Type() == domain.TypeTenantPolicySet {
			policies++
		}
	}
	if policies != 1 {
		t.Fatalf("%d policy events, want 1 (refused changes write nothing)", policies)
	}
}

func TestEasemobBatchRecall(t *testing.T) {
	s := startServer(t)
	tok := s.token("a/a", adm)
	m1 := s.send("alice", "bob", "chat", "txt", "one", "c1")
	m2 := s.send("alice", "bob", "chat", "txt", "two", "c2")
	body := fmt.Sprintf(`{"msgs":[{"msg_id":%q,"to":"bob","chat_type":"chat"},{"msg_id":%q,"to":"carol","chat_type":"chat"},{"msg_id":"nosuch","to":"bob","chat_type":"chat"}]}`, m1, m2)
	r := s.do("POST", "/a/a/messages/recall", tok, body)
	if r.status != 200 {
		t.Fatalf("batch: %d %s", r.status, r.body)
	}
	// each failure's Easemob string is the handler's test
	// (httpapi TestEasemobBatchRecallPutsTheFailureStringInRecalled); here,
	// through recalld, one recalled and one refused, in order
	if !strings.Contains(string(r.body), fmt.Sprintf(`{"msg_id":%q,"recalled":"yes"`, m1)) || !strings.Contains(string(r.body), `"reason":"recipient_mismatch"`) {
		t.Fatalf("batch: %s", r.body)
	}
	// again: the first is already recalled, which Easemob reports as not found
	r = s.do("POST", "/a/a/messages/recall", tok, fmt.Sprintf(`{"msgs":[{"msg_id":%q,"to":"bob","chat_type":"chat"}]}`, m1))
	if !strings.Contains(string(r.body), `"recallfailed":"not_found msg"`) {
		t.Fatalf("repeat batch: %s", r.body)
	}

	items := make([]string, 101)
	for i := range items {
		items[i] = fmt.Sprintf(`{"msg_id":"m%d","to":"bob","chat_type":"chat"}`, i)
	}
	if r := s.do("POST", "/a/a/messages/recall", tok, `{"msgs":[`+strings.Join(items, ",")+`]}`); r.status != 400 {
		t.Fatalf("101 messages: %d %s", r.status, r.body)
	}

	if r := s.do("PUT", "/v1/a/a/policy", tok, `{"recall_enabled":false}`); r.status != 200 {
		t.Fatal(r.status)
	}
	r = s.do("POST", "/a/a/messages/recall", tok, fmt.Sprintf(`{"msgs":[{"msg_id":%q,"to":"bob","chat_type":"chat"}]}`, m2))
	e := r.json(t)
	if r.status != 403 || e["error"] != "forbidden_op" || e["error_description"] != "message recall service is unopened" ||
		e["exception"] == "" || e["timestamp"] == nil || e["duration"] != float64(0) {
		t.Fatalf("disabled tenant: %d %s", r.status, r.body)
	}
}

func TestEventsFeed(t *testing.T) {
	s := startServer(t)
	for i := range 5 {
		s.send("alice", "bob", "chat", "txt", fmt.Sprint(i), fmt.Sprint("c", i))
	}
	// tenant b's events must not show in a's feed
	bb := s.do("POST", "/v1/b/b/messages", s.token("b/b", svc), `{"from":"x","to":"y","chat_type":"chat","content":"b"}`)
	if bb.status != 201 {
		t.Fatal(bb.status)
	}
	evs := s.events()
	if len(evs) != 5 {
		t.Fatalf("%d events, want 5", len(evs))
	}
	for i, e := range evs {
		if e.Tenant != "a/a" || e.SchemaVersion != 1 || e.Type() != domain.TypeMessageSent || e.StreamVersion != 0 {
			t.Fatalf("event %d: %+v", i, e)
		}
		if i > 0 && e.Position <= evs[i-1].Position {
			t.Fatalf("positions not increasing: %d then %d", evs[i-1].Position, e.Position)
		}
	}
	page := s.do("GET", fmt.Sprintf("/v1/a/a/events?from_position=%d&limit=2", evs[1].Position), s.token("a/a", auditor), "")
	lines := strings.Split(strings.TrimSpace(string(page.body)), "\n")
	if page.status != 200 || len(lines) != 2 || page.header.Get("X-Next-Position") != fmt.Sprint(evs[2].Position+1) ||
		page.header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("page: %d %v %q", page.status, page.header, page.body)
	}
	for _, q := range []string{"from_position=-1", "from_position=x", "limit=0", "limit=100000"} {
		if r := s.do("GET", "/v1/a/a/events?"+q, s.token("a/a", auditor), ""); r.status != 400 {
			t.Errorf("%s: %d", q, r.status)
		}
	}
}

func TestPublicEndpoints(t *testing.T) {
	s := startServer(t)
	for path, want := range map[string]string{"/healthz": `"ok":true`, "/readyz": `"ready":true`, "/metrics": "recall_outcomes_total", "/openapi.json": `"openapi"`} {
		r := s.do("GET", path, "", "")
		if r.status != 200 || !strings.Contains(string(r.body), want) {
			t.Errorf("%s: %d %.200s", path, r.status, r.body)
		}
	}
	if r := s.do("GET", "/nope", "", ""); r.status != 404 || r.json(t)["error"] != "not_found" {
		t.Errorf("unknown path: %d %s", r.status, r.body)
	}
}

func TestRateLimitPerTenant(t *testing.T) {
	s := startServer(t, "--rate-per-tenant", "1")
	codes := map[int]int{}
	var last response
	for range 5 {
		last = s.do("GET", "/v1/a/a/policy", s.token("a/a", adm), "")
		codes[last.status]++
	}
	if codes[200] != 2 || codes[429] != 3 {
		t.Fatalf("statuses %v, want 2×200 (burst) then 429s", codes)
	}
	if last.header.Get("Retry-After") == "" || last.json(t)["error"] != "rate_limited" {
		t.Fatalf("429 without Retry-After: %v %s", last.header, last.body)
	}
	// another tenant has its own bucket
	if r := s.do("GET", "/v1/b/b/policy", s.token("b/b", adm), ""); r.status != 200 {
		t.Fatalf("tenant b limited by a's traffic: %d", r.status)
	}
}

func TestConcurrentRecallsOfOneMessage(t *testing.T) {
	s := startServer(t)
	msg := s.send("alice", "g1", "groupchat", "txt", "contested", "c1")
	const n = 40
	statuses := make([]response, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			actor, role := "alice", "member"
			if i%2 == 1 {
				actor, role = fmt.Sprint("admin", i), "group_admin"
			}
			statuses[i] = s.do("POST", "/v1/a/a/messages/"+msg+"/recall", s.token("a/a", svc),
				fmt.Sprintf(`{"actor":%q,"actor_role":%q}`, actor, role))
		}()
	}
	close(start)
	wg.Wait()
	won := 0
	for i, r := range statuses {
		switch {
		case r.status == 200:
			won++
		case r.status == 409 && strings.Contains(string(r.body), `"already_recalled"`):
		default:
			t.Errorf("recall %d: %d %s", i, r.status, r.body)
		}
	}
	if won != 1 {
		t.Fatalf("%d recalls succeeded, want exactly 1", won)
	}
	recalled, rejected := 0, 0
	for _, e := range s.events() {
		switch e.Type() {
		case domain.TypeMessageRecalled:
			recalled++
		case domain.TypeRecallRejected:
			rejected++
		}
	}
	if recalled != 1 || rejected != n-1 {
		t.Fatalf("events: %d recalled, %d rejected; want 1 and %d", recalled, rejected, n-1)
	}
}

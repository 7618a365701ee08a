package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/clocktest"
)

// caughtUp waits until every projection applied everything recorded.
func (s *server) caughtUp() {
	s.t.Helper()
	eventually(s.t, func() string {
		if r := s.do("GET", "/readyz", "", ""); r.status != http.StatusOK {
			return "not ready: " + string(r.body)
		}
		return ""
	})
}

// recallAs asks for a recall of msg in tenant a/a with the service token.
func (s *server) recallAs(msg, actor, role string) int {
	s.t.Helper()
	body, _ := json.Marshal(map[string]string{"actor": actor, "actor_role": role, "platform": "ios"})
	return s.do("POST", "/v1/a/a/messages/"+msg+"/recall", s.token("a/a", domain.AccessService), string(body)).status
}

func (s *server) readBy(msg, reader string) {
	s.t.Helper()
	if r := s.do("POST", "/v1/a/a/messages/"+msg+"/read", s.token("a/a", domain.AccessService), `{"reader":"`+reader+`"}`); r.status != http.StatusOK {
		s.t.Fatalf("read: %d %s", r.status, r.body)
	}
}

type whatIf struct {
	Attempts    int `json:"attempts"`
	Changed     int `json:"changed"`
	Transitions []struct {
		From    string   `json:"from"`
		To      string   `json:"to"`
		Count   int      `json:"count"`
		Samples []string `json:"sample_msg_ids"`
	} `json:"transitions"`
}

func (w whatIf) String() string {
	out := fmt.Sprintf("%d/%d", w.Changed, w.Attempts)
	for _, t := range w.Transitions {
		out += fmt.Sprintf(" %s>%s:%d%v", t.From, t.To, t.Count, t.Samples)
	}
	return out
}

// recordKnownAttempts records, under the default policy, a message alice
// tries to recall at 150 s and at 200 s (two timeouts), one bob reads and
// she recalls at 60 s, one she recalls unread at 30 s, and one bob may not
// recall; it returns the first two.
func recordKnownAttempts(s *server, clock *clocktest.Clock) (late, read string) {
	s.t.Helper()
	at := func(d time.Duration) { clock.Advance(d) }
	late = s.send("alice", "bob", "chat", "txt", "late", "c-late")
	at(150 * time.Second)
	s.recallAs(late, "alice", "member")
	at(50 * time.Second)
	s.recallAs(late, "alice", "member")
	at(time.Hour)
	read = s.send("alice", "bob", "chat", "txt", "read", "c-read")
	at(10 * time.Second)
	s.readBy(read, "bob")
	at(50 * time.Second)
	s.recallAs(read, "alice", "member")
	at(time.Hour)
	quick := s.send("alice", "carol", "chat", "txt", "quick", "c-quick")
	at(30 * time.Second)
	s.recallAs(quick, "alice", "member")
	at(time.Hour)
	other := s.send("alice", "bob", "chat", "txt", "other", "c-other")
	at(5 * time.Second)
	s.recallAs(other, "bob", "member")
	at(time.Hour)
	s.caughtUp()
	return late, read
}

// simulate asks for a what-if of policy (JSON) over [from, to) as a/a's admin.
func (s *server) simulate(policy string, from, to time.Time) response {
	s.t.Helper()
	body := fmt.Sprintf(`{"policy":%s,"from":%q,"to":%q}`, policy, from.Format(time.RFC3339), to.Format(time.RFC3339))
	return s.do("POST", "/v1/a/a/policy/simulate", s.token("a/a", domain.AccessAdmin), body)
}

// simulated is the what-if a simulate answered, which must be a 200.
func (s *server) simulated(policy string, from, to time.Time) whatIf {
	s.t.Helper()
	r := s.simulate(policy, from, to)
	var w whatIf
	if r.status != http.StatusOK || json.Unmarshal(r.body, &w) != nil {
		s.t.Fatalf("simulate: %d %s", r.status, r.body)
	}
	return w
}

// TestPolicySimulateReplaysTheRecordedAttemptsOfAPeriod records a known
// set of attempts under the default policy, then asks what other
// policies would have decided, and holds the answer to a count by hand.
func TestPolicySimulateReplaysTheRecordedAttemptsOfAPeriod(t *testing.T) {
	clock := clocktest.New(t0)
	s := startSignInServer(t, clock)
	late, read := recordKnownAttempts(s, clock)
	admin := s.token("a/a", domain.AccessAdmin)
	day := [2]time.Time{t0.Add(-time.Hour), t0.Add(24 * time.Hour)}
	// the policy in force (as GET returns it, version and all) changes nothing
	cur := s.do("GET", "/v1/a/a/policy", admin, "")
	if w := s.simulated(string(cur.body), day[0], day[1]); w.String() != "0/5" {
		t.Errorf("the current policy: %s, want 0/5", w)
	}
	// by hand: a 300 s window lets the 150 s attempt through; the 200 s
	// attempt then finds the message recalled
	want := fmt.Sprintf("2/5 exceed_time_limit>already_recalled:1[%s] exceed_time_limit>recalled:1[%s]", late, late)
	if w := s.simulated(`{"sender_window_s":300}`, day[0], day[1]); w.String() != want {
		t.Errorf("a 300 s window: %s\nwant %s", w, want)
	}
	// block after read: only the read message's recall is refused
	if w := s.simulated(`{"block_after_read":true}`, day[0], day[1]); w.String() != fmt.Sprintf("1/5 recalled>read_by_recipient:1[%s]", read) {
		t.Errorf("block after read: %s", w)
	}
	// a 20 s window times out both in-time recalls (30 s and 60 s)
	if w := s.simulated(`{"sender_window_s":20}`, day[0], day[1]); w.Changed != 2 || w.Transitions[0].From != "recalled" || w.Transitions[0].To != "exceed_time_limit" {
		t.Errorf("a 20 s window: %s", w)
	}
	// only the period counts: the first hour holds the two timeouts alone
	if w := s.simulated(`{"sender_window_s":300}`, t0, t0.Add(time.Hour)); w.Attempts != 2 {
		t.Errorf("the first hour: %s", w)
	}
	checkSimulateRefusals(t, s, day)
	// nothing was written but the audit of each what-if
	if n := s.countEvents(domain.TypeTenantPolicySet); n != 0 {
		t.Fatalf("simulate recorded %d policy changes", n)
	}
	until(t, "the what-ifs in the audit log", func() bool {
		n := 0
		for _, e := range s.auditEntries("audit") {
			if strings.Contains(e["detail"].(string), "format=simulate") {
				n++
			}
		}
		return n == 5
	})
}

// checkSimulateRefusals holds simulate's refusals to PUT's for an invalid
// policy, and to a stable code for a bad period or body.
func checkSimulateRefusals(t *testing.T, s *server, day [2]time.Time) {
	t.Helper()
	admin := s.token("a/a", domain.AccessAdmin)
	bad := `{"sender_window_s":700000}`
	put := s.do("PUT", "/v1/a/a/policy", admin, bad)
	r := s.simulate(bad, day[0], day[1])
	if r.status != http.StatusBadRequest || put.status != http.StatusBadRequest || string(r.body) != string(put.body) {
		t.Errorf("invalid policy: simulate %d %s, PUT %d %s", r.status, r.body, put.status, put.body)
	}
	for _, c := range []struct {
		body, code string
	}{
		{fmt.Sprintf(`{"policy":{},"from":%q,"to":%q}`, t0.Format(time.RFC3339), t0.Add(-time.Hour).Format(time.RFC3339)), "invalid_period"},
		{fmt.Sprintf(`{"policy":{},"from":%q,"to":%q}`, t0.Format(time.RFC3339), t0.Add(100*24*time.Hour).Format(time.RFC3339)), "invalid_period"},
		{`{"policy":{},"from":"yesterday","to":"2026-12-02T00:00:00Z"}`, "invalid_from"},
		{fmt.Sprintf(`{"from":%q,"to":%q}`, t0.Format(time.RFC3339), t0.Add(time.Hour).Format(time.RFC3339)), "invalid_body"},
		{`{"policy":{"bogus":1},"from":"","to":""}`, "unknown_field"},
	} {
		if r := s.do("POST", "/v1/a/a/policy/simulate", admin, c.body); r.status != http.StatusBadRequest || r.json(t)["error"] != c.code {
			t.Errorf("%s: %d %s, want 400 %s", c.body, r.status, r.body, c.code)
		}
	}
}

func TestMessageHistoryIsTheMessagesEventsAndItsReadIsAudited(t *testing.T) {
	clock := clocktest.New(t0)
	s := startSignInServer(t, clock)
	msg := s.send("alice", "bob", "chat", "txt", "the secret plan", "c1")
	clock.Advance(10 * time.Second)
	s.readBy(msg, "bob")
	clock.Advance(200 * time.Second)
	s.recallAs(msg, "alice", "member") // a timeout
	pw := s.addOperator("a/a", "aud", domain.AccessAuditor)
	b := s.browser()
	b.login("a/a", "aud", pw)

	r := b.call("GET", "/v1/a/a/messages/"+msg+"/history", "")
	var evs []domain.Event
	if r.status != http.StatusOK || json.Unmarshal(r.body, &evs) != nil {
		t.Fatalf("history: %d %s", r.status, r.body)
	}
	var types []string
	for i, e := range evs {
		types = append(types, e.Type())
		if e.StreamVersion != int64(i) || e.SchemaVersion != 1 || e.Stream != "message-a/a."+msg {
			t.Errorf("event %d: %+v", i, e)
		}
	}
	if strings.Join(types, ",") != "MessageSent,MessageRead,RecallRejected" || evs[0].Data.(domain.MessageSent).Content != "the secret plan" {
		t.Fatalf("history %v: %s", types, r.body)
	}
	if a := evs[2].Data.(domain.RecallRejected); a.Reason != domain.ReasonExceedTimeLimit || a.ElapsedMs != 210000 {
		t.Errorf("the attempt: %+v", a)
	}
	if r := b.call("GET", "/v1/a/a/messages/no-such-message/history", ""); r.status != http.StatusNotFound || r.json(t)["error"] != "message_not_found" {
		t.Errorf("unknown message: %d %s", r.status, r.body)
	}
	until(t, "the history read in the audit log", func() bool {
		for _, e := range s.auditEntries("audit") {
			if e["actor"] == "operator:aud" && strings.Contains(e["detail"].(string), "format=history") && strings.Contains(e["detail"].(string), msg) {
				return true
			}
		}
		return false
	})

	// content as the tenant's feed_content lets it out
	admin := s.token("a/a", domain.AccessAdmin)
	if r := s.do("PUT", "/v1/a/a/policy", admin, `{"feed_content":"sha256"}`); r.status != http.StatusOK {
		t.Fatalf("policy: %d %s", r.status, r.body)
	}
	r = b.call("GET", "/v1/a/a/messages/"+msg+"/history", "")
	if strings.Contains(string(r.body), "the secret plan") || !strings.Contains(string(r.body), `"content_redacted":"sha256"`) {
		t.Errorf("under feed_content sha256: %s", r.body)
	}
}

func TestPolicyHistoryListsEveryVersionWithWhoAndWhat(t *testing.T) {
	clock := clocktest.New(t0)
	s := startSignInServer(t, clock)
	admin := s.token("a/a", domain.AccessAdmin)
	if r := s.do("PUT", "/v1/a/a/policy", admin, `{"sender_window_s":300}`); r.status != http.StatusOK {
		t.Fatal(r.status, string(r.body))
	}
	clock.Advance(time.Hour)
	pw := s.addOperator("a/a", "alice", domain.AccessAdmin)
	b := s.browser()
	b.login("a/a", "alice", pw)
	if r := b.do("PATCH", "/v1/a/a/policy", `{"block_after_read":true}`, map[string]string{"Content-Type": "application/merge-patch+json", "X-CSRF-Token": b.csrf}); r.status != http.StatusOK {
		t.Fatal(r.status, string(r.body))
	}
	r := b.call("GET", "/v1/a/a/policy/history", "")
	var versions []struct {
		Version   int64  `json:"version"`
		ChangedBy string `json:"changed_by"`
		At        string `json:"at"`
		Changes   []struct {
			Field string          `json:"field"`
			Old   json.RawMessage `json:"old"`
			New   json.RawMessage `json:"new"`
		} `json:"changes"`
	}
	if r.status != http.StatusOK || json.Unmarshal(r.body, &versions) != nil || len(versions) != 2 {
		t.Fatalf("history: %d %s", r.status, r.body)
	}
	v1, v2 := versions[0], versions[1]
	if v1.Version != 1 || v1.ChangedBy != "token:admin" || v1.At != "2026-12-01T09:00:00.000Z" || len(v1.Changes) != 1 ||
		v1.Changes[0].Field != "sender_window_s" || string(v1.Changes[0].Old) != "120" || string(v1.Changes[0].New) != "300" {
		t.Errorf("version 1: %+v", v1)
	}
	if v2.Version != 2 || v2.ChangedBy != "operator:alice" || v2.At != "2026-12-01T10:00:00.000Z" || len(v2.Changes) != 1 || v2.Changes[0].Field != "block_after_read" {
		t.Errorf("version 2: %+v", v2)
	}
}

package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/recallledger/recall/domain/clocktest"
)

// eventually polls check until it returns "" (read models follow the log
// asynchronously) and fails with its last complaint after 10 s.
func eventually(t testing.TB, check func() string) {
	t.Helper()
	eventuallyWithin(t, 10*time.Second, check)
}

// eventuallyWithin is eventually with its own deadline: a wait for a
// condition, never a sleep for time to pass (that is the test clock's job).
func eventuallyWithin(t testing.TB, within time.Duration, check func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		msg := check()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (s *server) conversation(conv, viewer, locale string) map[string]any {
	s.t.Helper()
	r := s.do("GET", fmt.Sprintf("/v1/a/a/conversations/%s/messages?viewer=%s&locale=%s", conv, viewer, locale), s.token("a/a", svc), "")
	if r.status != 200 {
		s.t.Fatalf("conversation: %d %s", r.status, r.body)
	}
	return r.json(s.t)
}

func TestConversationSurvivesRestart(t *testing.T) {
	s := startServer(t)
	hi := s.send("alice", "bob", "chat", "txt", "hi bob", "c1")
	oops := s.send("alice", "bob", "chat", "txt", "oops", "c2")
	s.do("POST", "/v1/a/a/messages/"+hi+"/read", s.token("a/a", svc), `{"reader":"bob"}`)
	if r := s.do("POST", "/v1/a/a/messages/"+oops+"/recall", s.token("a/a", svc), `{"actor":"alice"}`); r.status != 200 {
		t.Fatal(r.status)
	}
	var bob, alice string
	eventually(t, func() string {
		v := s.conversation("chat:alice:bob", "bob", "zh-CN")
		b, _ := json.Marshal(v)
		bob = string(b)
		if !strings.Contains(bob, `"notice":"alice 撤回了一条消息"`) || !strings.Contains(bob, `"read_by":["bob"]`) || v["unread"] != float64(0) {
			return "bob's view: " + bob
		}
		return ""
	})
	a, _ := json.Marshal(s.conversation("chat:alice:bob", "alice", "en"))
	alice = string(a)
	if !strings.Contains(alice, `"notice":"You recalled a message"`) || strings.Contains(alice, "oops") || !strings.Contains(alice, `"content":"hi bob"`) {
		t.Fatalf("alice's view: %s", alice)
	}
	if r := s.do("GET", "/v1/a/a/conversations/chat:alice:bob/messages?viewer=mallory", s.token("a/a", svc), ""); r.status != 403 {
		t.Fatalf("a stranger's view: %d %s", r.status, r.body)
	}
	if r := s.do("GET", "/v1/a/a/conversations/chat:alice:bob/messages?viewer=bob&locale=fr", s.token("a/a", svc), ""); r.status != 200 || r.header.Get("Content-Language") != "en" {
		t.Fatalf("unknown locale: %d %q, want en", r.status, r.header.Get("Content-Language"))
	}

	old := s
	s.shutdown()
	s = startServerIn(t, old.dir)
	s.tokens = old.tokens
	eventually(t, func() string {
		if r := s.do("GET", "/readyz", "", ""); r.status != 200 {
			return "not ready after restart: " + string(r.body)
		}
		return ""
	})
	b2, _ := json.Marshal(s.conversation("chat:alice:bob", "bob", "zh-CN"))
	a2, _ := json.Marshal(s.conversation("chat:alice:bob", "alice", "en"))
	if string(b2) != bob || string(a2) != alice {
		t.Fatalf("views changed across a restart:\n%s\n%s\n%s\n%s", bob, b2, alice, a2)
	}
}

func TestAuditSearchExportAndVerify(t *testing.T) {
	s := startServer(t)
	msg := s.send("alice", "bob", "chat", "txt", `=cmd|' /C calc'!A0`, "c1")
	s.send("alice", "bob", "chat", "txt", "unrelated", "c2")
	s.do("POST", "/v1/a/a/messages/"+msg+"/recall", s.token("a/a", svc), `{"actor":"bob"}`)
	s.do("POST", "/v1/a/a/messages/"+msg+"/recall", s.token("a/a", svc), `{"actor":"alice","reason":"sent by mistake"}`)
	tok := s.token("a/a", auditor)
	eventually(t, func() string {
		r := s.do("GET", "/v1/a/a/audit?msg_id="+msg, tok, "")
		var page struct{ Entries []map[string]any }
		_ = json.Unmarshal(r.body, &page)
		if len(page.Entries) != 3 {
			return fmt.Sprintf("history of one message: %d entries: %s", len(page.Entries), r.body)
		}
		return ""
	})
	r := s.do("GET", "/v1/a/a/audit?msg_id="+msg+"&format=csv", tok, "")
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv: %d %v", r.status, r.header)
	}
	rows, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
	if err != nil {
		t.Fatalf("the export does not parse as CSV: %v\n%s", err, r.body)
	}
	if len(rows) != 4 || len(rows[0]) != 18 || rows[0][0] != "seq" || rows[0][16] != "position" || rows[0][17] != "event_id" {
		t.Fatalf("csv rows: %q", rows)
	}
	if content := rows[1][11]; content != `'=cmd|' /C calc'!A0` {
		t.Fatalf("formula cell not neutralised: %q", content)
	}
	if rows[2][9] != "forbidden" || rows[3][8] != "recalled" || rows[3][10] != "sent by mistake" {
		t.Fatalf("csv rows: %q", rows[1:])
	}
	v := s.do("GET", "/v1/a/a/audit/verify", tok, "")
	if vm := v.json(t); v.status != 200 || vm["ok"] != true || vm["entries"].(float64) < 4 {
		t.Fatalf("verify: %d %s", v.status, v.body)
	}
	// the queries above are themselves in the log: who looked, with what
	eventually(t, func() string {
		r := s.do("GET", "/v1/a/a/audit?action=audit&format=jsonl", s.token("a/a", adm), "")
		if !strings.Contains(string(r.body), `"actor":"auditor"`) || !strings.Contains(string(r.body), "format=csv") {
			return "audit queries not recorded: " + string(r.body)
		}
		return ""
	})
	if r := s.do("GET", "/v1/a/a/audit", s.token("a/a", svc), ""); r.status != 403 {
		t.Fatalf("service token read the audit log: %d", r.status)
	}
	if r := s.do("GET", "/v1/a/a/audit", s.token("b/b", auditor), ""); r.status != 404 {
		t.Fatalf("another tenant's auditor: %d", r.status)
	}
	for _, q := range []string{"from=yesterday", "action=delete", "limit=0", "format=xml", "cursor=x"} {
		if r := s.do("GET", "/v1/a/a/audit?"+q, tok, ""); r.status != 400 {
			t.Errorf("%s: %d", q, r.status)
		}
	}
}

func TestRecallReportOverHTTP(t *testing.T) {
	// an hour back, so the report's default range (the last 24 h by the
	// real clock) holds what the advanced clock recorded
	clock := clocktest.New(time.Now().Add(-time.Hour))
	s := startServerWith(t, t.TempDir(), clock)
	if r := s.do("PUT", "/v1/a/a/policy", s.token("a/a", adm), `{"sender_window_s":1}`); r.status != 200 {
		t.Fatal(r.status)
	}
	ok := s.send("alice", "bob", "chat", "txt", "a", "c1")
	late := s.send("alice", "bob", "chat", "txt", "b", "c2")
	s.do("POST", "/v1/a/a/messages/"+ok+"/recall", s.token("a/a", svc), `{"actor":"alice","platform":"ios"}`)
	s.do("POST", "/v1/a/a/messages/"+ok+"/recall", s.token("a/a", svc), `{"actor":"bob","platform":"android"}`)
	clock.Advance(1100 * time.Millisecond) // past the 1 s window: a timeout
	s.do("POST", "/v1/a/a/messages/"+late+"/recall", s.token("a/a", svc), `{"actor":"alice","platform":"ios"}`)
	want := `{"key":"already_recalled","attempts":1,"recalled":0,"refused":1,"timeouts":0},{"key":"exceed_time_limit","attempts":1,"recalled":0,"refused":1,"timeouts":1},{"key":"recalled","attempts":1,"recalled":1,"refused":0,"timeouts":0}`
	eventually(t, func() string {
		r := s.do("GET", "/v1/a/a/reports/recalls?group_by=outcome", s.token("a/a", adm), "")
		if !strings.Contains(string(r.body), want) {
			return "report: " + string(r.body)
		}
		return ""
	})
	r := s.do("GET", "/v1/a/a/reports/recalls?group_by=platform&format=csv", s.token("a/a", auditor), "")
	if r.status != 200 || string(r.body) != "key,attempts,recalled,refused,timeouts\r\nandroid,1,0,1,0\r\nios,2,1,1,1\r\n" {
		t.Fatalf("csv report: %d %q", r.status, r.body)
	}
	for _, q := range []string{"group_by=mood", "tz=Mars/Olympus", "from=soon", "format=pdf"} {
		if r := s.do("GET", "/v1/a/a/reports/recalls?"+q, s.token("a/a", adm), ""); r.status != 400 {
			t.Errorf("%s: %d", q, r.status)
		}
	}
}

func TestConversationStreamResumesFromLastEventID(t *testing.T) {
	s := startServer(t)
	first := s.send("alice", "bob", "chat", "txt", "one", "c1")
	s.send("alice", "bob", "chat", "txt", "two", "c2")

	open := func(lastID string) (*bufio.Reader, func()) {
		req, _ := http.NewRequest("GET", s.base+"/v1/a/a/conversations/chat:alice:bob/stream?viewer=bob", nil)
		req.Header.Set("Authorization", "Bearer "+s.token("a/a", svc))
		if lastID != "" {
			req.Header.Set("Last-Event-ID", lastID)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("stream: %d %v", resp.StatusCode, resp.Header)
		}
		return bufio.NewReader(resp.Body), func() { resp.Body.Close() }
	}
	next := func(rd *bufio.Reader) (id, kind, data string) {
		t.Helper()
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				t.Fatalf("stream ended: %v", err)
			}
			line = strings.TrimRight(line, "\n")
			switch {
			case strings.HasPrefix(line, "id: "):
				id = line[4:]
			case strings.HasPrefix(line, "event: "):
				kind = line[7:]
			case strings.HasPrefix(line, "data: "):
				data = line[6:]
			case line == "" && id != "":
				return id, kind, data
			}
		}
	}
	rd, closeFirst := open("")
	id1, kind1, _ := next(rd)
	id2, kind2, _ := next(rd)
	if kind1 != "sent" || kind2 != "sent" {
		t.Fatalf("first events: %s %s", kind1, kind2)
	}
	s.do("POST", "/v1/a/a/messages/"+first+"/recall", s.token("a/a", svc), `{"actor":"alice"}`)
	id3, kind3, data3 := next(rd) // live
	if kind3 != "recalled" || !strings.Contains(data3, `"notice":"alice recalled a message"`) {
		t.Fatalf("live update: %s %s", kind3, data3)
	}
	closeFirst()

	rd2, closeSecond := open(id1) // reconnect as a client that saw only the first
	defer closeSecond()
	gotID, _, _ := next(rd2)
	gotID3, gotKind, _ := next(rd2)
	if gotID != id2 || gotID3 != id3 || gotKind != "recalled" {
		t.Fatalf("after Last-Event-ID %s: got %s then %s (%s), want %s then %s", id1, gotID, gotID3, gotKind, id2, id3)
	}
}

func TestReadinessAndProjectionMetrics(t *testing.T) {
	s := startServer(t)
	s.send("alice", "bob", "chat", "txt", "x", "c1")
	eventually(t, func() string {
		m := string(s.do("GET", "/metrics", "", "").body)
		for _, p := range []string{"conversations", "audit_log", "recall_reports", "recall_history", "message_index"} {
			if !strings.Contains(m, `recall_projection_lag_events{projection="`+p+`"} 0`) || !strings.Contains(m, `recall_projection_position{projection="`+p+`"} 1`) {
				return "metrics: " + m
			}
		}
		return ""
	})
	if r := s.do("GET", "/readyz", "", ""); r.status != 200 {
		t.Fatalf("readyz: %d %s", r.status, r.body)
	}
}

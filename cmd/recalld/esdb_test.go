package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/recallledger/recall/adapters/eventstore/esdbstore/esdbtest"
	"github.com/recallledger/recall/adapters/tenants"
)

// TestRecalldOnEventStoreDBProtocol runs recalld with --store esdb through
// the real EventStore-Client-Go against the protocol fake (these machines
// cannot run EventStoreDB): the ledger's writes land in EventStoreDB
// streams named by category, new streams get $maxAge, the read models
// follow, and a restart continues the same numbering.
func TestRecalldOnEventStoreDBProtocol(t *testing.T) {
	fake, url := esdbtest.Start(t)
	s := startServer(t, "--store", "esdb", "--esdb-url", url)
	hi := s.send("alice", "bob", "chat", "txt", "hi bob", "c1")
	oops := s.send("alice", "bob", "chat", "txt", "oops", "c2")
	repeat := `{"from":"alice","to":"bob","chat_type":"chat","type":"txt","content":"oops","platform":"ios","client_msg_id":"c2"}`
	if r := s.do("POST", "/v1/a/a/messages", s.token("a/a", svc), repeat); r.status != 200 || r.json(t)["msg_id"] != oops {
		t.Fatalf("a repeated send: %d %s, want 200 with msg_id %s", r.status, r.body, oops)
	}
	s.do("POST", "/v1/a/a/messages/"+hi+"/read", s.token("a/a", svc), `{"reader":"bob"}`)
	if r := s.do("POST", "/v1/a/a/messages/"+oops+"/recall", s.token("a/a", svc), `{"actor":"alice"}`); r.status != 200 {
		t.Fatalf("recall: %d %s", r.status, r.body)
	}
	if r := s.do("POST", "/v1/a/a/messages/"+oops+"/recall", s.token("a/a", svc), `{"actor":"alice"}`); r.status == 200 {
		t.Fatalf("a second recall succeeded: %s", r.body)
	}
	eventually(t, func() string {
		b, _ := json.Marshal(s.conversation("chat:alice:bob", "bob", "en"))
		if !strings.Contains(string(b), `"notice":"alice recalled a message"`) || !strings.Contains(string(b), `"read_by":["bob"]`) {
			return "bob's view: " + string(b)
		}
		return ""
	})
	evs := s.events()
	for i, e := range evs {
		if e.Position != uint64(i+1) {
			t.Fatalf("event %d at position %d", i, e.Position)
		}
	}
	streams := fake.Streams()
	if streams["message-a/a."+oops] != 3 || streams["message-a/a."+hi] != 2 || streams["$$message-a/a."+hi] != 1 {
		t.Fatalf("EventStoreDB streams: %v", streams)
	}

	old := s
	s.shutdown()
	s = startServerIn(t, old.dir, "--store", "esdb", "--esdb-url", url)
	s.tokens = old.tokens
	later := s.send("bob", "alice", "chat", "txt", "ok", "c3")
	after := s.events()
	if len(after) != len(evs)+1 || after[len(after)-1].Position != uint64(len(evs)+1) || !strings.HasSuffix(after[len(after)-1].Stream, later) {
		t.Fatalf("after a restart: %d events, last %+v", len(after), after[len(after)-1])
	}
}

// TestTwoNodesShareOneEventStoreDB runs two recalld nodes on one log: each
// numbers every event the same way, each node's read models show the
// other's writes, a policy set on one is used by the other, and a recall
// decided on one node is final on both.
func TestTwoNodesShareOneEventStoreDB(t *testing.T) {
	_, url := esdbtest.Start(t)
	a := startServer(t, "--store", "esdb", "--esdb-url", url)
	reg, err := os.ReadFile(filepath.Join(a.dir, tenants.FileName))
	if err != nil {
		t.Fatal(err)
	}
	bdir := t.TempDir()
	if err := os.WriteFile(filepath.Join(bdir, tenants.FileName), reg, 0o600); err != nil {
		t.Fatal(err)
	}
	b := startServerIn(t, bdir, "--store", "esdb", "--esdb-url", url)
	b.tokens = a.tokens

	if r := a.do("GET", "/v1/a/a/policy", a.token("a/a", adm), ""); r.status != 200 || r.json(t)["sender_window_s"] != float64(120) {
		t.Fatalf("a's policy: %d %s", r.status, r.body)
	}
	if r := b.do("PUT", "/v1/a/a/policy", b.token("a/a", adm), `{"sender_window_s":60}`); r.status != 200 {
		t.Fatalf("set policy on b: %d %s", r.status, r.body)
	}
	eventually(t, func() string {
		if r := a.do("GET", "/v1/a/a/policy", a.token("a/a", adm), ""); r.json(t)["sender_window_s"] != float64(60) {
			return "a still uses " + string(r.body)
		}
		return ""
	})
	hi := a.send("alice", "bob", "chat", "txt", "hi", "n1")
	if r := b.do("POST", "/v1/a/a/messages/"+hi+"/recall", b.token("a/a", svc), `{"actor":"alice"}`); r.status != 200 {
		t.Fatalf("recall on b of a's message: %d %s", r.status, r.body)
	}
	if r := a.do("POST", "/v1/a/a/messages/"+hi+"/recall", a.token("a/a", svc), `{"actor":"alice"}`); r.status == 200 || !strings.Contains(string(r.body), "already_recalled") {
		t.Fatalf("second recall on a: %d %s", r.status, r.body)
	}
	eventually(t, func() string {
		ea, eb := a.events(), b.events()
		if len(ea) != len(eb) || len(ea) != 4 {
			return fmt.Sprintf("a has %d events, b %d, want 4", len(ea), len(eb))
		}
		for i := range ea {
			if ea[i].ID != eb[i].ID || ea[i].Position != uint64(i+1) || eb[i].Position != uint64(i+1) {
				return fmt.Sprintf("position %d: a %s@%d, b %s@%d", i+1, ea[i].ID, ea[i].Position, eb[i].ID, eb[i].Position)
			}
		}
		for _, s := range []*server{a, b} {
			v, _ := json.Marshal(s.conversation("chat:alice:bob", "bob", "en"))
			if !strings.Contains(string(v), `"notice":"alice recalled a message"`) {
				return "a view without the recall: " + string(v)
			}
		}
		return ""
	})
}

package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/recallledger/recall/adapters/eventstore/esdbstore/esdbfake"
)

// TestRecalldOnEventStoreDBProtocol runs recalld with --store esdb through
// the real EventStore-Client-Go against the protocol fake (these machines
// cannot run EventStoreDB): the ledger's writes land in EventStoreDB
// streams named by category, new streams get $maxAge, the read models
// follow, and a restart continues the same numbering.
func TestRecalldOnEventStoreDBProtocol(t *testing.T) {
	fake, url := esdbfake.Start(t)
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

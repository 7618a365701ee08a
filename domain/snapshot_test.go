package domain

import (
	"fmt"
	"testing"
	"time"
)

func TestAMessageFromASnapshotAndTheEventsAfterItEqualsTheWholeStream(t *testing.T) {
	tn, _ := ParseTenant("a/a")
	at := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	payloads := []Payload{
		MessageSent{MsgID: "m1", ConversationID: "groupchat:g", ChatType: ChatGroup, From: "alice", To: "g", MsgType: "txt", Content: "secret", ContentSHA256: "ab", Platform: "ios", ClientMsgID: "c1"},
		MessageRead{MsgID: "m1", Reader: "bob"},
		RecallRejected{MsgID: "m1", Actor: "eve", ActorRole: ActorMember, Reason: ReasonForbidden, RequestID: "q1", ElapsedMs: 5, WindowMs: 120000, PolicyVersion: 2},
		MessageRead{MsgID: "m1", Reader: "carol"},
		MessageRead{MsgID: "m1", Reader: "bob"},
		MessageRecalled{MsgID: "m1", Actor: "alice", ActorRole: ActorMember, RequestID: "q2", ElapsedMs: 9, WindowMs: 120000, PolicyVersion: 2, ReadBy: []UserID{"bob", "carol"}},
		MessageRead{MsgID: "m1", Reader: "dan"},
		MessageExpired{MsgID: "m1", RetentionS: 604800},
	}
	evs := make([]Event, len(payloads))
	for i, p := range payloads {
		evs[i] = NewEvent(fmt.Sprint("e", i), tn, at.Add(time.Duration(i)*time.Second), p)
		evs[i].StreamVersion = int64(i)
	}
	var whole Message
	for _, e := range evs {
		if err := whole.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	whole.Sent.Content = "" // a snapshot leaves the content out
	for cut := range evs {
		var m Message
		for _, e := range evs[:cut+1] {
			if err := m.Apply(e); err != nil {
				t.Fatal(err)
			}
		}
		state, err := m.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		got, err := MessageFromSnapshot(state, m.Version())
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs[cut+1:] {
			if err := got.Apply(e); err != nil {
				t.Fatal(err)
			}
		}
		if g, w := fmt.Sprintf("%#v", got), fmt.Sprintf("%#v", whole); g != w {
			t.Fatalf("snapshot after event %d, then the rest:\n%s\nthe whole stream:\n%s", cut, g, w)
		}
		// without its readers: the same message but for those read before it
		light, err := MessageFromSnapshotWithoutReaders(state, m.Version())
		if err != nil {
			t.Fatal(err)
		}
		if len(light.ReadBy) != 0 {
			t.Fatalf("snapshot after event %d decoded without readers has %v", cut, light.ReadBy)
		}
		light.ReadBy, m.ReadBy, m.Sent.Content = nil, nil, ""
		if g, w := fmt.Sprintf("%#v", light), fmt.Sprintf("%#v", m); g != w {
			t.Fatalf("snapshot after event %d without readers:\n%s\nwith them, their readers left out:\n%s", cut, g, w)
		}
	}
	if _, err := MessageFromSnapshot([]byte(`{"schema":99}`), 3); err == nil {
		t.Fatal("a snapshot of an unknown schema was read")
	}
}

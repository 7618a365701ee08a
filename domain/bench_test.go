package domain

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/recallledger/recall/domain/codec"
)

func BenchmarkDecideRecall(b *testing.B) {
	m := sent(ChatGroup, "g1", "txt")
	m.ReadBy = []UserID{"bob", "carol"}
	p := DefaultPolicy()
	cmd := RecallCommand{MsgID: "m1", Actor: "alice", Role: ActorMember, Platform: "ios"}
	now := t0.Add(30 * time.Second)
	for b.Loop() {
		if d, _ := DecideRecall(cmd, m, p, now); !d.Recalled {
			b.Fatal(d)
		}
	}
}

func benchSentEvent(b *testing.B) Event {
	tn, _ := ParseTenant("bench/app")
	e, err := NewEvent("0b4c6c1e-1d1f-4a43-9d55-5a7e2a1d0001", tn, t0, TypeMessageSent, MessageSent{
		MsgID: "0b4c6c1e-1d1f-4a43-9d55-5a7e2a1d0002", ConversationID: "chat:alice:bob", ChatType: ChatSingle, From: "alice", To: "bob",
		MsgType: "txt", Content: "see you at the station at nine, bring the tickets", ContentSHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", Platform: "ios",
	})
	if err != nil {
		b.Fatal(err)
	}
	e.Stream, e.Position = "message-bench/app.0b4c6c1e-1d1f-4a43-9d55-5a7e2a1d0002", 123456
	return e
}

// BenchmarkEventEncode and BenchmarkEventDecode measure the codec that
// bounds a rebuild: the envelope and its payload, as the store holds them,
// with encoding/json and with github.com/segmentio/encoding/json, the
// decoder the store and projections use because of this measurement
// (about 5× faster decoding, byte-identical encoding). The audit chain's
// canonical encoding stays on encoding/json.
func BenchmarkEventEncode(b *testing.B) {
	e := benchSentEvent(b)
	raw, _ := json.Marshal(e)
	b.SetBytes(int64(len(raw)))
	for name, marshal := range map[string]func(any) ([]byte, error){"encoding_json": json.Marshal, "segmentio": codec.Marshal} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := marshal(e); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEventDecode(b *testing.B) {
	raw, _ := json.Marshal(benchSentEvent(b))
	b.SetBytes(int64(len(raw)))
	for name, unmarshal := range map[string]func([]byte, any) error{"encoding_json": json.Unmarshal, "segmentio": codec.Unmarshal} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				var e Event
				if err := unmarshal(raw, &e); err != nil {
					b.Fatal(err)
				}
				var p MessageSent
				if err := unmarshal(e.Data, &p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

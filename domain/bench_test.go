package domain

import (
	"encoding/json"
	"testing"
	"time"
)

func BenchmarkDecideRecall(b *testing.B) {
	tn, _ := ParseTenant("bench/app")
	var m Message
	for i, p := range []Payload{sentToGroup().payload, readBy(1, "bob").payload, readBy(2, "carol").payload} {
		e := NewEvent("e", tn, t0, p)
		e.StreamVersion = int64(i)
		if err := m.Apply(e); err != nil {
			b.Fatal(err)
		}
	}
	p := DefaultPolicy()
	cmd := RecallCommand{MsgID: "m1", Actor: "alice", Role: ActorMember, Platform: "ios"}
	now := t0.Add(30 * time.Second)
	for b.Loop() {
		if d, _ := DecideRecall(cmd, m, p, now); !d.Recalled {
			b.Fatal(d)
		}
	}
}

func benchSentEvent() Event {
	tn, _ := ParseTenant("bench/app")
	e := NewEvent("0b4c6c1e-1d1f-4a43-9d55-5a7e2a1d0001", tn, t0, MessageSent{
		MsgID: "0b4c6c1e-1d1f-4a43-9d55-5a7e2a1d0002", ConversationID: "chat:alice:bob", ChatType: ChatSingle, From: "alice", To: "bob",
		MsgType: "txt", Content: "see you at the station at nine, bring the tickets", ContentSHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", Platform: "ios",
	})
	e.Stream, e.Position = "message-bench/app.0b4c6c1e-1d1f-4a43-9d55-5a7e2a1d0002", 123456
	return e
}

// stdWire is the v1 JSON as encoding/json would take it apart: the
// envelope with its data left raw, then the payload. It is the baseline
// the codec was chosen against.
type stdWire struct {
	envelope
	Data json.RawMessage `json:"data"`
}

// BenchmarkEventEncode and BenchmarkEventDecode measure the codec that
// bounds a rebuild: the envelope and its payload, as the store holds them.
// "segmentio" is the path the store takes (Event.AppendJSON, DecodeEvent:
// domain/codec, github.com/segmentio/encoding/json, chosen because of this
// measurement: about 5× faster decoding, byte-identical encoding);
// "encoding_json" does the same two steps with encoding/json. The audit
// chain's canonical encoding is written by hand, on neither.
func BenchmarkEventEncode(b *testing.B) {
	e := benchSentEvent()
	raw, _ := e.MarshalJSON()
	b.SetBytes(int64(len(raw)))
	b.Run("encoding_json", func(b *testing.B) {
		for b.Loop() {
			data, err := json.Marshal(e.Data)
			if err != nil {
				b.Fatal(err)
			}
			w := stdWire{envelope: envelope{ID: e.ID, Type: e.Type(), SchemaVersion: e.SchemaVersion, Tenant: e.Tenant, Stream: e.Stream,
				StreamVersion: e.StreamVersion, Position: e.Position, OccurredAt: e.OccurredAt}, Data: data}
			if _, err := json.Marshal(w); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("segmentio", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			var err error
			if buf, err = e.AppendJSON(buf[:0]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkEventDecode(b *testing.B) {
	raw, _ := benchSentEvent().MarshalJSON()
	b.SetBytes(int64(len(raw)))
	b.Run("encoding_json", func(b *testing.B) {
		for b.Loop() {
			var w stdWire
			if err := json.Unmarshal(raw, &w); err != nil {
				b.Fatal(err)
			}
			var p MessageSent
			if err := json.Unmarshal(w.Data, &p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("segmentio", func(b *testing.B) {
		for b.Loop() {
			if _, err := DecodeEvent(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}

package embedded

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/recallledger/recall/domain"
)

// envelope is an event's JSON encoding with the two numbers the committer
// assigns left out: head ends at `"stream_version":`, tail starts at
// `,"occurred_at"`. The result is the bytes json.Marshal(domain.Event)
// gives, field for field.
type envelope struct {
	head, tail []byte
}

func encodeEnvelope(e domain.Event, stream string) (envelope, error) {
	var h bytes.Buffer
	h.Grow(160 + len(stream))
	h.WriteString(`{"event_id":`)
	writeString(&h, e.ID)
	h.WriteString(`,"type":`)
	writeString(&h, e.Type())
	h.WriteString(`,"schema_version":`)
	h.WriteString(strconv.Itoa(e.SchemaVersion))
	h.WriteString(`,"tenant":`)
	writeString(&h, e.Tenant)
	h.WriteString(`,"stream":`)
	writeString(&h, stream)
	h.WriteString(`,"stream_version":`)

	at, err := e.OccurredAt.MarshalJSON()
	if err != nil {
		return envelope{}, err
	}
	t := make([]byte, 0, 256)
	t = append(append(append(t, `,"occurred_at":`...), at...), `,"data":`...)
	if t, err = e.AppendData(t); err != nil {
		return envelope{}, err
	}
	return envelope{head: h.Bytes(), tail: append(t, '}')}, nil
}

func (v envelope) appendTo(buf []byte, version int64, position uint64) []byte {
	buf = append(buf, v.head...)
	buf = strconv.AppendInt(buf, version, 10)
	buf = append(buf, `,"position":`...)
	buf = strconv.AppendUint(buf, position, 10)
	return append(buf, v.tail...)
}

// writeString writes s as a JSON string, escaped as encoding/json does.
func writeString(b *bytes.Buffer, s string) {
	plain := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			plain = false
			break
		}
	}
	if plain {
		b.WriteByte('"')
		b.WriteString(s)
		b.WriteByte('"')
		return
	}
	q, _ := json.Marshal(s)
	b.Write(q)
}

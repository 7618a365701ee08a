package auditlog

import (
	"encoding"
	"encoding/binary"
	"fmt"

	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/projections"
)

// The audit log's small per-tenant state (chain head and anchor, a send's
// place, the policy it follows) is read and written for every event, so it
// is kept in a fixed binary layout rather than JSON: decoding JSON was the
// largest cost of applying an event.

func (l link) MarshalBinary() ([]byte, error) {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 16+len(l.Hash)), l.Seq)
	b = binary.BigEndian.AppendUint64(b, l.Position)
	return append(b, l.Hash...), nil
}

func (l *link) UnmarshalBinary(b []byte) error {
	if len(b) < 16 {
		return fmt.Errorf("audit link: %d bytes", len(b))
	}
	l.Seq, l.Position, l.Hash = binary.BigEndian.Uint64(b), binary.BigEndian.Uint64(b[8:]), string(b[16:])
	return nil
}

func (m msgInfo) MarshalBinary() ([]byte, error) {
	return append(binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(m.Conv)), m.SendSeq), m.Conv...), nil
}

func (m *msgInfo) UnmarshalBinary(b []byte) error {
	if len(b) < 8 {
		return fmt.Errorf("audit message index: %d bytes", len(b))
	}
	m.SendSeq, m.Conv = binary.BigEndian.Uint64(b), string(b[8:])
	return nil
}

func (p tenantPolicy) MarshalBinary() ([]byte, error) {
	keep := byte(0)
	if p.KeepContent {
		keep = 1
	}
	b := binary.BigEndian.AppendUint64(append(make([]byte, 0, 17), keep), uint64(p.RetentionS))
	return binary.BigEndian.AppendUint64(b, uint64(p.LifetimeS)), nil
}

// UnmarshalBinary reads a policy record: keep flag, audit_retention_s,
// message lifetime. A record written before the lifetime was recorded (9
// bytes) cannot say how long the tenant's messages live, so it reads as
// the longest any policy allows: its purge keeps too much rather than a
// message that may still be recalled, until the next policy change or a
// rebuild writes the whole record.
func (p *tenantPolicy) UnmarshalBinary(b []byte) error {
	switch len(b) {
	case 9:
		p.LifetimeS = domain.MaxMessageRetentionS
	case 17:
		p.LifetimeS = int64(binary.BigEndian.Uint64(b[9:]))
	default:
		return fmt.Errorf("audit policy: %d bytes", len(b))
	}
	p.KeepContent, p.RetentionS = b[0] == 1, int64(binary.BigEndian.Uint64(b[1:]))
	return nil
}

func getState(tx projections.Tx, key []byte, v encoding.BinaryUnmarshaler) (bool, error) {
	b, err := tx.Get(key)
	if err != nil || b == nil {
		return false, err
	}
	return true, v.UnmarshalBinary(b)
}

func setState(tx projections.Tx, key []byte, v encoding.BinaryMarshaler) error {
	b, err := v.MarshalBinary()
	if err != nil {
		return err
	}
	return tx.Set(key, b)
}

package conversation

import (
	"encoding/binary"
	"slices"
	"sort"

	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/projections"
)

// A message's reads, one key each, so that a read costs the same however
// many came before it (the record, rewritten per read, grew with them):
//
//	r <tenant> 0 <conv> 0 <message position> <reader> -> the position of the read's update
//
// The value orders the readers as they read, and is the change-log entry
// the message's expiry removes with it. Records written before these keys
// keep their readers in ReadBy; a message's readers are those, then its
// keys'.

func readerKey(tenant, conv string, msgPos uint64, reader string) []byte {
	return append(key('r', tenant, conv, msgPos), reader...)
}

// hasRead reports whether reader has read the message at msgPos, whose
// record is r.
func hasRead(tx projections.Tx, tenant, conv string, msgPos uint64, r record, reader string) (bool, error) {
	if slices.Contains(r.ReadBy, reader) {
		return true, nil
	}
	v, err := tx.Get(readerKey(tenant, conv, msgPos, reader))
	return v != nil, err
}

// readers returns who read the message at msgPos, whose record is r, in
// the order they read it, and the positions of the reads' updates for
// those kept as keys (readBy[len(r.ReadBy):]).
func readers(tx projections.Tx, tenant, conv string, msgPos uint64, r record) (readBy []string, readAt []uint64, err error) {
	prefix := key('r', tenant, conv, msgPos)
	type read struct {
		reader string
		at     uint64
	}
	var keyed []read
	err = tx.Scan(prefix, projections.PrefixEnd(prefix), false, func(k, v []byte) bool {
		if len(v) == 8 {
			keyed = append(keyed, read{string(k[len(prefix):]), binary.BigEndian.Uint64(v)})
		}
		return true
	})
	if err != nil {
		return nil, nil, err
	}
	sort.Slice(keyed, func(i, j int) bool { return keyed[i].at < keyed[j].at })
	readBy = append(make([]string, 0, len(r.ReadBy)+len(keyed)), r.ReadBy...)
	for _, k := range keyed {
		readBy, readAt = append(readBy, k.reader), append(readAt, k.at)
	}
	return readBy, readAt, nil
}

// read records reader's first read of msg: its key, the counts and the
// update; a repeat, or a read of a message the view does not hold,
// changes nothing.
func read(tx projections.Tx, live *Live, tenant, msg, reader string, e domain.Event) error {
	ptr, r, found, err := find(tx, tenant, msg)
	if err != nil || !found {
		return err
	}
	if already, err := hasRead(tx, tenant, ptr.Conv, ptr.Pos, r, reader); err != nil || already {
		return err
	}
	if err := countChange(tx, tenant, ptr.Conv, func(tl *tally) { tl.read(r, reader) }); err != nil {
		return err
	}
	if err := tx.Set(readerKey(tenant, ptr.Conv, ptr.Pos, reader), binary.BigEndian.AppendUint64(nil, e.Position)); err != nil {
		return err
	}
	return logUpdate(tx, live, tenant, Update{ID: e.Position, Kind: "read", ConversationID: ptr.Conv, MsgID: msg, Actor: reader, At: e.OccurredAt}, r.SentAt)
}

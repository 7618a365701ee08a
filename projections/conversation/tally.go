package conversation

import (
	"encoding/binary"
	"errors"
	"slices"
	"time"

	"github.com/recallledger/recall/domain/codec"
	"github.com/recallledger/recall/projections"
)

// The conversation's counts, from which a viewer's unread count is read
// without reading the conversation:
//
//	n <tenant> 0 <conv> 0           -> visible: the messages in the view not recalled
//	v <tenant> 0 <conv> 0 <viewer>  -> sent, read: of those, how many the viewer
//	                                   sent, and how many of the others' the viewer read
//
// (unsigned varints). A viewer's unread count is visible − sent − read,
// less the messages past retention whose expiry is not recorded yet (the
// oldest few, read at query time). They are updated with the records they
// count, in the same transaction, by every send, read, recall and expiry;
// a viewer's key is deleted when both its counts are zero, so a rebuild
// writes the same bytes as the live updates did.
//
// A conversation written before the counts existed has no n key: its
// first change counts its records once (and a query of it counts them
// every time until then), so upgrading needs no rebuild.

// retentionSlack is how far past retainedSince a query still looks for
// messages past retention: positions follow the order appends were
// committed in, which may differ from the order of their send times by as
// long as an append takes.
const retentionSlack = time.Minute

// viewerCounts is one viewer's counts.
type viewerCounts struct{ sent, read uint64 }

// tally is a conversation's counts, as one change updates them.
type tally struct {
	visible int64
	viewers map[string]*[2]int64 // viewer -> changes to sent, read
}

// tallyChange is what one change does to a conversation's counts.
type tallyChange func(*tally)

func (tl *tally) viewer(v string) *[2]int64 {
	if tl.viewers == nil {
		tl.viewers = map[string]*[2]int64{}
	}
	c := tl.viewers[v]
	if c == nil {
		c = new([2]int64)
		tl.viewers[v] = c
	}
	return c
}

// sent counts r, just sent, as visible.
func (tl *tally) sent(r record) {
	tl.visible++
	tl.viewer(r.From)[0]++
}

// read counts reader's read of r, when it is visible and not the sender's.
func (tl *tally) read(r record, reader string) {
	if !r.Recalled && reader != r.From {
		tl.viewer(reader)[1]++
	}
}

// hide takes r, read by readBy, out of the counts (it was recalled, or it
// expired) unless it was out already.
func (tl *tally) hide(r record, readBy []string) {
	if r.Recalled {
		return
	}
	tl.visible--
	tl.viewer(r.From)[0]--
	for _, reader := range readBy {
		if reader != r.From {
			tl.viewer(reader)[1]--
		}
	}
}

func countKey(tenant, conv string) []byte { return convPrefix('n', tenant, conv) }

func viewerKey(tenant, conv, viewer string) []byte {
	return append(convPrefix('v', tenant, conv), viewer...)
}

// countSent counts a message being sent, before its record is written.
func countSent(tx projections.Tx, tenant, conv string, r record) error {
	return countChange(tx, tenant, conv, func(tl *tally) { tl.sent(r) })
}

// countChange applies fn's change to the conversation's counts. It is
// called before the records the change touches are written, so a
// conversation that has no counts yet is counted from its records as they
// were before the change, and fn's change on top.
func countChange(tx projections.Tx, tenant, conv string, fn tallyChange) error {
	b, err := tx.Get(countKey(tenant, conv))
	if err != nil {
		return err
	}
	var tl tally
	var visible uint64
	if b == nil {
		// no counts yet: a new conversation, or one from before the counts
		if tl, err = countRecords(tx, tenant, conv); err != nil {
			return err
		}
	} else if visible, err = uvarint(b); err != nil {
		return err
	}
	fn(&tl)
	if err := tx.Set(countKey(tenant, conv), binary.AppendUvarint(nil, uint64(int64(visible)+tl.visible))); err != nil {
		return err
	}
	names := make([]string, 0, len(tl.viewers))
	for v := range tl.viewers {
		names = append(names, v)
	}
	slices.Sort(names) // the order of writes is the same every time
	for _, v := range names {
		d := tl.viewers[v]
		if d[0] == 0 && d[1] == 0 {
			continue
		}
		k := viewerKey(tenant, conv, v)
		cur, err := getViewer(tx, k)
		if err != nil {
			return err
		}
		sent, read := int64(cur.sent)+d[0], int64(cur.read)+d[1]
		if sent < 0 || read < 0 {
			return errors.New("conversation counts: a count went below zero")
		}
		if sent == 0 && read == 0 {
			err = tx.Delete(k)
		} else {
			err = tx.Set(k, binary.AppendUvarint(binary.AppendUvarint(nil, uint64(sent)), uint64(read)))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// countRecords counts a conversation that has no counts from its
// records.
func countRecords(tx projections.Tx, tenant, conv string) (tally, error) {
	var tl tally
	prefix := convPrefix('c', tenant, conv)
	var decodeErr error
	err := tx.Scan(prefix, projections.PrefixEnd(prefix), false, func(k, b []byte) bool {
		var r record
		if decodeErr = codec.Unmarshal(b, &r); decodeErr != nil {
			return false
		}
		var readBy []string
		if readBy, _, decodeErr = readers(tx, tenant, conv, binary.BigEndian.Uint64(k[len(prefix):]), r); decodeErr != nil {
			return false
		}
		countRecord(&tl, r, readBy)
		return true
	})
	if err == nil {
		err = decodeErr
	}
	return tl, err
}

// countRecord adds one record, as it stands, read by readBy, to tl.
func countRecord(tl *tally, r record, readBy []string) {
	if r.Recalled {
		return
	}
	tl.sent(r)
	for _, reader := range readBy {
		if reader != r.From {
			tl.viewer(reader)[1]++
		}
	}
}

func getViewer(tx projections.Tx, k []byte) (viewerCounts, error) {
	b, err := tx.Get(k)
	if err != nil || b == nil {
		return viewerCounts{}, err
	}
	sent, n := binary.Uvarint(b)
	if n <= 0 {
		return viewerCounts{}, errors.New("conversation counts: bad value")
	}
	read, m := binary.Uvarint(b[n:])
	if m <= 0 {
		return viewerCounts{}, errors.New("conversation counts: bad value")
	}
	return viewerCounts{sent: sent, read: read}, nil
}

func uvarint(b []byte) (uint64, error) {
	v, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, errors.New("conversation counts: bad value")
	}
	return v, nil
}

// unread is viewer's unread count in the conversation: from its counts,
// less the messages past retention not expired yet (the oldest: read from
// the conversation's start while they are near retainedSince).
func unread(tx projections.Tx, tenant, conv, viewer string, retainedSince time.Time) (int, error) {
	b, err := tx.Get(countKey(tenant, conv))
	if err != nil {
		return 0, err
	}
	var n int64
	if b == nil {
		// written before the counts: count its records (no change pending)
		tl, err := countRecords(tx, tenant, conv)
		if err != nil {
			return 0, err
		}
		n = tl.visible
		if c := tl.viewers[viewer]; c != nil {
			n -= c[0] + c[1]
		}
	} else {
		visible, err := uvarint(b)
		if err != nil {
			return 0, err
		}
		c, err := getViewer(tx, viewerKey(tenant, conv, viewer))
		if err != nil {
			return 0, err
		}
		n = int64(visible) - int64(c.sent) - int64(c.read)
	}
	if retainedSince.IsZero() {
		return int(max(n, 0)), nil
	}
	until := retainedSince.Add(retentionSlack)
	prefix := convPrefix('c', tenant, conv)
	var decodeErr error
	err = tx.Scan(prefix, projections.PrefixEnd(prefix), false, func(k, b []byte) bool {
		var r record
		if decodeErr = codec.Unmarshal(b, &r); decodeErr != nil {
			return false
		}
		at := r.SentAt.Time()
		if !at.Before(until) {
			return false
		}
		if at.Before(retainedSince) && !r.Recalled && r.From != viewer {
			var read bool
			if read, decodeErr = hasRead(tx, tenant, conv, binary.BigEndian.Uint64(k[len(prefix):]), r, viewer); decodeErr != nil {
				return false
			}
			if !read {
				n--
			}
		}
		return true
	})
	if err == nil {
		err = decodeErr
	}
	return int(max(n, 0)), err
}

package recallreport

import (
	"encoding/binary"
	"time"

	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/projections"
)

// Counts: beside every attempt row, the report keeps running totals per
// quarter hour and per dimension (all attempts, outcome, platform, chat
// type, elapsed bucket), so a report over 30 days reads a few thousand
// totals instead of every attempt. A quarter hour, because every time
// zone in use is offset from UTC by a multiple of 15 minutes: a quarter
// hour lies in one local hour and one local day wherever it is shown.
// The edges of a period that are not whole quarter hours are read from
// the attempt rows, so a report is exact to the millisecond either way.
//
// A read model written before the counts existed has rows but no counts:
// it is marked as such on its next event, and its reports are read from
// the rows (correct, slower) until `recallctl projections rebuild
// recall_reports` writes it again with them.

const quarter = 15 * time.Minute

// The dimensions counted, by key byte; 'a' (actor) is not: a tenant has
// too many actors for totals to be smaller than the rows.
var dimensions = map[string]byte{"hour": 't', "day": 't', "outcome": 'o', "platform": 'p', "chat_type": 'c', "elapsed": 'e'}

// countedKey marks a namespace whose counts are complete ("y"), or one
// written before counts existed ("n").
var countedKey = []byte("q\x01counted")

func countKey(tenant string, dim byte, bucketMs int64, value string) []byte {
	k := append(append(append([]byte("q\x00"), tenant...), 0), dim)
	k = binary.BigEndian.AppendUint64(k, uint64(max(0, bucketMs)))
	return append(k, value...)
}

func countPrefix(tenant string, dim byte) []byte {
	return append(append(append([]byte("q\x00"), tenant...), 0), dim)
}

// counted reports whether the namespace keeps counts, deciding it on the
// first event a namespace sees (attempt rows and messages are under "a"
// and "m").
func counted(tx projections.Tx) (bool, error) {
	return projections.KeptFromTheStart(tx, countedKey, []byte("a"), []byte("n"))
}

// tally is one total: attempts, recalled, refused, timeouts.
type tally [4]int64

func (t tally) bytes() []byte {
	b := make([]byte, 0, 32)
	for _, v := range t {
		b = binary.BigEndian.AppendUint64(b, uint64(v))
	}
	return b
}

func tallyOf(b []byte) tally {
	var t tally
	for i := range t {
		if len(b) >= 8*(i+1) {
			t[i] = int64(binary.BigEndian.Uint64(b[8*i:]))
		}
	}
	return t
}

func (t tally) of(outcome string) tally {
	t[0]++
	switch outcome {
	case "recalled":
		t[1]++
	case string(domain.ReasonExceedTimeLimit):
		t[2]++
		t[3]++
	default:
		t[2]++
	}
	return t
}

func (r *Row) add(t tally) {
	r.Attempts += t[0]
	r.Recalled += t[1]
	r.Refused += t[2]
	r.Timeouts += t[3]
}

// count adds one attempt to its quarter hour's totals.
func count(tx projections.Tx, tenant string, at time.Time, a attempt) error {
	bucket := at.Truncate(quarter).UnixMilli()
	for _, d := range []struct {
		dim   byte
		value string
	}{{'t', ""}, {'o', a.Outcome}, {'p', a.Platform}, {'c', a.ChatType}, {'e', ElapsedBucket(a.Elapsed)}} {
		k := countKey(tenant, d.dim, bucket, d.value)
		v, err := tx.Get(k)
		if err != nil {
			return err
		}
		if err := tx.Set(k, tallyOf(v).of(a.Outcome).bytes()); err != nil {
			return err
		}
	}
	return nil
}

// addCounts adds the totals of the whole quarter hours in [from, to) to
// rows, keyed as groupBy keys them.
func addCounts(tx projections.Tx, tenant string, from, to time.Time, groupBy string, loc *time.Location, rows func(string) *Row) error {
	dim := dimensions[groupBy]
	prefix := countPrefix(tenant, dim)
	lower := binary.BigEndian.AppendUint64(append([]byte{}, prefix...), uint64(from.UnixMilli()))
	upper := binary.BigEndian.AppendUint64(append([]byte{}, prefix...), uint64(to.UnixMilli()))
	return tx.Scan(lower, upper, false, func(k, v []byte) bool {
		bucket := time.UnixMilli(int64(binary.BigEndian.Uint64(k[len(prefix):]))).In(loc)
		key := string(k[len(prefix)+8:])
		switch groupBy {
		case "hour":
			key = bucket.Format("15")
		case "day":
			key = bucket.Format("2006-01-02")
		}
		rows(key).add(tallyOf(v))
		return true
	})
}

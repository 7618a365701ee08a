// Package recallreport is the read model behind the admin reports: every
// recall attempt, accepted or refused, indexed by tenant and time, so a
// report over a time range reads only that range.
package recallreport

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/codec"
	"github.com/recallledger/recall/projections"
)

// Name is the projection's name.
const Name = "recall_reports"

// Projection folds recall attempts into attempt rows.
type Projection struct{}

func (Projection) Name() string { return Name }

// attempt is one stored row; short keys keep the rows small.
type attempt struct {
	Outcome  string `json:"o"` // "recalled" or the refusal reason
	Platform string `json:"p"`
	ChatType string `json:"c"`
	Actor    string `json:"a"`
	Elapsed  int64  `json:"e"`
}

func msgKey(tenant, msg string) []byte {
	return append(append(append([]byte("m\x00"), tenant...), 0), msg...)
}

func attemptPrefix(tenant string) []byte { return append(append([]byte("a\x00"), tenant...), 0) }

func attemptKey(tenant string, at time.Time, pos uint64) []byte {
	k := binary.BigEndian.AppendUint64(attemptPrefix(tenant), uint64(at.UnixMilli()))
	return binary.BigEndian.AppendUint64(k, pos)
}

// Apply implements projections.Projection.
func (Projection) Apply(tx projections.Tx, e domain.Event) error {
	counts, err := counted(tx)
	if err != nil {
		return err
	}
	var row attempt
	var msg domain.MsgID
	switch r := e.Data.(type) {
	case domain.MessageSent:
		return tx.Set(msgKey(e.Tenant, string(r.MsgID)), []byte(r.ChatType))
	case domain.MessageRecalled:
		msg, row = r.MsgID, attempt{Outcome: "recalled", Platform: r.Platform, Actor: string(r.Actor), Elapsed: r.ElapsedMs}
	case domain.RecallRejected:
		msg, row = r.MsgID, attempt{Outcome: string(r.Reason), Platform: r.Platform, Actor: string(r.Actor), Elapsed: r.ElapsedMs}
	default:
		return nil
	}
	chat, err := tx.Get(msgKey(e.Tenant, string(msg)))
	if err != nil {
		return err
	}
	row.ChatType = "unknown"
	if chat != nil {
		row.ChatType = string(chat)
	}
	b, err := codec.Marshal(row)
	if err != nil {
		return err
	}
	if err := tx.Set(attemptKey(e.Tenant, e.OccurredAt.Time(), e.Position), b); err != nil {
		return err
	}
	if counts {
		return count(tx, e.Tenant, e.OccurredAt.Time(), row)
	}
	return nil
}

// GroupBys lists the dimensions a report can group by.
var GroupBys = []string{"outcome", "hour", "day", "platform", "chat_type", "actor", "elapsed"}

// Row is one line of a report.
type Row struct {
	Key      string `json:"key"`
	Attempts int64  `json:"attempts"`
	Recalled int64  `json:"recalled"`
	Refused  int64  `json:"refused"`
	Timeouts int64  `json:"timeouts"`
}

// Report is a recall report over [From, To).
type Report struct {
	From    domain.Time `json:"from"`
	To      domain.Time `json:"to"`
	GroupBy string      `json:"group_by"`
	Rows    []Row       `json:"rows"`
}

// elapsedBuckets are upper-inclusive: a recall at exactly the 120 s window
// falls in "90-120s", with the others that were in time.
var elapsedBuckets = []struct {
	upToMs int64
	key    string
}{
	{10_000, "0-10s"}, {30_000, "10-30s"}, {60_000, "30-60s"}, {90_000, "60-90s"},
	{120_000, "90-120s"}, {180_000, "120-180s"}, {600_000, "3-10min"},
}

// ElapsedBucket names the elapsed-time bucket of ms.
func ElapsedBucket(ms int64) string {
	for _, b := range elapsedBuckets {
		if ms <= b.upToMs {
			return b.key
		}
	}
	return ">10min"
}

// Query builds the tenant's report over [from, to), grouping by groupBy,
// with hours and days in loc.
func Query(store projections.Store, tenant string, from, to time.Time, groupBy string, loc *time.Location) (Report, error) {
	rep := Report{From: domain.NewTime(from), To: domain.NewTime(to), GroupBy: groupBy, Rows: []Row{}}
	if !slices.Contains(GroupBys, groupBy) {
		return rep, &domain.InvalidError{Code: "invalid_group_by", Msg: fmt.Sprintf("group_by %q: want one of %v", groupBy, GroupBys)}
	}
	b := &builder{tenant: tenant, groupBy: groupBy, loc: loc, rows: map[string]*Row{}}
	if err := store.View(Name, func(tx projections.Tx) error { return b.read(tx, from, to) }); err != nil {
		return rep, fmt.Errorf("report %s: %w", tenant, err)
	}
	rep.Rows = append(rep.Rows, b.sorted()...)
	return rep, nil
}

// builder adds up a report's rows, one per key of its grouping.
type builder struct {
	tenant  string
	groupBy string
	loc     *time.Location
	rows    map[string]*Row
}

// row is the report's row of key, new if need be.
func (b *builder) row(key string) *Row {
	r, ok := b.rows[key]
	if !ok {
		r = &Row{Key: key}
		b.rows[key] = r
	}
	return r
}

// read adds the attempts of [from, to): the whole quarter hours from the
// counts, the edges from the attempt rows; all from the rows when the
// grouping has no counts, the period holds no whole quarter hour, or the
// read model was written before the counts.
func (b *builder) read(tx projections.Tx, from, to time.Time) error {
	whole := from.Truncate(quarter)
	if whole.Before(from) {
		whole = whole.Add(quarter)
	}
	end := to.Truncate(quarter)
	if _, ok := dimensions[b.groupBy]; !ok || !whole.Before(end) {
		return b.scan(tx, from, to)
	}
	counts, err := projections.Kept(tx, countedKey)
	if err != nil {
		return err
	}
	if !counts {
		return b.scan(tx, from, to) // written before the counts: the rows alone
	}
	if err := b.scan(tx, from, whole); err != nil {
		return err
	}
	if err := addCounts(tx, b.tenant, whole, end, b.groupBy, b.loc, b.row); err != nil {
		return err
	}
	return b.scan(tx, end, to)
}

// scan adds the attempt rows of [from, to).
func (b *builder) scan(tx projections.Tx, from, to time.Time) error {
	prefix := attemptPrefix(b.tenant)
	lower := binary.BigEndian.AppendUint64(append([]byte{}, prefix...), uint64(max(0, from.UnixMilli())))
	upper := binary.BigEndian.AppendUint64(append([]byte{}, prefix...), uint64(max(0, to.UnixMilli())))
	var decodeErr error
	err := tx.Scan(lower, upper, false, func(k, v []byte) bool {
		var a attempt
		if decodeErr = codec.Unmarshal(v, &a); decodeErr != nil {
			return false
		}
		at := time.UnixMilli(int64(binary.BigEndian.Uint64(k[len(prefix):]))).In(b.loc)
		b.row(b.key(a, at)).add(tally{}.of(a.Outcome))
		return true
	})
	if err == nil {
		err = decodeErr
	}
	return err
}

// key is the key of the row an attempt made at at adds to.
func (b *builder) key(a attempt, at time.Time) string {
	switch b.groupBy {
	case "outcome":
		return a.Outcome
	case "hour":
		return at.Format("15")
	case "day":
		return at.Format("2006-01-02")
	case "platform":
		return a.Platform
	case "chat_type":
		return a.ChatType
	case "actor":
		return a.Actor
	case "elapsed":
		return ElapsedBucket(a.Elapsed)
	}
	return ""
}

// sorted lists the rows by key; elapsed buckets shortest first.
func (b *builder) sorted() []Row {
	out := make([]Row, 0, len(b.rows))
	for _, r := range b.rows {
		out = append(out, *r)
	}
	order := map[string]int{}
	for i, e := range elapsedBuckets {
		order[e.key] = i
	}
	order[">10min"] = len(elapsedBuckets)
	sort.Slice(out, func(i, j int) bool {
		if b.groupBy == "elapsed" {
			return order[out[i].Key] < order[out[j].Key]
		}
		return out[i].Key < out[j].Key
	})
	return out
}

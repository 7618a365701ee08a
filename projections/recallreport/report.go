// Package recallreport is the read model behind the admin reports: every
// recall attempt, accepted or refused, indexed by tenant and time, so a
// report over a time range reads only that range.
package recallreport

import (
	"encoding/binary"
	"fmt"
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
	valid := false
	for _, g := range GroupBys {
		valid = valid || g == groupBy
	}
	if !valid {
		return rep, &domain.InvalidError{Code: "invalid_group_by", Msg: fmt.Sprintf("group_by %q: want one of %v", groupBy, GroupBys)}
	}
	rows := map[string]*Row{}
	row := func(key string) *Row {
		r, ok := rows[key]
		if !ok {
			r = &Row{Key: key}
			rows[key] = r
		}
		return r
	}
	prefix := attemptPrefix(tenant)
	var decodeErr error
	// scan adds the attempt rows of [a, b).
	scan := func(tx projections.Tx, a, b time.Time) error {
		lower := binary.BigEndian.AppendUint64(append([]byte{}, prefix...), uint64(max(0, a.UnixMilli())))
		upper := binary.BigEndian.AppendUint64(append([]byte{}, prefix...), uint64(max(0, b.UnixMilli())))
		return tx.Scan(lower, upper, false, func(k, v []byte) bool {
			var a attempt
			if err := codec.Unmarshal(v, &a); err != nil {
				decodeErr = err
				return false
			}
			at := time.UnixMilli(int64(binary.BigEndian.Uint64(k[len(prefix):]))).In(loc)
			var key string
			switch groupBy {
			case "outcome":
				key = a.Outcome
			case "hour":
				key = at.Format("15")
			case "day":
				key = at.Format("2006-01-02")
			case "platform":
				key = a.Platform
			case "chat_type":
				key = a.ChatType
			case "actor":
				key = a.Actor
			case "elapsed":
				key = ElapsedBucket(a.Elapsed)
			}
			row(key).add(tally{}.of(a.Outcome))
			return true
		})
	}
	err := store.View(Name, func(tx projections.Tx) error {
		// whole quarter hours from the counts, the edges from the rows
		whole := from.Truncate(quarter)
		if whole.Before(from) {
			whole = whole.Add(quarter)
		}
		end := to.Truncate(quarter)
		if _, ok := dimensions[groupBy]; !ok || !whole.Before(end) {
			return scan(tx, from, to)
		}
		v, err := tx.Get(countedKey)
		if err != nil {
			return err
		}
		if string(v) != "y" {
			return scan(tx, from, to) // written before the counts: the rows alone
		}
		if err := scan(tx, from, whole); err != nil {
			return err
		}
		if err := addCounts(tx, tenant, whole, end, groupBy, loc, row); err != nil {
			return err
		}
		return scan(tx, end, to)
	})
	if err == nil {
		err = decodeErr
	}
	if err != nil {
		return rep, fmt.Errorf("report %s: %w", tenant, err)
	}
	for _, r := range rows {
		rep.Rows = append(rep.Rows, *r)
	}
	order := map[string]int{}
	for i, b := range elapsedBuckets {
		order[b.key] = i
	}
	order[">10min"] = len(elapsedBuckets)
	sort.Slice(rep.Rows, func(i, j int) bool {
		if groupBy == "elapsed" {
			return order[rep.Rows[i].Key] < order[rep.Rows[j].Key]
		}
		return rep.Rows[i].Key < rep.Rows[j].Key
	})
	return rep, nil
}

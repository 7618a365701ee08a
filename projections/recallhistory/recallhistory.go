// Package recallhistory is the read model behind the policy what-if
// (POST …/policy/simulate): for every message, the facts a replay of its
// recall attempts needs — its send, its reads and its attempts with their
// recorded outcomes, in log order, without content — and an index of the
// attempts by time, so a period's attempts are found without reading the
// rest of the log.
//
// It is not the message's story (that is the log itself, GET
// …/messages/{msg_id}/history) and decides nothing: Simulate hands each
// history to domain.Simulation, which replays it with the live decider.
package recallhistory

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/projections"
)

// Name is the projection's name.
const Name = "recall_history"

// Projection folds sends, reads and recall attempts into histories.
type Projection struct{}

func (Projection) Name() string { return Name }

// step is one stored fact of a message.
type step struct {
	Kind     byte // s: sent, r: read, a: attempt
	AtMs     int64
	User     string // reader or actor
	From     string
	To       string
	Chat     string
	Type     string
	Role     string
	Platform string
	Forced   bool
	Outcome  string
}

// A step is stored as its kind, its time (uvarint ms) and its strings,
// each a uvarint length and the bytes: a what-if decodes hundreds of
// thousands of them, and this costs a few tens of nanoseconds each where
// JSON cost a microsecond. The read model is derived data: a rebuild
// writes it again if this ever changes.
func (st step) fields() []*string {
	switch st.Kind {
	case 's':
		return []*string{&st.From, &st.To, &st.Chat, &st.Type}
	case 'r':
		return []*string{&st.User}
	}
	return []*string{&st.User, &st.Role, &st.Platform, &st.Outcome}
}

func (st step) encode() []byte {
	b := binary.AppendUvarint([]byte{st.Kind}, uint64(max(0, st.AtMs)))
	for _, f := range st.fields() {
		b = binary.AppendUvarint(b, uint64(len(*f)))
		b = append(b, *f...)
	}
	if st.Kind == 'a' && st.Forced {
		b = append(b, 1)
	}
	return b
}

var errBadStep = errors.New("recall history: a stored step does not decode")

func decodeStep(b []byte) (step, error) {
	var st step
	if len(b) < 2 {
		return st, errBadStep
	}
	st.Kind = b[0]
	at, n := binary.Uvarint(b[1:])
	if n <= 0 {
		return st, errBadStep
	}
	st.AtMs, b = int64(at), b[1+n:]
	fs := []*string{&st.From, &st.To, &st.Chat, &st.Type}
	switch st.Kind {
	case 's':
	case 'r':
		fs = []*string{&st.User}
	case 'a':
		fs = []*string{&st.User, &st.Role, &st.Platform, &st.Outcome}
	default:
		return st, errBadStep
	}
	for _, f := range fs {
		l, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < l {
			return st, errBadStep
		}
		*f, b = string(b[n:n+int(l)]), b[n+int(l):]
	}
	st.Forced = st.Kind == 'a' && len(b) == 1 && b[0] == 1
	return st, nil
}

// Keys, by tenant:
//
//	m <tenant> <msg>                      → the message's send time (ms) and whether it was ever attempted
//	e <tenant> <sent ms> <msg> 0 <pos>    → a step of a message never attempted: its send and reads
//	x <tenant> <sent ms> <msg> 0 <pos>    → a step of a message attempted at least once
//	t <tenant> <attempt ms> <pos>         → <sent ms><msg>: attempts by time
//
// A what-if reads only attempted messages, so their steps live apart
// (the first attempt moves the message's send and reads over from e), and
// under the message's send time: the messages a period's attempts are
// about — sent in it or shortly before — are then one dense sequential
// scan of x rather than a seek each, or a sweep past every message never
// recalled.

func tenantKey(kind byte, tenant string) []byte {
	return append(append([]byte{kind, 0}, tenant...), 0)
}

func msgKey(tenant, msg string) []byte { return append(tenantKey('m', tenant), msg...) }

// group is one message's place in the step keys: its send time and id.
func group(sentMs int64, msg string) []byte {
	return append(binary.BigEndian.AppendUint64(nil, uint64(max(0, sentMs))), msg...)
}

func stepKey(kind byte, tenant string, grp []byte, pos uint64) []byte {
	k := append(append(tenantKey(kind, tenant), grp...), 0)
	return binary.BigEndian.AppendUint64(k, pos)
}

func timeKey(tenant string, ms int64, pos uint64) []byte {
	k := binary.BigEndian.AppendUint64(tenantKey('t', tenant), uint64(max(0, ms)))
	return binary.BigEndian.AppendUint64(k, pos)
}

// msgState is what m holds: the send time and whether any attempt came.
func msgState(v []byte) (sentMs int64, attempted, known bool) {
	if len(v) < 8 {
		return 0, false, false
	}
	return int64(binary.BigEndian.Uint64(v)), len(v) > 8 && v[8] == 1, true
}

func msgValue(sentMs int64, attempted bool) []byte {
	v := binary.BigEndian.AppendUint64(nil, uint64(max(0, sentMs)))
	if attempted {
		return append(v, 1)
	}
	return append(v, 0)
}

// Apply implements projections.Projection.
func (Projection) Apply(tx projections.Tx, e domain.Event) error {
	var st step
	var msg domain.MsgID
	at := e.OccurredAt.UnixMilli()
	switch p := e.Data.(type) {
	case domain.MessageSent:
		msg, st = p.MsgID, step{Kind: 's', AtMs: at, From: string(p.From), To: string(p.To), Chat: string(p.ChatType), Type: string(p.MsgType)}
	case domain.MessageRead:
		msg, st = p.MsgID, step{Kind: 'r', AtMs: at, User: string(p.Reader)}
	case domain.MessageRecalled:
		msg, st = p.MsgID, step{Kind: 'a', AtMs: at, User: string(p.Actor), Role: string(p.ActorRole), Platform: p.Platform, Forced: p.Forced, Outcome: domain.OutcomeRecalled}
	case domain.RecallRejected:
		msg, st = p.MsgID, step{Kind: 'a', AtMs: at, User: string(p.Actor), Role: string(p.ActorRole), Platform: p.Platform, Outcome: string(p.Reason)}
	default:
		return nil
	}
	mk := msgKey(e.Tenant, string(msg))
	v, err := tx.Get(mk)
	if err != nil {
		return err
	}
	// the message's send time: its own, or the one its send recorded; an
	// attempt on a message never sent groups under its first attempt
	sentMs, attempted, known := msgState(v)
	if st.Kind == 's' || !known {
		sentMs = at
	}
	grp := group(sentMs, string(msg))
	if st.Kind == 'a' && !attempted {
		if err := moveToAttempted(tx, e.Tenant, grp); err != nil {
			return err
		}
		attempted = true
	}
	if st.Kind == 's' || st.Kind == 'a' || !known {
		if err := tx.Set(mk, msgValue(sentMs, attempted)); err != nil {
			return err
		}
	}
	kind := byte('e')
	if attempted {
		kind = 'x'
	}
	if err := tx.Set(stepKey(kind, e.Tenant, grp, e.Position), st.encode()); err != nil {
		return err
	}
	if st.Kind == 'a' {
		return tx.Set(timeKey(e.Tenant, at, e.Position), grp)
	}
	return nil
}

// moveToAttempted moves a message's steps from e to x at its first
// attempt.
func moveToAttempted(tx projections.Tx, tenant string, grp []byte) error {
	prefix := append(append(tenantKey('e', tenant), grp...), 0)
	type kv struct{ k, v []byte }
	var steps []kv
	err := tx.Scan(prefix, projections.PrefixEnd(prefix), false, func(k, v []byte) bool {
		steps = append(steps, kv{append([]byte{}, k...), append([]byte{}, v...)})
		return true
	})
	if err != nil {
		return err
	}
	for _, st := range steps {
		x := append([]byte{'x'}, st.k[1:]...)
		if err := tx.Set(x, st.v); err != nil {
			return err
		}
		if err := tx.Delete(st.k); err != nil {
			return err
		}
	}
	return nil
}

// Limits of one what-if: a period and a number of attempts that answer
// in a few seconds at most (the benchmark: 100,000 attempts over 30 days
// well under 2 s).
const (
	MaxPeriod   = 93 * 24 * time.Hour // a quarter
	MaxAttempts = 1_000_000
)

// Simulate replays the tenant's attempts recorded in [from, to) against
// p and returns the tally. It reads one snapshot of the read model.
func Simulate(store projections.Store, tenant string, p domain.Policy, from, to time.Time) (*domain.Simulation, error) {
	if !from.Before(to) {
		return nil, &domain.InvalidError{Code: "invalid_period", Msg: "from must be before to"}
	}
	if to.Sub(from) > MaxPeriod {
		return nil, &domain.InvalidError{Code: "invalid_period", Msg: fmt.Sprintf("a what-if covers at most %d days", int(MaxPeriod/(24*time.Hour)))}
	}
	sim := domain.NewSimulation(p, from, to)
	err := store.View(Name, func(tx projections.Tx) error {
		cut := from.Add(-scanBack)
		old, err := attemptedBefore(tx, tenant, from, to, cut)
		if err != nil {
			return err
		}
		// messages sent long before the period, one at a time
		for _, g := range old {
			prefix := append(append(tenantKey('x', tenant), g...), 0)
			if err := histories(tx, tenant, prefix, projections.PrefixEnd(prefix), sim.Replay); err != nil {
				return err
			}
		}
		// every attempted message sent since, in one sweep: replaying one
		// whose attempts all lie outside the period counts nothing
		lower := append(tenantKey('x', tenant), group(cut.UnixMilli(), "")...)
		upper := append(tenantKey('x', tenant), group(to.UnixMilli()+1, "")...)
		return histories(tx, tenant, lower, upper, sim.Replay)
	})
	if err != nil {
		return nil, fmt.Errorf("simulate %s: %w", tenant, err)
	}
	return sim, nil
}

// scanBack is how long before a period the messages its attempts are
// about are read in one sweep: the longest recall window (7 days) and a
// day. Attempts on messages sent earlier (past every window: timeouts or
// expired) are read one message at a time.
const scanBack = 8 * 24 * time.Hour

// attemptedBefore counts the attempts in [from, to) — at most MaxAttempts
// — and lists, each once, the messages they are about that were sent
// before cut.
func attemptedBefore(tx projections.Tx, tenant string, from, to, cut time.Time) ([]string, error) {
	seen := map[string]bool{}
	var old []string
	n := 0
	cutMs := uint64(max(0, cut.UnixMilli()))
	err := tx.Scan(timeKey(tenant, from.UnixMilli(), 0), timeKey(tenant, to.UnixMilli(), 0), false, func(_, v []byte) bool {
		n++
		if n > MaxAttempts {
			return false
		}
		if len(v) >= 8 && binary.BigEndian.Uint64(v) < cutMs && !seen[string(v)] {
			seen[string(v)] = true
			old = append(old, string(v))
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	if n > MaxAttempts {
		return nil, &domain.InvalidError{Code: "too_many_attempts",
			Msg: fmt.Sprintf("the period holds more than %d recall attempts: choose a shorter one", MaxAttempts)}
	}
	slices.Sort(old)
	return old, nil
}

// histories hands each message history stored in [lower, upper) of x to
// fn, in key order.
func histories(tx projections.Tx, tenant string, lower, upper []byte, fn func(domain.MessageHistory)) error {
	var cur domain.MessageHistory
	curGroup, open := "", false
	pre := len(tenantKey('x', tenant))
	var decodeErr error
	err := tx.Scan(lower, upper, false, func(k, v []byte) bool {
		if len(k) < pre+8+9 {
			decodeErr = errBadStep
			return false
		}
		g := k[pre : len(k)-9] // <sent ms><msg>, before 0 <pos>
		if !open || string(g) != curGroup {
			if open {
				fn(cur)
			}
			curGroup, open = string(g), true
			cur = domain.MessageHistory{MsgID: domain.MsgID(g[8:])}
		}
		st, err := decodeStep(v)
		if err != nil {
			decodeErr = err
			return false
		}
		at := domain.NewTime(time.UnixMilli(st.AtMs))
		switch st.Kind {
		case 's':
			cur.Exists, cur.SentAt = true, at
			cur.Sent = domain.MessageSent{MsgID: cur.MsgID, From: domain.UserID(st.From), To: domain.UserID(st.To),
				ChatType: domain.ChatType(st.Chat), MsgType: domain.MessageType(st.Type)}
		case 'r':
			cur.Steps = append(cur.Steps, domain.RecordedStep{At: at, Reader: domain.UserID(st.User)})
		case 'a':
			cur.Steps = append(cur.Steps, domain.RecordedStep{At: at, Attempt: &domain.RecordedRecall{
				Actor: domain.UserID(st.User), Role: domain.ActorRole(st.Role), Platform: st.Platform, Forced: st.Forced, Outcome: st.Outcome}})
		}
		return true
	})
	if err == nil {
		err = decodeErr
	}
	if err != nil {
		return fmt.Errorf("recall histories: %w", err)
	}
	if open {
		fn(cur)
	}
	return nil
}

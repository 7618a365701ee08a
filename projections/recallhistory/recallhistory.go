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
	"time"

	json "github.com/segmentio/encoding/json"

	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/projections"
)

// Name is the projection's name.
const Name = "recall_history"

// Projection folds sends, reads and recall attempts into histories.
type Projection struct{}

func (Projection) Name() string { return Name }

// step is one stored fact; short keys keep the rows small.
type step struct {
	Kind     string `json:"k"` // s: sent, r: read, a: attempt
	AtMs     int64  `json:"t"`
	User     string `json:"u,omitempty"` // reader or actor
	From     string `json:"f,omitempty"`
	To       string `json:"o,omitempty"`
	Chat     string `json:"c,omitempty"`
	Type     string `json:"y,omitempty"`
	Role     string `json:"r,omitempty"`
	Platform string `json:"p,omitempty"`
	Forced   bool   `json:"x,omitempty"`
	Outcome  string `json:"d,omitempty"`
}

func stepPrefix(tenant, msg string) []byte {
	k := append(append(append([]byte("e\x00"), tenant...), 0), msg...)
	return append(k, 0)
}

func stepKey(tenant, msg string, pos uint64) []byte {
	return binary.BigEndian.AppendUint64(stepPrefix(tenant, msg), pos)
}

func timePrefix(tenant string) []byte { return append(append([]byte("t\x00"), tenant...), 0) }

func timeKey(tenant string, ms int64, pos uint64) []byte {
	k := binary.BigEndian.AppendUint64(timePrefix(tenant), uint64(max(0, ms)))
	return binary.BigEndian.AppendUint64(k, pos)
}

// Apply implements projections.Projection.
func (Projection) Apply(tx projections.Tx, e domain.Event) error {
	var st step
	var msg domain.MsgID
	at := e.OccurredAt.UnixMilli()
	switch e.Type {
	case domain.TypeMessageSent:
		var s domain.MessageSent
		if err := json.Unmarshal(e.Data, &s); err != nil {
			return err
		}
		msg, st = s.MsgID, step{Kind: "s", AtMs: at, From: string(s.From), To: string(s.To), Chat: string(s.ChatType), Type: string(s.MsgType)}
	case domain.TypeMessageRead:
		var r domain.MessageRead
		if err := json.Unmarshal(e.Data, &r); err != nil {
			return err
		}
		msg, st = r.MsgID, step{Kind: "r", AtMs: at, User: string(r.Reader)}
	case domain.TypeMessageRecalled:
		var r domain.MessageRecalled
		if err := json.Unmarshal(e.Data, &r); err != nil {
			return err
		}
		msg, st = r.MsgID, step{Kind: "a", AtMs: at, User: string(r.Actor), Role: string(r.ActorRole), Platform: r.Platform, Forced: r.Forced, Outcome: domain.OutcomeRecalled}
	case domain.TypeRecallRejected:
		var r domain.RecallRejected
		if err := json.Unmarshal(e.Data, &r); err != nil {
			return err
		}
		msg, st = r.MsgID, step{Kind: "a", AtMs: at, User: string(r.Actor), Role: string(r.ActorRole), Platform: r.Platform, Outcome: string(r.Reason)}
	default:
		return nil
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if err := tx.Set(stepKey(e.Tenant, string(msg), e.Position), b); err != nil {
		return err
	}
	if st.Kind == "a" {
		return tx.Set(timeKey(e.Tenant, at, e.Position), []byte(msg))
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
		msgs, err := attemptedIn(tx, tenant, from, to)
		if err != nil {
			return err
		}
		for _, m := range msgs {
			h, err := history(tx, tenant, m)
			if err != nil {
				return err
			}
			sim.Replay(h)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("simulate %s: %w", tenant, err)
	}
	return sim, nil
}

// attemptedIn lists the messages with an attempt in [from, to), each
// once, in the order of their first attempt.
func attemptedIn(tx projections.Tx, tenant string, from, to time.Time) ([]string, error) {
	seen := map[string]bool{}
	var msgs []string
	n := 0
	err := tx.Scan(timeKey(tenant, from.UnixMilli(), 0), timeKey(tenant, to.UnixMilli(), 0), false, func(_, v []byte) bool {
		n++
		if n > MaxAttempts {
			return false
		}
		if !seen[string(v)] {
			seen[string(v)] = true
			msgs = append(msgs, string(v))
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
	return msgs, nil
}

// history reads one message's stored steps.
func history(tx projections.Tx, tenant, msg string) (domain.MessageHistory, error) {
	h := domain.MessageHistory{MsgID: domain.MsgID(msg)}
	prefix := stepPrefix(tenant, msg)
	var decodeErr error
	err := tx.Scan(prefix, projections.PrefixEnd(prefix), false, func(_, v []byte) bool {
		var st step
		if err := json.Unmarshal(v, &st); err != nil {
			decodeErr = err
			return false
		}
		at := domain.NewTime(time.UnixMilli(st.AtMs))
		switch st.Kind {
		case "s":
			h.Exists, h.SentAt = true, at
			h.Sent = domain.MessageSent{MsgID: h.MsgID, From: domain.UserID(st.From), To: domain.UserID(st.To),
				ChatType: domain.ChatType(st.Chat), MsgType: domain.MessageType(st.Type)}
		case "r":
			h.Steps = append(h.Steps, domain.RecordedStep{At: at, Reader: domain.UserID(st.User)})
		case "a":
			h.Steps = append(h.Steps, domain.RecordedStep{At: at, Attempt: &domain.RecordedRecall{
				Actor: domain.UserID(st.User), Role: domain.Role(st.Role), Platform: st.Platform, Forced: st.Forced, Outcome: st.Outcome}})
		default:
			decodeErr = errors.New("unknown step kind " + st.Kind)
			return false
		}
		return true
	})
	if err == nil {
		err = decodeErr
	}
	if err != nil {
		return h, fmt.Errorf("history of %s: %w", msg, err)
	}
	return h, nil
}

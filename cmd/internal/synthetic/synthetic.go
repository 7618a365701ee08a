// Package synthetic makes the histories the benchmarks write straight
// into an event store (recallbench's, the console's): one message's
// events at a time, sent between a tenant's users or to its groups, read
// by half, and some tried for recall — in time, past the window, or by
// someone who may not. Drawn from the caller's random source, so a seed
// gives the same traffic.
package synthetic

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"

	"github.com/recallledger/recall/domain"
)

// ContentSHA256 stands in for each send's content hash: the benchmarks
// measure storage and reads, not hashing.
const ContentSHA256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

// senderWindow is the default sender window the attempts are decided by.
const senderWindow = 120 * time.Second

// Traffic is the shape of a tenant's messages.
type Traffic struct {
	// Users send and read as u0, u1, …; a quarter of the messages go to
	// one of Groups groups (g0, g1, …), read there by any user.
	Users, Groups int
	// Content is every send's content.
	Content string
	// AttemptsPercent of the messages get one recall attempt, by the
	// sender, within MaxElapsed of the send: past the 120 s window it is
	// refused as a timeout; of those in time, one in ForbiddenOneIn is
	// u0's instead, refused as forbidden.
	AttemptsPercent int
	MaxElapsed      time.Duration
	ForbiddenOneIn  int
}

// Send is a send of id from from to to, at at.
func (tr Traffic) Send(tn domain.Tenant, at time.Time, from, to domain.UserID, chat domain.ChatType, id domain.MsgID) domain.Event {
	return domain.NewEvent(uuid.NewString(), tn, at, domain.MessageSent{
		MsgID: id, ConversationID: domain.ConversationID(chat, from, to), ChatType: chat, From: from, To: to,
		MsgType: "txt", Content: tr.Content, ContentSHA256: ContentSHA256, Platform: "ios",
	})
}

// Message is one message's history, sent at at: its stream, its events
// in order (one append), and whether it holds a recall attempt.
func (tr Traffic) Message(rng *rand.Rand, tn domain.Tenant, at time.Time) (string, []domain.Event, bool) {
	from := domain.UserID(fmt.Sprint("u", rng.IntN(tr.Users)))
	to, chat := domain.UserID(fmt.Sprint("u", rng.IntN(tr.Users))), domain.ChatSingle
	if to == from {
		to += "x"
	}
	if rng.IntN(4) == 0 {
		to, chat = domain.UserID(fmt.Sprint("g", rng.IntN(tr.Groups))), domain.ChatGroup
	}
	id := domain.MsgID(uuid.NewString())
	mk := func(d time.Duration, p domain.Payload) domain.Event {
		return domain.NewEvent(uuid.NewString(), tn, at.Add(d), p)
	}
	evs := []domain.Event{tr.Send(tn, at, from, to, chat, id)}
	readAt := time.Duration(1+rng.IntN(100)) * time.Second
	var read *domain.Event
	if rng.IntN(2) == 0 {
		reader := to
		if chat == domain.ChatGroup {
			reader = domain.UserID(fmt.Sprint("u", rng.IntN(tr.Users)))
		}
		e := mk(readAt, domain.MessageRead{MsgID: id, Reader: reader, Platform: "android"})
		read = &e
	}
	stream := domain.MessageStream(tn, id)
	if rng.IntN(100) >= tr.AttemptsPercent {
		if read != nil {
			evs = append(evs, *read)
		}
		return stream, evs, false
	}
	elapsed := rng.Int64N(tr.MaxElapsed.Milliseconds())
	d, window := time.Duration(elapsed)*time.Millisecond, senderWindow.Milliseconds()
	readFirst := read != nil && readAt < d
	if readFirst {
		evs = append(evs, *read)
	}
	switch {
	case d > senderWindow:
		evs = append(evs, mk(d, domain.RecallRejected{MsgID: id, Actor: from, ActorRole: domain.ActorMember, Platform: "ios",
			Reason: domain.ReasonExceedTimeLimit, ElapsedMs: elapsed, WindowMs: window}))
	case rng.IntN(tr.ForbiddenOneIn) == 0:
		evs = append(evs, mk(d, domain.RecallRejected{MsgID: id, Actor: "u0", ActorRole: domain.ActorMember, Platform: "web",
			Reason: domain.ReasonForbidden, ElapsedMs: elapsed, WindowMs: window}))
	default:
		readBy := []domain.UserID{} // who had read it when it was recalled
		if readFirst {
			readBy = append(readBy, read.Data.(domain.MessageRead).Reader)
		}
		// a message recalled before anyone read it is read by no one after
		return stream, append(evs, mk(d, domain.MessageRecalled{MsgID: id, Actor: from, ActorRole: domain.ActorMember, Platform: "ios",
			ElapsedMs: elapsed, WindowMs: window, ReadBy: readBy})), true
	}
	if read != nil && !readFirst {
		evs = append(evs, *read) // read after a refused attempt
	}
	return stream, evs, true
}

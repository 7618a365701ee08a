package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/ledger"
)

// The demo tenant starts with a day of history, so the console has
// recalls to chart the first time someone signs in: sends, reads, recalls
// in time, timeouts just past the window and further, refusals. It is
// recorded through the ledger like any traffic (the same decisions, the
// same events), with the clock set back to when each step happened. Its
// people (lin, wei, mei, jun, the design-team group) are not the README's
// alice and bob, whose first session starts from an empty conversation.

// demoClock is the seeding's clock: it stands where the script puts it.
type demoClock struct{ now time.Time }

func (c *demoClock) Now() time.Time { return c.now }

// seedDemo records the demo day ending at now in t. The same seed gives
// the same day, so the README can say what the charts show.
func seedDemo(ctx context.Context, store domain.EventStore, t domain.Tenant, now time.Time, opts ...ledger.Option) (int, error) {
	clock := &demoClock{}
	l := ledger.New(store, clock, opts...)
	rnd := rand.New(rand.NewPCG(17, 2026))
	people := []domain.UserID{"lin", "wei", "mei", "jun"}
	platforms := []string{"ios", "android", "web", "windows"}
	start := now.Add(-23 * time.Hour)
	attempts := 0
	for i := range 120 {
		at := start.Add(time.Duration(i) * 11 * time.Minute).Add(time.Duration(rnd.IntN(300)) * time.Second)
		if at.After(now) {
			break
		}
		clock.now = at
		from := people[rnd.IntN(len(people))]
		to, chat := people[rnd.IntN(len(people))], domain.ChatSingle
		if to == from || rnd.IntN(4) == 0 {
			to, chat = "design-team", domain.ChatGroup
		}
		platform := platforms[rnd.IntN(len(platforms))]
		cmd, err := domain.NewSendCommand(string(from), string(to), string(chat), "txt", fmt.Sprintf("demo message %d", i+1), platform, fmt.Sprintf("demo-%d", i+1))
		if err != nil {
			return attempts, err
		}
		sent, err := l.Send(ctx, t, cmd)
		if err != nil {
			return attempts, fmt.Errorf("seed the demo tenant: %w", err)
		}
		if chat == domain.ChatSingle && rnd.IntN(2) == 0 {
			clock.now = at.Add(time.Duration(5+rnd.IntN(60)) * time.Second)
			if _, err := l.Read(ctx, t, domain.ReadCommand{MsgID: sent.MsgID, Reader: to, Platform: platform}); err != nil {
				return attempts, fmt.Errorf("seed the demo tenant: %w", err)
			}
		}
		if rnd.IntN(5) >= 2 {
			continue // most messages are never recalled
		}
		// who tries, and when: mostly the sender in time, often a little
		// late, sometimes much later, now and then someone who may not
		actor, role := from, domain.ActorMember
		var elapsed time.Duration
		switch n := rnd.IntN(12); {
		case n < 5:
			elapsed = time.Duration(3+rnd.IntN(115)) * time.Second
		case n < 8:
			elapsed = time.Duration(121+rnd.IntN(60)) * time.Second
		case n < 10:
			elapsed = time.Duration(4+rnd.IntN(20)) * time.Minute
		default:
			actor, elapsed = people[(rnd.IntN(len(people)-1)+1+indexOf(people, from))%len(people)], time.Duration(10+rnd.IntN(50))*time.Second
		}
		if chat == domain.ChatGroup && rnd.IntN(3) == 0 {
			actor, role, elapsed = "mei", domain.ActorGroupAdmin, time.Duration(10+rnd.IntN(50))*time.Minute
		}
		clock.now = at.Add(elapsed)
		if clock.now.After(now) {
			continue
		}
		out, err := l.Recall(ctx, t, domain.RecallCommand{MsgID: sent.MsgID, Actor: actor, Role: role, Platform: platform})
		if err != nil {
			return attempts, fmt.Errorf("seed the demo tenant: %w", err)
		}
		attempts++
		if out.Decision.Recalled && rnd.IntN(4) == 0 {
			// a second tap on another device: already recalled
			clock.now = clock.now.Add(time.Duration(1+rnd.IntN(5)) * time.Second)
			if _, err := l.Recall(ctx, t, domain.RecallCommand{MsgID: sent.MsgID, Actor: actor, Role: role, Platform: platform}); err != nil {
				return attempts, fmt.Errorf("seed the demo tenant: %w", err)
			}
			attempts++
		}
	}
	return attempts, nil
}

func indexOf(us []domain.UserID, u domain.UserID) int {
	for i, x := range us {
		if x == u {
			return i
		}
	}
	return 0
}

package feedbus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recallledger/recall/adapters/feedbus/feedbustest"
	"github.com/recallledger/recall/adapters/readmodel"
	"github.com/recallledger/recall/projections"
	"github.com/recallledger/recall/projections/catalog"
)

// logRecords collects what a JSON slog handler writes.
type logRecords struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logRecords) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// find returns the records at level whose fields all contain the given
// texts.
func (l *logRecords) find(level string, contains ...string) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(l.b.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil || rec["level"] != level {
			continue
		}
		ok := true
		for _, c := range contains {
			ok = ok && strings.Contains(line, c)
		}
		if ok {
			out = append(out, rec)
		}
	}
	return out
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after 20 s still not: %s", what)
		}
	}
}

func allAt(runners []*projections.Runner, pos uint64) bool {
	for _, r := range runners {
		if r.Position() != pos {
			return false
		}
	}
	return true
}

// A feed that fails is logged at error with its cause and resumes from the
// projection's checkpoint: the projection does not stop for good while the
// others go on.
func TestFailedFeedIsLoggedAndResumesFromTheCheckpoint(t *testing.T) {
	store := openStore(t)
	rm, err := readmodel.Open(filepath.Join(t.TempDir(), "rm"))
	if err != nil {
		t.Fatal(err)
	}
	defer rm.Close()
	runners, err := catalog.Runners(rm)
	if err != nil {
		t.Fatal(err)
	}
	var logs logRecords
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	feed := &feedbustest.FailingFeed{Store: store, After: 3}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, feed, runners, log) }()
	appendN(t, store, 3)
	eventually(t, "every projection at 3", func() bool { return allAt(runners, 3) })

	feed.Failing.Store(true)
	appendN(t, store, 47)
	eventually(t, "an error logged with the injected cause", func() bool { return len(logs.find("ERROR", feedbustest.FeedError)) > 0 })
	for _, r := range runners {
		if r.Position() != 3 {
			t.Fatalf("%s at %d while its feed fails past 3", r.Name(), r.Position())
		}
	}
	feed.Failing.Store(false) // the disk answers again
	eventually(t, "every projection at the head, 50", func() bool { return allAt(runners, 50) })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v", err)
	}
	// the feed is read once for every projection: from 1, then each
	// resumption from the checkpoint, 4: nothing read twice from the
	// start, nothing skipped
	starts := feed.Starts()
	if len(starts) < 2 {
		t.Fatalf("the feed was read from %v: no resumption after the failure", starts)
	}
	for i, from := range starts {
		if want := map[bool]uint64{true: 1, false: 4}[i == 0]; from != want {
			t.Fatalf("reading %d of the feed started at %d, want %d (all starts %v)", i, from, want, starts)
		}
	}
}

// A projection that is not applying — its feed fails, or its handler keeps
// failing on one event — shows as stalled, with the stage and the cause,
// and counted, until it applies events again; the others are not held up.
func TestStalledProjectionIsReportedUntilItAppliesAgain(t *testing.T) {
	for _, tc := range []struct {
		name    string
		stage   string
		stalled []string // the feed is shared: when it fails, it fails for all
		cause   string
	}{
		{"the feed fails", StageFeed, []string{"conversations", "audit_log", "recall_reports", "recall_history", "message_index", feedbustest.PoisonName}, feedbustest.FeedError},
		{"the handler fails on one event", StageApply, []string{feedbustest.PoisonName}, feedbustest.ApplyError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := openStore(t)
			rm, err := readmodel.Open(filepath.Join(t.TempDir(), "rm"))
			if err != nil {
				t.Fatal(err)
			}
			defer rm.Close()
			p := &feedbustest.Poison{At: 5}
			pr, err := projections.NewRunner(p, rm)
			if err != nil {
				t.Fatal(err)
			}
			runners, err := catalog.Runners(rm)
			if err != nil {
				t.Fatal(err)
			}
			runners = append(runners, pr)
			var logs logRecords
			log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
			ff := &feedbustest.FailingFeed{Store: store, After: 3}
			f := New(ff, runners, log, Options{RetryInitial: time.Millisecond, RetryMax: 20 * time.Millisecond})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- f.Run(ctx) }()
			appendN(t, store, 3)
			eventually(t, "every projection at 3", func() bool { return allAt(runners, 3) })
			for _, r := range runners {
				if st, stalled := f.Stalled(r.Name()); stalled {
					t.Fatalf("%s stalled while applying: %v", r.Name(), st)
				}
			}

			switch tc.stage {
			case StageFeed:
				ff.Failing.Store(true)
			case StageApply:
				p.On.Store(true)
			}
			appendN(t, store, 7)
			for _, r := range runners {
				if !slices.Contains(tc.stalled, r.Name()) {
					eventually(t, r.Name()+" at the head while another projection is stalled", func() bool { return r.Position() == 10 })
					if st, stalled := f.Stalled(r.Name()); stalled {
						t.Fatalf("%s reported stalled (%v); only %v are", r.Name(), st, tc.stalled)
					}
					continue
				}
				expectStalled(t, f, r, tc.stage, tc.cause, &logs)
			}

			ff.Failing.Store(false)
			p.On.Store(false)
			eventually(t, "every projection at the head once it heals", func() bool { return allAt(runners, 10) })
			for _, name := range tc.stalled {
				eventually(t, name+"'s stall to end", func() bool { _, stalled := f.Stalled(name); return !stalled })
				if len(logs.find("INFO", "applying again", name)) == 0 {
					t.Fatalf("no log line saying %s applies again", name)
				}
			}
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Fatalf("Run returned %v", err)
			}
		})
	}
}

// expectStalled waits for r to fail several times at stage, each failure
// retried, and holds its stall, its position and the log to it.
func expectStalled(t *testing.T, f *Feed, r *projections.Runner, stage, cause string, logs *logRecords) {
	t.Helper()
	failures := func() uint64 {
		if stage == StageFeed {
			return f.FeedFailures(r.Name())
		}
		return f.ApplyFailures(r.Name())
	}
	eventually(t, r.Name()+" failing several times, each retried", func() bool { return failures() >= 3 })
	st, stalled := f.Stalled(r.Name())
	if !stalled || st.Stage != stage || st.Projection != r.Name() || st.Failures < 3 ||
		!strings.Contains(st.Error(), cause) || !strings.Contains(st.Error(), r.Name()) {
		t.Fatalf("stall %+v (stalled %v), want %s stalled at its %s with %q", st, stalled, r.Name(), stage, cause)
	}
	if r.Position() >= 5 {
		t.Fatalf("%s at %d: it should be stuck before 5", r.Name(), r.Position())
	}
	if len(logs.find("ERROR", r.Name(), cause)) == 0 {
		t.Fatalf("no error logged naming %s and the cause", r.Name())
	}
}

// The subscription outlives a feed that keeps failing: it waits longer
// after each failure, up to the bound, and its channel stays open.
func TestFailingFeedBacksOffAndKeepsTheSubscription(t *testing.T) {
	store := openStore(t)
	appendN(t, store, 5)
	ff := &feedbustest.FailingFeed{Store: store, After: 3}
	ff.Failing.Store(true)
	var mu sync.Mutex
	var waits []time.Duration
	sub := NewSubscriber(ff, func(string) uint64 { return 4 }, SubscriberConfig{
		RetryInitial: time.Millisecond, RetryMax: 16 * time.Millisecond,
		FeedFailed: func(topic string, err error, retryIn time.Duration) {
			if topic != "t" || !strings.Contains(err.Error(), feedbustest.FeedError) {
				t.Errorf("failure reported for %s: %v", topic, err)
			}
			mu.Lock()
			waits = append(waits, retryIn)
			mu.Unlock()
		},
	})
	defer sub.Close()
	msgs, err := sub.Subscribe(context.Background(), "t")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "8 failures", func() bool { mu.Lock(); defer mu.Unlock(); return len(waits) >= 8 })
	mu.Lock()
	got := append([]time.Duration(nil), waits[:8]...)
	mu.Unlock()
	for i := 1; i < 5; i++ { // 1, 2, 4, 8, 16 ms, each ±20 %
		if got[i] <= got[i-1] {
			t.Fatalf("waits %v: not growing", got)
		}
	}
	for _, w := range got[5:] {
		if w < 12*time.Millisecond || w > 20*time.Millisecond {
			t.Fatalf("waits %v: past the bound, want about 16 ms", got)
		}
	}
	select {
	case m, ok := <-msgs:
		t.Fatalf("a failing feed delivered %v (open %v)", m, ok)
	default:
	}
	ff.Failing.Store(false)
	select {
	case m := <-msgs:
		if m.UUID != "5" {
			t.Fatalf("after the failures: message %s, want the events from the checkpoint up to 5", m.UUID)
		}
		m.Ack()
	case <-time.After(20 * time.Second):
		t.Fatal("nothing delivered 20 s after the feed healed")
	}
}

package main

// The scenarios of costs that must stay flat as the work grows (issue
// 19): each measures a small and a large point in one run, prints a line
// for each, and a third with their ratio (large over small) beside the
// target it is held to. --size small runs the target points; --size
// large the larger ones.

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/recallledger/recall/adapters/eventstore/embedded"
	"github.com/recallledger/recall/domain"
)

// flatSizes are a scenario's small and large point under --size.
type flatSizes struct{ small, large [2]int }

func (f flatSizes) of(c *config) [2]int {
	if c.size == "large" {
		return f.large
	}
	return f.small
}

// emitRatio prints the ratio line of a scenario: large over small, and
// the bound it is held to.
func (c *config) emitRatio(scenario string, small, large result, of string, value func(result) float64, bound float64) error {
	s, l := value(small), value(large)
	ratio := 0.0
	if s > 0 {
		ratio = round2(l / s)
	}
	verdict := "within"
	if ratio > bound {
		verdict = "OVER"
	}
	return c.emit(result{Scenario: scenario + "-ratio", N: large.N, Ratio: ratio,
		Note: fmt.Sprintf("%s at n=%d over n=%d: %.2f, %s the target %.2fx", of, large.N, small.N, ratio, verdict, bound)})
}

// conversationSizes: the first page against 1k and 50k messages (small),
// 1k and 1M (large).
var conversationSizes = flatSizes{small: [2]int{1_000, 50_000}, large: [2]int{1_000, 1_000_000}}

// benchConversationSize times the first page (50 messages) of one group
// conversation holding n messages, as its members see it: the history is
// written into a fresh data directory, recalld starts on it and catches
// up, then 2,000 pages are asked for one after another. Target: p99 ≤ 10 ms
// at 50k and 1M, within 1.2× of 1k.
func benchConversationSize(ctx context.Context, c *config) error {
	if c.addr != "" {
		return c.emit(result{Scenario: "conversation-size", Note: "skipped with --addr: it writes each history into a data directory of its own"})
	}
	var lines [2]result
	for i, n := range conversationSizes.of(c) {
		t, err := startTargetWith(c, targetOpts{prepare: func(dir string) error { return writeConversation(ctx, c, dir, n) }})
		if err != nil {
			return err
		}
		lat, err := timeRequests(ctx, t, 2000, 1, func(int) (string, string, string) {
			return http.MethodGet, "/v1/bench/app/conversations/groupchat:big/messages?viewer=u7&limit=50", ""
		}, http.StatusOK)
		t.stop()
		if err != nil {
			return err
		}
		p50, p99 := percentiles(lat)
		lines[i] = result{Scenario: "conversation-size", N: n, P50Ms: p50, P99Ms: p99, Note: "first page of 50 messages of one group conversation"}
		if err := c.emit(lines[i]); err != nil {
			return err
		}
	}
	if err := c.emitRatio("conversation-size", lines[0], lines[1], "first page p50", func(r result) float64 { return r.P50Ms }, 1.2); err != nil {
		return err
	}
	return c.emitRatio("conversation-size", lines[0], lines[1], "first page p99", func(r result) float64 { return r.P99Ms }, 1.2)
}

// writeConversation writes n sends to groupchat:big of tenant bench/app
// into dir's event store, a tenth of them read by u7, from 64 writers.
func writeConversation(ctx context.Context, c *config, dir string, n int) error {
	store, err := embedded.OpenWith(filepath.Join(dir, "events"), embedded.Options{FS: c.fs})
	if err != nil {
		return err
	}
	defer store.Close()
	tn, _ := domain.ParseTenant("bench/app")
	at := time.Now()
	return pool(ctx, 64, n, func(_, i int) error {
		id := domain.MsgID(uuid.NewString())
		evs := []domain.Event{sendEvent(tn, at, domain.UserID(fmt.Sprint("u", i%500)), "big", domain.ChatGroup, id)}
		if i%10 == 0 {
			evs = append(evs, domain.NewEvent(uuid.NewString(), tn, at, domain.MessageRead{MsgID: id, Reader: "u7", Platform: "ios"}))
		}
		if _, err := store.Append(ctx, domain.MessageStream(tn, id), domain.NoStream, evs); err != nil {
			return err
		}
		if i%5000 == 0 {
			c.progress.Show("conversation-size: writing %d/%d messages", i, n)
		}
		return nil
	})
}

// groupReadSizes: reads and recalls of messages already read by 0 and
// 1,000 members (small), 0 and 10,000 (large).
var groupReadSizes = flatSizes{small: [2]int{0, 1_000}, large: [2]int{0, 10_000}}

// benchGroupReads times read receipts and recalls of group messages
// already read by n members. Reads: 400 new readers of one message (of
// fresh messages for n = 0), 8 at a time; recalls: one each of 40
// messages, by their sender, one after another. Targets: p99 ≤ 5 ms at
// 1,000 reads, within 1.5× of 0 reads.
func benchGroupReads(ctx context.Context, c *config) error {
	t, err := startTarget(c)
	if err != nil {
		return err
	}
	defer t.stop()
	const reads, recalls = 400, 40
	var readLines, recallLines [2]result
	for i, n := range groupReadSizes.of(c) {
		// the message the reads go to, and those to recall, each read by n
		ids := make([]string, 1+recalls)
		if err := preSendGroup(ctx, c, t, fmt.Sprint("read", n), ids); err != nil {
			return err
		}
		for _, id := range ids {
			if err := fill(ctx, c, t, id, n); err != nil {
				return err
			}
		}
		var fresh []string
		if n == 0 {
			fresh = make([]string, reads)
			if err := preSendGroup(ctx, c, t, "fresh", fresh); err != nil {
				return err
			}
		}
		// timed once the server has applied the fill: a read's cost, not
		// that of projections catching up on thousands of earlier reads
		if err := t.waitCaughtUp(ctx, c); err != nil {
			return err
		}
		lat, err := timeRequests(ctx, t, reads, 8, func(j int) (string, string, string) {
			id := ids[0]
			if n == 0 {
				id = fresh[j]
			}
			return http.MethodPost, "/v1/bench/app/messages/" + id + "/read", fmt.Sprintf(`{"reader":"new%d","platform":"ios"}`, j)
		}, http.StatusOK)
		if err != nil {
			return err
		}
		p50, p99 := percentiles(lat)
		readLines[i] = result{Scenario: "group-reads", N: n, P50Ms: p50, P99Ms: p99, Concurrency: 8, Note: fmt.Sprintf("a read receipt on a group message already read by %d", n)}
		if err := t.waitCaughtUp(ctx, c); err != nil {
			return err
		}
		// one at a time, each once the last one's projections are applied:
		// a recall's own cost
		lat = lat[:0]
		for j := range recalls {
			if err := t.waitCaughtUp(ctx, c); err != nil {
				return err
			}
			l, err := timeRequests(ctx, t, 1, 1, func(int) (string, string, string) {
				return http.MethodPost, "/v1/bench/app/messages/" + ids[1+j] + "/recall", `{"actor":"sender","platform":"ios"}`
			}, http.StatusOK, http.StatusConflict) // decided either way: filling 10,000 reads may outlast the 120 s window
			if err != nil {
				return err
			}
			lat = append(lat, l...)
		}
		p50, p99 = percentiles(lat)
		recallLines[i] = result{Scenario: "group-recalls", N: n, P50Ms: p50, P99Ms: p99, Concurrency: 1, Note: fmt.Sprintf("a recall of a group message read by %d", n)}
	}
	for _, l := range append(readLines[:], recallLines[:]...) {
		if err := c.emit(l); err != nil {
			return err
		}
	}
	for _, q := range []struct {
		name  string
		lines [2]result
	}{{"group-reads", readLines}, {"group-recalls", recallLines}} {
		if err := c.emitRatio(q.name, q.lines[0], q.lines[1], "p50", func(r result) float64 { return r.P50Ms }, 1.5); err != nil {
			return err
		}
		if err := c.emitRatio(q.name, q.lines[0], q.lines[1], "p99", func(r result) float64 { return r.P99Ms }, 1.5); err != nil {
			return err
		}
	}
	return nil
}

// preSendGroup records len(ids) group messages from "sender" to group g
// and keeps their msg_ids.
func preSendGroup(ctx context.Context, c *config, t *target, g string, ids []string) error {
	return pool(ctx, 32, len(ids), func(_, i int) error {
		body := fmt.Sprintf(`{"from":"sender","to":%q,"chat_type":"groupchat","type":"txt","content":%q,"platform":"ios","client_msg_id":"%s-%s-%d"}`, g, benchContent, c.runID, g, i)
		status, resp, err := t.post(ctx, "/v1/bench/app/messages", t.svc, body)
		if err != nil || status != http.StatusCreated {
			return fmt.Errorf("send: %d %v %s", status, err, resp)
		}
		j := strings.Index(resp, `"msg_id":"`) + 10
		ids[i] = resp[j : j+strings.IndexByte(resp[j:], '"')]
		return nil
	})
}

// fill has n members read message id, 32 at a time.
func fill(ctx context.Context, c *config, t *target, id string, n int) error {
	return pool(ctx, 32, n, func(_, i int) error {
		status, resp, err := t.post(ctx, "/v1/bench/app/messages/"+id+"/read", t.svc, fmt.Sprintf(`{"reader":"m%d","platform":"ios"}`, i))
		if err != nil || status != http.StatusOK {
			return fmt.Errorf("read: %d %v %s", status, err, resp)
		}
		if i%500 == 0 {
			c.progress.Show("group-reads: %s read by %d/%d", id, i, n)
		}
		return nil
	})
}

// waitCaughtUp waits until every projection of recalld has applied the
// whole log (its /metrics say no projection lags).
func (t *target) waitCaughtUp(ctx context.Context, c *config) error {
	start := time.Now()
	for ctx.Err() == nil {
		status, body, err := t.do(ctx, http.MethodGet, "/metrics", "", "")
		if err != nil || status != http.StatusOK {
			return fmt.Errorf("metrics: %d %v", status, err)
		}
		behind := false
		for _, line := range strings.Split(body, "\n") {
			if strings.HasPrefix(line, "recall_projection_lag_events{") && !strings.HasSuffix(line, " 0") {
				behind = true
			}
		}
		if !behind {
			return nil
		}
		c.progress.Show("waiting for recalld's projections to catch up: %s", time.Since(start).Round(time.Second))
		time.Sleep(100 * time.Millisecond)
	}
	return ctx.Err()
}

// timeRequests makes n requests, conc at a time, each as req(i) says
// (method, path, body), and returns their latencies; a status not in want
// is an error.
func timeRequests(ctx context.Context, t *target, n, conc int, req func(i int) (method, path, body string), want ...int) ([]time.Duration, error) {
	lat := make([]time.Duration, n)
	err := pool(ctx, conc, n, func(_, i int) error {
		method, path, body := req(i)
		t0 := time.Now()
		status, resp, err := t.do(ctx, method, path, t.svc, body)
		lat[i] = time.Since(t0)
		if err != nil || !slices.Contains(want, status) {
			return fmt.Errorf("%s %s: %d %v %s", method, path, status, err, resp)
		}
		return nil
	})
	return lat, err
}

// viewerCounts: sends with 0 and 1,000 idle viewers of other
// conversations (small), 0 and 5,000 (large).
var viewerCounts = flatSizes{small: [2]int{0, 1_000}, large: [2]int{0, 5_000}}

// benchViewers measures sends over HTTP (64 connections, as send-http)
// while v live streams of other conversations are open, idle: throughput
// and recalld's CPU per send. Target: within 1.1× of no viewers. Then the
// same sends to one group that all v viewers watch: the sender's p99
// (target ≤ 20 ms) and what the viewers received.
func benchViewers(ctx context.Context, c *config) error {
	if c.addr != "" {
		return c.emit(result{Scenario: "viewers", Note: "skipped with --addr: it measures recalld's CPU, so it starts its own"})
	}
	sizes := viewerCounts.of(c)
	var lines [2]result
	for i, v := range sizes {
		t, err := startTargetWith(c, targetOpts{args: []string{"--max-streams", strconv.Itoa(v + 100), "--max-streams-per-tenant", strconv.Itoa(v + 100)}})
		if err != nil {
			return err
		}
		ws, err := watch(ctx, t, v, func(k int) string { return fmt.Sprint("groupchat:idle", k) })
		if err != nil {
			t.stop()
			return err
		}
		r, err := sendLoad(ctx, c, t, "viewers", func(int) string { return "" })
		ws.close()
		t.stop()
		if err != nil {
			return err
		}
		r.N, r.Note = v, fmt.Sprintf("sends with %d idle viewers of other conversations; %s", v, r.Note)
		lines[i] = r
		if err := c.emit(r); err != nil {
			return err
		}
	}
	if err := c.emitRatio("viewers", lines[0], lines[1], "CPU per send", func(r result) float64 { return r.CPUPerRequestUs }, 1.1); err != nil {
		return err
	}
	if err := c.emitRatio("viewers", lines[1], lines[0], "sends/s (inverted: no viewers over viewers)", func(r result) float64 { return r.RequestsPerS }, 1.1); err != nil {
		return err
	}
	return benchBusyGroup(ctx, c, sizes[1])
}

// benchBusyGroup: sends to groupchat:busy, which v viewers watch.
func benchBusyGroup(ctx context.Context, c *config, v int) error {
	t, err := startTargetWith(c, targetOpts{args: []string{"--max-streams", strconv.Itoa(v + 100), "--max-streams-per-tenant", strconv.Itoa(v + 100)}})
	if err != nil {
		return err
	}
	defer t.stop()
	body := func(group string) func(int) string {
		return func(i int) string {
			return fmt.Sprintf(`{"from":"u%d","to":%q,"chat_type":"groupchat","type":"txt","content":%q,"platform":"ios","client_msg_id":"%s%s-%d"}`, i%997, group, benchContent, c.runID, group, i)
		}
	}
	// the same sends to a group nobody watches first: the baseline
	base, err := openLoopSends(ctx, c, t, busyGroupRate, body("quiet"))
	if err != nil {
		return err
	}
	base.Scenario, base.Note = "viewers-busy-group", fmt.Sprintf("%d sends/s to a group nobody watches (the baseline); %s", busyGroupRate, base.Note)
	if err := c.emit(base); err != nil {
		return err
	}
	ws, err := watch(ctx, t, v, func(int) string { return "groupchat:busy" })
	if err != nil {
		return err
	}
	r, err := openLoopSends(ctx, c, t, busyGroupRate, body("busy"))
	if err != nil {
		ws.close()
		return err
	}
	// the viewers get what was sent, however far behind they were
	sent := r.N
	received, lagged := ws.waitFor(sent, 30*time.Second)
	ws.close()
	r.Scenario, r.N = "viewers-busy-group", v
	verdict := "within"
	if r.P99Ms > 20 {
		verdict = "OVER"
	}
	r.Note = fmt.Sprintf("%d sends/s to one group watched by %d viewers: sender p99 %.1f ms, %s the target 20 ms (%.1f ms unwatched); viewers received %d to %d of %d sends (%d streams dropped for lag and resumed); %s",
		busyGroupRate, v, r.P99Ms, verdict, base.P99Ms, received[0], received[1], sent, lagged, r.Note)
	return c.emit(r)
}

// busyGroupRate is the sends a second to the group all viewers watch:
// each is written to every viewer, so 200 sends/s to 1,000 viewers is
// 200,000 events/s out of recalld (and into the bench, on the same cores).
const busyGroupRate = 200

// openLoopSends makes rate sends a second for c.duration, each due at its
// time whatever the server's pace (latency counts from when it was due),
// body(i) the i-th, and reports latency and recalld's CPU per send.
func openLoopSends(ctx context.Context, c *config, t *target, rate int, body func(i int) string) (result, error) {
	n := rate * max(1, int(c.duration.Seconds()))
	lat := make([]time.Duration, n)
	failed := make([]bool, n)
	cpu0, err := procCPU(t.pid)
	if err != nil {
		return result{}, err
	}
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < n && ctx.Err() == nil; i++ {
		due := start.Add(time.Duration(i) * time.Second / time.Duration(rate))
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		wg.Go(func() {
			status, _, err := t.post(ctx, "/v1/bench/app/messages", t.svc, body(i))
			lat[i], failed[i] = time.Since(due), err != nil || status != http.StatusCreated
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu1, err := procCPU(t.pid)
	if err != nil {
		return result{}, err
	}
	var ok []time.Duration
	errs := 0
	for i, d := range lat {
		if failed[i] {
			errs++
		} else {
			ok = append(ok, d)
		}
	}
	p50, p99 := percentiles(ok)
	r := result{N: len(ok), TargetRate: float64(rate), RequestsPerS: round(float64(len(ok)) / elapsed.Seconds()), P50Ms: p50, P99Ms: p99, Errors: errs,
		Note: fmt.Sprintf("%d sends in %s", len(ok), elapsed.Round(time.Millisecond))}
	if len(ok) > 0 {
		r.CPUPerRequestUs = round(float64((cpu1 - cpu0).Microseconds()) / float64(len(ok)))
	}
	return r, nil
}

// sendLoad runs 64 connections of sends for c.duration; group(i), when
// not empty, names the group of the i-th send (else send-http's mix), and
// reports throughput, latency and recalld's CPU per send.
func sendLoad(ctx context.Context, c *config, t *target, name string, group func(int) string) (result, error) {
	const conns = 64
	lats := make([][]time.Duration, conns)
	var errs int64
	errCh := make(chan struct{}, 1<<16)
	more, stop := context.WithDeadline(ctx, time.Now().Add(c.duration))
	defer stop()
	cpu0, err := procCPU(t.pid)
	if err != nil {
		return result{}, err
	}
	start := time.Now()
	_ = pool(more, conns, -1, func(w, i int) error {
		body := sendBody(c.runID+name, i+1, "chat")
		if g := group(i); g != "" {
			body = fmt.Sprintf(`{"from":"u%d","to":%q,"chat_type":"groupchat","type":"txt","content":%q,"platform":"ios","client_msg_id":"%s%s-%d"}`, i%997, g, benchContent, c.runID, name, i)
		}
		t0 := time.Now()
		status, _, err := t.post(ctx, "/v1/bench/app/messages", t.svc, body)
		if err != nil || status != http.StatusCreated {
			select {
			case errCh <- struct{}{}:
			default:
			}
			return nil
		}
		lats[w] = append(lats[w], time.Since(t0))
		if w == 0 {
			c.progress.Show("%s: %d requests", name, i+1)
		}
		return nil
	})
	elapsed := time.Since(start)
	cpu1, err := procCPU(t.pid)
	if err != nil {
		return result{}, err
	}
	errs = int64(len(errCh))
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	p50, p99 := percentiles(all)
	r := result{Scenario: name, Concurrency: conns, RequestsPerS: round(float64(len(all)) / elapsed.Seconds()), P50Ms: p50, P99Ms: p99, Errors: int(errs)}
	if len(all) > 0 {
		r.CPUPerRequestUs = round(float64((cpu1 - cpu0).Microseconds()) / float64(len(all)))
	}
	r.Note = fmt.Sprintf("%d sends in %s", len(all), elapsed.Round(time.Millisecond))
	r.N = len(all)
	return r, nil
}

// procCPU is the user and system CPU time process pid has used.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("server CPU: %w", err)
	}
	// the fields after the command name, which is in parentheses
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("server CPU: short /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("server CPU: /proc/%d/stat: %v %v", pid, err1, err2)
	}
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticks, nil
}

// tenantCounts: tenants created in all, the per-change cost timed at the
// first and the last hundred: 1,000 and 10,000 (small), 10,000 and
// 100,000 (large).
var tenantCounts = flatSizes{small: [2]int{1_000, 10_000}, large: [2]int{10_000, 100_000}}

// benchTenants creates tenants in a fresh registry, each change durable
// before the next, and times each create; then rotations and disables of
// tenants already there. Target: 10,000 creates in under 30 s, each
// change O(1): the last hundred creates within 1.2× of the first hundred
// (of the small count).
func benchTenants(ctx context.Context, c *config) error {
	return registryBench(ctx, c, tenantCounts.of(c))
}

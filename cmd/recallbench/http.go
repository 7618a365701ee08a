package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/recallledger/recall/adapters/tenants"
	"github.com/recallledger/recall/domain"
)

// target is a recalld to load: started here, or given with --addr.
type target struct {
	base        string
	svc         string // tenant bench/app: the default policy
	lateSvc     string // tenant bench/late: a 1 s window, for timeouts
	lateAdmin   string
	client      *http.Client
	stop        func()
	startedHere bool
	pid         int // of the recalld started here; 0 with --addr
}

// targetOpts change how startTargetWith starts recalld.
type targetOpts struct {
	// prepare fills the data directory (the tenants are in it already)
	// before recalld starts; startTargetWith then waits until recalld's
	// projections caught up (/readyz).
	prepare func(dir string) error
	// args are more recalld flags.
	args []string
}

// startTarget starts the recalld binary with a fresh data directory and a
// tenant bench/app, or uses --addr.
func startTarget(c *config) (*target, error) { return startTargetWith(c, targetOpts{}) }

// startTargetWith is startTarget as o says.
func startTargetWith(c *config, o targetOpts) (*target, error) {
	transport := &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256, IdleConnTimeout: time.Minute}
	t := &target{client: &http.Client{Transport: transport, Timeout: 30 * time.Second}, stop: func() {}}
	if c.addr != "" {
		t.base, t.svc = "http://"+strings.TrimPrefix(c.addr, "http://"), c.token
		return t, nil
	}
	bin := c.recalld
	if bin == "" {
		if self, err := os.Executable(); err == nil {
			if cand := filepath.Join(filepath.Dir(self), "recalld"); fileExists(cand) {
				bin = cand
			}
		}
	}
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("recalld"); err != nil {
			return nil, errNoRecalld
		}
	}
	dir, cleanup, err := tempDir()
	if err != nil {
		return nil, err
	}
	reg, err := tenants.Open(dir)
	if err != nil {
		cleanup()
		return nil, err
	}
	for _, name := range []string{"bench/app", "bench/late"} {
		tn, _ := domain.ParseTenant(name)
		toks, err := reg.Create(tn)
		if err != nil {
			cleanup()
			return nil, err
		}
		if name == "bench/app" {
			t.svc = toks[domain.AccessService]
		} else {
			t.lateSvc, t.lateAdmin = toks[domain.AccessService], toks[domain.AccessAdmin]
		}
	}
	if o.prepare != nil {
		if err := o.prepare(dir); err != nil {
			cleanup()
			return nil, err
		}
	}
	cmd := exec.Command(bin, append([]string{"--data", dir, "--addr", "127.0.0.1:0", "--log-level", "error", "--rate-per-tenant", "1000000000"}, o.args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		cleanup()
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		cleanup()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if addr, ok := strings.CutPrefix(sc.Text(), "recalld listening on "); ok {
			t.base = addr
			break
		}
	}
	if t.base == "" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		cleanup()
		return nil, fmt.Errorf("%s did not start", bin)
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	t.startedHere, t.pid = true, cmd.Process.Pid
	t.stop = func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
		cleanup()
	}
	if o.prepare != nil {
		if err := t.waitReady(c); err != nil {
			t.stop()
			return nil, err
		}
	}
	return t, nil
}

// waitReady waits until recalld says its projections caught up.
func (t *target) waitReady(c *config) error {
	start := time.Now()
	for {
		resp, err := t.client.Get(t.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Since(start) > 30*time.Minute {
			return fmt.Errorf("recalld not ready after %s", time.Since(start).Round(time.Second))
		}
		c.progress.Show("waiting for recalld to catch up: %s", time.Since(start).Round(time.Second))
		time.Sleep(200 * time.Millisecond)
	}
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// post sends one request and returns its status and body.
func (t *target) post(ctx context.Context, path, token, body string) (int, string, error) {
	return t.do(ctx, http.MethodPost, path, token, body)
}

// do sends one request (a body only when not empty) and returns its
// status and body.
func (t *target) do(ctx context.Context, method, path, token, body string) (int, string, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, t.base+path, rd)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

func (t *target) put(ctx context.Context, path, token, body string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, t.base+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := t.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("PUT %s: %s", path, resp.Status)
	}
	return nil
}

// sendBody is the i-th send of a run. Its client_msg_id carries the run's
// id: a second run against the same recalld (--addr) records new sends
// instead of replaying the first run's, which the server would answer 200
// (a repeat) rather than 201.
func sendBody(run string, i int, chat string) string {
	to := fmt.Sprint("u", (i+1)%997)
	if chat == "groupchat" {
		to = fmt.Sprint("g", i%53)
	}
	return fmt.Sprintf(`{"from":"u%d","to":%q,"chat_type":%q,"type":"txt","content":%q,"platform":"ios","client_msg_id":"%s-%d"}`,
		i%997, to, chat, benchContent, run, i)
}

// benchSendHTTP records sends over HTTP from 64 connections, as fast as
// they are answered, for the configured duration.
func benchSendHTTP(ctx context.Context, c *config) error {
	t, err := startTarget(c)
	if err != nil {
		return err
	}
	defer t.stop()
	const conns = 64
	var errs atomic.Int64
	lats := make([][]time.Duration, conns)
	// the pool stops taking requests at the deadline; those under way
	// still finish on ctx
	more, stop := context.WithDeadline(ctx, time.Now().Add(c.duration))
	defer stop()
	start := time.Now()
	_ = pool(more, conns, -1, func(w, i int) error {
		chat := "chat"
		if (i+1)%4 == 0 {
			chat = "groupchat"
		}
		t0 := time.Now()
		status, _, err := t.post(ctx, "/v1/bench/app/messages", t.svc, sendBody(c.runID, i+1, chat))
		if err != nil || status != http.StatusCreated {
			errs.Add(1)
			return nil
		}
		lats[w] = append(lats[w], time.Since(t0))
		if w == 0 {
			c.progress.Show("send-http: %d requests", i+1)
		}
		return nil
	})
	elapsed := time.Since(start)
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	p50, p99 := percentiles(all)
	return c.emit(result{Scenario: "send-http", Concurrency: conns, N: len(all), RequestsPerS: round(float64(len(all)) / elapsed.Seconds()),
		P50Ms: p50, P99Ms: p99, Errors: int(errs.Load())})
}

// benchRecallHTTP asks for recall decisions over HTTP at a steady 5,000
// requests/s (open loop: latency counts from when a request was due, so a
// slow server cannot hide its queue). The mix: senders recalling in time,
// senders recalling after the window (timeouts, on a tenant with a 1 s
// window), strangers (forbidden), repeats (already recalled).
func benchRecallHTTP(ctx context.Context, c *config) error {
	t, err := startTarget(c)
	if err != nil {
		return err
	}
	defer t.stop()
	if !t.startedHere {
		return c.emit(result{Scenario: "recall-http", Note: "skipped with --addr: it needs a second tenant with a short window"})
	}
	if err := t.put(ctx, "/v1/bench/late/policy", t.lateAdmin, `{"sender_window_s":1}`); err != nil {
		return err
	}
	const rate = 5000
	n := rate * int(c.duration.Seconds())
	late := make([]string, n/5)
	if err := preSend(ctx, c, t, "bench/late", t.lateSvc, late, 0); err != nil {
		return err
	}
	fresh := make([]string, n)
	if err := preSend(ctx, c, t, "bench/app", t.svc, fresh, 0); err != nil {
		return err
	}
	time.Sleep(1100 * time.Millisecond) // the late tenant's messages are now past their window
	var wg sync.WaitGroup
	var mu sync.Mutex
	var lats []time.Duration
	outcomes := map[string]int{}
	var errs atomic.Int64
	sem := make(chan struct{}, 512)
	start := time.Now()
	interval := time.Second / rate
	for i := 0; i < n && ctx.Err() == nil; i++ {
		due := start.Add(time.Duration(i) * interval)
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		tenant, token, actor, id := "bench/app", t.svc, fmt.Sprint("u", i%997), fresh[i]
		switch i % 10 {
		case 3, 8:
			tenant, token, id = "bench/late", t.lateSvc, late[(i/5)%len(late)]
			actor = fmt.Sprint("u", (i/5)%len(late)%997)
		case 7:
			actor = "stranger"
		case 9:
			id, actor = fresh[i-4], fmt.Sprint("u", (i-4)%997) // recalled moments ago
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			status, body, err := t.post(ctx, "/v1/"+tenant+"/messages/"+id+"/recall", token, fmt.Sprintf(`{"actor":%q,"platform":"ios"}`, actor))
			lat := time.Since(due)
			if err != nil || (status != 200 && status != 409 && status != 403) {
				errs.Add(1)
				return
			}
			outcome := "recalled"
			if i := strings.Index(body, `"reason":"`); i >= 0 {
				outcome = body[i+10:]
				outcome = outcome[:strings.IndexByte(outcome, '"')]
			}
			mu.Lock()
			lats = append(lats, lat)
			outcomes[outcome]++
			mu.Unlock()
		}()
		if i%500 == 0 {
			c.progress.Show("recall-http: %d/%d", i, n)
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	p50, p99 := percentiles(lats)
	return c.emit(result{Scenario: "recall-http", N: len(lats), TargetRate: rate, RequestsPerS: round(float64(len(lats)) / elapsed.Seconds()),
		P50Ms: p50, P99Ms: p99, Errors: int(errs.Load()), Note: fmt.Sprint(outcomes)})
}

// preSend records len(ids) one-to-one sends over 64 connections and keeps
// their msg_ids.
func preSend(ctx context.Context, c *config, t *target, tenant, token string, ids []string, offset int) error {
	return pool(ctx, 64, len(ids), func(_, i int) error {
		status, body, err := t.post(ctx, "/v1/"+tenant+"/messages", token, sendBody(c.runID, offset+i, "chat"))
		if err != nil || status != http.StatusCreated {
			return fmt.Errorf("send: %d %v %s", status, err, body)
		}
		j := strings.Index(body, `"msg_id":"`) + 10
		ids[i] = body[j : j+strings.IndexByte(body[j:], '"')]
		if i%1000 == 0 {
			c.progress.Show("recall-http: sending %d messages", offset+i)
		}
		return nil
	})
}

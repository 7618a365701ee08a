package main

import (
	"context"
	"fmt"
	"time"

	"github.com/recallledger/recall/adapters/operators"
	"github.com/recallledger/recall/adapters/tenants"
	"github.com/recallledger/recall/domain"
)

// registryBench creates sizes[1] tenants in a fresh registry (as
// recallctl tenant create does, each durable before the next) and times
// every create, then rotations and disables among them. It prints the
// whole run, the first and last hundred creates, and the ratio of the
// two: a change must cost the same with many tenants as with few.
func registryBench(ctx context.Context, c *config, sizes [2]int) error {
	dir, cleanup, err := tempDir()
	if err != nil {
		return err
	}
	defer cleanup()
	reg, err := tenants.Open(dir)
	if err != nil {
		return err
	}
	total := sizes[1]
	lat := make([]time.Duration, total)
	start := time.Now()
	var at [2]time.Duration // elapsed when sizes[0] and sizes[1] tenants existed
	for i := range total {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		tn, err := domain.ParseTenant(fmt.Sprintf("org%d/app", i))
		if err != nil {
			return err
		}
		t0 := time.Now()
		if _, err := reg.Create(tn); err != nil {
			return err
		}
		lat[i] = time.Since(t0)
		if i+1 == sizes[0] {
			at[0] = time.Since(start)
		}
		if i%500 == 0 {
			c.progress.Show("tenants: %d/%d created", i, total)
		}
	}
	at[1] = time.Since(start)
	window := min(100, sizes[0])
	var lines [2]result
	for k, n := range sizes {
		p50, p99 := percentiles(append([]time.Duration(nil), lat[n-window:n]...))
		verdict := ""
		if n == 10_000 {
			verdict = fmt.Sprintf(" (target: 10000 in under 30 s: %s)", map[bool]string{true: "within", false: "OVER"}[at[k] < 30*time.Second])
		}
		lines[k] = result{Scenario: "tenants", N: n, P50Ms: p50, P99Ms: p99, RequestsPerS: round(float64(n) / at[k].Seconds()),
			Note: fmt.Sprintf("creates %d..%d timed; the first %d creates took %s%s", n-window+1, n, n, at[k].Round(time.Millisecond), verdict)}
		if err := c.emit(lines[k]); err != nil {
			return err
		}
	}
	// rotations and disables with every tenant there
	var rot, dis []time.Duration
	for i := range window {
		tn, _ := domain.ParseTenant(fmt.Sprintf("org%d/app", i*(total/window)))
		t0 := time.Now()
		if _, err := reg.Rotate(tn, domain.AccessAdmin); err != nil {
			return err
		}
		rot = append(rot, time.Since(t0))
		t0 = time.Now()
		if err := reg.SetDisabled(tn, true); err != nil {
			return err
		}
		dis = append(dis, time.Since(t0))
	}
	r50, r99 := percentiles(rot)
	d50, d99 := percentiles(dis)
	if err := c.emit(result{Scenario: "tenants-changes", N: total, P50Ms: r50, P99Ms: r99,
		Note: fmt.Sprintf("%d rotations with %d tenants (p50/p99 above); %d disables p50/p99 %.2f/%.2f ms", window, total, window, d50, d99)}); err != nil {
		return err
	}
	if err := c.emitRatio("tenants", lines[0], lines[1], "create p50", func(r result) float64 { return r.P50Ms }, 1.2); err != nil {
		return err
	}
	return operatorsBench(ctx, c, [2]int{sizes[0] / 10, sizes[0]})
}

// operatorsBench adds sizes[1] operators to one tenant's registry (the
// operators journal) and times each add, with a cheap password hash so the
// journal's cost shows (an add with the real argon2id parameters costs
// ~80 ms of hashing, the same for the first operator as for the last).
func operatorsBench(ctx context.Context, c *config, sizes [2]int) error {
	dir, cleanup, err := tempDir()
	if err != nil {
		return err
	}
	defer cleanup()
	hasher, err := operators.NewHasher(operators.Params{Time: 1, MemoryKiB: 64, Threads: 1}, 1)
	if err != nil {
		return err
	}
	reg, err := operators.Open(dir, domain.SystemClock{}, hasher)
	if err != nil {
		return err
	}
	tn, _ := domain.ParseTenant("bench/app")
	lat := make([]time.Duration, sizes[1])
	for i := range sizes[1] {
		name, err := domain.ParseOperatorName(fmt.Sprint("op", i))
		if err != nil {
			return err
		}
		t0 := time.Now()
		if _, _, err := reg.Change(ctx, tn, domain.OperatorCommand{Action: domain.OperatorAdd, Name: name, Role: domain.AccessAdmin, By: "bench"}, ""); err != nil {
			return err
		}
		lat[i] = time.Since(t0)
		if i%200 == 0 {
			c.progress.Show("operators: %d/%d added", i, sizes[1])
		}
	}
	window := min(100, sizes[0])
	var lines [2]result
	for k, n := range sizes {
		p50, p99 := percentiles(append([]time.Duration(nil), lat[n-window:n]...))
		lines[k] = result{Scenario: "operators", N: n, P50Ms: p50, P99Ms: p99, Note: fmt.Sprintf("operator adds %d..%d timed (one journal line each, cheap hash)", n-window+1, n)}
		if err := c.emit(lines[k]); err != nil {
			return err
		}
	}
	return c.emitRatio("operators", lines[0], lines[1], "add p50", func(r result) float64 { return r.P50Ms }, 1.2)
}

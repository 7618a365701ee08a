package main

import (
	"context"
	"sync"
	"sync/atomic"
)

// pool runs job(worker, i) for i = 0, 1, 2… on workers goroutines, each
// worker taking the next i when it is done with its last, until n jobs
// were taken (n < 0: no limit), ctx ends or a job fails. It waits for the
// jobs running and returns the first failure; a job that only counts its
// failures returns nil. Every scenario's load goes through it, so they
// all hand out work the same way.
func pool(ctx context.Context, workers, n int, job func(worker, i int) error) error {
	var next atomic.Int64
	var failure atomic.Pointer[error]
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for ctx.Err() == nil && failure.Load() == nil {
				i := int(next.Add(1)) - 1
				if n >= 0 && i >= n {
					return
				}
				if err := job(w, i); err != nil {
					failure.CompareAndSwap(nil, &err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := failure.Load(); err != nil {
		return *err
	}
	return nil
}

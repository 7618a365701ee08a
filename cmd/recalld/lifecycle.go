package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
)

// lifecycle is what a Server and a Worker share: what they opened, closed
// in the reverse order, and the background loops they run, owned by one
// errgroup. A loop that fails for good ends the group's context (the
// other loops stop) and closes Failed; the first failure is what Shutdown
// reports.
type lifecycle struct {
	log *slog.Logger

	closers []closer // in the order opened

	loops    *errgroup.Group
	loopsCtx context.Context // ends when a loop fails or the loops are stopped
	stop     context.CancelFunc
	stopping atomic.Bool // a loop ending now was stopped, it did not fail

	failOnce sync.Once
	failed   chan struct{}
	failure  error // the first loop failure, set before failed closes
}

type closer struct {
	what  string
	close func() error
}

func newLifecycle(log *slog.Logger) *lifecycle {
	l := &lifecycle{log: log, failed: make(chan struct{})}
	ctx, stop := context.WithCancel(context.Background())
	l.loops, l.loopsCtx = errgroup.WithContext(ctx)
	l.stop = stop
	return l
}

// closeLater registers what closeAll closes, after whatever is opened
// later.
func (l *lifecycle) closeLater(what string, close func() error) {
	l.closers = append(l.closers, closer{what, close})
}

// closeAll closes everything registered, last opened first, once.
func (l *lifecycle) closeAll() error {
	var errs []error
	for _, c := range slices.Backward(l.closers) {
		if err := c.close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, fmt.Errorf("close %s: %w", c.what, err))
		}
	}
	l.closers = nil
	return errors.Join(errs...)
}

// run starts loop in the group. It runs until the loops are stopped (what
// it returns then is not a failure) or it fails; a failure is named by
// what (nothing added when what is empty: the loop names itself).
func (l *lifecycle) run(what string, loop func(ctx context.Context) error) {
	l.loops.Go(func() error {
		err := loop(l.loopsCtx)
		if err == nil || l.stopping.Load() {
			return nil
		}
		if what != "" {
			err = fmt.Errorf("%s: %w", what, err)
		}
		l.failOnce.Do(func() { l.failure = err; close(l.failed) })
		return err
	})
}

// Failed is closed when a background loop failed for good: the caller
// then shuts down, and Shutdown returns the failure.
func (l *lifecycle) Failed() <-chan struct{} { return l.failed }

// failed reports the first failure, nil if none.
func (l *lifecycle) firstFailure() error {
	select {
	case <-l.failed:
		return l.failure
	default:
		return nil
	}
}

// stopLoops stops every loop; the channel closes once they all returned.
func (l *lifecycle) stopLoops() <-chan struct{} {
	l.stopping.Store(true)
	l.stop()
	done := make(chan struct{})
	go func() {
		_ = l.loops.Wait() // a failure is in l.failure
		close(done)
	}()
	return done
}

// closeWhenDone closes everything once done is closed, or says what still
// runs when ctx ends first and closes it all later, once done is closed:
// never under the feet of what is still running.
func (l *lifecycle) closeWhenDone(ctx context.Context, done <-chan struct{}, what string) error {
	select {
	case <-done: // done in time, even if ctx has ended by now
		return l.closeAll()
	default:
	}
	select {
	case <-done:
		return l.closeAll()
	case <-ctx.Done():
		l.log.Warn("shutdown timeout passed with work still running; its stores close when it ends", slog.String("work", what))
		go func() {
			<-done
			if err := l.closeAll(); err != nil {
				l.log.Warn("closing after the shutdown timeout", slog.Any("err", err))
			}
		}()
		return fmt.Errorf("shutdown: %s still running: %w", what, ctx.Err())
	}
}

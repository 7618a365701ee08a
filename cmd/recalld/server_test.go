package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A Server is started and stopped in the test process: Start returns once
// it serves on the address Addr tells, Ready closes once the projections
// caught up, Shutdown stops it and may be called again, a Server starts
// once, and what it held (the data directory, the stores) is free after.
func TestAServerStartsServesAndShutsDownOnce(t *testing.T) {
	dir := t.TempDir()
	srv, err := New(Config{Data: dir, Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + srv.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("healthz: %d", resp.StatusCode)
	}
	select {
	case <-srv.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("an empty server was not ready in 10 s")
	}
	if err := srv.Start(context.Background()); err == nil {
		t.Fatal("a second Start was accepted")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("a second Shutdown: %v, want what the first returned", err)
	}
	if _, err := http.Get("http://" + srv.Addr().String() + "/healthz"); err == nil {
		t.Fatal("still serving after Shutdown")
	}
	// the stores are closed and the directory released: a new server opens them
	again, err := New(Config{Data: dir, Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := again.Start(context.Background()); err != nil {
		t.Fatalf("a server on the directory the first left: %v", err)
	}
	if err := again.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

// A Server shut down before it started opens nothing and never starts.
func TestShutdownBeforeStartOpensNothing(t *testing.T) {
	srv, err := New(Config{Data: t.TempDir(), Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err == nil {
		t.Fatal("a Server shut down before it started then started")
	}
}

// Shutdown is bounded: a request that does not finish (its client sends
// half a body) does not hold it past its context; it says what was still
// running, and the stores close once the request has ended, not under it.
func TestShutdownIsBoundedByItsContext(t *testing.T) {
	s := startServer(t)
	conn, err := net.Dial("tcp", s.srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req := "POST /v1/a/a/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + s.token("a/a", svc) +
		"\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"from\":"
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() string { // the handler is reading the body
		if s.srv.inFlight.Load() != 1 {
			return "the request is not in flight"
		}
		return ""
	})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err = s.srv.Shutdown(ctx)
	s.stopped = true // this test checks what Shutdown returned
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "in flight") {
		t.Fatalf("Shutdown with a request that does not finish: %v, want its context's deadline naming the requests in flight", err)
	}
	// Shutdown closed the connection, which ended the request: the stores close
	eventually(t, func() string {
		next, err := New(Config{Data: s.dir, Addr: "127.0.0.1:0"})
		if err != nil {
			return err.Error()
		}
		if err := next.Start(context.Background()); err != nil {
			return "the directory is still held: " + err.Error()
		}
		_ = next.Shutdown(context.Background())
		return ""
	})
}

// What a Server or Worker opened is closed only once every loop has
// returned, even when the shutdown's context ends first: a loop still
// running never meets a closed store (issue 14's "pebble: closed" from the
// retention loop, kept away by construction).
func TestStoresCloseOnlyAfterEveryLoopReturned(t *testing.T) {
	l := newLifecycle(slog.New(slog.DiscardHandler))
	release := make(chan struct{})
	var loopDone, closedAfterLoop atomic.Bool
	l.closeLater("store", func() error {
		closedAfterLoop.Store(loopDone.Load())
		return nil
	})
	var closed atomic.Bool
	l.closeLater("witness", func() error { closed.Store(true); return nil })
	l.run("stubborn", func(ctx context.Context) error {
		<-ctx.Done()
		<-release // still writing after it was told to stop
		loopDone.Store(true)
		return ctx.Err()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := l.closeWhenDone(ctx, l.stopLoops(), "the loop"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("closeWhenDone past its deadline: %v", err)
	}
	if closed.Load() {
		t.Fatal("the stores were closed while a loop still ran")
	}
	close(release)
	eventually(t, func() string {
		if !closed.Load() {
			return "not closed after the loop returned"
		}
		return ""
	})
	if !closedAfterLoop.Load() {
		t.Fatal("the store was closed before the loop returned")
	}
	select {
	case <-l.Failed():
		t.Fatal("a loop that was stopped counted as failed")
	default:
	}
}

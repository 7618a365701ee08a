package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/recallledger/recall/domain"
)

// A client that sends its headers slowly is cut off after the header
// timeout, and holds nothing after.
func TestSlowClientIsCutOff(t *testing.T) {
	s := startServer(t, "--header-timeout", "300ms")
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n")); err != nil { // and never the blank line
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	start := time.Now()
	_, err = io.ReadAll(conn)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the server kept a slow client's connection open for 10 s")
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Fatalf("cut off after %v", waited)
	}
	// and the server still serves others
	if r := s.do("GET", "/healthz", "", ""); r.status != 200 {
		t.Fatalf("healthz after a slow client: %d", r.status)
	}
}

func TestOversizedHeadersAreRefused(t *testing.T) {
	s := startServer(t)
	req, _ := http.NewRequest("GET", s.base+"/healthz", nil)
	req.Header.Set("X-Junk", strings.Repeat("a", 200<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("200 KiB of headers: %d, want 431", resp.StatusCode)
	}
}

// SIGTERM stops recalld cleanly: requests in flight finish, the
// projections apply everything acknowledged, and a restart is ready at
// once with nothing lost.
func TestGracefulShutdownOnSIGTERM(t *testing.T) {
	bin := buildRecalld(t)
	dir, toks := dataWithTenant(t, "a/a")
	base, proc := startChild(t, bin, dir)
	sent := 0
	for i := range 200 {
		req, _ := http.NewRequest("POST", base+"/v1/a/a/messages", strings.NewReader(`{"from":"alice","to":"bob","chat_type":"chat","content":"x","client_msg_id":"c`+strings.Repeat("1", i%3)+string(rune('a'+i%26))+`"}`))
		req.Header.Set("Authorization", "Bearer "+toks[domain.AccessService])
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 201 {
			sent++
		}
	}
	if err := proc.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- proc.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("recalld exited badly on SIGTERM: %v", err)
		}
	case <-time.After(20 * time.Second):
		_ = proc.Process.Kill()
		t.Fatal("recalld did not stop within 20 s of SIGTERM")
	}
	base, proc = startChild(t, bin, dir)
	defer func() { _ = proc.Process.Signal(syscall.SIGTERM); _ = proc.Wait() }()
	// ready at once: the projections had caught up before the stop
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(bufio.NewReader(resp.Body))
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("not ready right after a graceful restart: %s", body)
	}
	if evs := allEvents(t, base, "a/a", toks[domain.AccessAuditor]); len(evs) != sent {
		t.Fatalf("%d events after restart, %d sends acknowledged", len(evs), sent)
	}
}

package main

import (
	"bufio"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/recallledger/recall/adapters/eventstore/embedded"
	"github.com/recallledger/recall/adapters/readmodel"
	"github.com/recallledger/recall/adapters/readmodel/readmodeltest"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/projections"
	"github.com/recallledger/recall/projections/catalog"
)

// buildRecalld builds the command into a temporary directory, for tests
// that run it as a child process and signal it.
func buildRecalld(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "recalld")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v %s", err, out)
	}
	return bin
}

// dataWithTenant returns a fresh data directory with tenant name
// registered, and the tenant's tokens.
func dataWithTenant(t *testing.T, name string) (string, map[domain.AccessRole]string) {
	t.Helper()
	dir := t.TempDir()
	return dir, registerTenant(t, dir, name)
}

// openData opens the event store and the read models a stopped recalld
// left in dir, with the projections' runners, closed when the test ends.
func openData(t *testing.T, dir string) (*embedded.Store, *readmodel.Store, []*projections.Runner) {
	t.Helper()
	s := readmodeltest.OpenStores(t, dir, catalog.Projections()...)
	return s.Events, s.Models, s.Runners
}

// SIGTERM with a viewer on a live stream: the stream ends at once (the
// client reads its end), recalld exits within 2 s — not after its whole
// 10 s shutdown timeout — and it stopped with every projection caught up.
func TestSIGTERMEndsLiveStreamsAndExitsPromptly(t *testing.T) {
	bin := buildRecalld(t)
	dir, toks := dataWithTenant(t, "a/a")
	base, proc := startChild(t, bin, dir)
	exited := make(chan error, 1)
	go func() { exited <- proc.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			_ = proc.Process.Kill()
			<-exited
		}
	}()
	do := func(method, path, body string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+toks[domain.AccessService])
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for i, c := range []string{"one", "two"} {
		resp := do("POST", "/v1/a/a/messages", `{"from":"alice","to":"bob","chat_type":"chat","type":"txt","content":"`+c+`","client_msg_id":"c`+string(rune('0'+i))+`"}`)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("send: %d", resp.StatusCode)
		}
	}
	// two viewers, each with the stream open and both updates received
	streams := openStreams(t, do, 2, "bob", "alice")
	ended := make(chan error, len(streams))
	for _, rd := range streams {
		go func() {
			_, err := io.Copy(io.Discard, rd) // until the server ends the stream
			ended <- err
		}()
	}

	start := time.Now()
	if err := proc.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for range streams {
		select {
		case err := <-ended:
			if err != nil {
				t.Fatalf("the stream broke instead of ending: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("a live stream still open 20 s after SIGTERM")
		}
	}
	streamsEnded := time.Since(start)
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Fatalf("recalld exited badly on SIGTERM: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("recalld still running 20 s after SIGTERM")
	}
	took := time.Since(start)
	t.Logf("streams ended %v and recalld exited %v after SIGTERM", streamsEnded.Round(time.Millisecond), took.Round(time.Millisecond))
	if took > 2*time.Second {
		t.Fatalf("recalld took %v to exit with live viewers, want within 2 s (its shutdown timeout is 10 s)", took.Round(time.Millisecond))
	}

	// it stopped caught up: every projection's checkpoint is the log's head
	store, _, runners := openData(t, dir)
	for _, r := range runners {
		if r.Position() != store.Head() {
			t.Errorf("%s stopped at %d of %d", r.Name(), r.Position(), store.Head())
		}
	}
}

// openStreams opens the conversation chat:alice:bob's live stream for each
// viewer and reads it until updates have come; the streams close with
// the test.
func openStreams(t *testing.T, do func(method, path, body string) *http.Response, updates int, viewers ...string) []*bufio.Reader {
	t.Helper()
	var streams []*bufio.Reader
	for _, viewer := range viewers {
		resp := do("GET", "/v1/a/a/conversations/chat:alice:bob/stream?viewer="+viewer, "")
		t.Cleanup(func() { resp.Body.Close() })
		if resp.StatusCode != 200 {
			t.Fatalf("stream: %d", resp.StatusCode)
		}
		rd := bufio.NewReader(resp.Body)
		for seen := 0; seen < updates; {
			line, err := rd.ReadString('\n')
			if err != nil {
				t.Fatalf("stream of %s ended before its updates: %v", viewer, err)
			}
			if strings.HasPrefix(line, "id: ") {
				seen++
			}
		}
		streams = append(streams, rd)
	}
	return streams
}

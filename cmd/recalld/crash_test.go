package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/recallledger/recall/adapters/tenants"
	"github.com/recallledger/recall/domain"
)

// TestCrashLosesNoAcknowledgedSend runs recalld as a child process, kills
// it with SIGKILL while many clients send, restarts it, and checks that
// every send it acknowledged is in the log, once, with positions intact.
func TestCrashLosesNoAcknowledgedSend(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test builds and kills a real recalld; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "recalld")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("build recalld: %v", err)
	}
	dir := t.TempDir()
	reg, err := tenants.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	tn, _ := domain.ParseTenant("crash/test")
	toks, err := reg.Create(tn)
	if err != nil {
		t.Fatal(err)
	}

	acked := map[string]string{} // client_msg_id -> msg_id
	var mu sync.Mutex
	const cycles, writers, ackedPerCycle = 3, 16, 200
	for cycle := range cycles {
		base, proc := startChild(t, bin, dir)
		var wg sync.WaitGroup
		stop := make(chan struct{})
		count := 0
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				client := &http.Client{Timeout: 10 * time.Second}
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					cid := fmt.Sprintf("c%d-w%d-%d", cycle, w, i)
					body := fmt.Sprintf(`{"from":"u%d","to":"v%d","chat_type":"chat","content":"m %s","client_msg_id":%q}`, w, w, cid, cid)
					req, _ := http.NewRequest("POST", base+"/v1/crash/test/messages", strings.NewReader(body))
					req.Header.Set("Authorization", "Bearer "+toks[tenants.RoleService])
					resp, err := client.Do(req)
					if err != nil {
						return // the server is gone
					}
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusCreated {
						continue
					}
					var r struct {
						MsgID string `json:"msg_id"`
					}
					if json.Unmarshal(b, &r) == nil {
						mu.Lock()
						acked[cid] = r.MsgID
						count++
						mu.Unlock()
					}
				}
			}()
		}
		deadline := time.Now().Add(60 * time.Second)
		for {
			mu.Lock()
			n := count
			mu.Unlock()
			if n >= ackedPerCycle {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("cycle %d: only %d sends acknowledged in 60 s", cycle, n)
			}
			time.Sleep(5 * time.Millisecond)
		}
		if err := proc.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = proc.Wait()
		close(stop)
		wg.Wait()
	}

	base, proc := startChild(t, bin, dir)
	defer func() {
		_ = proc.Process.Signal(syscall.SIGTERM)
		_ = proc.Wait()
	}()
	evs := allEvents(t, base, "crash/test", toks[tenants.RoleAuditor])
	seenIDs := map[string]bool{}
	sent := map[string]string{} // client_msg_id -> msg_id
	for i, e := range evs {
		if e.Position != uint64(i+1) {
			t.Fatalf("event %d has position %d: gap or reorder", i, e.Position)
		}
		if seenIDs[e.ID] {
			t.Fatalf("event id %s twice", e.ID)
		}
		seenIDs[e.ID] = true
		var s domain.MessageSent
		if err := json.Unmarshal(e.Data, &s); err != nil {
			t.Fatal(err)
		}
		if _, dup := sent[s.ClientMsgID]; dup {
			t.Fatalf("client_msg_id %s sent twice", s.ClientMsgID)
		}
		sent[s.ClientMsgID] = string(s.MsgID)
	}
	lost := 0
	for cid, id := range acked {
		if sent[cid] != id {
			lost++
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d acknowledged sends lost after %d SIGKILLs", lost, len(acked), cycles)
	}
	t.Logf("%d SIGKILL cycles: %d acknowledged sends, all present; %d events in the log", cycles, len(acked), len(evs))
}

// startChild starts the recalld binary and returns its base URL.
func startChild(t *testing.T, bin, dir string) (string, *exec.Cmd) {
	t.Helper()
	cmd := exec.Command(bin, "--data", dir, "--addr", "127.0.0.1:0", "--log-level", "warn")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(out)
	for lines.Scan() {
		if addr, ok := strings.CutPrefix(lines.Text(), "recalld listening on "); ok {
			go func() { _, _ = io.Copy(io.Discard, out) }()
			return addr, cmd
		}
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	t.Fatalf("recalld did not start")
	return "", nil
}

func allEvents(t *testing.T, base, tenant, token string) []domain.Event {
	t.Helper()
	var out []domain.Event
	pos := uint64(0)
	for {
		req, _ := http.NewRequest("GET", fmt.Sprintf("%s/v1/%s/events?from_position=%d&limit=10000", base, tenant, pos), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("events: %d %s", resp.StatusCode, b)
		}
		if len(b) == 0 {
			return out
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		for dec.More() {
			var e domain.Event
			if err := dec.Decode(&e); err != nil {
				t.Fatal(err)
			}
			out = append(out, e)
		}
		next, err := strconv.ParseUint(resp.Header.Get("X-Next-Position"), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		pos = next
	}
}

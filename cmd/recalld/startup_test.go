package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Ctrl-C on `make run` is a clean stop: recalld shuts down and exits 0, and
// make reports no error. A terminal's Ctrl-C sends SIGINT to the whole
// foreground process group, so the test starts make in a group of its own
// and signals the group, as the terminal would.
func TestCtrlCOnMakeRunExitsCleanly(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed; `make run` cannot be tried")
	}
	tmp := t.TempDir()
	cmd := exec.Command("make", "-C", filepath.Join("..", ".."), "run",
		"BIN="+filepath.Join(tmp, "bin"), "DATA="+filepath.Join(tmp, "data"), "ADDR=127.0.0.1:0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// as typed in a terminal, not as a sub-make of `make test`
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "MAKEFLAGS" && k != "MAKELEVEL" && k != "MFLAGS" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	listening := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		found := false
		for sc.Scan() {
			if !found && strings.HasPrefix(sc.Text(), "recalld listening on ") {
				found = true
				listening <- true
			}
		}
		if !found {
			listening <- false
		}
		exited <- cmd.Wait()
	}()
	select {
	case ok := <-listening:
		if !ok {
			t.Fatalf("make run ended before recalld listened: %v\n%s", <-exited, stderr.String())
		}
	case <-time.After(5 * time.Minute): // the first build of the commands
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		t.Fatalf("recalld did not start under make run:\n%s", stderr.String())
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	var err2 error
	select {
	case err2 = <-exited:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		t.Fatalf("make run did not stop within 30 s of Ctrl-C:\n%s", stderr.String())
	}
	if strings.Contains(stderr.String(), ": ***") || strings.Contains(stderr.String(), "exit status") {
		t.Fatalf("make reported an error on Ctrl-C:\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "shutting down") {
		t.Fatalf("recalld did not shut down on Ctrl-C:\n%s", stderr.String())
	}
	// GNU make, once its child is done, ends itself by the SIGINT it got
	// (so a script running make stops too); anything else is a failure.
	var exit *exec.ExitError
	if err2 != nil && !(errors.As(err2, &exit) && exit.Sys().(syscall.WaitStatus).Signal() == syscall.SIGINT) {
		t.Fatalf("make run after Ctrl-C: %v\n%s", err2, stderr.String())
	}
}

// `recalld --help` lists the worker subcommand and every flag, on stdout,
// and is a success (main exits 0); so is `recalld worker --help`.
func TestHelpListsTheWorkerAndSucceeds(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--help"}, []string{"recalld worker", "-data", "-addr", "-store", "-bus", "-demo", "--help"}},
		{[]string{"-h"}, []string{"recalld worker", "-addr"}},
		{[]string{"worker", "--help"}, []string{"recalld worker", "-nats-url", "-consumer", "-data"}},
		{[]string{"worker", "-h"}, []string{"-consumer"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if err := run(context.Background(), tc.args, func(string) string { return "" }, &stdout, &stderr); err != nil {
				t.Fatalf("run: %v (main would exit 1)\nstderr: %s", err, stderr.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("help lacks %q:\n%s", w, stdout.String())
				}
			}
			if stderr.Len() > 0 {
				t.Errorf("help wrote to stderr: %s", stderr.String())
			}
		})
	}
	// a bad flag is still an error, with the usage on stderr
	var stderr bytes.Buffer
	if err := run(context.Background(), []string{"--nope"}, func(string) string { return "" }, io.Discard, &stderr); err == nil || !strings.Contains(stderr.String(), "recalld worker") {
		t.Fatalf("--nope: %v\n%s", err, stderr.String())
	}
}

// A second recalld (server or worker) on a data directory in use is told
// who holds it and what to do, instead of the store's "resource
// temporarily unavailable".
func TestASecondRecalldOnOneDataDirectorySaysWhatToDo(t *testing.T) {
	s := startServer(t)
	want := fmt.Sprintf("data directory %s is in use by another recalld (pid %d)", s.dir, os.Getpid())
	second, err := New(Config{Data: s.dir, Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	for name, start := range map[string]func(context.Context) error{
		"server": second.Start,
		"worker": NewWorker(WorkerConfig{Data: s.dir, NATSURL: "nats://127.0.0.1:1"}).Start,
	} {
		if err := start(context.Background()); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "--data") {
			t.Errorf("a second %s: %v, want %q and what to do (stop it, or another --data)", name, err, want)
		}
	}
	// the running one is unharmed
	if r := s.do("GET", "/healthz", "", ""); r.status != 200 {
		t.Fatalf("healthz: %d", r.status)
	}
}

// A busy listen address is named with what to do, before anything is
// written to the data directory (no demo tenant, no half start).
func TestABusyPortSaysWhatToDo(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	addr := busy.Addr().String()
	for _, tc := range []struct {
		cfg  Config
		flag string
	}{
		{Config{Addr: addr, Demo: "demo/demo"}, "--addr"},
		{Config{Addr: "127.0.0.1:0", DebugAddr: addr}, "--debug-addr"},
	} {
		dir := t.TempDir()
		tc.cfg.Data = dir
		srv, err := New(tc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Start(context.Background()); err == nil || !strings.Contains(err.Error(), addr+" is in use") || !strings.Contains(err.Error(), "pass another "+tc.flag) {
			t.Errorf("%+v: %v, want %q and what to do", tc.cfg, err, addr+" is in use")
		}
		if tc.flag == "--addr" {
			if _, err := os.Stat(filepath.Join(dir, "demo.env")); !os.IsNotExist(err) {
				t.Errorf("the demo tenant was created before the address was found busy (%v)", err)
			}
		}
		// a Start that failed closed what it opened: the directory is free
		again, err := New(Config{Data: dir, Addr: "127.0.0.1:0"})
		if err != nil {
			t.Fatal(err)
		}
		if err := again.Start(context.Background()); err != nil {
			t.Fatalf("a server on the directory a failed start left: %v", err)
		}
		if err := again.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// The first-start banner's example send and the README's first session
// are both a newcomer's first steps: run one after the other, the README's
// first send must still be the new message (201) it promises, not a replay
// of the banner's (200, same client_msg_id) or a conflict (409).
func TestTheStartBannerDoesNotCollideWithTheReadmesFirstSession(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, session, ok := strings.Cut(string(readme), "## A first session")
	if !ok {
		t.Fatal("README has no first session")
	}
	readmeSend := quotedBody(t, session)

	s := startServer(t, "--demo", "demo/demo")
	banner := s.printed()
	_, tokenLine, ok := strings.Cut(banner, "export SERVICE_TOKEN=")
	if !ok {
		t.Fatalf("banner has no service token:\n%s", banner)
	}
	token, _, _ := strings.Cut(tokenLine, "\n")
	_, example, ok := strings.Cut(banner, "try:")
	if !ok {
		t.Fatalf("banner has no example:\n%s", banner)
	}
	if r := s.do("POST", "/v1/demo/demo/messages", token, quotedBody(t, example)); r.status != 201 {
		t.Fatalf("the banner's example: %d %s", r.status, r.body)
	}
	if r := s.do("POST", "/v1/demo/demo/messages", token, readmeSend); r.status != 201 {
		t.Fatalf("the README's first send after the banner's example: %d %s, want 201 (the README promises a new message)", r.status, r.body)
	}
}

// quotedBody returns the first curl body (-d '...') in text.
func quotedBody(t *testing.T, text string) string {
	t.Helper()
	_, rest, ok := strings.Cut(text, "-d '")
	if !ok {
		t.Fatalf("no -d '...' body in %q", text)
	}
	body, _, ok := strings.Cut(rest, "'")
	if !ok {
		t.Fatalf("unterminated body in %q", text)
	}
	return body
}

// `recallctl --data DIR tenant create|rotate` work while recalld runs on
// DIR (they change only the token registry, which recalld rereads when it
// changes): the new tenant is served at once, a rotated token stops at
// once. The other --data commands need recalld stopped and say so.
func TestRecallctlTenantCommandsWorkWhileRecalldRuns(t *testing.T) {
	ctl := buildRecallctl(t)
	s := startServer(t)
	recallctl := func(args ...string) (string, error) {
		var stderr bytes.Buffer
		cmd := exec.Command(ctl, append([]string{"--data", s.dir}, args...)...)
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("%v: %s", err, stderr.String())
		}
		return string(out), nil
	}
	out, err := recallctl("tenant", "create", "acme/chat")
	if err != nil {
		t.Fatal(err)
	}
	var created struct{ Tokens map[string]string }
	if err := json.Unmarshal([]byte(out), &created); err != nil || len(created.Tokens) != 3 {
		t.Fatalf("tenant create printed %q (%v)", out, err)
	}
	body := `{"from":"alice","to":"bob","chat_type":"chat","type":"txt","content":"hi","client_msg_id":"k1"}`
	if r := s.do("POST", "/v1/acme/chat/messages", created.Tokens["service"], body); r.status != 201 {
		t.Fatalf("the new tenant's first send: %d %s", r.status, r.body)
	}
	out, err = recallctl("tenant", "rotate", "acme/chat", "admin")
	if err != nil {
		t.Fatal(err)
	}
	var rotated struct{ Token string }
	if err := json.Unmarshal([]byte(out), &rotated); err != nil || rotated.Token == "" {
		t.Fatalf("tenant rotate printed %q (%v)", out, err)
	}
	if r := s.do("GET", "/v1/acme/chat/policy", created.Tokens["admin"], ""); r.status != 401 {
		t.Fatalf("the rotated-out admin token: %d, want 401", r.status)
	}
	if r := s.do("GET", "/v1/acme/chat/policy", rotated.Token, ""); r.status != 200 {
		t.Fatalf("the new admin token: %d %s", r.status, r.body)
	}
	// a command that opens the stores is refused while recalld holds them,
	// with what to do
	if _, err := recallctl("projections", "rebuild"); err == nil || !strings.Contains(err.Error(), "stop it") {
		t.Fatalf("projections rebuild while recalld runs: %v", err)
	}
}

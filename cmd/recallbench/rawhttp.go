package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble"

	"github.com/recallledger/recall/adapters/pebblelog"
)

// The raw HTTP baseline is what a send over HTTP costs with none of the
// ledger: a server that decodes the same JSON body as strictly as recalld
// does (unknown fields refused, one object, nothing after it) and makes
// one synced pebble write of it, concurrent requests sharing their fsyncs
// through pebble's group commit. It runs as its own process (this binary
// again, with --serve-raw-http) so that its CPU is measured as recalld's
// is, apart from the load generator's.

// rawSendRequest is recalld's send request body, field for field.
type rawSendRequest struct {
	From        string `json:"from"`
	To          string `json:"to"`
	ChatType    string `json:"chat_type"`
	Type        string `json:"type"`
	Content     string `json:"content"`
	Platform    string `json:"platform"`
	ClientMsgID string `json:"client_msg_id"`
}

const rawListening = "raw http listening on "

// serveRawHTTP serves the baseline on a loopback port until ctx ends,
// with its pebble in dir; it prints its address on stdout.
func serveRawHTTP(ctx context.Context, dir string, stdout io.Writer) error {
	db, err := pebble.Open(dir, &pebble.Options{Logger: pebblelog.Logger{Store: "raw http baseline"}})
	if err != nil {
		return fmt.Errorf("raw http: %w", err)
	}
	defer db.Close()
	var seq atomic.Uint64
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/{org}/{app}/messages", func(w http.ResponseWriter, r *http.Request) {
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
		dec.DisallowUnknownFields()
		var req rawSendRequest
		if err := dec.Decode(&req); err != nil || dec.More() {
			http.Error(w, `{"error":"invalid_body"}`, http.StatusBadRequest)
			return
		}
		value, err := json.Marshal(req)
		if err != nil {
			http.Error(w, `{"error":"invalid_body"}`, http.StatusBadRequest)
			return
		}
		n := seq.Add(1)
		key := binary.BigEndian.AppendUint64(append(make([]byte, 0, 9), 'e'), n)
		if err := db.Set(key, value, pebble.Sync); err != nil {
			http.Error(w, `{"error":"unavailable"}`, http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"msg_id":"r`+strconv.FormatUint(n, 10)+`"}`)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("raw http: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	fmt.Fprintf(stdout, "%shttp://%s\n", rawListening, ln.Addr())
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("raw http: %w", err)
	}
	return nil
}

// startRawTarget starts the baseline server (this binary with
// --serve-raw-http) on a fresh directory.
func startRawTarget() (*target, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("raw http: %w", err)
	}
	dir, cleanup, err := tempDir()
	if err != nil {
		return nil, err
	}
	t, err := startServer(self, []string{"--serve-raw-http", dir}, rawListening, cleanup)
	if err != nil {
		return nil, fmt.Errorf("raw http baseline: %w", err)
	}
	return t, nil
}

// startServer starts bin with args and waits for the line starting with
// listening that names its address. Its stop ends it with SIGTERM, waits
// for it and then runs cleanup (also run when it does not start).
func startServer(bin string, args []string, listening string, cleanup func()) (*target, error) {
	cmd := exec.Command(bin, args...)
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
	t := newTarget()
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if addr, ok := strings.CutPrefix(sc.Text(), listening); ok {
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
	return t, nil
}

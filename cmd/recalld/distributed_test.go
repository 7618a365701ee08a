package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/recallledger/recall/adapters/natsbus"
	"github.com/recallledger/recall/adapters/natsbus/natsbustest"

	"github.com/recallledger/recall/adapters/readmodel"
	"github.com/recallledger/recall/projections/conversation"
)

// TestDistributedNodeAndWorker runs recalld with --bus nats against a real
// NATS server started in the test process, and a separate `recalld
// worker` that keeps read models from the bus alone: the worker's view of
// a conversation matches what happened.
func TestDistributedNodeAndWorker(t *testing.T) {
	natsURL := natsbustest.StartServer(t)

	s := startServer(t, "--bus", "nats", "--nats-url", natsURL)
	workerDir := t.TempDir()
	worker := startWorker(t, WorkerConfig{Data: workerDir, NATSURL: natsURL})

	hi := s.send("alice", "bob", "chat", "txt", "hi bob", "c1")
	oops := s.send("alice", "bob", "chat", "txt", "oops", "c2")
	s.do("POST", "/v1/a/a/messages/"+hi+"/read", s.token("a/a", svc), `{"reader":"bob"}`)
	if r := s.do("POST", "/v1/a/a/messages/"+oops+"/recall", s.token("a/a", svc), `{"actor":"alice"}`); r.status != 200 {
		t.Fatalf("recall: %d", r.status)
	}
	want := len(s.events())
	// stop the worker once the bus has had time to deliver, then read its
	// read models from its own data directory
	eventually(t, func() string {
		m := string(s.do("GET", "/metrics", "", "").body)
		if !containsLine(m, `recall_projection_lag_events{projection="nats_forwarder"} 0`) {
			return "forwarder lagging: " + m
		}
		return ""
	})
	// the worker acks an event only after applying it: wait until its
	// durable consumer has everything acked
	js := natsbustest.JetStream(t, natsURL)
	eventually(t, func() string {
		ci, err := js.ConsumerInfo(natsbus.StreamName, "recall-worker")
		if err != nil {
			return err.Error()
		}
		if ci.NumPending != 0 || ci.NumAckPending != 0 || ci.AckFloor.Stream < uint64(want) {
			return "worker behind"
		}
		return ""
	})
	if err := worker.Shutdown(context.Background()); err != nil {
		t.Fatalf("worker: %v", err)
	}
	rm, err := readmodel.Open(filepath.Join(workerDir, "readmodels"))
	if err != nil {
		t.Fatal(err)
	}
	defer rm.Close()
	v, err := conversation.Query(rm, "a/a", "chat:alice:bob", "bob", "en", "", 10, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Messages) != 2 || v.Messages[0].Content == nil || *v.Messages[0].Content != "hi bob" || len(v.Messages[0].ReadBy) != 1 ||
		v.Messages[1].Status != "recalled" || v.Messages[1].Notice != "alice recalled a message" {
		t.Fatalf("the worker's view of the conversation (%d events sent): %+v", want, v.Messages)
	}
}

func containsLine(text, line string) bool {
	for _, l := range splitLines(text) {
		if l == line {
			return true
		}
	}
	return false
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// `recalld worker` on a consumer name another running worker holds exits
// at start with an error that names the consumer and says what to do.
func TestSecondWorkerOnOneConsumerIsAStartUpError(t *testing.T) {
	natsURL := natsbustest.StartServer(t)
	first := startWorker(t, WorkerConfig{Data: t.TempDir(), NATSURL: natsURL, Consumer: "views"})
	js := natsbustest.JetStream(t, natsURL)
	eventually(t, func() string {
		if ci, err := js.ConsumerInfo(natsbus.StreamName, "views"); err != nil || !ci.PushBound {
			return "the first worker is not running"
		}
		return ""
	})
	second := startWorker(t, WorkerConfig{Data: t.TempDir(), NATSURL: natsURL, Consumer: "views"})
	select {
	case <-second.Failed():
		err := second.Shutdown(context.Background())
		if err == nil || !strings.Contains(err.Error(), `consumer "views"`) || !strings.Contains(err.Error(), "give each worker its own --consumer name") {
			t.Fatalf("second worker on one consumer name: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a second worker on one consumer name was not refused")
	}
	if err := first.Shutdown(context.Background()); err != nil {
		t.Fatalf("first worker: %v", err)
	}
}

// startWorker starts a Worker in the test process; the test's end stops
// it if the test did not.
func startWorker(t *testing.T, cfg WorkerConfig) *Worker {
	t.Helper()
	w := NewWorker(cfg)
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Shutdown(context.Background()) })
	return w
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recallledger/recall/adapters/tenants"
	"github.com/recallledger/recall/adapters/tenants/tenantstest"
	"github.com/recallledger/recall/domain"
)

// server is a real recalld: a Server started in the test process on a
// loopback port with a fresh data directory, configured by recalld's own
// flags, as main would start it.
type server struct {
	t       testing.TB
	srv     *Server
	base    string
	dir     string
	tokens  map[string]map[domain.AccessRole]string // tenant -> role -> token
	logs    *lineWriter                             // everything recalld logged
	stdout  *lineWriter                             // everything recalld printed
	stopped bool                                    // shut down already
}

// lineWriter keeps what is written to it, from any goroutine.
type lineWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

// startServer starts recalld with tenants a/a and b/b registered.
func startServer(t *testing.T, args ...string) *server {
	t.Helper()
	dir := t.TempDir()
	return startServerIn(t, dir, args...)
}

func startServerIn(t *testing.T, dir string, args ...string) *server {
	t.Helper()
	return startServerWith(t, dir, nil, args...)
}

// startServerWith starts recalld in dir on clock (nil: the system clock),
// so that a test moves time rather than waits for it.
func startServerWith(t *testing.T, dir string, clock domain.Clock, args ...string) *server {
	t.Helper()
	return startServerConfigured(t, dir, func(c *Config) { c.Clock = clock }, args...)
}

// startServerConfigured starts recalld in dir from its flags, then set
// changes what flags cannot (the clock, password hashing's cost).
func startServerConfigured(t testing.TB, dir string, set func(*Config), args ...string) *server {
	t.Helper()
	reg, err := tenants.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, dir: dir, tokens: map[string]map[domain.AccessRole]string{}}
	for _, name := range []string{"a/a", "b/b"} {
		tn, _ := domain.ParseTenant(name)
		if reg.Has(tn) {
			continue
		}
		toks, err := reg.Create(tn)
		if err != nil {
			t.Fatal(err)
		}
		s.tokens[name] = toks
	}
	s.stdout, s.logs = &lineWriter{}, &lineWriter{}
	argv := append([]string{"--data", dir, "--addr", "127.0.0.1:0", "--log-level", "warn"}, args...)
	cfg, err := parseFlags(argv, func(string) string { return "" }, s.stdout, s.logs)
	if err != nil {
		t.Fatal(err)
	}
	set(&cfg)
	if s.srv, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.srv.Start(ctx); err != nil {
		t.Fatalf("recalld did not start: %v", err)
	}
	s.base = "http://" + s.srv.Addr().String()
	t.Cleanup(s.shutdown)
	return s
}

// registerTenant registers tenant name in dir's token registry and
// returns its tokens, by role.
func registerTenant(t testing.TB, dir, name string) map[domain.AccessRole]string {
	t.Helper()
	_, toks := tenantstest.Register(t, dir, name)
	return toks
}

// String returns everything written so far.
func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// logged returns what the server has logged so far.
func (s *server) logged() string { return s.logs.String() }

// printed returns what the server has printed on stdout so far.
func (s *server) printed() string { return s.stdout.String() }

// shutdown stops the server as run does on SIGTERM, once (the test's end
// does, if the test did not).
func (s *server) shutdown() {
	if s.stopped {
		return
	}
	s.stopped = true
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		s.t.Errorf("recalld: %v", err)
	}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("status %d, body %q is not a JSON object: %v", r.status, r.body, err)
	}
	return m
}

// do sends a request with token (none if empty) and a raw body.
func (s *server) do(method, path, token, body string) response {
	s.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.base+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func (s *server) token(tenant string, role domain.AccessRole) string { return s.tokens[tenant][role] }

// send records a message in tenant a/a and returns its msg_id.
func (s *server) send(from, to, chat, typ, content, clientID string) string {
	s.t.Helper()
	body, _ := json.Marshal(map[string]string{"from": from, "to": to, "chat_type": chat, "type": typ,
		"content": content, "platform": "ios", "client_msg_id": clientID})
	r := s.do("POST", "/v1/a/a/messages", s.token("a/a", domain.AccessService), string(body))
	if r.status != http.StatusCreated {
		s.t.Fatalf("send: %d %s", r.status, r.body)
	}
	return r.json(s.t)["msg_id"].(string)
}

// events returns all of tenant a/a's events.
func (s *server) events() []domain.Event {
	s.t.Helper()
	var out []domain.Event
	for _, e := range s.eventsAsSent() {
		out = append(out, e.Event)
	}
	return out
}

// sentEvent is an event of the feed, decoded, with its JSON as the feed
// sent it: decoding drops what schema v1 does not have, so what must never
// be in an event is looked for in the JSON.
type sentEvent struct {
	domain.Event
	JSON string
}

// eventsAsSent returns all of tenant a/a's events with their JSON.
func (s *server) eventsAsSent() []sentEvent {
	s.t.Helper()
	r := s.do("GET", "/v1/a/a/events?from_position=0&limit=10000", s.token("a/a", domain.AccessAuditor), "")
	if r.status != http.StatusOK {
		s.t.Fatalf("events: %d %s", r.status, r.body)
	}
	var out []sentEvent
	dec := json.NewDecoder(bytes.NewReader(r.body))
	for dec.More() {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			s.t.Fatal(err)
		}
		e, err := domain.DecodeEvent(raw)
		if err != nil {
			s.t.Fatal(err)
		}
		out = append(out, sentEvent{Event: e, JSON: string(raw)})
	}
	return out
}

// countEvents returns how many of tenant a/a's events are of type typ.
func (s *server) countEvents(typ string) int {
	s.t.Helper()
	n := 0
	for _, e := range s.events() {
		if e.Type() == typ {
			n++
		}
	}
	return n
}

package esdbstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/recallledger/recall/adapters/eventstore/embedded"
	"github.com/recallledger/recall/adapters/eventstore/esdbstore/esdbtest"
	"github.com/recallledger/recall/adapters/eventstore/eventstoretest"
	"github.com/recallledger/recall/domain"
)

// esdbURL is the server the EventStoreDB tests run against. These machines
// cannot run EventStoreDB; scripts/esdb-start.sh starts one where a
// container engine exists.
func esdbURL(t *testing.T) string {
	url := os.Getenv("RECALL_ESDB_URL")
	if url == "" {
		t.Skip("NOT RUN against EventStoreDB: RECALL_ESDB_URL is not set " +
			"(start a server with scripts/esdb-start.sh, then RECALL_ESDB_URL='esdb://127.0.0.1:2113?tls=false' make test)")
	}
	return url
}

// open opens a store on its own namespace and index directory, so each
// test sees an empty log on a shared server.
func open(t *testing.T, url, ns, dir string) *Store {
	t.Helper()
	s, err := Open(context.Background(), Options{URL: url, Dir: dir, Namespace: ns, OpenIndex: openIndex,
		MaxAge: func(string) time.Duration { return 180 * 24 * time.Hour }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func namespace() string { return "rlt" + strings.ReplaceAll(uuid.NewString()[:13], "-", "") + "_" }

// openIndex is the index recalld gives the store: the embedded one.
func openIndex(dir string) (Index, error) { return embedded.Open(dir) }

// contract runs the suite. The store copies the log into its index itself
// and hands its readers the index's own answers, so it offers no batch of
// ordered writes, no lookup by id, no change signal and no stream snapshots
// of its own (the ledger replays its streams).
func contract(t *testing.T, url string) {
	eventstoretest.Run(t, func(t *testing.T) domain.EventStore {
		s := open(t, url, namespace(), t.TempDir())
		t.Cleanup(func() { s.Close() })
		return s
	}, eventstoretest.OrderedAppender, eventstoretest.EventLookup, eventstoretest.ChangeWatcher, eventstoretest.StreamSnapshots)
}

func TestContractAgainstEventStoreDB(t *testing.T) { contract(t, esdbURL(t)) }

// The suite through the real client against the protocol fake: proves
// the adapter's logic and its use of the client, not the server.
func TestContractAgainstProtocolFake(t *testing.T) {
	_, url := esdbtest.Start(t)
	contract(t, url)
}

func TestIndexResumesAfterRestartOnEventStoreDB(t *testing.T) { resumes(t, esdbURL(t)) }

func TestIndexResumesAfterRestartOnProtocolFake(t *testing.T) {
	_, url := esdbtest.Start(t)
	resumes(t, url)
}

// resumes: a node restarted continues its numbering, and a second node
// indexing the same log from scratch numbers it the same.
func resumes(t *testing.T, url string) {
	ns, dir := namespace(), t.TempDir()
	s := open(t, url, ns, dir)
	ctx := context.Background()
	var first []domain.Event
	for i := range 30 {
		out, err := s.Append(ctx, fmt.Sprint("x-a/a.", i%4), domain.AnyVersion, []domain.Event{eventstoretest.Event(t, "a/a", i)})
		if err != nil {
			t.Fatal(err)
		}
		first = append(first, out.Events...)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, url, ns, dir)
	defer s.Close()
	out, err := s.Append(ctx, "x-a/a.9", domain.NoStream, []domain.Event{eventstoretest.Event(t, "a/a", 99)})
	if err != nil {
		t.Fatal(err)
	}
	if out.Events[0].Position != 31 {
		t.Fatalf("append after restart at position %d, want 31", out.Events[0].Position)
	}
	// a second node indexing the same log from scratch numbers it the same
	other := open(t, url, ns, t.TempDir())
	defer other.Close()
	got, err := other.ReadStream(ctx, "x-a/a.9")
	if err != nil || len(got) != 1 || got[0].Position != 31 {
		t.Fatalf("second node: %v %+v", err, got)
	}
	all, err := other.ReadAll(ctx, 1, "", 100)
	if err != nil || len(all) != 31 {
		t.Fatalf("second node indexed %d events: %v", len(all), err)
	}
	for i, e := range first {
		if all[i].ID != e.ID || all[i].Position != e.Position {
			t.Fatalf("position %d: second node has %s, first had %s", i+1, all[i].ID, e.ID)
		}
	}
	// the stream's first append set its $maxAge
	md, err := s.client.GetStreamMetadata(ctx, ns+"x-a/a.9", esdb.ReadStreamOptions{})
	if err != nil || md.MaxAge() == nil || *md.MaxAge() != 180*24*time.Hour {
		t.Fatalf("$maxAge of a new stream: %v %v", err, md)
	}
}

func TestIndexResubscribesWhenTheSubscriptionDrops(t *testing.T) {
	f, url := esdbtest.Start(t)
	f.DropAfter = 7
	s := open(t, url, namespace(), t.TempDir())
	defer s.Close()
	ctx := context.Background()
	for i := range 40 {
		out, err := s.Append(ctx, fmt.Sprint("x-a/a.", i%3), domain.AnyVersion, []domain.Event{eventstoretest.Event(t, "a/a", i)})
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		if out.Events[0].Position != uint64(i+1) {
			t.Fatalf("append %d at position %d", i, out.Events[0].Position)
		}
	}
	if err := s.healthy(); err != nil {
		t.Fatal(err)
	}
}

// An event id the server accepted on two streams (a client bug the
// server does not refuse) is kept once and the index goes on.
func TestIndexSkipsAnIDReusedOnAnotherStream(t *testing.T) {
	_, url := esdbtest.Start(t)
	ns := namespace()
	s := open(t, url, ns, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	e := eventstoretest.Event(t, "a/a", 1)
	if _, err := s.Append(ctx, "x-a/a.1", domain.NoStream, []domain.Event{e}); err != nil {
		t.Fatal(err)
	}
	data, _ := toEventData(e)
	if _, err := s.client.AppendToStream(ctx, ns+"x-a/a.2", esdb.AppendToStreamOptions{}, data); err != nil {
		t.Fatal(err)
	}
	out, err := s.Append(ctx, "x-a/a.3", domain.NoStream, []domain.Event{eventstoretest.Event(t, "a/a", 3)})
	if err != nil || out.Events[0].Position != 2 {
		t.Fatalf("append after the reused id: %v %+v", err, out)
	}
	if err := s.healthy(); err != nil {
		t.Fatal(err)
	}
}

// The rest runs everywhere: what the adapter does without a server.

func TestOpenWithoutAServerFailsClearly(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	_, err = Open(context.Background(), Options{URL: "esdb://admin:secret@" + addr + "?tls=false", Dir: t.TempDir(), OpenIndex: openIndex})
	if err == nil || !strings.Contains(err.Error(), "eventstoredb at esdb://admin:xxxxx@"+addr) || strings.Contains(err.Error(), "secret") {
		t.Fatalf("Open against nothing: %v", err)
	}
	if _, err := Open(context.Background(), Options{URL: "http://nope", Dir: t.TempDir(), OpenIndex: openIndex}); err == nil || !strings.Contains(err.Error(), "--esdb-url") {
		t.Fatalf("Open with a bad URL: %v", err)
	}
}

func TestExpectedRevision(t *testing.T) {
	for _, tc := range []struct {
		ours int64
		want esdb.ExpectedRevision
	}{
		{domain.AnyVersion, esdb.Any{}},
		{domain.NoStream, esdb.NoStream{}},
		{0, esdb.Revision(0)},
		{41, esdb.Revision(41)},
	} {
		if got := expectedRevision(tc.ours); got != tc.want {
			t.Errorf("expected %d: %#v, want %#v", tc.ours, got, tc.want)
		}
	}
}

func TestEventsRoundTripThroughRecordedEvents(t *testing.T) {
	ours := eventstoretest.Event(t, "org/app", 3)
	ours.Stream, ours.StreamVersion, ours.Position = "message-org/app.m1", 4, 77
	data, err := toEventData(ours)
	if err != nil {
		t.Fatal(err)
	}
	if data.EventID.String() != ours.ID || data.EventType != ours.Type() || data.ContentType != esdb.ContentTypeJson {
		t.Fatalf("event data %+v for %+v", data, ours)
	}
	if strings.Contains(string(data.Data), "message-org/app.m1") || strings.Contains(string(data.Data), `"position":77`) {
		t.Fatalf("stored JSON carries our stream or position: %s", data.Data)
	}
	rec := &esdb.RecordedEvent{EventID: data.EventID, EventType: data.EventType, StreamID: "ns_message-org/app.m1", EventNumber: 4, Data: data.Data}
	back, err := fromRecorded("ns_", rec)
	if err != nil {
		t.Fatal(err)
	}
	back.Position = ours.Position
	if back.ID != ours.ID || back.Stream != ours.Stream || back.StreamVersion != 4 || back.Tenant != ours.Tenant ||
		back.OccurredAt != ours.OccurredAt || !reflect.DeepEqual(back.Data, ours.Data) {
		t.Fatalf("round trip: %+v, want %+v", back, ours)
	}
	rec.EventID = uuid.New()
	if _, err := fromRecorded("ns_", rec); err == nil {
		t.Fatal("an event whose id does not match its event_id was accepted")
	}
	rec.Data = []byte("{")
	if _, err := fromRecorded("ns_", rec); err == nil {
		t.Fatal("broken JSON was accepted")
	}
}

func TestEventUUIDIsStable(t *testing.T) {
	u := uuid.NewString()
	if eventUUID(u).String() != u {
		t.Fatalf("a UUID event id changed: %s", eventUUID(u))
	}
	a, b := eventUUID("recall:req-1"), eventUUID("recall:req-1")
	if a != b || a == eventUUID("recall:req-2") || a == uuid.Nil {
		t.Fatalf("derived ids: %s %s", a, b)
	}
}

func TestCheckpointFile(t *testing.T) {
	s := &Store{o: Options{Dir: t.TempDir()}}
	if err := s.saveCheckpoint(esdb.Position{Commit: 1 << 40, Prepare: 1<<40 - 7}); err != nil {
		t.Fatal(err)
	}
	p, err := s.loadCheckpoint()
	if err != nil || p == nil || p.Commit != 1<<40 || p.Prepare != 1<<40-7 {
		t.Fatalf("checkpoint %+v, %v", p, err)
	}
	if err := os.WriteFile(s.checkpointPath(), []byte("12\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.loadCheckpoint(); err == nil {
		t.Fatal("a malformed position was accepted")
	}
}

func TestServerErrorsAreUnavailable(t *testing.T) {
	plain := errors.New("boom")
	if errors.Is(serverError(plain), domain.ErrUnavailable) {
		t.Fatal("an unknown error became unavailable")
	}
	if !isCode(fmt.Errorf("wrapped: %w", &esdb.Error{}), esdb.ErrorCodeUnknown) {
		t.Fatal("isCode does not see through wrapping")
	}
}

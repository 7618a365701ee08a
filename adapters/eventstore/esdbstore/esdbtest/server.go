// Package esdbtest is a test stand-in for EventStoreDB's gRPC protocol;
// only tests import it, so no binary links its gRPC server.
package esdbtest

import (
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	api "github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"google.golang.org/grpc"
)

// Server speaks the part of EventStoreDB's gRPC Streams API this
// adapter uses (Append; Read of a stream forwards and backwards; a filtered
// catch-up subscription to $all), so the adapter and its use of the real
// client run end to end on machines that cannot run EventStoreDB. It is a
// stand-in for the protocol, not for EventStoreDB's behaviour: the contract
// suite against a real server (RECALL_ESDB_URL) is what proves that.
//
// Like the server, it gives $all positions that are byte offsets (large,
// with gaps), answers a repeated append of the same event ids as a
// success, and reports a missing stream in the read's first message.
type Server struct {
	api.UnimplementedStreamsServer
	mu      sync.Mutex
	log     []*fakeEvent
	streams map[string][]*fakeEvent
	changed chan struct{}
	// DropAfter, when set before use, ends each subscription after that
	// many events sent, as a server restart or a network cut would.
	DropAfter int
}

type fakeEvent struct {
	stream   string
	revision uint64
	id       *shared.UUID
	key      string
	meta     map[string]string
	data     []byte
	pos      uint64
}

// Start serves a fake on a loopback port until the test ends and returns
// it with its connection string.
func Start(t testing.TB) (*Server, string) {
	t.Helper()
	f := &Server{streams: map[string][]*fakeEvent{}, changed: make(chan struct{})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	api.RegisterStreamsServer(srv, f)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return f, "esdb://" + ln.Addr().String() + "?tls=false"
}

func uuidKey(u *shared.UUID) string {
	if s := u.GetStructured(); s != nil {
		return strconv.FormatInt(s.MostSignificantBits, 16) + ":" + strconv.FormatInt(s.LeastSignificantBits, 16)
	}
	return u.GetString_()
}

func (f *Server) Append(srv api.Streams_AppendServer) error {
	first, err := srv.Recv()
	if err != nil {
		return err
	}
	opts := first.GetOptions()
	stream := string(opts.GetStreamIdentifier().GetStreamName())
	var proposed []*api.AppendReq_ProposedMessage
	for {
		m, err := srv.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		proposed = append(proposed, m.GetProposedMessage())
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	cur := f.streams[stream]
	// the same ids again, in order, at the stream's end: an idempotent retry
	if n := len(proposed); n > 0 && len(cur) >= n {
		same := true
		for i, p := range proposed {
			if cur[len(cur)-n+i].key != uuidKey(p.Id) {
				same = false
			}
		}
		if same {
			return srv.SendAndClose(f.success(cur))
		}
	}
	ok := true
	switch e := opts.ExpectedStreamRevision.(type) {
	case *api.AppendReq_Options_NoStream:
		ok = len(cur) == 0
	case *api.AppendReq_Options_StreamExists:
		ok = len(cur) > 0
	case *api.AppendReq_Options_Revision:
		ok = len(cur) > 0 && cur[len(cur)-1].revision == e.Revision
	}
	if !ok {
		wrong := &api.AppendResp_WrongExpectedVersion{}
		if len(cur) == 0 {
			wrong.CurrentRevisionOption = &api.AppendResp_WrongExpectedVersion_CurrentNoStream{CurrentNoStream: &shared.Empty{}}
		} else {
			wrong.CurrentRevisionOption = &api.AppendResp_WrongExpectedVersion_CurrentRevision{CurrentRevision: cur[len(cur)-1].revision}
		}
		return srv.SendAndClose(&api.AppendResp{Result: &api.AppendResp_WrongExpectedVersion_{WrongExpectedVersion: wrong}})
	}
	created := strconv.FormatInt(time.Now().UnixNano()/100, 10)
	for _, p := range proposed {
		pos := uint64(1_000_000)
		if n := len(f.log); n > 0 {
			pos = f.log[n-1].pos + 128 + uint64(len(f.log[n-1].data)) // byte offsets, not counts
		}
		meta := map[string]string{"created": created}
		for k, v := range p.Metadata {
			meta[k] = v
		}
		e := &fakeEvent{stream: stream, revision: uint64(len(cur)), id: p.Id, key: uuidKey(p.Id), meta: meta, data: p.Data, pos: pos}
		cur = append(cur, e)
		f.log = append(f.log, e)
	}
	f.streams[stream] = cur
	close(f.changed)
	f.changed = make(chan struct{})
	return srv.SendAndClose(f.success(cur))
}

func (f *Server) success(cur []*fakeEvent) *api.AppendResp {
	last := cur[len(cur)-1]
	return &api.AppendResp{Result: &api.AppendResp_Success_{Success: &api.AppendResp_Success{
		CurrentRevisionOption: &api.AppendResp_Success_CurrentRevision{CurrentRevision: last.revision},
		PositionOption:        &api.AppendResp_Success_Position{Position: &api.AppendResp_Position{CommitPosition: last.pos, PreparePosition: last.pos}},
	}}}
}

func toRead(e *fakeEvent) *api.ReadResp {
	return &api.ReadResp{Content: &api.ReadResp_Event{Event: &api.ReadResp_ReadEvent{
		Event: &api.ReadResp_ReadEvent_RecordedEvent{
			Id: e.id, StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(e.stream)},
			StreamRevision: e.revision, PreparePosition: e.pos, CommitPosition: e.pos, Metadata: e.meta, Data: e.data,
		},
		Position: &api.ReadResp_ReadEvent_CommitPosition{CommitPosition: e.pos},
	}}}
}

func (f *Server) Read(req *api.ReadReq, srv api.Streams_ReadServer) error {
	o := req.GetOptions()
	if so := o.GetStream(); so != nil {
		return f.readStream(o, so, srv)
	}
	if o.GetSubscription() == nil {
		return io.ErrUnexpectedEOF // plain $all reads: the adapter does not use them
	}
	var prefixes []string
	if fo := o.GetFilter(); fo != nil {
		prefixes = fo.GetStreamIdentifier().GetPrefix()
	}
	f.mu.Lock()
	next := 0
	if p := o.GetAll().GetPosition(); p != nil {
		for next < len(f.log) && f.log[next].pos <= p.CommitPosition {
			next++
		}
	} else if o.GetAll().GetEnd() != nil {
		next = len(f.log)
	}
	f.mu.Unlock()
	if err := srv.Send(&api.ReadResp{Content: &api.ReadResp_Confirmation{Confirmation: &api.ReadResp_SubscriptionConfirmation{SubscriptionId: "fake"}}}); err != nil {
		return err
	}
	sent := 0
	for {
		f.mu.Lock()
		batch, changed := f.log[next:], f.changed
		next = len(f.log)
		drop := f.DropAfter
		f.mu.Unlock()
		for _, e := range batch {
			if !matches(e.stream, prefixes) {
				continue
			}
			if drop > 0 && sent == drop {
				return io.ErrUnexpectedEOF
			}
			if err := srv.Send(toRead(e)); err != nil {
				return err
			}
			sent++
		}
		select {
		case <-changed:
		case <-srv.Context().Done():
			return srv.Context().Err()
		}
	}
}

func matches(stream string, prefixes []string) bool {
	if len(prefixes) == 0 {
		return true
	}
	for _, p := range prefixes {
		if strings.HasPrefix(stream, p) {
			return true
		}
	}
	return false
}

func (f *Server) readStream(o *api.ReadReq_Options, so *api.ReadReq_Options_StreamOptions, srv api.Streams_ReadServer) error {
	name := string(so.GetStreamIdentifier().GetStreamName())
	f.mu.Lock()
	evs := append([]*fakeEvent(nil), f.streams[name]...)
	f.mu.Unlock()
	if len(evs) == 0 {
		return srv.Send(&api.ReadResp{Content: &api.ReadResp_StreamNotFound_{StreamNotFound: &api.ReadResp_StreamNotFound{
			StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(name)}}}})
	}
	backwards := o.GetReadDirection() == api.ReadReq_Options_Backwards
	var order []*fakeEvent
	switch {
	case so.GetEnd() != nil && backwards:
		for i := len(evs) - 1; i >= 0; i-- {
			order = append(order, evs[i])
		}
	case backwards:
		for i := min(int(so.GetRevision()), len(evs)-1); i >= 0; i-- {
			order = append(order, evs[i])
		}
	case so.GetEnd() != nil:
	default:
		order = evs[min(int(so.GetRevision()), len(evs)):]
	}
	for i, e := range order {
		if uint64(i) == o.GetCount() {
			break
		}
		if err := srv.Send(toRead(e)); err != nil {
			return err
		}
	}
	return nil
}

// Streams returns each stream's event count, system streams ($$…) included.
func (f *Server) Streams() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]int, len(f.streams))
	for name, evs := range f.streams {
		out[name] = len(evs)
	}
	return out
}

package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/projections/conversation"
)

// openStream opens the conversation's live stream as viewer and returns
// its response (status checked by the caller).
func (r *rig) openStream(ctx context.Context, conv, viewer string) *http.Response {
	r.t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", r.base+"/v1/acme/chat/conversations/"+conv+"/stream?viewer="+viewer, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+r.tokens[domain.AccessService])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	return resp
}

// openStreams waits until the hub holds n streams.
func (r *rig) waitStreams(n int) {
	r.t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		r.api.streams.mu.Lock()
		open := r.api.streams.open
		r.api.streams.mu.Unlock()
		if open == n {
			return
		}
	}
	r.t.Fatalf("the hub never held %d streams", n)
}

func TestEveryViewerOfABusyGroupReceivesEveryEvent(t *testing.T) {
	r := newRig(t)
	const viewers, sends = 60, 200
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	got := make([][]string, viewers)
	var wg sync.WaitGroup
	for v := range viewers {
		resp := r.openStream(ctx, "groupchat:team", fmt.Sprint("member", v))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("stream %d: %s", v, resp.Status)
		}
		wg.Go(func() {
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() && len(got[v]) < sends {
				if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
					var u conversation.Update
					if err := json.Unmarshal([]byte(data), &u); err != nil {
						t.Error(err)
						return
					}
					got[v] = append(got[v], u.MsgID)
				}
			}
		})
	}
	r.waitStreams(viewers) // every viewer is live before the first send
	var want []string
	for i := range sends {
		want = append(want, string(r.send(fmt.Sprint("member", i%viewers), "team", "groupchat", fmt.Sprint("message ", i))))
		if i%7 == 0 {
			r.feed() // commits of one event and of several
		}
	}
	r.feed()
	wg.Wait()
	for v := range viewers {
		if !slices.Equal(got[v], want) {
			t.Fatalf("viewer %d received %d of %d updates, or out of order", v, len(got[v]), len(want))
		}
	}
}

func TestACommitWakesOnlyTheStreamsOfTheConversationsItTouched(t *testing.T) {
	h := newStreamHub(8, 10, 10)
	a, err := h.subscribe("t/t", "groupchat:a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := h.subscribe("t/t", "groupchat:b")
	if err != nil {
		t.Fatal(err)
	}
	other, err := h.subscribe("u/u", "groupchat:a") // same conversation id, another tenant
	if err != nil {
		t.Fatal(err)
	}
	h.publish([]conversation.Logged{{Tenant: "t/t", Update: conversation.Update{ID: 7, Kind: "sent", ConversationID: "groupchat:a", MsgID: "m7"}}})
	select {
	case <-a.wake:
	default:
		t.Fatal("the stream of the conversation was not woken")
	}
	for name, ls := range map[string]*liveStream{"another conversation": b, "another tenant": other} {
		select {
		case <-ls.wake:
			t.Fatalf("the stream of %s was woken", name)
		default:
		}
	}
	if q, lagged := a.take(); len(q) != 1 || q[0].MsgID != "m7" || lagged {
		t.Fatalf("queued %v lagged %v", q, lagged)
	}
}

func TestAViewerFallingBehindItsBufferIsDroppedAndToldToResume(t *testing.T) {
	h := newStreamHub(3, 10, 10)
	slow, _ := h.subscribe("t/t", "groupchat:a")
	quick, _ := h.subscribe("t/t", "groupchat:a")
	for i := range 5 {
		h.publish([]conversation.Logged{{Tenant: "t/t", Update: conversation.Update{ID: uint64(i + 1), Kind: "sent", ConversationID: "groupchat:a"}}})
		if i < 3 {
			if q, lagged := quick.take(); len(q) != 1 || lagged {
				t.Fatalf("the viewer that keeps up: %v %v", q, lagged)
			}
		}
	}
	if q, lagged := slow.take(); !lagged || len(q) != 0 {
		t.Fatalf("the slow viewer: %d queued, lagged %v; want it dropped", len(q), lagged)
	}
	if q, lagged := quick.take(); lagged || len(q) != 2 {
		t.Fatalf("the other viewer: %d queued, lagged %v; the slow one must not hold it back", len(q), lagged)
	}
	if h.drops.Load() != 1 {
		t.Fatalf("%d drops counted, want 1", h.drops.Load())
	}
}

func TestStreamsBeyondTheCapsAreRefusedWith429(t *testing.T) {
	r := newRigWith(t, Config{MaxStreamsPerTenant: 2})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first, second := r.openStream(ctx, "groupchat:a", "x"), r.openStream(ctx, "groupchat:b", "y")
	defer first.Body.Close()
	for _, resp := range []*http.Response{first, second} {
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("stream within the cap: %s", resp.Status)
		}
	}
	r.waitStreams(2)
	mresp, err := http.Get(r.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	if status := mresp.StatusCode; status != http.StatusOK || !strings.Contains(string(body), "recall_streams_open 2") || !strings.Contains(string(body), "recall_stream_drops_total 0") {
		t.Fatalf("metrics %d: want recall_streams_open 2 and recall_stream_drops_total 0 in\n%s", mresp.StatusCode, body)
	}
	third := r.openStream(ctx, "groupchat:c", "z")
	b := make([]byte, 512)
	n, _ := third.Body.Read(b)
	third.Body.Close()
	if third.StatusCode != http.StatusTooManyRequests || !strings.Contains(string(b[:n]), `"too_many_streams"`) || third.Header.Get("Retry-After") == "" {
		t.Fatalf("third stream: %s %s", third.Status, b[:n])
	}
	second.Body.Close() // a stream that ends frees its place
	r.waitStreams(1)
	fourth := r.openStream(ctx, "groupchat:c", "z")
	defer fourth.Body.Close()
	if fourth.StatusCode != http.StatusOK {
		t.Fatalf("a stream after one ended: %s", fourth.Status)
	}

	h := newStreamHub(8, 10, 2) // the server's cap, across tenants
	h.subscribe("a/a", "c")
	h.subscribe("b/b", "c")
	if _, err := h.subscribe("c/c", "c"); err == nil {
		t.Fatal("a stream past the server's cap was opened")
	}
}

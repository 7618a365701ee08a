package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// watchers are live streams (server-sent events) the bench holds open,
// each counting the "sent" updates it receives. A stream the server drops
// for lagging is opened again from its last event id, as a client would.
type watchers struct {
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	received []atomic.Int64
	lagged   atomic.Int64
	failed   atomic.Pointer[error]
}

// watch opens n streams, the k-th of conversation conv(k), and returns
// once every one is open (the server subscribes a stream before it
// answers, so every later commit reaches it).
func watch(ctx context.Context, t *target, n int, conv func(k int) string) (*watchers, error) {
	wctx, cancel := context.WithCancel(ctx)
	w := &watchers{cancel: cancel, received: make([]atomic.Int64, n)}
	// a transport of their own: streams never end, so they must not take
	// the load's connections
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n + 1}}
	for k := range n {
		resp, err := openStream(wctx, client, t, conv(k), fmt.Sprint("w", k), 0)
		if err != nil {
			w.close()
			return nil, err
		}
		w.wg.Go(func() { w.follow(wctx, client, t, conv(k), k, resp) })
	}
	return w, nil
}

func openStream(ctx context.Context, client *http.Client, t *target, conv, viewer string, last uint64) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.base+"/v1/bench/app/conversations/"+conv+"/stream?viewer="+viewer, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+t.svc)
	if last > 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatUint(last, 10))
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", conv, err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("stream %s: %s", conv, resp.Status)
	}
	return resp, nil
}

// follow reads one stream until ctx ends, resuming it when dropped. It
// counts events in the bytes as they come rather than line by line: a
// thousand viewers on the bench's side of the same 2 cores must cost as
// little as they can.
func (w *watchers) follow(ctx context.Context, client *http.Client, t *target, conv string, k int, resp *http.Response) {
	var last uint64
	buf := make([]byte, 64<<10)
	for {
		lagged := false
		carry := 0 // bytes kept from the last read: an event may span two
		for {
			n, err := resp.Body.Read(buf[carry:])
			chunk := buf[:carry+n]
			// only whole events: up to the last blank line
			end := bytes.LastIndex(chunk, []byte("\n\n"))
			if end >= 0 {
				whole := chunk[:end+2]
				w.received[k].Add(int64(bytes.Count(whole, []byte("event: sent\n"))))
				lagged = lagged || bytes.Contains(whole, []byte("event: lagged\n"))
				if i := bytes.LastIndex(whole, []byte("id: ")); i >= 0 {
					if j := bytes.IndexByte(whole[i:], '\n'); j > 0 {
						last, _ = strconv.ParseUint(string(whole[i+4:i+j]), 10, 64)
					}
				}
				carry = copy(buf, chunk[end+2:])
			} else {
				carry = len(chunk)
			}
			if carry == len(buf) {
				carry = 0 // no event is this long: drop it
			}
			if err != nil {
				break
			}
		}
		resp.Body.Close()
		if ctx.Err() != nil {
			return
		}
		if lagged {
			w.lagged.Add(1)
		}
		var err error
		if resp, err = openStream(ctx, client, t, conv, fmt.Sprint("w", k), last); err != nil {
			if ctx.Err() == nil {
				w.failed.CompareAndSwap(nil, &err)
			}
			return
		}
	}
}

// waitFor waits until every stream received n sends, or timeout: the
// fewest and the most any stream received, and how many drops for lag
// were resumed.
func (w *watchers) waitFor(n int, timeout time.Duration) ([2]int64, int64) {
	deadline := time.Now().Add(timeout)
	for {
		lo, hi := int64(n), int64(0)
		for i := range w.received {
			v := w.received[i].Load()
			lo, hi = min(lo, v), max(hi, v)
		}
		if len(w.received) == 0 {
			lo = 0
		}
		if lo >= int64(n) || time.Now().After(deadline) {
			return [2]int64{lo, hi}, w.lagged.Load()
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// close ends every stream and waits for their readers.
func (w *watchers) close() {
	w.cancel()
	w.wg.Wait()
}

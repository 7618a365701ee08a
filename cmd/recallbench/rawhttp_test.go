package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestRawBaselineDecodesAsStrictlyAsRecalld: the baseline does the work a
// send's body costs recalld to read, so it takes the bench's send body
// and refuses what recalld refuses (an unknown field, a second value).
func TestRawBaselineDecodesAsStrictlyAsRecalld(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- serveRawHTTP(ctx, t.TempDir(), pw) }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	base := strings.TrimSpace(strings.TrimPrefix(line, rawListening))
	for _, tc := range []struct {
		name, body string
		want       int
	}{
		{"the bench's send", sendBody("r1", 1, "chat"), http.StatusCreated},
		{"a group send", sendBody("r1", 4, "groupchat"), http.StatusCreated},
		{"an unknown field", `{"from":"u1","to":"u2","chat_type":"chat","content":"hi","nope":1}`, http.StatusBadRequest},
		{"two objects", `{"from":"u1"} {"from":"u2"}`, http.StatusBadRequest},
		{"not JSON", `from=u1`, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Post(base+"/v1/bench/app/messages", "application/json", strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("status %d (%s), want %d", resp.StatusCode, b, tc.want)
			}
		})
	}
	cancel()
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

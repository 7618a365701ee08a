package main

import (
	"strings"
	"testing"
)

func TestAnUnknownLocaleFallsBackToEnglishAndSaysSo(t *testing.T) {
	s := startServer(t)
	oops := s.send("alice", "bob", "chat", "txt", "oops", "c1")
	if r := s.do("POST", "/v1/a/a/messages/"+oops+"/recall", s.token("a/a", svc), `{"actor":"alice"}`); r.status != 200 {
		t.Fatal(r.status)
	}
	cases := []struct{ asked, lang, notice string }{
		{"fr", "en", "alice recalled a message"},
		{"not a locale!", "en", "alice recalled a message"},
		{"", "en", "alice recalled a message"},
		{"zh", "zh-CN", "alice 撤回了一条消息"},
		{"ja-JP", "ja", "aliceがメッセージの送信を取り消しました"},
	}
	for _, c := range cases {
		t.Run(c.asked, func(t *testing.T) {
			eventually(t, func() string {
				r := s.do("GET", "/v1/a/a/conversations/chat:alice:bob/messages?viewer=bob&locale="+urlQuery(c.asked), s.token("a/a", svc), "")
				if r.status != 200 || r.header.Get("Content-Language") != c.lang || !strings.Contains(string(r.body), c.notice) {
					return "locale " + c.asked + ": " + r.header.Get("Content-Language") + " " + string(r.body)
				}
				return ""
			})
		})
	}
}

func urlQuery(s string) string { return strings.ReplaceAll(s, " ", "%20") }

package httpapi

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"reflect"
	"testing"

	"github.com/recallledger/recall/domain"
)

// FuzzRequestBodies feeds arbitrary bodies to the decoder and the domain's
// constructors, as every command endpoint does: no panic, and every
// refusal is a 4xx with a stable code.
func FuzzRequestBodies(f *testing.F) {
	for _, s := range []string{
		`{"from":"alice","to":"bob","chat_type":"chat","type":"txt","content":"hi"}`,
		`{"actor":"alice","actor_role":"group_owner","reason":"x","request_id":"r"}`,
		`{"msgs":[{"msg_id":"m","to":"bob","chat_type":"chat"}]}`,
		`{"sender_window_s":-1,"recallable_types":["red_packet"]}`,
		`{"a":{"b":{"c":[[[[[[[[[[]]]]]]]]]]}}}`, `[]`, `null`, "\xff", `{"from":"\u0000"}`, `{} {}`,
	} {
		f.Add([]byte(s))
	}
	s := New(nil, nil, NewMetrics(), slog.New(slog.DiscardHandler), Config{MaxBodyBytes: 4096}, nil, nil)
	f.Fuzz(func(t *testing.T, body []byte) {
		check := func(err error) {
			if err == nil {
				return
			}
			r := httptest.NewRequest("POST", "/", nil)
			status, code, _ := s.failure(r, err)
			var inv *domain.InvalidError
			var be *bodyError
			if (errors.As(err, &inv) || errors.As(err, &be)) && (status < 400 || status >= 500 || code == "") {
				t.Fatalf("bad input mapped to %d %q: %v", status, code, err)
			}
		}
		decode := func(v any) error {
			r := httptest.NewRequest("POST", "/", bytes.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			return s.decode(httptest.NewRecorder(), r, v)
		}
		// the codec's parser answers as encoding/json's Decoder did
		for _, mk := range []func() any{func() any { return new(sendRequest) }, func() any { return new(domain.PolicySpec) }} {
			got, want := mk(), mk()
			gerr, werr := decodeObject(body, got, false), referenceDecode(body, want, false)
			if code(gerr) != code(werr) || werr == nil && !reflect.DeepEqual(got, want) {
				t.Fatalf("%T %q: decoded %+v, %v; encoding/json %+v, %v", got, body, got, gerr, want, werr)
			}
		}
		var send sendRequest
		if err := decode(&send); err != nil {
			check(err)
		} else {
			_, err := domain.NewSendCommand(send.From, send.To, send.ChatType, send.Type, send.Content, send.Platform, send.ClientMsgID)
			check(err)
		}
		var rec recallRequest
		if err := decode(&rec); err != nil {
			check(err)
		} else {
			_, err := domain.NewRecallCommand("m1", rec.Actor, rec.ActorRole, rec.Platform, rec.Reason, rec.RequestID)
			check(err)
		}
		var batch batchRequest
		check(decode(&batch))
		var spec domain.PolicySpec
		if err := decode(&spec); err != nil {
			check(err)
		} else {
			_, err := domain.NewPolicy(spec)
			check(err)
		}
	})
}

// FuzzQueryParameters feeds arbitrary query strings to the audit filter and
// the numeric parameters.
func FuzzQueryParameters(f *testing.F) {
	for _, s := range []string{"from=2026-01-01T00:00:00Z&actor=a&limit=5", "cursor=-1", "format=csv&action=recall", "limit=99999999999999999999", "%zz", "from=\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		if flt, format, err := auditFilter(q); err == nil {
			if flt.Limit < 1 || flt.Limit > 1000 || (format != "json" && format != "jsonl" && format != "csv") {
				t.Fatalf("accepted %q as %+v %s", raw, flt, format)
			}
		}
		if v, err := uintParam(q.Get("limit"), 1, 10000); err == nil && v > 10000 {
			t.Fatalf("limit %d past its bound", v)
		}
	})
}

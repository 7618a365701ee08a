package httpapi

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/recallledger/recall/domain"
)

// referenceDecode is how request bodies were decoded before the codec's
// parser: encoding/json's Decoder alone. decodeObject must refuse and
// accept what it did, with the same code and words, and decode the same
// values.
func referenceDecode(data []byte, v any, unknownFields bool) error {
	if !utf8.Valid(data) {
		return &bodyError{400, "invalid_body", "the body is not valid UTF-8"}
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return &bodyError{400, "invalid_body", "the body must be one JSON object"}
	}
	return decodeStd(trimmed, v, unknownFields)
}

// requestBodies are bodies of every shape the routes take, good and bad.
var requestBodies = []string{
	`{"from":"alice","to":"bob","chat_type":"chat","type":"txt","content":"hi","platform":"ios","client_msg_id":"c1"}`,
	`{"from":"alice","to":"g1","chat_type":"groupchat","content":"\u4f60\u597d \ud83d\ude00 <b>&amp;</b>"}`,
	`  {"from":"alice"}  `, `{"FROM":"alice","To":"bob"}`, `{"from":"a","from":"b"}`, `{"from":"\ud800"}`,
	`{"from":"alice","sneaky":1}`, `{"from":1}`, `{"from":null}`, `{"from":"alice"} {}`, `{"from":"alice"}x`, `{"from":`,
	`{"from":"alice",}`, `{}`, `[]`, `null`, ``, `{"from":"\u0000"}`, `{"content":"` + strings.Repeat("x", 3000) + `"}`,
	`{"actor":"alice","actor_role":"group_owner","reason":"x","request_id":"r"}`, `{"actor":["alice"]}`,
	`{"msgs":[{"msg_id":"m","to":"bob","chat_type":"chat"}]}`, `{"msgs":[{"msg_id":1}]}`, `{"msgs":{}}`,
	`{"sender_window_s":-1,"recallable_types":["red_packet"]}`, `{"sender_window_s":1.5}`, `{"sender_window_s":"5"}`,
	`{"sender_window_s":1e3}`, `{"sender_window_s":99999999999999999999}`, `{"a":{"b":{"c":[[[[[[[[[[]]]]]]]]]]}}}`,
}

func TestRequestDecoderAgreesWithEncodingJSON(t *testing.T) {
	types := []func() any{
		func() any { return new(sendRequest) }, func() any { return new(recallRequest) },
		func() any { return new(batchRequest) }, func() any { return new(domain.PolicySpec) },
	}
	for _, body := range requestBodies {
		for _, unknown := range []bool{false, true} {
			for _, mk := range types {
				got, want := mk(), mk()
				gerr, werr := decodeObject([]byte(body), got, unknown), referenceDecode([]byte(body), want, unknown)
				if code(gerr) != code(werr) {
					t.Errorf("%T %.60q (unknown fields %v): %v, encoding/json %v", got, body, unknown, gerr, werr)
					continue
				}
				if werr == nil && !reflect.DeepEqual(got, want) {
					t.Errorf("%T %.60q: decoded %+v, encoding/json %+v", got, body, got, want)
				}
			}
		}
	}
}

func code(err error) string {
	var be *bodyError
	if errors.As(err, &be) {
		return be.code + ": " + be.msg
	}
	if err != nil {
		return "other: " + err.Error()
	}
	return ""
}

// BenchmarkDecodeSendBody: a send's body decoded by the request decoder
// and by encoding/json's strict Decoder, the way it was decoded before.
func BenchmarkDecodeSendBody(b *testing.B) {
	body := []byte(requestBodies[0])
	for _, d := range []struct {
		name   string
		decode func([]byte, any, bool) error
	}{{"codec", decodeObject}, {"encoding_json", referenceDecode}} {
		b.Run(d.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var req sendRequest
				if err := d.decode(body, &req, false); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

package auditlog_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/projections/auditlog"
)

// goldenAt is a fixed instant with milliseconds.
var goldenAt = domain.NewTime(time.Date(2026, 11, 24, 9, 0, 0, 123e6, time.UTC))

// goldenEntry is a realistic entry whose detail, reason text and actor a
// case replaces with hostile strings.
func goldenEntry() auditlog.Entry {
	return auditlog.Entry{Seq: 7, At: goldenAt, Position: 42, EventID: "0b7e2f0c-3a51-4e36-9a55-1f0c7d5b2a11",
		Action: auditlog.ActionRecall, Actor: "alice", ActorRole: "member", Platform: "ios", MsgID: "m1",
		ConversationID: "chat:alice:bob", Outcome: "refused", Reason: "exceed_time_limit", ReasonText: "typo",
		ContentSHA256: "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
		Detail:        "elapsed_ms=120001 window_ms=120000 policy_version=2"}
}

const goldenPrev = "5bbb9a38959777f7c23fa8055546f6af112a5d2ec18d8d16d75686fc12c81d65"

type goldenCase struct {
	name string
	prev string
	e    auditlog.Entry
	hash string
}

func goldenCases() []goldenCase {
	with := func(f func(e *auditlog.Entry)) auditlog.Entry {
		e := goldenEntry()
		f(&e)
		return e
	}
	content := "the content is outside the hash"
	return []goldenCase{
		{"an audit query entry, as pinned when the encoding was first written down", strings.Repeat("0", 64), auditlog.Entry{
			Seq: 7, At: goldenAt, Position: 42, EventID: "0b7e2f0c-3a51-4e36-9a55-1f0c7d5b2a11", Action: auditlog.ActionAudit,
			Actor: "auditor", ActorRole: "auditor", Platform: "web", MsgID: "m1", ConversationID: "chat:alice:bob", Outcome: "viewed",
			Reason: "r", ReasonText: "typo", ContentSHA256: "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
			Detail: "format=csv results=3 query=action=recall&actor=<alice>"}, "a6e94b8dafe100d2dcaa150347e15b9806ed7c094218ec6e50d0c3cc52c1ef49"},
		{"a refused recall", goldenPrev, goldenEntry(), "b2e01f183f5e4aef9894c161acc9771d636029809a39cba520b5d0f928eb0a76"},
		{"the first entry of a chain has an empty prev", "", goldenEntry(), "4cd7a853ff0e30b3a05e3ea3356b705cfa2976a9a09f452c7fd3b2d39576c14a"},
		{"the zero entry", "", auditlog.Entry{}, "78f69811f9922e9c839e926e05b2d2d00f8dc3b45140cbfa1a95fd8035b459ae"},
		{"content, prev_hash and hash fields are outside the hash", goldenPrev, with(func(e *auditlog.Entry) {
			e.Content, e.PrevHash, e.Hash = &content, "ignored", "ignored"
		}), "b2e01f183f5e4aef9894c161acc9771d636029809a39cba520b5d0f928eb0a76"},
		{"HTML characters are escaped", goldenPrev, with(func(e *auditlog.Entry) {
			e.Detail = "format=csv results=3 query=action=recall&actor=<alice>"
			e.ReasonText = "<script>alert('x')</script> & co"
		}), "33b76c65c2ffa082be7933fe83cf310529c2b1b13c826ee7e529bbb5529a220f"},
		{"line and paragraph separators are escaped", goldenPrev, with(func(e *auditlog.Entry) { e.ReasonText = "line\u2028para\u2029end" }), "290b741107774bae606655190413f0bbb3c529c5f0da03138de3124c1db4bc85"},
		{"invalid UTF-8 bytes each become U+FFFD escapes", goldenPrev, with(func(e *auditlog.Entry) {
			e.ReasonText = "bad\xffutf8 \xc3\x28 \xe2\x82 \xed\xa0\x80 \xf4\x90\x80\x80"
		}), "9c55671ad5fbcaea2845a61fc95d215b277f15d83748bcffc8b469c304a4f111"},
		{"a real U+FFFD is kept as UTF-8", goldenPrev, with(func(e *auditlog.Entry) { e.ReasonText = "ok\ufffd" }), "b1309c832fb8cfe7cf726dad3030cca465ea11b82091e30320b8417865afd9e5"},
		{"control characters use short escapes or \\u00XX", goldenPrev, with(func(e *auditlog.Entry) {
			e.ReasonText = "\x00\x01\x07\b\t\n\v\f\r\x1b\x1f\x7f end"
		}), "fafd0df9dafd994ab2830b7766aed77e6ea9842d8c057dcdb5172afabc80c4a8"},
		{"quotes, backslashes and slashes", goldenPrev, with(func(e *auditlog.Entry) { e.ReasonText = `"quoted" \back\slash /slash/ \u0041` }), "37dd2d30cb9289659da88010d4f594896e9f2000e5418d8bcafb276310da2474"},
		{"non-ASCII text is kept as UTF-8", goldenPrev, with(func(e *auditlog.Entry) {
			e.Actor, e.ReasonText = "用户", "撤回 😀 é ß \u00a0 \ufeff"
		}), "e212564cf3e089103e405c443ded2c76d57a91470135b93873d228762a9cc81c"},
		{"largest numbers", goldenPrev, with(func(e *auditlog.Entry) { e.Seq, e.Position = math.MaxUint64, math.MaxUint64-1 }), "e32828053949132cc05def318ceec0863b92220dbc5344c13180ec5446f8c284"},
		{"an instant without milliseconds keeps three zero digits", goldenPrev, with(func(e *auditlog.Entry) {
			e.At = domain.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
		}), "c2f2e2175402e29cf65157c1ca9e4794b3bfc60fcbafd0ff29ccd6bd98619902"},
		{"an instant in another zone is written in UTC", goldenPrev, with(func(e *auditlog.Entry) {
			e.At = domain.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 999_999_999, time.FixedZone("CST", 8*3600)))
		}), "30b47689b6d8ae6fb23774c0ef925936dcbab5fe47c3a88cc3804f075eb2972f"},
	}
}

func TestChainHashIsPinned(t *testing.T) {
	for _, c := range goldenCases() {
		t.Run(c.name, func(t *testing.T) {
			if got := auditlog.ComputeHash(c.prev, c.e); got != c.hash {
				t.Errorf("hash %s, pinned %s", got, c.hash)
			}
		})
	}
}

// The hostile entry of docs/audit-encoding.md's example: its canonical
// bytes, written out by hand, and its hash.
func docExample() (auditlog.Entry, string) {
	e := goldenEntry()
	e.ReasonText = "<b>\"x\" & y</b>\u2028\\ \x01\xff é"
	want := `{"seq":7,"at":"2026-11-24T09:00:00.123Z","position":42,"event_id":"0b7e2f0c-3a51-4e36-9a55-1f0c7d5b2a11",` +
		`"action":"recall","actor":"alice","actor_role":"member","platform":"ios","msg_id":"m1","conversation_id":"chat:alice:bob",` +
		`"outcome":"refused","reason":"exceed_time_limit","reason_text":"\u003cb\u003e\"x\" \u0026 y\u003c/b\u003e\u2028\\ \u0001\ufffd é",` +
		`"content_sha256":"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",` +
		`"detail":"elapsed_ms=120001 window_ms=120000 policy_version=2","prev_hash":"","hash":""}`
	return e, want
}

func TestCanonicalEncodingIsTheWrittenDownBytes(t *testing.T) {
	e, want := docExample()
	if got := string(auditlog.AppendCanonical(nil, e)); got != want {
		t.Fatalf("canonical encoding\n got %s\nwant %s", got, want)
	}
	prefix := []byte("kept")
	if got := auditlog.AppendCanonical(prefix, e); !bytes.HasPrefix(got, prefix) || string(got[len(prefix):]) != want {
		t.Fatalf("AppendCanonical does not append: %q", got)
	}
	sum := sha256.Sum256([]byte(goldenPrev + "\n" + want))
	if got := auditlog.ComputeHash(goldenPrev, e); got != hex.EncodeToString(sum[:]) {
		t.Fatalf("ComputeHash %s is not SHA-256(prev || LF || canonical) %x", got, sum)
	}
}

// TestAuditEncodingDocumentMatchesTheEncoder keeps docs/audit-encoding.md
// honest: its example's bytes and hash are what the code produces.
func TestAuditEncodingDocumentMatchesTheEncoder(t *testing.T) {
	doc, err := os.ReadFile("../../docs/audit-encoding.md")
	if err != nil {
		t.Fatal(err)
	}
	e, want := docExample()
	for _, s := range []string{want, goldenPrev, auditlog.ComputeHash(goldenPrev, e)} {
		if !bytes.Contains(doc, []byte(s)) {
			t.Errorf("docs/audit-encoding.md does not show %s", s)
		}
	}
}

// legacyCanonical is how entries were hashed before the encoding was
// written down: encoding/json's Marshal of the entry without content,
// prev_hash and hash. Every chain stored before must keep verifying, so the
// canonical encoding must equal it byte for byte.
func legacyCanonical(t testing.TB, e auditlog.Entry) []byte {
	e.Content, e.PrevHash, e.Hash = nil, "", ""
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func checkMatchesLegacy(t testing.TB, e auditlog.Entry) {
	t.Helper()
	got, want := auditlog.AppendCanonical(nil, e), legacyCanonical(t, e)
	if !bytes.Equal(got, want) {
		t.Fatalf("canonical encoding differs from the one old chains were hashed with\n got %q\nwant %q", got, want)
	}
}

func TestCanonicalEncodingMatchesTheLegacyJSONHashInput(t *testing.T) {
	for _, c := range goldenCases() {
		checkMatchesLegacy(t, c.e)
	}
	// random entries over an alphabet of every character class the
	// encoding treats specially, and random bytes
	alphabet := []string{"a", "Z", "0", " ", "/", "\"", "\\", "<", ">", "&", "\x00", "\x01", "\b", "\t", "\n", "\v", "\f", "\r", "\x1f",
		"\x7f", "\x80", "\xbf", "\xc0", "\xc3", "\xe2\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xff", "é", "\u00a0", "\u2027", "\u2028",
		"\u2029", "\u202a", "\ufeff", "\ufffd", "中", "😀", "\U0010ffff"}
	rnd := rand.New(rand.NewPCG(14, 6))
	str := func() string {
		var b strings.Builder
		for range rnd.IntN(12) {
			if rnd.IntN(4) == 0 {
				b.WriteByte(byte(rnd.IntN(256)))
			} else {
				b.WriteString(alphabet[rnd.IntN(len(alphabet))])
			}
		}
		return b.String()
	}
	for range 20000 {
		e := auditlog.Entry{Seq: rnd.Uint64() >> rnd.IntN(64), Position: rnd.Uint64() >> rnd.IntN(64),
			At:      domain.NewTime(time.UnixMilli(rnd.Int64N(253402300800000)).In(time.FixedZone("", rnd.IntN(50000)-25000))),
			EventID: str(), Action: str(), Actor: str(), ActorRole: str(), Platform: str(), MsgID: str(), ConversationID: str(),
			Outcome: str(), Reason: str(), ReasonText: str(), ContentSHA256: str(), Detail: str()}
		checkMatchesLegacy(t, e)
	}
}

// FuzzCanonicalEncodingMatchesTheLegacyJSONHashInput: `go test -fuzz` it
// (make fuzz does); its seeds run in every `go test`.
func FuzzCanonicalEncodingMatchesTheLegacyJSONHashInput(f *testing.F) {
	for _, c := range goldenCases() {
		f.Add(c.e.Seq, c.e.At.UnixMilli(), c.e.Position, c.e.Actor, c.e.ReasonText, c.e.Detail, c.e.EventID)
	}
	f.Add(uint64(0), int64(-62135596800000), uint64(0), "\xff\xfe", "\u2028\u2029", "<&>", "\x00")
	f.Fuzz(func(t *testing.T, seq uint64, ms int64, position uint64, a, b, c, d string) {
		// the year range domain.Time carries in practice: server clock readings
		ms = ms % 253402300800000
		e := auditlog.Entry{Seq: seq, At: domain.NewTime(time.UnixMilli(ms)), Position: position,
			EventID: a, Action: b, Actor: c, ActorRole: d, Platform: a + b, MsgID: b + c, ConversationID: c + d,
			Outcome: d + a, Reason: a + c, ReasonText: b + d, ContentSHA256: d + c, Detail: a + b + c + d}
		checkMatchesLegacy(t, e)
		if !utf8.Valid(auditlog.AppendCanonical(nil, e)) {
			t.Fatalf("canonical encoding is not valid UTF-8")
		}
	})
}

package auditlog

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"unicode/utf8"
)

// canonicalTimeLayout writes an instant as RFC 3339 in UTC with exactly
// three fractional digits: "2026-11-24T09:00:00.123Z".
const canonicalTimeLayout = "2006-01-02T15:04:05.000Z07:00"

// AppendCanonical appends the canonical encoding of e to dst and returns
// the extended slice: the bytes an entry's chain hash covers. It is
// written out here, field by field, so that no change to Entry's struct
// tags, to encoding/json or to any other encoder can change a stored
// chain's hashes. docs/audit-encoding.md is the specification; golden
// tests pin it.
//
// The encoding is one JSON object, without whitespace, with these members
// in this order, every one always present:
//
//	seq, at, position, event_id, action, actor, actor_role, platform,
//	msg_id, conversation_id, outcome, reason, reason_text,
//	content_sha256, detail, prev_hash, hash
//
// seq and position are unsigned decimal integers without leading zeros.
// at is a string: the instant in UTC as YYYY-MM-DDTHH:MM:SS.mmmZ. prev_hash
// and hash are always the empty string (the previous hash is framed
// outside, see ComputeHash; the entry's own hash cannot cover itself).
// Content is not encoded at all: its SHA-256 is, in content_sha256, so
// content can be dropped after a recall without breaking the chain.
//
// Strings are quoted with '"'; inside, '"' and '\' are escaped with a
// backslash; U+0008, U+000C, U+000A, U+000D and U+0009 are written \b,
// \f, \n, \r and \t; every other byte below U+0020 is written \u00XX in
// lowercase hex; '<', '>' and '&' are written \u003c, \u003e and \u0026;
// U+2028 and U+2029 are written \u2028 and \u2029; each byte that is not
// part of valid UTF-8 is written \ufffd; everything else (U+007F and every
// other character, '/' included) is copied as its UTF-8 bytes.
//
// These are exactly the bytes that encoding/json's Marshal wrote for an
// Entry with Content nil and PrevHash and Hash empty, which is what every
// chain written before this encoding was hashed with: those chains verify
// unchanged.
func AppendCanonical(dst []byte, e Entry) []byte {
	dst = append(dst, `{"seq":`...)
	dst = strconv.AppendUint(dst, e.Seq, 10)
	dst = append(dst, `,"at":"`...)
	dst = e.At.Time().UTC().AppendFormat(dst, canonicalTimeLayout)
	dst = append(dst, `","position":`...)
	dst = strconv.AppendUint(dst, e.Position, 10)
	fields := [...]struct{ name, value string }{
		{`,"event_id":`, e.EventID},
		{`,"action":`, e.Action},
		{`,"actor":`, e.Actor},
		{`,"actor_role":`, e.ActorRole},
		{`,"platform":`, e.Platform},
		{`,"msg_id":`, e.MsgID},
		{`,"conversation_id":`, e.ConversationID},
		{`,"outcome":`, e.Outcome},
		{`,"reason":`, e.Reason},
		{`,"reason_text":`, e.ReasonText},
		{`,"content_sha256":`, e.ContentSHA256},
		{`,"detail":`, e.Detail},
	}
	for _, f := range fields {
		dst = append(dst, f.name...)
		dst = appendCanonicalString(dst, f.value)
	}
	return append(dst, `,"prev_hash":"","hash":""}`...)
}

const lowerHex = "0123456789abcdef"

// appendCanonicalString appends s quoted and escaped as AppendCanonical
// specifies.
func appendCanonicalString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0 // s[start:i] is pending, to be copied as it is
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			var esc string
			switch c {
			case '"':
				esc = `\"`
			case '\\':
				esc = `\\`
			case '\b':
				esc = `\b`
			case '\f':
				esc = `\f`
			case '\n':
				esc = `\n`
			case '\r':
				esc = `\r`
			case '\t':
				esc = `\t`
			default:
				if c >= 0x20 && c != '<' && c != '>' && c != '&' {
					i++
					continue
				}
			}
			dst = append(dst, s[start:i]...)
			if esc != "" {
				dst = append(dst, esc...)
			} else {
				dst = append(dst, '\\', 'u', '0', '0', lowerHex[c>>4], lowerHex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(append(dst, s[start:i]...), `\ufffd`...)
		case r == '\u2028':
			dst = append(append(dst, s[start:i]...), `\u2028`...)
		case r == '\u2029':
			dst = append(append(dst, s[start:i]...), `\u2029`...)
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// ComputeHash is the chain hash of e after prev: the lowercase hex of
//
//	SHA-256(prev || 0x0A || AppendCanonical(e))
//
// where prev is the previous entry's hash as its 64 lowercase hex
// characters (the anchor's after a retention purge), or empty for a
// tenant's first entry. Content, PrevHash and Hash of e play no part.
func ComputeHash(prev string, e Entry) string {
	var buf [512]byte
	return chainHash(prev, AppendCanonical(buf[:0], e))
}

// chainHash is ComputeHash of an entry whose canonical encoding is canon:
// the chain append encodes an entry once for its chain hash and its leaf.
func chainHash(prev string, canon []byte) string {
	h := sha256.New()
	h.Write([]byte(prev))
	h.Write([]byte{'\n'})
	h.Write(canon)
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0]))
}

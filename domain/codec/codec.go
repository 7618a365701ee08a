// Package codec is the JSON codec of stored events and read-model values:
// github.com/segmentio/encoding/json, chosen by measurement (about 5×
// faster decoding than encoding/json, byte-identical encoding; see the
// benchmarks beside this file and the README's performance notes). It is
// the only package that imports it, so the choice is made in one place.
//
// HTTP request bodies are decoded with it too (ParseRequest: unknown
// fields refused, as encoding/json's DisallowUnknownFields does, about 4×
// faster). What stays on encoding/json stays there on purpose: the
// encodings that are hashed or signed, which are written out byte by byte.
package codec

import (
	"encoding/json"
	"fmt"

	segjson "github.com/segmentio/encoding/json"
)

// RawMessage is encoded JSON kept as it is.
type RawMessage = json.RawMessage

// Marshal encodes v as encoding/json would, byte for byte (HTML characters
// escaped).
func Marshal(v any) ([]byte, error) { return segjson.Marshal(v) }

// Append is Marshal appending to b.
func Append(b []byte, v any) ([]byte, error) {
	return segjson.Append(b, v, segjson.EscapeHTML|segjson.SortMapKeys)
}

// Unmarshal decodes b into v as encoding/json would; v holds nothing of b
// afterwards.
func Unmarshal(b []byte, v any) error { return segjson.Unmarshal(b, v) }

// UnmarshalStrict is Unmarshal that refuses fields v does not have: for
// documents read back that must be exactly what was written (an export).
func UnmarshalStrict(b []byte, v any) error {
	rest, err := segjson.Parse(b, v, segjson.DisallowUnknownFields)
	if err == nil && len(rest) != 0 {
		return fmt.Errorf("invalid character %q after top-level value", rest[0])
	}
	return err
}

// ParseRequest decodes the first JSON value of b into v as encoding/json
// would and returns what follows it: for request bodies, which must be
// exactly one object. Fields v does not have are refused unless
// unknownFields; the errors are encoding/json's (an unknown field is
// `json: unknown field "name"`, a wrong type a *json.UnmarshalTypeError).
func ParseRequest(b []byte, v any, unknownFields bool) (rest []byte, err error) {
	flags := segjson.DisallowUnknownFields
	if unknownFields {
		flags = 0
	}
	return segjson.Parse(b, v, flags)
}

// UnmarshalBorrowing is Unmarshal whose raw messages in v share b's bytes
// instead of copying them: they are valid only as long as b is unchanged.
// An envelope whose payload is decoded right after saves a copy that way.
func UnmarshalBorrowing(b []byte, v any) error {
	rest, err := segjson.Parse(b, v, segjson.DontCopyRawMessage)
	if err == nil && len(rest) != 0 {
		return fmt.Errorf("invalid character %q after top-level value", rest[0])
	}
	return err
}

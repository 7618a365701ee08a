package codec

import (
	"encoding/json"
	"testing"
)

type sample struct {
	S   string            `json:"s"`
	N   int64             `json:"n"`
	L   []string          `json:"l"`
	M   map[string]int    `json:"m,omitempty"`
	Raw RawMessage        `json:"raw,omitempty"`
	Opt *string           `json:"opt,omitempty"`
	Set map[string]string `json:"set"`
}

// Stored bytes were written by encoding/json before this codec: the two
// must agree byte for byte, escapes included.
func TestMarshalEncodesAsEncodingJSON(t *testing.T) {
	s := "x"
	for name, v := range map[string]sample{
		"plain":          {S: "hello", N: 42, L: []string{"a", "b"}},
		"html and lines": {S: "<a href=\"x\">&</a> \u2028 \u2029 \t \x01 撤回 😀", Opt: &s},
		"map keys":       {M: map[string]int{"b": 2, "a": 1, "c": 3}, Set: map[string]string{}},
		"raw":            {Raw: RawMessage(`{"k":[1,2]}`)},
		"nil slices":     {},
	} {
		t.Run(name, func(t *testing.T) {
			want, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Marshal(v)
			if err != nil || string(got) != string(want) {
				t.Fatalf("Marshal %s (%v), encoding/json %s", got, err, want)
			}
			app, err := Append([]byte("prefix:"), v)
			if err != nil || string(app) != "prefix:"+string(want) {
				t.Fatalf("Append %s (%v), want prefix:%s", app, err, want)
			}
		})
	}
}

func TestUnmarshalBorrowingSharesRawMessagesAndRefusesTrailingBytes(t *testing.T) {
	b := []byte(`{"s":"x","raw":{"k":1}}`)
	var v sample
	if err := UnmarshalBorrowing(b, &v); err != nil {
		t.Fatal(err)
	}
	if string(v.Raw) != `{"k":1}` || v.S != "x" {
		t.Fatalf("decoded %+v", v)
	}
	b[len(b)-3] = '2' // the raw message is b's bytes, not a copy
	if string(v.Raw) != `{"k":2}` {
		t.Fatalf("raw message %s does not share the input", v.Raw)
	}
	for _, bad := range []string{`{"s":"x"} {}`, `{"s":"x"}x`, `{"s":`, `[]`} {
		if err := UnmarshalBorrowing([]byte(bad), &v); err == nil {
			t.Errorf("%s decoded without an error", bad)
		}
		if err := Unmarshal([]byte(bad), &v); err == nil {
			t.Errorf("%s decoded by Unmarshal without an error", bad)
		}
	}
}

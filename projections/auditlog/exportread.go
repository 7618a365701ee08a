package auditlog

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	json "github.com/segmentio/encoding/json"

	"github.com/recallledger/recall/domain"
)

// The readers of exports: what a verifier turns an export file back into,
// entries whose hashes it recomputes. They mirror the writers (NewCSV, the
// JSON-lines and JSON pages the API serves) and take nothing they would
// not write.

// ReadCSV reads a CSV export: the header must be CSVHeader, each row's
// cells are un-neutralised (Unneutralise) back to the values the entry's
// hashes cover. An empty content cell is content not kept.
func ReadCSV(r io.Reader) ([]Entry, error) {
	records, err := readCSVRecords(r, len(CSVHeader))
	if err != nil {
		return nil, err
	}
	if len(records) == 0 || !slices.Equal(records[0], CSVHeader) {
		return nil, fmt.Errorf("csv header: want %q", CSVHeader)
	}
	out := make([]Entry, 0, len(records)-1)
	for row, cells := range records[1:] {
		for i := range cells {
			cells[i] = Unneutralise(cells[i])
		}
		e, err := entryOfCells(cells)
		if err != nil {
			return nil, fmt.Errorf("csv row %d: %w", row+1, err)
		}
		out = append(out, e)
	}
	return out, nil
}

func entryOfCells(c []string) (Entry, error) {
	seq, err := strconv.ParseUint(c[0], 10, 64)
	if err != nil {
		return Entry{}, fmt.Errorf("seq %q", c[0])
	}
	at, err := time.Parse("2006-01-02T15:04:05.000Z07:00", c[1])
	if err != nil {
		return Entry{}, fmt.Errorf("at %q", c[1])
	}
	pos, err := strconv.ParseUint(c[16], 10, 64)
	if err != nil {
		return Entry{}, fmt.Errorf("position %q", c[16])
	}
	e := Entry{Seq: seq, At: domain.NewTime(at), Action: c[2], Actor: c[3], ActorRole: c[4], Platform: c[5], MsgID: c[6],
		ConversationID: c[7], Outcome: c[8], Reason: c[9], ReasonText: c[10], ContentSHA256: c[12], Detail: c[13],
		PrevHash: c[14], Hash: c[15], Position: pos, EventID: c[17]}
	if c[11] != "" {
		content := c[11]
		e.Content = &content
	}
	return e, nil
}

// ReadJSONLines reads a JSON-lines export: one entry a line, no unknown
// member.
func ReadJSONLines(r io.Reader) ([]Entry, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var out []Entry
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var e Entry
		if err := strictJSON(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

// ReadJSONPage reads a JSON export: an object whose "entries" are the rows
// (a page as the API serves it, or recallctl's whole export).
func ReadJSONPage(data []byte) ([]Entry, error) {
	var page struct {
		Entries []json.RawMessage `json:"entries"`
	}
	if err := json.Unmarshal(data, &page); err != nil {
		return nil, err
	}
	out := make([]Entry, len(page.Entries))
	for i, raw := range page.Entries {
		if err := strictJSON(raw, &out[i]); err != nil {
			return nil, fmt.Errorf("entry %d: %w", i+1, err)
		}
	}
	return out, nil
}

func strictJSON(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	return d.Decode(v)
}

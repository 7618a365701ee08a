package auditlog

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// The CSV export's records, written and read here rather than by
// encoding/csv, whose writer with CRLF line ends drops a lone carriage
// return and turns a line feed inside a cell into CRLF, and whose reader
// turns CRLF inside a quoted cell into LF: a message's content written
// with CRLF line breaks would then come back changed and fail its
// content_sha256. The format is RFC 4180 all the same (CRLF after each
// record; a cell holding a comma, a quote, CR or LF, or starting with a
// space, quoted, its quotes doubled); the difference is that every byte
// inside a quoted cell is kept as it is, both ways, so any spreadsheet or
// CSV library reads these files, and ReadCSV reads back exactly what was
// written.

// csvRecords writes records.
type csvRecords struct{ w *bufio.Writer }

func (c csvRecords) write(cells []string) error {
	for i, cell := range cells {
		if i > 0 {
			c.w.WriteByte(',')
		}
		if cell == "" || !strings.ContainsAny(cell, ",\"\r\n") && cell[0] != ' ' {
			c.w.WriteString(cell)
			continue
		}
		c.w.WriteByte('"')
		c.w.WriteString(strings.ReplaceAll(cell, `"`, `""`))
		c.w.WriteByte('"')
	}
	_, err := c.w.WriteString("\r\n") // a bufio.Writer keeps its first error
	return err
}

// readCSVRecords reads every record of data, each of fields cells.
func readCSVRecords(r io.Reader, fields int) ([][]string, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var records [][]string
	var record []string
	var cell []byte
	for i := 0; i < len(data); {
		n := len(records) + 1
		if data[i] == '"' { // a quoted cell: every byte up to the closing quote
			for i++; ; i++ {
				if i >= len(data) {
					return nil, fmt.Errorf("csv record %d: a quoted cell does not end", n)
				}
				if data[i] == '"' {
					if i+1 < len(data) && data[i+1] == '"' {
						cell = append(cell, '"')
						i++
						continue
					}
					i++
					break
				}
				cell = append(cell, data[i])
			}
		} else {
			for ; i < len(data) && data[i] != ',' && data[i] != '\r' && data[i] != '\n'; i++ {
				if data[i] == '"' {
					return nil, fmt.Errorf("csv record %d: a quote inside an unquoted cell", n)
				}
				cell = append(cell, data[i])
			}
		}
		record = append(record, string(cell))
		cell = cell[:0]
		switch {
		case i < len(data) && data[i] == ',':
			i++
			if i == len(data) {
				record = append(record, "") // a last, empty cell
			} else {
				continue
			}
		case i+1 < len(data) && data[i] == '\r' && data[i+1] == '\n':
			i += 2
		case i < len(data) && data[i] == '\n':
			i++
		case i < len(data):
			return nil, fmt.Errorf("csv record %d: %q after a cell", n, data[i])
		}
		if len(record) != fields {
			return nil, fmt.Errorf("csv record %d: %d cells, want %d", n, len(record), fields)
		}
		records = append(records, record)
		record = nil
	}
	return records, nil
}

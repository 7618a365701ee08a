package auditproof

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/recallledger/recall/projections/auditlog"
)

// ManifestSuffix names a CSV or JSON-lines export's manifest beside it:
// FILE.manifest.json.
const ManifestSuffix = ".manifest.json"

// WriteRows writes an export's rows in format (csv, jsonl or json) to w.
// A JSON export holds its manifest; the others are written without it
// (WriteManifest writes it beside them). The same writer serves
// `recallctl audit export` and the server's verified export, so a file is
// the same bytes whichever made it.
func WriteRows(w io.Writer, format string, rows []auditlog.Entry, m Manifest) error {
	switch format {
	case "csv":
		cw, err := auditlog.NewCSV(w)
		if err != nil {
			return err
		}
		for _, e := range rows {
			if err := cw.Write(e); err != nil {
				return err
			}
		}
		return cw.Flush()
	case "jsonl":
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		for _, e := range rows {
			if err := enc.Encode(e); err != nil {
				return err
			}
		}
		return nil
	case "json":
		m.FileFormat = format
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", " ")
		return enc.Encode(map[string]any{"entries": rows, "manifest": m})
	}
	return fmt.Errorf("export format %q: want csv, jsonl or json", format)
}

// WriteManifest writes m, for a file of format, as the indented JSON kept
// beside the file.
func WriteManifest(w io.Writer, format string, m Manifest) error {
	m.FileFormat = format
	b, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// WriteZip writes a verified export as one zip archive, the way a browser
// downloads it: name.format, and for csv and jsonl name.format plus
// ManifestSuffix beside it. Unzipped, it is what `recallctl audit export`
// writes; `recallctl audit verify-export` also reads the archive itself.
// Its members are dated at (zip's zero date is 1980).
func WriteZip(w io.Writer, name, format string, at time.Time, rows []auditlog.Entry, m Manifest) error {
	zw := zip.NewWriter(w)
	create := func(member string) (io.Writer, error) {
		return zw.CreateHeader(&zip.FileHeader{Name: member, Method: zip.Deflate, Modified: at})
	}
	f, err := create(name + "." + format)
	if err != nil {
		return err
	}
	if err := WriteRows(f, format, rows, m); err != nil {
		return err
	}
	if format != "json" {
		mf, err := create(name + "." + format + ManifestSuffix)
		if err != nil {
			return err
		}
		if err := WriteManifest(mf, format, m); err != nil {
			return err
		}
	}
	return zw.Close()
}

// maxZipMember bounds what one member of an export archive may unpack to,
// so a crafted archive cannot exhaust the verifier's memory.
const maxZipMember = 4 << 30

// ExportFile is an export as read for verification: its rows' bytes,
// their format, and the manifest's bytes when it lies beside them (nil for
// JSON, whose manifest is inside).
type ExportFile struct {
	Name     string
	Format   string
	Data     []byte
	Manifest []byte
}

// FormatOf is an export file's format from its name: .csv, .jsonl (or
// .ndjson) or .json.
func FormatOf(name string) (string, bool) {
	switch strings.ToLower(path.Ext(name)) {
	case ".csv":
		return "csv", true
	case ".jsonl", ".ndjson":
		return "jsonl", true
	case ".json":
		return "json", true
	}
	return "", false
}

// ReadZip opens a verified export archive (WriteZip's): exactly one export
// file and, unless it is JSON, its manifest beside it.
func ReadZip(data []byte) (ExportFile, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return ExportFile{}, fmt.Errorf("not a zip archive: %w", err)
	}
	members := map[string]*zip.File{}
	var file ExportFile
	for _, zf := range zr.File {
		members[zf.Name] = zf
		if strings.HasSuffix(zf.Name, ManifestSuffix) {
			continue
		}
		format, ok := FormatOf(zf.Name)
		if !ok {
			return ExportFile{}, fmt.Errorf("archive member %q: not an export file (want .csv, .jsonl or .json)", zf.Name)
		}
		if file.Name != "" {
			return ExportFile{}, fmt.Errorf("archive holds two exports, %q and %q: want one", file.Name, zf.Name)
		}
		file.Name, file.Format = zf.Name, format
	}
	if file.Name == "" {
		return ExportFile{}, errors.New("archive holds no export file")
	}
	if file.Data, err = readMember(members[file.Name]); err != nil {
		return ExportFile{}, err
	}
	if file.Format == "json" {
		return file, nil
	}
	mf := members[file.Name+ManifestSuffix]
	if mf == nil {
		return ExportFile{}, fmt.Errorf("archive holds %s without its manifest %s", file.Name, file.Name+ManifestSuffix)
	}
	file.Manifest, err = readMember(mf)
	return file, err
}

func readMember(zf *zip.File) ([]byte, error) {
	rc, err := zf.Open()
	if err != nil {
		return nil, fmt.Errorf("archive member %q: %w", zf.Name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxZipMember+1))
	if err == nil && len(b) > maxZipMember {
		err = errors.New("larger than 4 GiB unpacked")
	}
	if err != nil {
		return nil, fmt.Errorf("archive member %q: %w", zf.Name, err)
	}
	return b, nil
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/recallledger/recall/adapters/auditsign"
	"github.com/recallledger/recall/cmd/internal/flaghelp"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/projections"
	"github.com/recallledger/recall/projections/auditlog"
	"github.com/recallledger/recall/projections/auditlog/auditproof"
)

// The auditor's commands. verify-inclusion, verify-consistency,
// verify-export and witness trust nothing but the verifier keys given with
// --key: no data directory, and a server (when asked with --server) only
// hands over the answer, which is checked here.

// auditKey prints the deployment's verifier keys (`audit key`), or
// rotates its signing key (`audit key rotate`).
func auditKey(data string, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("audit key", stderr)
	asJSON := fs.Bool("json", false, "print the key's name, every verifier key and the rotation statements as JSON")
	if err := flaghelp.Parse(fs, args, stdout); err != nil {
		return err
	}
	var key *auditsign.Key
	var err error
	switch {
	case fs.NArg() == 0:
		key, err = auditsign.LoadKey(data)
	case fs.NArg() == 1 && fs.Arg(0) == "rotate":
		key, err = auditsign.RotateKey(data)
		if err == nil {
			fmt.Fprintln(stderr, "rotated: new checkpoints are signed with the new key (a running recalld takes it at its next signing); keep every key printed")
		}
	default:
		fs.Usage()
		return errors.New("usage: recallctl " + doc("audit key").synopsis)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, map[string]any{"name": key.Name, "verifier_keys": key.VerifierKeys(), "current": key.Verifier, "rotations": key.Rotations})
	}
	for _, k := range key.VerifierKeys() {
		if _, err := fmt.Fprintln(stdout, k); err != nil {
			return err
		}
	}
	return nil
}

// keysFlag is --key: a verifier key, or a file of them (one a line).
type keysFlag struct {
	keys auditproof.Keys
	set  bool
}

func (k *keysFlag) String() string { return "" }
func (k *keysFlag) Set(v string) error {
	text := v
	if _, err := note.NewVerifier(v); err != nil {
		b, ferr := os.ReadFile(v)
		if ferr != nil {
			return fmt.Errorf("not a verifier key, nor a file of them: %v", ferr)
		}
		text = string(b)
	}
	if k.set { // --key given more than once: every key counts
		text = strings.Join(k.keys.Strings(), "\n") + "\n" + text
	}
	keys, err := auditproof.ParseKeys(text)
	if err != nil {
		return err
	}
	k.keys, k.set = keys, true
	return nil
}

// proofFlags are what every verifying command takes.
type proofFlags struct {
	fs     *flag.FlagSet
	keys   keysFlag
	tenant *string
}

func newProofFlags(name string, stderr io.Writer) *proofFlags {
	p := &proofFlags{fs: newFlagSet(name, stderr)}
	p.fs.Var(&p.keys, "key", "the deployment's verifier key, or a file of verifier keys as `recallctl audit key` prints them (required)")
	p.tenant = p.fs.String("tenant", "", "ORG/APP: the tenant the proof must be of (required with --server)")
	return p
}

func (p *proofFlags) parse(args []string, stdout io.Writer) error {
	if err := flaghelp.Parse(p.fs, args, stdout); err != nil {
		return err
	}
	if !p.keys.set {
		p.fs.Usage()
		return errors.New("--key is required: the verifier key you keep (recallctl --data DIR audit key prints it)")
	}
	if *p.tenant != "" {
		if _, err := domain.ParseTenant(*p.tenant); err != nil {
			return fmt.Errorf("--tenant: %w", err)
		}
	}
	return nil
}

// answer reads a JSON answer from the file argument (- or none: stdin), or
// asks the server for it when --server is given and there is no file.
func answer(ctx context.Context, fs *flag.FlagSet, server, token, tenant, path string, q url.Values, v any) error {
	var body []byte
	var err error
	switch {
	case fs.NArg() > 1:
		return fmt.Errorf("unexpected argument %q", fs.Arg(1))
	case fs.NArg() == 1 && fs.Arg(0) != "-":
		body, err = os.ReadFile(fs.Arg(0))
	case fs.NArg() == 0 && server != "":
		if tenant == "" {
			return errors.New("--server needs --tenant ORG/APP")
		}
		body, _, err = remote(ctx, server, token, "/v1/"+tenant+path, q)
	default:
		body, err = io.ReadAll(os.Stdin)
	}
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("the answer is not JSON this command reads: %w", err)
	}
	return nil
}

func verifyInclusion(ctx context.Context, server, token string, args []string, stdout, stderr io.Writer) error {
	p := newProofFlags("audit verify-inclusion", stderr)
	seq := p.fs.Uint64("seq", 0, "with --server: the entry to prove")
	size := p.fs.Uint64("size", 0, "with --server: the signed tree size to prove it in (default: the latest)")
	if err := p.parse(args, stdout); err != nil {
		return err
	}
	q := url.Values{"seq": {strconv.FormatUint(*seq, 10)}}
	if *size > 0 {
		q.Set("size", strconv.FormatUint(*size, 10))
	}
	var a auditproof.InclusionAnswer
	if err := answer(ctx, p.fs, server, token, *p.tenant, "/audit/proof/inclusion", q, &a); err != nil {
		return err
	}
	c, err := a.Verify(p.keys.keys, *p.tenant)
	if err != nil {
		return fmt.Errorf("inclusion proof refused: %w", err)
	}
	return printJSON(stdout, map[string]any{"ok": true, "seq": a.Entry.Seq, "leaf_index": a.LeafIndex, "tree_size": c.Size,
		"origin": c.Origin, "root_hash": c.Root.String(), "record_hash": a.RecordHash.String(), "action": a.Entry.Action, "at": a.Entry.At})
}

// readCheckpoint reads a kept checkpoint: the signed note itself, or the
// JSON GET …/audit/checkpoint answers (its "checkpoint" member).
func readCheckpoint(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	if s := strings.TrimSpace(string(b)); strings.HasPrefix(s, "{") {
		var signed auditsign.Signed
		if err := json.Unmarshal(b, &signed); err != nil || signed.Checkpoint == "" {
			return "", fmt.Errorf("%s: not a checkpoint (%v)", path, err)
		}
		return signed.Checkpoint, nil
	}
	return string(b), nil
}

func verifyConsistency(ctx context.Context, server, token string, args []string, stdout, stderr io.Writer) error {
	p := newProofFlags("audit verify-consistency", stderr)
	old := p.fs.String("old", "", "a checkpoint you kept (its note, or GET …/audit/checkpoint's JSON): the proof must start from it")
	to := p.fs.Uint64("to", 0, "with --server: the later signed size (default: the latest)")
	if err := p.parse(args, stdout); err != nil {
		return err
	}
	var kept *auditproof.Checkpoint
	q := url.Values{}
	if *old != "" {
		signed, err := readCheckpoint(*old)
		if err != nil {
			return err
		}
		c, err := auditproof.OpenCheckpoint(signed, p.keys.keys, *p.tenant)
		if err != nil {
			return fmt.Errorf("--old: %w", err)
		}
		kept = &c
		q.Set("from", strconv.FormatUint(c.Size, 10))
	}
	if *to > 0 {
		q.Set("to", strconv.FormatUint(*to, 10))
	}
	if server != "" && p.fs.NArg() == 0 && kept == nil {
		return errors.New("--server needs --old: the checkpoint you kept is where the proof starts")
	}
	var a auditproof.ConsistencyAnswer
	if err := answer(ctx, p.fs, server, token, *p.tenant, "/audit/proof/consistency", q, &a); err != nil {
		return err
	}
	from, cur, err := a.Verify(p.keys.keys, *p.tenant)
	if err == nil && kept != nil && (from.Origin != kept.Origin || from.Size != kept.Size || from.Root != kept.Root) {
		// the proof starts from another tree of that size than the one kept
		err = auditproof.CheckConsistency(*kept, from, nil)
		if err == nil {
			err = fmt.Errorf("the proof starts from size %d of %s, not from the checkpoint kept (size %d of %s)", from.Size, from.Origin, kept.Size, kept.Origin)
		}
	}
	if err != nil {
		return fmt.Errorf("consistency refused: %w", err)
	}
	return printJSON(stdout, map[string]any{"ok": true, "origin": cur.Origin, "from": from.Size, "to": cur.Size, "from_root": from.Root.String(), "to_root": cur.Root.String()})
}

// writeFileWith writes path (0600) with write, and reports the close's
// error too: a full disk shows at the close.
func writeFileWith(path string, write func(io.Writer) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// exportFormat is an export file's format, from --format or its name.
func exportFormat(flagValue, path string) (string, error) {
	if flagValue != "" {
		return flagValue, nil
	}
	if f, ok := auditproof.FormatOf(path); ok {
		return f, nil
	}
	return "", fmt.Errorf("%s: say --format csv, jsonl or json", path)
}

// readExport reads what verify-export checks: a .zip as the server's
// verified export downloads (the file and its manifest inside), or the
// file with its manifest inside (json), named by --manifest, or beside it.
func readExport(file, format, manifestPath string) (auditproof.ExportFile, auditproof.Manifest, error) {
	var ex auditproof.ExportFile
	var m auditproof.Manifest
	data, err := os.ReadFile(file)
	if err != nil {
		return ex, m, err
	}
	if strings.EqualFold(filepath.Ext(file), ".zip") && format == "" {
		if ex, err = auditproof.ReadZip(data); err != nil {
			return ex, m, fmt.Errorf("%s: %w", file, err)
		}
	} else {
		if format, err = exportFormat(format, file); err != nil {
			return ex, m, err
		}
		ex = auditproof.ExportFile{Name: file, Format: format, Data: data}
		if format != "json" || manifestPath != "" {
			if manifestPath == "" {
				manifestPath = file + auditproof.ManifestSuffix
			}
			if ex.Manifest, err = os.ReadFile(manifestPath); err != nil {
				return ex, m, fmt.Errorf("manifest: %w", err)
			}
		}
	}
	if ex.Manifest != nil {
		err = json.Unmarshal(ex.Manifest, &m)
	} else {
		var whole struct {
			Manifest *auditproof.Manifest `json:"manifest"`
		}
		if err = json.Unmarshal(ex.Data, &whole); err == nil && whole.Manifest == nil {
			err = errors.New("the JSON export has no manifest")
		} else if err == nil {
			m = *whole.Manifest
		}
	}
	if err != nil {
		return ex, m, fmt.Errorf("manifest: %w", err)
	}
	return ex, m, nil
}

func verifyExport(ctx context.Context, server, token string, args []string, stdout, stderr io.Writer) error {
	p := newProofFlags("audit verify-export", stderr)
	format := p.fs.String("format", "", "csv, jsonl or json (default: from the file's name; a .zip is the server's verified export, file and manifest inside)")
	manifestPath := p.fs.String("manifest", "", "the manifest (default: inside a JSON export or the .zip, else FILE"+auditproof.ManifestSuffix+")")
	// FILE may come before the flags, as the README writes it
	var file string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		file, args = args[0], args[1:]
	}
	if err := p.parse(args, stdout); err != nil {
		return err
	}
	if file == "" && p.fs.NArg() == 1 {
		file = p.fs.Arg(0)
	} else if p.fs.NArg() > 0 || file == "" {
		p.fs.Usage()
		return errors.New("usage: recallctl " + doc("audit verify-export").synopsis)
	}
	ex, m, err := readExport(file, *format, *manifestPath)
	if err != nil {
		return err
	}
	if *p.tenant != "" && m.Tenant != *p.tenant {
		return fmt.Errorf("the export is of %s, not of %s", m.Tenant, *p.tenant)
	}
	rows, err := auditproof.ParseRows(ex.Format, ex.Data)
	if err != nil {
		return fmt.Errorf("%s: %w", ex.Name, err)
	}
	rep, err := auditproof.VerifyExport(m, rows, p.keys.keys)
	if err != nil {
		return fmt.Errorf("export refused: %w", err)
	}
	if server != "" {
		// the export is proven; now hold the log as it is today to it
		if err := stillInLog(ctx, server, token, m, rows, p.keys.keys); err != nil {
			return fmt.Errorf("the export verifies, but the log no longer matches it: %w", err)
		}
	}
	if err := printJSON(stdout, map[string]any{"ok": true, "report": rep, "compared_with_server": server != ""}); err != nil {
		return err
	}
	if !rep.Complete {
		return fmt.Errorf("every row verified, but the export stops before its last page (after cursor %d): it is not the whole filtered log", m.Pages[len(m.Pages)-1].Next)
	}
	return nil
}

func readJSONFile(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// witnessState is what `audit witness` keeps per log, in STATE/<origin
// with / as _>.json: the newest checkpoint it accepted and every one
// before, oldest first.
type witnessState struct {
	Origin  string   `json:"origin"`
	Latest  string   `json:"latest"`
	History []string `json:"history"`
}

func witnessPath(dir, origin string) string {
	return filepath.Join(dir, strings.NewReplacer("/", "_", string(os.PathSeparator), "_").Replace(origin)+".json")
}

func witness(ctx context.Context, server, token string, args []string, stdout, stderr io.Writer) error {
	p := newProofFlags("audit witness", stderr)
	state := p.fs.String("state", "", "directory where the witness keeps the checkpoints it has seen (required)")
	proofFile := p.fs.String("proof", "", "a consistency proof (GET …/audit/proof/consistency's JSON) from the last checkpoint seen to the new one; with --server it is fetched")
	if err := p.parse(args, stdout); err != nil {
		return err
	}
	if *state == "" {
		return errors.New("--state DIR is required: where the witness keeps what it has seen")
	}
	if err := os.MkdirAll(*state, 0o700); err != nil {
		return err
	}
	signed, err := witnessed(ctx, p, server, token)
	if err != nil {
		return err
	}
	next, err := auditproof.OpenCheckpoint(signed, p.keys.keys, *p.tenant)
	if err != nil {
		return fmt.Errorf("checkpoint refused: %w", err)
	}
	path := witnessPath(*state, next.Origin)
	var st witnessState
	if err := readJSONFile(path, &st); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("witness state %s: %w", path, err)
	}
	verdict := "first checkpoint of this log: kept"
	if st.Latest != "" {
		last, err := auditproof.OpenCheckpoint(st.Latest, p.keys.keys, "")
		if err != nil {
			return fmt.Errorf("witness state %s: its latest checkpoint: %w", path, err)
		}
		if verdict, err = extends(ctx, last, next, *proofFile, server, token); err != nil {
			return err
		}
	}
	if err := st.keep(path, next.Origin, signed); err != nil {
		return err
	}
	return printJSON(stdout, map[string]any{"ok": true, "origin": next.Origin, "size": next.Size, "root_hash": next.Root.String(), "verdict": verdict})
}

// witnessed is the signed checkpoint the witness is shown: the file named,
// or the server's latest.
func witnessed(ctx context.Context, p *proofFlags, server, token string) (string, error) {
	switch {
	case p.fs.NArg() == 1:
		return readCheckpoint(p.fs.Arg(0))
	case p.fs.NArg() == 0 && server != "":
		if *p.tenant == "" {
			return "", errors.New("--server needs --tenant ORG/APP")
		}
		var latest auditsign.Signed
		body, _, err := remote(ctx, server, token, "/v1/"+*p.tenant+"/audit/checkpoint", nil)
		if err == nil {
			err = json.Unmarshal(body, &latest)
		}
		return latest.Checkpoint, err
	default:
		p.fs.Usage()
		return "", errors.New("usage: recallctl " + doc("audit witness").synopsis)
	}
}

// extends checks that next extends last, the checkpoint seen before, with
// a consistency proof from the file or the server, and says so.
func extends(ctx context.Context, last, next auditproof.Checkpoint, proofFile, server, token string) (string, error) {
	var proof auditproof.ConsistencyAnswer
	if next.Size > last.Size {
		var err error
		switch {
		case proofFile != "":
			err = readJSONFile(proofFile, &proof)
		case server != "":
			var body []byte
			q := url.Values{"from": {strconv.FormatUint(last.Size, 10)}, "to": {strconv.FormatUint(next.Size, 10)}}
			if body, _, err = remote(ctx, server, token, "/v1/"+next.Tenant()+"/audit/proof/consistency", q); err == nil {
				err = json.Unmarshal(body, &proof)
			}
		default:
			err = fmt.Errorf("a consistency proof from size %d to %d is needed: give --proof FILE, or --server to fetch it", last.Size, next.Size)
		}
		if err != nil {
			return "", fmt.Errorf("checkpoint refused: no consistency proof from the checkpoint of size %d seen before: %w", last.Size, err)
		}
		if proof.From != last.Size || proof.To != next.Size {
			return "", fmt.Errorf("the proof is from %d to %d, not from %d to %d", proof.From, proof.To, last.Size, next.Size)
		}
	}
	if err := auditproof.CheckConsistency(last, next, proof.Proof); err != nil {
		return "", fmt.Errorf("checkpoint refused: it is not consistent with the checkpoint of size %d seen before: %w", last.Size, err)
	}
	if next.Size == last.Size {
		return "already seen", nil
	}
	return fmt.Sprintf("consistent with the checkpoint of size %d seen before: kept", last.Size), nil
}

// keep makes signed the latest checkpoint seen, the one before it history,
// and writes the state to path (a new file renamed over the old one).
func (st *witnessState) keep(path, origin, signed string) error {
	if st.Latest == signed {
		return nil
	}
	st.Origin = origin
	if st.Latest != "" {
		st.History = append(st.History, st.Latest)
	}
	st.Latest = signed
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// exportProven writes a verifiable export: the filtered log, page after
// page, each asked with proofs=true and the first page's size, written in
// format to out, and its manifest in the file (json) or beside it.
func exportProven(ctx context.Context, server, token, tenant string, q url.Values, format, out string, stderr io.Writer) error {
	if _, ok := auditproof.FormatOf("." + format); !ok {
		return fmt.Errorf("--format %s: want csv, jsonl or json", format)
	}
	rows, m, err := provenPages(ctx, server, token, tenant, q, stderr)
	if err != nil {
		return err
	}
	if err := writeFileWith(out, func(w io.Writer) error { return auditproof.WriteRows(w, format, rows, m) }); err != nil {
		return err
	}
	if format != "json" {
		if err := writeFileWith(out+auditproof.ManifestSuffix, func(w io.Writer) error { return auditproof.WriteManifest(w, format, m) }); err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "\rexported %d rows to %s, proven against the signed checkpoint of size %d\n", len(rows), out, m.TreeSize)
	return nil
}

// provenPages asks the filtered log page after page with proofs, every
// page against the first one's tree size, and merges their manifests.
func provenPages(ctx context.Context, server, token, tenant string, q url.Values, stderr io.Writer) ([]auditlog.Entry, auditproof.Manifest, error) {
	q.Set("format", "json")
	q.Set("proofs", "true")
	q.Set("limit", "1000")
	var m auditproof.Manifest
	var rows []auditlog.Entry
	for page := 0; ; page++ {
		body, _, err := remote(ctx, server, token, "/v1/"+tenant+"/audit", q)
		if err != nil {
			return nil, m, err
		}
		var p struct {
			auditlog.Page
			Manifest auditproof.Manifest `json:"manifest"`
		}
		if err := json.Unmarshal(body, &p); err != nil {
			return nil, m, fmt.Errorf("export page %d: %w", page+1, err)
		}
		rows = append(rows, p.Entries...)
		if page == 0 {
			m = p.Manifest
			q.Set("size", strconv.FormatUint(m.TreeSize, 10))
		} else if err := m.Merge(p.Manifest); err != nil {
			return nil, m, fmt.Errorf("export page %d: %w", page+1, err)
		}
		if p.NextCursor == 0 {
			return rows, m, nil
		}
		q.Set("cursor", strconv.FormatUint(p.NextCursor, 10))
		fmt.Fprintf(stderr, "\rexported %d rows", len(rows))
	}
}

// verifyStoredCheckpoints adds the check of the data directory's signed
// checkpoints (each still the tree's root at its size) to a verified
// chain, with the deployment's own verifier keys.
func verifyStoredCheckpoints(data string, rm projections.Store, tenant string, res auditlog.VerifyResult) (auditlog.VerifyResult, error) {
	key, err := auditsign.LoadKey(data)
	if errors.Is(err, auditsign.ErrNoKey) {
		return res, nil // a data directory from before checkpoints: nothing signed to check
	}
	if err != nil {
		return res, err
	}
	keys, err := auditproof.ParseKeys(strings.Join(key.VerifierKeys(), "\n"))
	if err != nil {
		return res, err
	}
	_, err = auditsign.VerifyStored(rm, keys, tenant)
	var p *auditproof.ProblemError
	switch {
	case errors.As(err, &p):
		res.OK, res.BrokenAt, res.Problem = false, p.Seq, p.Problem
	case err != nil:
		res.OK, res.Problem = false, err.Error()
	}
	return res, nil
}

// stillInLog holds the log a server serves today to an export verified
// before (say, last month's): each exported entry must still be there with
// the same record hash, unless retention removed it, and the latest
// signed checkpoint must extend the export's. The first entry that
// changed is named, whoever signed the log since: a log rewritten from
// the start and re-signed, with another key or a stolen one, is caught.
func stillInLog(ctx context.Context, server, token string, m auditproof.Manifest, rows []auditlog.Entry, keys auditproof.Keys) error {
	q, err := url.ParseQuery(m.Filter)
	if err != nil {
		return fmt.Errorf("the manifest's filter: %w", err)
	}
	q.Set("format", "json")
	q.Set("limit", "1000")
	now := map[uint64]auditlog.Entry{}
	last := uint64(0)
	if len(rows) > 0 {
		last = rows[len(rows)-1].Seq
	}
	for len(rows) > 0 {
		body, _, err := remote(ctx, server, token, "/v1/"+m.Tenant+"/audit", q)
		if err != nil {
			return err
		}
		var page auditlog.Page
		if err := json.Unmarshal(body, &page); err != nil {
			return err
		}
		for _, e := range page.Entries {
			now[e.Seq] = e
		}
		if page.NextCursor == 0 || page.NextCursor >= last {
			break
		}
		q.Set("cursor", strconv.FormatUint(page.NextCursor, 10))
	}
	gone := 0
	for _, e := range rows {
		cur, ok := now[e.Seq]
		switch {
		case !ok:
			gone++ // removed by retention, or deleted: the consistency check below tells
		case auditlog.RecordHash(cur) != auditlog.RecordHash(e):
			return &auditproof.ProblemError{Seq: e.Seq, Problem: "rewritten since the export: the server's entry no longer has the record hash the export proved"}
		}
	}
	old, err := auditproof.OpenCheckpoint(m.Checkpoint, keys, m.Tenant)
	if err != nil {
		return err
	}
	var a auditproof.ConsistencyAnswer
	body, _, err := remote(ctx, server, token, "/v1/"+m.Tenant+"/audit/proof/consistency", url.Values{"from": {strconv.FormatUint(old.Size, 10)}})
	if err == nil {
		err = json.Unmarshal(body, &a)
	}
	if err != nil {
		return fmt.Errorf("consistency with the export's checkpoint: %w", err)
	}
	from, _, err := a.Verify(keys, m.Tenant)
	if err == nil && from.Root != old.Root {
		err = fmt.Errorf("the server's checkpoint of size %d is not the one the export was proven against", old.Size)
	}
	if err != nil {
		return fmt.Errorf("the latest checkpoint does not extend the export's (%d entries no longer served): %w", gone, err)
	}
	return nil
}

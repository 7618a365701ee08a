package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/recallledger/recall/adapters/auditsign"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/projections/auditlog"
	"github.com/recallledger/recall/projections/auditlog/auditproof"
)

// Checkpoints is what the audit proof endpoints need of the checkpoint
// signer (auditsign.Signer).
type Checkpoints interface {
	SignNow(ctx context.Context, tenant string) (auditsign.Signed, bool, error)
	Latest(tenant string) (auditsign.Signed, bool, error)
	At(tenant string, size uint64) (auditsign.Signed, bool, error)
	SignStatement(text string) (string, error)
	Keys() (auditproof.Keys, error)
}

func (s *Server) proofsMissing(w http.ResponseWriter) bool {
	if s.readSideMissing(w) {
		return true
	}
	if s.readModels.Checkpoints == nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "audit checkpoints are not signed by this process")
		return true
	}
	return false
}

// sizeParam reads an optional tree size: 0 when absent.
func sizeParam(q url.Values, name string) (uint64, error) {
	v := q.Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n == 0 {
		return 0, &domain.InvalidError{Code: "invalid_" + name, Msg: name + ": want a tree size, 1 or more"}
	}
	return n, nil
}

// signedAt returns the checkpoint of size (the latest when 0). A size
// that was never signed is not found: proofs name signed sizes only.
func (s *Server) signedAt(tenant string, size uint64) (auditsign.Signed, error) {
	cps := s.readModels.Checkpoints
	var cp auditsign.Signed
	var found bool
	var err error
	if size == 0 {
		cp, found, err = cps.Latest(tenant)
	} else {
		cp, found, err = cps.At(tenant, size)
	}
	switch {
	case err != nil:
		return cp, err
	case !found && size == 0:
		return cp, &domain.NotFoundError{What: "a signed checkpoint (none yet: the audit log is signed every few entries or seconds, and an admin may POST …/audit/checkpoint)"}
	case !found:
		return cp, &domain.NotFoundError{What: fmt.Sprintf("a checkpoint of size %d (only signed sizes can be proven against; GET …/audit/checkpoint names the latest)", size)}
	}
	return cp, nil
}

// covering returns the checkpoint of size, or when size is 0 the latest,
// signed now if it does not cover entry seq yet.
func (s *Server) covering(ctx context.Context, tenant string, size, seq uint64) (auditsign.Signed, error) {
	if size != 0 {
		return s.signedAt(tenant, size)
	}
	cp, found, err := s.readModels.Checkpoints.Latest(tenant)
	if err != nil {
		return cp, err
	}
	if found {
		tree, err := auditlog.Tree(s.readModels.Store, tenant)
		if err != nil {
			return cp, err
		}
		if seq <= tree.Base+cp.Size {
			return cp, nil
		}
	}
	cp, found, err = s.readModels.Checkpoints.SignNow(ctx, tenant)
	if err == nil && !found {
		err = &domain.NotFoundError{What: "an audit entry to prove (the audit log is empty)"}
	}
	return cp, err
}

func (s *Server) getCheckpoint(w http.ResponseWriter, r *http.Request, c caller) {
	if s.proofsMissing(w) {
		return
	}
	size, err := sizeParam(r.URL.Query(), "size")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	cp, err := s.signedAt(c.Tenant.String(), size)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, cp)
}

func (s *Server) postCheckpoint(w http.ResponseWriter, r *http.Request, c caller) {
	if s.proofsMissing(w) {
		return
	}
	cp, found, err := s.readModels.Checkpoints.SignNow(r.Context(), c.Tenant.String())
	if err == nil && !found {
		err = &domain.NotFoundError{What: "an audit entry to sign (the audit log is empty)"}
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, cp)
}

// recordAuditRead audits a proof, verification or export request, like a query:
// the answer waits until it is recorded.
func (s *Server) recordAuditRead(r *http.Request, c caller, format string, results int) error {
	return s.ledger.RecordAuditQuery(r.Context(), c.Tenant, domain.AuditQueried{
		Viewer: c.viewer(), Query: r.URL.Query().Encode(), Format: format, Results: results,
	})
}

func (s *Server) inclusionProof(w http.ResponseWriter, r *http.Request, c caller) {
	if s.proofsMissing(w) {
		return
	}
	q := r.URL.Query()
	seq, err := strconv.ParseUint(q.Get("seq"), 10, 64)
	if err != nil || seq == 0 {
		writeError(w, http.StatusBadRequest, "invalid_seq", "seq: want an audit entry's seq, 1 or more")
		return
	}
	size, err := sizeParam(q, "size")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	tenant := c.Tenant.String()
	cp, err := s.covering(r.Context(), tenant, size, seq)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	inc, err := auditlog.ProveInclusion(s.readModels.Store, tenant, seq, cp.Size)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.recordAuditRead(r, c, "inclusion_proof", 1); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, auditproof.InclusionAnswer{
		Entry: inc.Entry, LeafIndex: inc.LeafIndex, RecordHash: inc.RecordHash, TreeSize: cp.Size, Proof: inc.Proof, Checkpoint: cp.Checkpoint,
	})
}

func (s *Server) consistencyProof(w http.ResponseWriter, r *http.Request, c caller) {
	if s.proofsMissing(w) {
		return
	}
	q := r.URL.Query()
	from, err := sizeParam(q, "from")
	if err == nil && from == 0 {
		err = &domain.InvalidError{Code: "invalid_from", Msg: "from: want the size of a checkpoint you kept"}
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	to, err := sizeParam(q, "to")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	tenant := c.Tenant.String()
	old, err := s.signedAt(tenant, from)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	cur, err := s.signedAt(tenant, to)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	proof, err := auditlog.ProveConsistency(s.readModels.Store, tenant, old.Size, cur.Size)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.recordAuditRead(r, c, "consistency_proof", 1); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, auditproof.ConsistencyAnswer{From: old.Size, To: cur.Size, Proof: proof, FromCheckpoint: old.Checkpoint, ToCheckpoint: cur.Checkpoint})
}

// exportFilter is the filter of an audit request as the export statement
// names it: the filter parameters only, sorted (url.Values.Encode).
func exportFilter(q url.Values) string {
	f := url.Values{}
	for _, name := range []string{"from", "to", "actor", "conversation_id", "msg_id", "action", "outcome"} {
		if v := q.Get(name); v != "" {
			f.Set(name, v)
		}
	}
	return f.Encode()
}

// provenPage is GET …/audit?proofs=true's body: a page with its manifest.
type provenPage struct {
	auditlog.Page
	Manifest auditproof.Manifest `json:"manifest"`
}

// auditProven serves a page of the audit log with its manifest: the rows'
// record hashes, their multiproof against one signed checkpoint, and the
// server's signed statement of the page. The first page (no size) is
// proven against a checkpoint signed now if the latest does not cover the
// log; later pages name its size, and stop at the entries it covers, so
// every page of one export proves against the same checkpoint.
func (s *Server) auditProven(w http.ResponseWriter, r *http.Request, c caller, f auditlog.Filter, format string) {
	if s.proofsMissing(w) {
		return
	}
	if format != "json" {
		writeError(w, http.StatusBadRequest, "invalid_format", "proofs=true comes with format=json (GET …/audit/export, or recallctl audit export, gives csv and jsonl with their manifest)")
		return
	}
	q := r.URL.Query()
	size, err := sizeParam(q, "size")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	page, m, err := s.provePage(r.Context(), c.Tenant.String(), f, size, exportFilter(q))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.recordAuditRead(r, c, "json+proofs", len(page.Entries)); err != nil {
		s.fail(w, r, err)
		return
	}
	if page.NextCursor != 0 {
		w.Header().Set("X-Next-Cursor", strconv.FormatUint(page.NextCursor, 10))
	}
	writeJSON(w, http.StatusOK, provenPage{Page: page, Manifest: m})
}

// provePage is one page of the filtered log and its manifest, proven
// against the checkpoint of size (0: the latest covering the log, signed
// now if need be).
func (s *Server) provePage(ctx context.Context, tenant string, f auditlog.Filter, size uint64, filter string) (auditlog.Page, auditproof.Manifest, error) {
	tree, err := auditlog.Tree(s.readModels.Store, tenant)
	if err != nil {
		return auditlog.Page{}, auditproof.Manifest{}, err
	}
	cp, err := s.covering(ctx, tenant, size, tree.Base+tree.Size)
	if err != nil {
		return auditlog.Page{}, auditproof.Manifest{}, err
	}
	f.UpTo = tree.Base + cp.Size
	page, err := auditlog.Query(s.readModels.Store, tenant, f)
	if err != nil {
		return auditlog.Page{}, auditproof.Manifest{}, err
	}
	mp := auditproof.ManifestPage{After: f.After, Next: page.NextCursor}
	leaves := make([]uint64, len(page.Entries))
	for i, e := range page.Entries {
		mp.Rows = append(mp.Rows, auditproof.ManifestRowOf(e))
		leaves[i] = e.Seq - tree.Base - 1
	}
	if mp.Statement, err = s.readModels.Checkpoints.SignStatement(auditproof.StatementText(auditproof.Checkpoint{Origin: cp.Origin, Size: cp.Size, Root: cp.Root}, filter, mp)); err != nil {
		return auditlog.Page{}, auditproof.Manifest{}, err
	}
	hashes, err := auditlog.ProofHashes(s.readModels.Store, tenant, cp.Size, leaves)
	if err != nil {
		return auditlog.Page{}, auditproof.Manifest{}, err
	}
	return page, auditproof.Manifest{
		Format: auditproof.ManifestFormat, Tenant: tenant, Filter: filter, TreeSize: cp.Size, TreeBase: tree.Base,
		Checkpoint: cp.Checkpoint, Pages: []auditproof.ManifestPage{mp}, Hashes: auditproof.HashesFor(hashes),
	}, nil
}

// maxExportRows bounds one verified export over HTTP: it is built in
// memory before it is sent, so that a failure is an error answer rather
// than a cut download. recallctl audit export has no such bound.
const maxExportRows = 100_000

// auditExport serves GET …/audit/export: the filtered log as one verified
// export, every page proven against one signed checkpoint, as a zip
// archive holding the file (csv, jsonl or json) and its manifest — what
// `recallctl audit export` writes, and what `recallctl audit
// verify-export` checks, the archive itself or unzipped.
func (s *Server) auditExport(w http.ResponseWriter, r *http.Request, c caller) {
	if s.readSideMissing(w) || s.proofsMissing(w) {
		return
	}
	q := r.URL.Query()
	for _, name := range []string{"cursor", "limit", "proofs", "size"} {
		if q.Has(name) {
			writeError(w, http.StatusBadRequest, "invalid_"+name, name+": an export is the whole filtered log; it takes only the filter and format")
			return
		}
	}
	format := q.Get("format")
	if format == "" {
		format = "csv"
	}
	if _, ok := auditproof.FormatOf("." + format); !ok {
		writeError(w, http.StatusBadRequest, "invalid_format", "format: want csv, jsonl or json")
		return
	}
	q.Del("format")
	f, _, err := auditFilter(q)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rows, m, err := s.proveAll(r.Context(), c.Tenant.String(), f, exportFilter(r.URL.Query()))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.recordAuditRead(r, c, format+"+manifest", len(rows)); err != nil {
		s.fail(w, r, err)
		return
	}
	name := fmt.Sprintf("audit-%s-%s-%d", c.Tenant.Org(), c.Tenant.App(), m.TreeSize)
	var buf bytes.Buffer
	if err := auditproof.WriteZip(&buf, name, format, time.Now(), rows, m); err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.zip"`)
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	_, err = w.Write(buf.Bytes())
	s.responseCut(r, err)
}

// proveAll pages through the filtered log as a client would, every page
// proven against the first page's checkpoint, and merges the manifests.
func (s *Server) proveAll(ctx context.Context, tenant string, f auditlog.Filter, filter string) ([]auditlog.Entry, auditproof.Manifest, error) {
	f.Limit = 1000
	var rows []auditlog.Entry
	var m auditproof.Manifest
	for first := true; ; first = false {
		page, pm, err := s.provePage(ctx, tenant, f, m.TreeSize, filter)
		if err != nil {
			return nil, m, err
		}
		if first {
			m = pm
		} else if err := m.Merge(pm); err != nil {
			return nil, m, err
		}
		if rows = append(rows, page.Entries...); len(rows) > maxExportRows {
			return nil, m, &domain.InvalidError{Code: "export_too_large", Msg: fmt.Sprintf("the filter matches over %d rows: narrow it (from, to, action…), or use recallctl audit export, which has no bound", maxExportRows)}
		}
		if page.NextCursor == 0 {
			return rows, m, nil
		}
		f.After = page.NextCursor
	}
}

// verifiedLog is GET …/audit/verify's body with checkpoints: the chain and
// tree check, and every signed checkpoint checked against the tree.
type verifiedLog struct {
	auditlog.VerifyResult
	CheckpointsChecked int `json:"checkpoints_checked"`
}

// verifyCheckpoints adds the stored checkpoints' check to res: a tree that
// no longer matches a checkpoint it was signed at breaks the log too.
func (s *Server) verifyCheckpoints(tenant string, res auditlog.VerifyResult) (verifiedLog, error) {
	keys, err := s.readModels.Checkpoints.Keys()
	if err != nil {
		return verifiedLog{}, err
	}
	n, err := auditsign.VerifyStored(s.readModels.Store, keys, tenant)
	out := verifiedLog{VerifyResult: res, CheckpointsChecked: n}
	var p *auditproof.ProblemError
	switch {
	case err == nil:
	case errors.As(err, &p) && res.OK:
		out.OK, out.BrokenAt, out.Problem = false, p.Seq, p.Problem
	case res.OK:
		out.OK, out.Problem = false, err.Error()
	}
	return out, nil
}

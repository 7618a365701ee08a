package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/recallledger/recall/adapters/auditsign"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/projections/auditlog"
	"github.com/recallledger/recall/projections/auditlog/auditproof"
)

func (r *rig) verifierKeys() auditproof.Keys {
	r.t.Helper()
	keys, err := r.signer.Keys()
	if err != nil {
		r.t.Fatal(err)
	}
	return keys
}

// decodeOK fails the test unless status is 200, then decodes body into v.
func decodeOK(t *testing.T, what string, status int, body []byte, v any) {
	t.Helper()
	if status != http.StatusOK {
		t.Fatalf("%s: %d %s", what, status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("%s: %v in %s", what, err, body)
	}
}

func TestAuditProofEndpointsAnswerWhatTheVerifierAccepts(t *testing.T) {
	r := newRig(t)
	for i := 0; i < 5; i++ {
		r.send("alice", "bob", "chat", fmt.Sprintf("message %d", i))
	}
	r.feed()
	keys := r.verifierKeys()
	var first auditsign.Signed
	status, body := r.do("POST", domain.AccessAdmin, "/audit/checkpoint")
	decodeOK(t, "sign on request", status, body, &first)
	if first.Size != 5 || first.Origin != "test-deployment/acme/chat" {
		t.Fatalf("checkpoint %+v", first)
	}
	var latest auditsign.Signed
	status, body = r.get(domain.AccessAuditor, "/audit/checkpoint")
	decodeOK(t, "latest", status, body, &latest)
	if latest.Checkpoint != first.Checkpoint {
		t.Fatal("GET checkpoint is not the one just signed")
	}
	for seq := 1; seq <= 5; seq++ {
		var a auditproof.InclusionAnswer
		status, body := r.get(domain.AccessAuditor, fmt.Sprintf("/audit/proof/inclusion?seq=%d&size=5", seq))
		decodeOK(t, "inclusion", status, body, &a)
		c, err := a.Verify(keys, "acme/chat")
		if err != nil || c.Size != 5 || a.Entry.Seq != uint64(seq) {
			t.Fatalf("entry %d: %v %+v", seq, err, c)
		}
		if err := tlog.CheckRecord(a.Proof, 5, first.Root, int64(a.LeafIndex), tlog.RecordHash(auditlog.AppendCanonical(nil, a.Entry))); err != nil {
			t.Fatalf("entry %d by tlog.CheckRecord: %v", seq, err)
		}
	}
	// the five proof requests are audit entries 6-10; a proof of entry 10
	// without a size is against a checkpoint signed for it
	r.feed()
	var a auditproof.InclusionAnswer
	status, body = r.get(domain.AccessAuditor, "/audit/proof/inclusion?seq=10")
	decodeOK(t, "inclusion of a new entry", status, body, &a)
	if a.TreeSize < 10 || a.Entry.Action != auditlog.ActionAudit || !strings.Contains(a.Entry.Detail, "format=inclusion_proof") {
		t.Fatalf("entry 10: size %d, %+v", a.TreeSize, a.Entry)
	}
	if _, err := a.Verify(keys, "acme/chat"); err != nil {
		t.Fatal(err)
	}
	var cons auditproof.ConsistencyAnswer
	status, body = r.get(domain.AccessAuditor, "/audit/proof/consistency?from=5")
	decodeOK(t, "consistency", status, body, &cons)
	from, to, err := cons.Verify(keys, "acme/chat")
	if err != nil || from.Size != 5 || to.Size != a.TreeSize {
		t.Fatalf("consistency %d→%d: %v", from.Size, to.Size, err)
	}
	if err := tlog.CheckTree(cons.Proof, int64(to.Size), to.Root, 5, first.Root); err != nil {
		t.Fatalf("by tlog.CheckTree: %v", err)
	}
	r.feed()
	page, err := auditlog.Query(r.rm, "acme/chat", auditlog.Filter{Action: auditlog.ActionAudit, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Entries) != 7 || !strings.Contains(page.Entries[6].Detail, "format=consistency_proof") {
		t.Fatalf("proof requests audited: %d entries, last %+v", len(page.Entries), page.Entries[len(page.Entries)-1])
	}
}

func TestAuditProofRequestsWithBadParametersGetClearErrors(t *testing.T) {
	r := newRig(t)
	r.send("alice", "bob", "chat", "one")
	r.send("alice", "bob", "chat", "two")
	r.feed()
	if status, body := r.get(domain.AccessAuditor, "/audit/checkpoint"); status != http.StatusNotFound || !strings.Contains(string(body), "none yet") {
		t.Fatalf("checkpoint before any is signed: %d %s", status, body)
	}
	if status, body := r.do("POST", domain.AccessAdmin, "/audit/checkpoint"); status != http.StatusOK {
		t.Fatalf("sign: %d %s", status, body)
	}
	cases := []struct {
		name   string
		method string
		role   domain.AccessRole
		path   string
		status int
		code   string
	}{
		{"seq missing", "GET", domain.AccessAuditor, "/audit/proof/inclusion", 400, "invalid_seq"},
		{"seq not a number", "GET", domain.AccessAuditor, "/audit/proof/inclusion?seq=x", 400, "invalid_seq"},
		{"seq 0", "GET", domain.AccessAuditor, "/audit/proof/inclusion?seq=0", 400, "invalid_seq"},
		{"size 0", "GET", domain.AccessAuditor, "/audit/proof/inclusion?seq=1&size=0", 400, "invalid_size"},
		{"size never signed", "GET", domain.AccessAuditor, "/audit/proof/inclusion?seq=1&size=1", 404, "not_found"},
		{"seq past the size", "GET", domain.AccessAuditor, "/audit/proof/inclusion?seq=3&size=2", 400, "invalid_seq"},
		{"from missing", "GET", domain.AccessAuditor, "/audit/proof/consistency", 400, "invalid_from"},
		{"from never signed", "GET", domain.AccessAuditor, "/audit/proof/consistency?from=1", 404, "not_found"},
		{"to not a number", "GET", domain.AccessAuditor, "/audit/proof/consistency?from=2&to=-1", 400, "invalid_to"},
		{"checkpoint size never signed", "GET", domain.AccessAuditor, "/audit/checkpoint?size=1", 404, "not_found"},
		{"the service token", "GET", domain.AccessService, "/audit/checkpoint", 403, "forbidden_role"},
		{"the auditor cannot sign", "POST", domain.AccessAuditor, "/audit/checkpoint", 403, "forbidden_role"},
		{"proofs with csv", "GET", domain.AccessAuditor, "/audit?format=csv&proofs=true", 400, "invalid_format"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := r.do(c.method, c.role, c.path)
			var e apiError
			_ = json.Unmarshal(body, &e)
			if status != c.status || e.Error != c.code || e.Message == "" {
				t.Fatalf("%d %s; want %d %s", status, body, c.status, c.code)
			}
		})
	}
}

func TestAuditPagesWithProofsMakeAnExportTheVerifierAccepts(t *testing.T) {
	r := newRig(t)
	for i := 0; i < 7; i++ {
		r.send("alice", "bob", "chat", fmt.Sprintf("=SUM(A%d)", i)) // a formula, neutralised in CSV
	}
	r.feed()
	var m auditproof.Manifest
	var rows []auditlog.Entry
	size, cursor := "", ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("no last page")
		}
		var p provenPage
		status, body := r.get(domain.AccessAuditor, "/audit?action=send&limit=3&format=json&proofs=true"+size+cursor)
		decodeOK(t, "proven page", status, body, &p)
		rows = append(rows, p.Entries...)
		if pages == 0 {
			m = p.Manifest
			size = fmt.Sprintf("&size=%d", m.TreeSize)
		} else if err := m.Merge(p.Manifest); err != nil {
			t.Fatal(err)
		}
		if p.NextCursor == 0 {
			break
		}
		cursor = fmt.Sprintf("&cursor=%d", p.NextCursor)
		r.send("carol", "dave", "chat", "after the export began") // not in the export: beyond its checkpoint
		r.feed()
	}
	if len(m.Pages) != 3 || len(rows) != 7 {
		t.Fatalf("%d pages, %d rows", len(m.Pages), len(rows))
	}
	rep, err := auditproof.VerifyExport(m, rows, r.verifierKeys())
	if err != nil || rep.Rows != 7 || !rep.Complete || rep.Content != 7 || rep.Filter != "action=send" {
		t.Fatalf("export: %+v %v", rep, err)
	}
	// the export requests are audited
	r.feed()
	page, _ := auditlog.Query(r.rm, "acme/chat", auditlog.Filter{Action: auditlog.ActionAudit, Limit: 10})
	if len(page.Entries) != 3 || !strings.Contains(page.Entries[0].Detail, "format=json+proofs") {
		t.Fatalf("export pages audited: %+v", page.Entries)
	}
}

// The verified export is one download: every row the filter matches, over
// as many internal pages as it takes, proven against one signed
// checkpoint, as a zip the offline verifier accepts in each format — and
// refuses once a cell is changed.
func TestVerifiedExportIsOneZipOfEveryMatchingRowProvenAgainstOneCheckpoint(t *testing.T) {
	r := newRig(t)
	const sends = 1050 // more than one internal page of 1000
	for i := 0; i < sends; i++ {
		r.send("alice", "bob", "chat", fmt.Sprintf("=SUM(A%d)", i))
	}
	r.send("carol", "dave", "chat", "not alice's")
	r.feed()
	for _, format := range []string{"csv", "jsonl", "json"} {
		status, body := r.get(domain.AccessAuditor, "/audit/export?action=send&actor=alice&format="+format)
		if status != 200 {
			t.Fatalf("%s export: %d %s", format, status, body)
		}
		ex, err := auditproof.ReadZip(body)
		if err != nil || ex.Format != format {
			t.Fatalf("%s export: %+v %v", format, ex.Name, err)
		}
		var m auditproof.Manifest
		if ex.Manifest == nil { // json: the manifest is inside
			var whole struct {
				Manifest auditproof.Manifest `json:"manifest"`
			}
			err = json.Unmarshal(ex.Data, &whole)
			m = whole.Manifest
		} else {
			err = json.Unmarshal(ex.Manifest, &m)
		}
		if err != nil {
			t.Fatal(err)
		}
		rows, err := auditproof.ParseRows(format, ex.Data)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := auditproof.VerifyExport(m, rows, r.verifierKeys())
		if err != nil || rep.Rows != sends || !rep.Complete || len(m.Pages) != 2 {
			t.Fatalf("%s export: %+v, %d pages, %v", format, rep, len(m.Pages), err)
		}
		if format == "csv" {
			changed := strings.Replace(string(ex.Data), "alice", "mallory", 1)
			rows, err := auditproof.ParseRows(format, []byte(changed))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := auditproof.VerifyExport(m, rows, r.verifierKeys()); err == nil || !strings.Contains(err.Error(), "row 1") {
				t.Errorf("a changed cell: %v, want the first row named", err)
			}
		}
	}
	r.feed()
	page, _ := auditlog.Query(r.rm, "acme/chat", auditlog.Filter{Action: auditlog.ActionAudit, Limit: 10})
	if len(page.Entries) != 3 || !strings.Contains(page.Entries[0].Detail, "format=csv+manifest results=1050") {
		t.Fatalf("exports audited: %+v", page.Entries)
	}
	for _, bad := range []struct{ query, code string }{
		{"format=xml", "invalid_format"},
		{"cursor=3", "invalid_cursor"},
		{"limit=10", "invalid_limit"},
		{"proofs=true", "invalid_proofs"},
		{"action=nope", "invalid_action"},
	} {
		status, body := r.get(domain.AccessAuditor, "/audit/export?"+bad.query)
		if status != 400 || !strings.Contains(string(body), `"`+bad.code+`"`) {
			t.Errorf("%s: %d %s, want 400 %s", bad.query, status, body, bad.code)
		}
	}
	if status, _ := r.get(domain.AccessService, "/audit/export"); status != 403 {
		t.Errorf("a service token exports the audit log: %d", status)
	}
}

// Verifying the log reads every entry: it is recorded like a search, under
// the caller, before the answer.
func TestAuditVerificationIsItselfAudited(t *testing.T) {
	r := newRig(t)
	r.send("alice", "bob", "chat", "hello")
	r.feed()
	status, body := r.get(domain.AccessAuditor, "/audit/verify")
	if status != 200 || !strings.Contains(string(body), `"ok":true`) {
		t.Fatalf("verify: %d %s", status, body)
	}
	r.feed()
	page, _ := auditlog.Query(r.rm, "acme/chat", auditlog.Filter{Action: auditlog.ActionAudit, Limit: 10})
	if len(page.Entries) != 1 || page.Entries[0].Actor != "auditor" || !strings.Contains(page.Entries[0].Detail, "format=verify results=1") {
		t.Fatalf("the verification in the audit log: %+v", page.Entries)
	}
}

package httpapi

import (
	"net/http"
	"net/url"
	"time"

	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/projections/recallhistory"
)

// simulateRequest is a what-if: a whole policy as PUT takes it (its
// read-only version, if sent back, is ignored) and a period.
type simulateRequest struct {
	Policy *policyBody `json:"policy"`
	From   string      `json:"from"`
	To     string      `json:"to"`
}

type simulateResponse struct {
	From        domain.Time         `json:"from"`
	To          domain.Time         `json:"to"`
	Attempts    int                 `json:"attempts"`
	Changed     int                 `json:"changed"`
	Transitions []domain.Transition `json:"transitions"`
}

// simulatePolicy replays the recall attempts recorded in [from, to)
// against a proposed policy with the live decider (domain.DecideRecall)
// and answers how many outcomes would change, and which. Nothing is
// written but the audit of the request.
func (s *Server) simulatePolicy(w http.ResponseWriter, r *http.Request, c caller) {
	if s.readSideMissing(w) {
		return
	}
	var req simulateRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if req.Policy == nil {
		writeError(w, http.StatusBadRequest, "invalid_body", `field "policy": required, the whole policy as PUT takes it`)
		return
	}
	p, err := domain.NewPolicy(req.Policy.PolicySpec)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var from, to time.Time
	for _, f := range []struct {
		name, value string
		dst         *time.Time
	}{{"from", req.From, &from}, {"to", req.To, &to}} {
		t, err := time.Parse(time.RFC3339Nano, f.value)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid_"+f.name, f.name+": want RFC 3339, e.g. 2026-11-24T10:00:00Z")
			return
		}
		*f.dst = t
	}
	cur, err := s.ledger.Policy(r.Context(), c.Tenant)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p.Version = cur.Version + 1 // what it would be if saved
	sim, err := recallhistory.Simulate(s.readModels.Store, c.Tenant.String(), p, from, to)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.ledger.RecordAuditQuery(r.Context(), c.Tenant, domain.AuditQueried{
		Viewer: c.viewer(), Query: url.Values{"from": {req.From}, "to": {req.To}}.Encode(), Format: "simulate", Results: sim.Attempts,
	}); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, simulateResponse{From: domain.NewTime(from), To: domain.NewTime(to), Attempts: sim.Attempts,
		Changed: sim.Changed, Transitions: sim.Transitions()})
}

package httpapi

import (
	"net/http"
	"net/url"

	"github.com/recallledger/recall/domain"
)

// messageHistory answers a message's events, in stream order, as schema
// v1 carries them: the whole story behind the console's message page.
// Content is shown as the tenant's feed_content lets it out, and not at
// all (its hash kept) for a recalled message when the tenant does not
// keep recalled content. The read is itself audited, under the caller's
// name.
func (s *Server) messageHistory(w http.ResponseWriter, r *http.Request, c caller) {
	id, err := domain.ParseMsgID(r.PathValue("msg_id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	evs, err := s.ledger.Store().ReadStream(r.Context(), domain.MessageStream(c.Tenant, id))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if len(evs) == 0 {
		writeError(w, http.StatusNotFound, "message_not_found", "message "+string(id)+" is not in this tenant's log")
		return
	}
	p, err := s.ledger.Policy(r.Context(), c.Tenant)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	recalled := false
	for _, e := range evs {
		_, ok := e.Data.(domain.MessageRecalled)
		recalled = recalled || ok
	}
	// an audit read: content from the audit copy, which a recall leaves
	// while the tenant keeps recalled content
	redactor := s.ledger.AuditRedactor()
	for i, e := range evs {
		if e, _, err = redactor.Redact(r.Context(), e); err != nil {
			s.fail(w, r, err)
			return
		}
		if recalled && !p.AuditKeepsRecalledContent {
			e, _ = domain.RedactForFeed(e, domain.FeedSHA256.Stricter(p.FeedContent))
		}
		evs[i] = e
	}
	if err := s.ledger.RecordAuditQuery(r.Context(), c.Tenant, domain.AuditQueried{
		Viewer: c.viewer(), Query: url.Values{"msg_id": {string(id)}}.Encode(), Format: "history", Results: len(evs),
	}); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, evs)
}

// policyVersion is one version of the tenant's policy in its history.
type policyVersion struct {
	Version   int64                      `json:"version"`
	ChangedBy string                     `json:"changed_by"`
	At        domain.Time                `json:"at"`
	Changes   []domain.PolicyFieldChange `json:"changes"`
	Policy    domain.Policy              `json:"policy"`
}

// policyHistory answers every version of the tenant's policy, oldest
// first, with who changed it, when, and what changed (old → new; null
// for versions recorded before changes were).
func (s *Server) policyHistory(w http.ResponseWriter, r *http.Request, c caller) {
	evs, err := s.ledger.Store().ReadStream(r.Context(), domain.TenantStream(c.Tenant))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := []policyVersion{}
	for _, e := range evs {
		set, ok := e.Data.(domain.TenantPolicySet)
		if !ok {
			continue
		}
		out = append(out, policyVersion{Version: set.Version, ChangedBy: set.ChangedBy, At: e.OccurredAt, Changes: set.Changes, Policy: set.Policy})
	}
	if err := s.ledger.RecordAuditQuery(r.Context(), c.Tenant, domain.AuditQueried{
		Viewer: c.viewer(), Query: "policy_history", Format: "history", Results: len(out),
	}); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

package httpapi

import (
	"net/http"
	"net/url"
	"time"

	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/projections/asof"
)

// conversationAsOf serves GET …/conversations/{id}/messages?viewer=&as_of=
// for an auditor: the conversation exactly as the viewer saw it at as_of,
// replayed from the log (projections/asof). Every such view is audited
// under the operator's name (or the token's role) before it is answered.
func (s *Server) conversationAsOf(w http.ResponseWriter, r *http.Request, c caller, asOfParam string) {
	at, err := time.Parse(time.RFC3339Nano, asOfParam)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_as_of", "as_of: want RFC 3339, e.g. 2026-11-24T10:00:00.120Z")
		return
	}
	if at.After(s.ledger.Now()) {
		writeError(w, http.StatusBadRequest, "invalid_as_of", "as_of: in the future; what a viewer will see is not recorded yet")
		return
	}
	conv, viewer, locale, ok := s.viewerParams(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	limit, ok := conversationLimit(w, r)
	if !ok {
		return
	}
	p, err := s.ledger.Policy(r.Context(), c.Tenant)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v, err := asof.Build(r.Context(), s.ledger.Store(), s.readModels.Store, s.opener(), s.ledger, asof.Request{
		Tenant: c.Tenant, ConversationID: conv, Viewer: string(viewer), Locale: locale, Cursor: q.Get("cursor"),
		Limit: limit, At: at, Retention: p.MessageRetention(),
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	what := url.Values{"conversation_id": {conv}, "viewer": {string(viewer)}, "as_of": {v.AsOf.String()}}
	if cur := q.Get("cursor"); cur != "" {
		what.Set("cursor", cur)
	}
	if err := s.ledger.RecordAuditQuery(r.Context(), c.Tenant, domain.AuditQueried{
		Viewer: c.viewer(), Query: what.Encode(), Format: "as_of", Results: len(v.Messages),
	}); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

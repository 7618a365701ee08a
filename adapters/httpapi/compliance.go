package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/recallledger/recall/domain"
)

// Legal holds (admin; the list: auditor too) and erasure requests
// (admin). Each is recorded as events under the caller's name; the
// Compliance port (adapters/erasure) carries erasures out and resumes the
// ones a hold deferred when it is released.

// Compliance is what the hold and erasure routes need. recalld gives
// adapters/erasure's Service.
type Compliance interface {
	PlaceHold(ctx context.Context, t domain.Tenant, cmd domain.PlaceHold) (domain.Hold, error)
	ReleaseHold(ctx context.Context, t domain.Tenant, id, reason, by string) (domain.Hold, []domain.Erasure, error)
	Holds(ctx context.Context, t domain.Tenant) (domain.Holds, error)
	Request(ctx context.Context, t domain.Tenant, cmd domain.ErasureCommand) (domain.Erasure, bool, error)
	Erasure(ctx context.Context, t domain.Tenant, id string) (domain.Erasure, error)
}

func (s *Server) complianceMissing(w http.ResponseWriter) bool {
	if s.cfg.Compliance == nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "legal holds and erasures are not served by this process")
		return true
	}
	return false
}

type holdRequest struct {
	Scope  string     `json:"scope"`
	ID     string     `json:"id"`
	From   *time.Time `json:"from"`
	To     *time.Time `json:"to"`
	Case   string     `json:"case"`
	Reason string     `json:"reason"`
}

func (s *Server) placeHold(w http.ResponseWriter, r *http.Request, c caller) {
	if s.complianceMissing(w) {
		return
	}
	var req holdRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	cmd, err := domain.NewPlaceHold(c.Tenant, uuid.NewString(), req.Scope, req.ID, req.From, req.To, req.Case, req.Reason, c.actor())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	h, err := s.cfg.Compliance.PlaceHold(r.Context(), c.Tenant, cmd)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"hold": h})
}

// listHolds serves GET …/holds: every hold, or with active=true those not
// released; scope and id (and from, to) narrow it to the holds that cover
// a user, a conversation or the tenant over a period.
func (s *Server) listHolds(w http.ResponseWriter, r *http.Request, c caller) {
	if s.complianceMissing(w) {
		return
	}
	q := r.URL.Query()
	var from, to time.Time
	if !timeParams(w, q, map[string]*time.Time{"from": &from, "to": &to}) {
		return
	}
	active := q.Get("active")
	if active != "" && active != "true" && active != "false" {
		writeError(w, http.StatusBadRequest, "invalid_active", "active: want true or false")
		return
	}
	var scope domain.HoldScope
	var subject string
	if q.Get("scope") != "" {
		var err error
		if scope, subject, err = domain.ParseHoldSubject(c.Tenant, q.Get("scope"), q.Get("id")); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	hs, err := s.cfg.Compliance.Holds(r.Context(), c.Tenant)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	list := hs.All()
	if scope != "" || active == "true" || !from.IsZero() || !to.IsZero() {
		list = hs.Matching(scope, subject, from, to)
	}
	if list == nil {
		list = []domain.Hold{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"holds": list})
}

// releaseHold serves DELETE …/holds/{id}[?reason=]: the hold is released
// and the erasures it deferred are carried out, as far as no other hold
// keeps their content.
func (s *Server) releaseHold(w http.ResponseWriter, r *http.Request, c caller) {
	if s.complianceMissing(w) {
		return
	}
	id, err := domain.ParseHoldID(r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	h, resumed, err := s.cfg.Compliance.ReleaseHold(r.Context(), c.Tenant, id, r.URL.Query().Get("reason"), c.actor())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	views := make([]erasureView, len(resumed))
	for i, e := range resumed {
		views[i] = s.erasureView(r.Context(), c.Tenant, e, nil)
	}
	writeJSON(w, http.StatusOK, map[string]any{"hold": h, "resumed_erasures": views})
}

type erasureRequest struct {
	User      string `json:"user"`
	Reason    string `json:"reason"`
	RequestID string `json:"request_id"`
}

// erasureView is an erasure as the API shows it: what was erased, what a
// hold keeps, and the holds named.
type erasureView struct {
	domain.Erasure
	Status      string        `json:"status"`
	ErasedCount int           `json:"erased_count"`
	HeldCount   int           `json:"held_count"`
	Holds       []domain.Hold `json:"holds"`
}

// erasureView names the holds that keep part of e (holds: the tenant's,
// read when nil).
func (s *Server) erasureView(ctx context.Context, t domain.Tenant, e domain.Erasure, holds *domain.Holds) erasureView {
	v := erasureView{Erasure: e, Status: e.Status(), ErasedCount: len(e.Erased), HeldCount: len(e.Held), Holds: []domain.Hold{}}
	if len(e.Held) == 0 {
		return v
	}
	if holds == nil {
		hs, err := s.cfg.Compliance.Holds(ctx, t)
		if err != nil {
			return v // the ids are in held; the hold records are a courtesy
		}
		holds = &hs
	}
	seen := map[string]bool{}
	for _, h := range e.Held {
		for _, id := range h.HoldIDs {
			if hold, ok := holds.Find(id); ok && !seen[id] {
				seen[id] = true
				v.Holds = append(v.Holds, hold)
			}
		}
	}
	return v
}

func (s *Server) requestErasure(w http.ResponseWriter, r *http.Request, c caller) {
	if s.complianceMissing(w) {
		return
	}
	var req erasureRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	cmd, err := domain.NewErasureCommand(req.User, req.Reason, req.RequestID, c.actor())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	e, created, err := s.cfg.Compliance.Request(r.Context(), c.Tenant, cmd)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	status := http.StatusOK // a repeat of the request: the same erasure
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, s.erasureView(r.Context(), c.Tenant, e, nil))
}

func (s *Server) getErasure(w http.ResponseWriter, r *http.Request, c caller) {
	if s.complianceMissing(w) {
		return
	}
	id, err := domain.ParseErasureID(r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	e, err := s.cfg.Compliance.Erasure(r.Context(), c.Tenant, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.erasureView(r.Context(), c.Tenant, e, nil))
}

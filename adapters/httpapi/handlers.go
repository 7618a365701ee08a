package httpapi

import (
	"bufio"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/ledger"
)

type sendRequest struct {
	From        string `json:"from"`
	To          string `json:"to"`
	ChatType    string `json:"chat_type"`
	Type        string `json:"type"`
	Content     string `json:"content"`
	Platform    string `json:"platform"`
	ClientMsgID string `json:"client_msg_id"`
}

type sendResponse struct {
	MsgID          domain.MsgID `json:"msg_id"`
	ConversationID string       `json:"conversation_id"`
	SentAt         domain.Time  `json:"sent_at"`
}

func (s *Server) send(w http.ResponseWriter, r *http.Request, c caller) {
	var req sendRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	if req.Type == "" {
		req.Type = "txt"
	}
	cmd, err := domain.NewSendCommand(req.From, req.To, req.ChatType, req.Type, req.Content, req.Platform, req.ClientMsgID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	res, err := s.ledger.Send(r.Context(), c.Tenant, cmd)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	status := http.StatusOK
	if res.Created {
		status = http.StatusCreated
	}
	writeJSON(w, status, sendResponse{MsgID: res.MsgID, ConversationID: res.ConversationID, SentAt: res.SentAt})
}

type readRequest struct {
	Reader   string `json:"reader"`
	Platform string `json:"platform"`
}

func (s *Server) read(w http.ResponseWriter, r *http.Request, c caller) {
	var req readRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	cmd, err := domain.NewReadCommand(r.PathValue("msg_id"), req.Reader, req.Platform)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	recorded, err := s.ledger.Read(r.Context(), c.Tenant, cmd)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"msg_id": cmd.MsgID, "reader": cmd.Reader, "recorded": recorded})
}

type recallRequest struct {
	Actor     string `json:"actor"`
	ActorRole string `json:"actor_role"`
	Platform  string `json:"platform"`
	Reason    string `json:"reason"`
	RequestID string `json:"request_id"`
}

type recallResponse struct {
	MsgID         domain.MsgID  `json:"msg_id"`
	Recalled      bool          `json:"recalled"`
	RecalledAt    *domain.Time  `json:"recalled_at,omitempty"`
	Reason        domain.Reason `json:"reason,omitempty"`
	ElapsedMs     int64         `json:"elapsed_ms"`
	WindowMs      int64         `json:"window_ms"`
	PolicyVersion int64         `json:"policy_version"`
	Replayed      bool          `json:"replayed"`
}

// refusalStatus is the status of each refusal reason; the rest are 409.
var refusalStatus = map[domain.Reason]int{
	domain.ReasonServiceDisabled: http.StatusForbidden,
	domain.ReasonForbidden:       http.StatusForbidden,
	domain.ReasonNotFound:        http.StatusNotFound,
}

func (s *Server) recall(w http.ResponseWriter, r *http.Request, c caller) {
	var req recallRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	cmd, err := domain.NewRecallCommand(r.PathValue("msg_id"), req.Actor, req.ActorRole, req.Platform, req.Reason, req.RequestID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !serviceMayAssert(cmd.Role) {
		// The service token is trusted with what the IM backend knows:
		// who is in a group and who owns or runs it. A tenant admin's
		// power is the admin token's (SECURITY.md); the attempt is not
		// recorded, as no other refused credential is.
		writeError(w, http.StatusForbidden, "forbidden_role", "actor_role "+string(cmd.Role)+" needs the admin token (POST /{org}/{app}/messages/msg_recall); the service token may assert member, group_owner or group_admin")
		return
	}
	out, err := s.ledger.Recall(r.Context(), c.Tenant, cmd)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.shredFailed(r, out)
	s.metrics.recallOutcome(out)
	d := out.Decision
	resp := recallResponse{
		MsgID: out.MsgID, Recalled: d.Recalled, Reason: d.Reason, ElapsedMs: d.ElapsedMs,
		WindowMs: d.WindowMs, PolicyVersion: d.PolicyVersion, Replayed: out.Replayed,
	}
	if d.Recalled {
		resp.RecalledAt = &out.At
		writeJSON(w, http.StatusOK, resp)
		return
	}
	status, ok := refusalStatus[d.Reason]
	if !ok {
		status = http.StatusConflict
	}
	writeJSON(w, status, resp)
}

// serviceMayAssert reports whether the service token may recall in role.
func serviceMayAssert(role domain.ActorRole) bool {
	switch role {
	case domain.ActorMember, domain.ActorGroupOwner, domain.ActorGroupAdmin:
		return true
	}
	return false
}

// Events pages are bounded so one request cannot hold the server.
const (
	defaultEventsLimit = 1000
	maxEventsLimit     = 10000
)

// events writes the tenant's events from a position as JSON lines, the
// schema v1 envelope one to a line; X-Next-Position says where to resume.
// Each send's content goes out as the tenant's feed_content says
// (ledger.Redactor), read fresh for each page.
func (s *Server) events(w http.ResponseWriter, r *http.Request, c caller) {
	q := r.URL.Query()
	from, err := uintParam(q.Get("from_position"), 0, 1<<62)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_from_position", "from_position: "+err.Error())
		return
	}
	limit, err := uintParam(q.Get("limit"), defaultEventsLimit, maxEventsLimit)
	if err != nil || limit == 0 {
		writeError(w, http.StatusBadRequest, "invalid_limit", "limit: want 1 to 10000")
		return
	}
	evs, err := s.ledger.Store().ReadAll(r.Context(), from, c.Tenant.String(), int(limit))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	next := from
	if len(evs) > 0 {
		next = evs[len(evs)-1].Position + 1
	}
	redactor := s.ledger.Redactor()
	for i := range evs {
		if evs[i], _, err = redactor.Redact(r.Context(), evs[i]); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("X-Next-Position", strconv.FormatUint(next, 10))
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for _, e := range evs {
		if err := enc.Encode(e); err != nil {
			s.responseCut(r, err)
			return
		}
	}
	s.responseCut(r, bw.Flush())
}

// uintParam parses an optional query number within [0, max].
func uintParam(s string, def, max uint64) (uint64, error) {
	if s == "" {
		return def, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, errBadNumber
	}
	if v > max {
		return 0, errBadNumber
	}
	return v, nil
}

var errBadNumber = &domain.InvalidError{Code: "invalid_query", Msg: "want a whole number in range"}

// shredFailed logs a recall whose content keys could not be destroyed at
// once: the recall is recorded, and the content shredder destroys them
// from the log.
func (s *Server) shredFailed(r *http.Request, out ledger.Outcome) {
	if out.ShredErr != nil {
		s.log.Error("recall recorded, but destroying its content keys failed; the content shredder retries",
			slog.String("msg_id", string(out.MsgID)), slog.String("path", r.URL.Path), slog.Any("err", out.ShredErr))
	}
}

package httpapi

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/ledger"
)

// The Easemob-compatible routes, so that a team moving from Easemob can
// point its calls here unchanged. They follow Easemob's REST documents
// (doc.easemob.com, server-side "撤回消息" message_recall.html for the batch,
// and "撤回单条消息" message_recall_single.html for msg_recall; source:
// github.com/easemob/easemob-doc, docs/document/server-side/):
// Easemob's field names, answer shapes and failure strings, with our
// stable reason code added. Fields Easemob sends that we do not use are
// accepted and ignored here (only here: our /v1 routes refuse them).
//
// Both recall as the tenant admin (the admin token); the actor recorded is
// "admin" unless msg_recall names another in from.

// easemobPlatform is the platform recorded for the admin API's recalls.
const easemobPlatform = "admin-api"

type batchRequest struct {
	Msgs []batchItem `json:"msgs"`
}

type batchItem struct {
	MsgID    string `json:"msg_id"`
	To       string `json:"to"`
	ChatType string `json:"chat_type"`
}

// batchResult is one message of Easemob's batch answer. Success is
// "recalled":"yes" with from, to and chattype; a failure puts Easemob's
// failure string in recalled itself ({"msg_id":…,"recalled":"not_found
// msg"}), and we add recallfailed (the same string, as earlier versions of
// this API answered) and our reason code.
type batchResult struct {
	MsgID        domain.MsgID    `json:"msg_id"`
	Recalled     string          `json:"recalled"`
	RecallFailed string          `json:"recallfailed,omitempty"`
	Reason       string          `json:"reason,omitempty"`
	From         domain.UserID   `json:"from,omitempty"`
	To           domain.UserID   `json:"to,omitempty"`
	ChatType     domain.ChatType `json:"chattype,omitempty"`
}

// internalError is Easemob's failure string for a recall that could not be
// decided and recorded; reasonInternal is our code beside it.
const (
	internalError  = "internal error"
	reasonInternal = "internal_error"
)

func (s *Server) batchRecall(w http.ResponseWriter, r *http.Request, c caller) {
	var req batchRequest
	if err := s.decodeAs(w, r, &req, easemobJSON); err != nil {
		status, code, msg := s.failure(r, err)
		writeEasemobError(w, status, code, msg)
		return
	}
	if len(req.Msgs) == 0 || len(req.Msgs) > ledger.MaxBatch {
		writeEasemobError(w, http.StatusBadRequest, "invalid_msgs", "msgs must name 1 to 100 messages")
		return
	}
	items := make([]ledger.BatchItem, len(req.Msgs))
	for i, m := range req.Msgs {
		var err error
		if items[i].MsgID, err = domain.ParseMsgID(m.MsgID); err == nil {
			if items[i].To, err = domain.ParseUserID("to", m.To); err == nil {
				items[i].ChatType, err = domain.ParseChatType(m.ChatType)
			}
		}
		if err != nil {
			status, code, msg := s.failure(r, err)
			writeEasemobError(w, status, code, "msgs["+strconv.Itoa(i)+"]: "+msg)
			return
		}
	}
	outs, err := s.ledger.BatchRecall(r.Context(), c.Tenant, items, easemobPlatform, c.requestedBy())
	if err != nil {
		status, code, msg := s.failure(r, err)
		writeEasemobError(w, status, code, msg)
		return
	}
	disabled := 0
	for _, o := range outs {
		if o.Err != nil {
			continue
		}
		s.shredFailed(r, o.Outcome)
		s.metrics.recallOutcome(o.Outcome)
		if o.Decision.Reason == domain.ReasonServiceDisabled {
			disabled++
		}
	}
	if disabled == len(outs) {
		writeEasemobError(w, http.StatusForbidden, "forbidden_op", domain.ReasonServiceDisabled.Easemob())
		return
	}
	results := make([]batchResult, len(outs))
	for i, o := range outs {
		switch {
		case o.Err != nil:
			s.log.Error("batch recall", slog.String("tenant", c.Tenant.String()), slog.String("msg_id", string(o.MsgID)), slog.Any("err", o.Err))
			results[i] = batchResult{MsgID: o.MsgID, Recalled: internalError, RecallFailed: internalError, Reason: reasonInternal}
		case o.Decision.Recalled:
			results[i] = batchResult{MsgID: o.MsgID, Recalled: "yes", From: ledger.BatchAdmin, To: items[i].To, ChatType: items[i].ChatType}
		default:
			failed := o.Decision.Reason.Easemob()
			results[i] = batchResult{MsgID: o.MsgID, Recalled: failed, RecallFailed: failed, Reason: string(o.Decision.Reason)}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"msgs": results})
}

// msgRecallRequest is Easemob's single-message recall. From names the
// recaller ("admin" when left out). SyncDevice (whether the sender's other
// devices are told) and RecallMessageExtensionInfo (passed on to clients)
// are about delivery, which Recall Ledger does not do: accepted, not used.
type msgRecallRequest struct {
	MsgID                      string `json:"msg_id"`
	To                         string `json:"to"`
	ChatType                   string `json:"chat_type"`
	From                       string `json:"from"`
	Force                      bool   `json:"force"`
	SyncDevice                 *bool  `json:"sync_device"`
	RecallMessageExtensionInfo string `json:"recallMessageExtensionInfo"`
}

// msgRecallData is the data of msg_recall's answer: Easemob's fields, and
// ours after them.
type msgRecallData struct {
	Recalled  string          `json:"recalled"`
	ChatType  domain.ChatType `json:"chattype"`
	From      domain.UserID   `json:"from"`
	To        domain.UserID   `json:"to"`
	MsgID     domain.MsgID    `json:"msg_id"`
	Forced    bool            `json:"forced"`
	ElapsedMs int64           `json:"elapsed_ms"`
	WindowMs  int64           `json:"window_ms"`
	Replayed  bool            `json:"replayed"`
}

// easemobEnvelope is Easemob's answer around data.
type easemobEnvelope struct {
	Path            string `json:"path"`
	URI             string `json:"uri"`
	Timestamp       int64  `json:"timestamp"`
	Organization    string `json:"organization"`
	Application     string `json:"application"`
	Action          string `json:"action"`
	Data            any    `json:"data"`
	Duration        int64  `json:"duration"`
	ApplicationName string `json:"applicationName"`
}

// msgRecallStatus is Easemob's status for each failure of msg_recall: 400
// for a recipient that does not match, 403 for the rest (its document
// lists 403 for "exceed recall time limit" and "not_found msg").
func msgRecallStatus(r domain.Reason) int {
	if r == domain.ReasonRecipientMismatch {
		return http.StatusBadRequest
	}
	return http.StatusForbidden
}

func (s *Server) msgRecall(w http.ResponseWriter, r *http.Request, c caller) {
	start := time.Now()
	var req msgRecallRequest
	if err := s.decodeAs(w, r, &req, easemobJSON); err != nil {
		status, code, msg := s.failure(r, err)
		writeEasemobError(w, status, code, msg)
		return
	}
	// Easemob's own refusals of a missing field; "force" it lists as
	// required too, but left out it is false here, not an error
	for _, f := range [][2]string{{"msg_id", req.MsgID}, {"to", req.To}, {"chat_type", req.ChatType}} {
		if f[1] == "" {
			writeEasemobError(w, http.StatusBadRequest, "message_recall_error", "param "+f[0]+" can't be empty")
			return
		}
	}
	if req.From == "" {
		req.From = string(ledger.BatchAdmin)
	}
	cmd := domain.RecallCommand{Role: domain.ActorTenantAdmin, Platform: easemobPlatform, Force: req.Force, RequestedBy: c.requestedBy()}
	chat, err := domain.ParseChatType(req.ChatType)
	if err == nil {
		if cmd.MsgID, err = domain.ParseMsgID(req.MsgID); err == nil {
			if cmd.To, err = domain.ParseUserID("to", req.To); err == nil {
				cmd.Actor, err = domain.ParseUserID("from", req.From)
			}
		}
	}
	if err != nil {
		status, code, msg := s.failure(r, err)
		writeEasemobError(w, status, code, msg)
		return
	}
	out, err := s.ledger.Recall(r.Context(), c.Tenant, cmd)
	if err != nil {
		status, code, msg := s.failure(r, err)
		if status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "5")
		}
		writeEasemobErrorBody(w, status, easemobError{Error: code, ErrorDescription: internalError, Message: msg, Reason: reasonInternal})
		return
	}
	s.shredFailed(r, out)
	s.metrics.recallOutcome(out)
	d := out.Decision
	if !d.Recalled {
		code := "message_recall_error"
		if d.Reason == domain.ReasonServiceDisabled {
			code = "forbidden_op"
		}
		writeEasemobErrorBody(w, msgRecallStatus(d.Reason), easemobError{
			Error: code, ErrorDescription: d.Reason.Easemob(), Reason: string(d.Reason),
			Message: "recall refused: " + string(d.Reason),
		})
		return
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	writeJSON(w, http.StatusOK, easemobEnvelope{
		Path: "/messages/msg_recall", URI: scheme + "://" + r.Host + r.URL.Path,
		Timestamp: time.Now().UnixMilli(), Organization: c.Tenant.Org(), Application: applicationID(c.Tenant),
		Action: "post", Duration: time.Since(start).Milliseconds(), ApplicationName: c.Tenant.App(),
		Data: msgRecallData{
			Recalled: "yes", ChatType: chat, From: cmd.Actor, To: cmd.To, MsgID: cmd.MsgID,
			Forced: d.Forced, ElapsedMs: d.ElapsedMs, WindowMs: d.WindowMs, Replayed: out.Replayed,
		},
	})
}

// applicationID stands for Easemob's application UUID, which clients are
// told not to rely on: a stable name-based UUID of the tenant.
func applicationID(t domain.Tenant) string {
	return uuid.NewSHA1(applicationSpace, []byte(t.String())).String()
}

var applicationSpace = uuid.MustParse("2d6f0a8e-3c1b-4f7a-9e52-7b8c1d4e6f90")

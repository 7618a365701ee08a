package httpapi

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/language"

	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/projections"
	"github.com/recallledger/recall/projections/auditlog"
	"github.com/recallledger/recall/projections/conversation"
	"github.com/recallledger/recall/projections/recallreport"
)

// ReadSide is what the read endpoints need: the read-model store, and the
// conversation runner whose commits wake live streams.
type ReadSide struct {
	Store         projections.Store
	Conversations *projections.Runner
	// Checkpoints signs and keeps the audit log's checkpoints; nil: the
	// proof endpoints answer 503.
	Checkpoints Checkpoints
}

func (s *Server) readSideMissing(w http.ResponseWriter) bool {
	if s.readModels == nil || s.readModels.Store == nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "read models are not served by this process")
		return true
	}
	return false
}

func (s *Server) viewerParams(w http.ResponseWriter, r *http.Request) (conv string, viewer domain.UserID, locale string, ok bool) {
	conv, err := domain.ParseConversationID(r.PathValue("conversation_id"))
	if err != nil {
		s.fail(w, r, err)
		return "", "", "", false
	}
	viewer, err = domain.ParseUserID("viewer", r.URL.Query().Get("viewer"))
	if err != nil {
		s.fail(w, r, err)
		return "", "", "", false
	}
	// a one-to-one conversation is shown only to its two participants
	if rest, isChat := strings.CutPrefix(conv, "chat:"); isChat {
		a, b, _ := strings.Cut(rest, ":")
		if string(viewer) != a && string(viewer) != b {
			writeError(w, http.StatusForbidden, "not_a_participant", "the viewer is not in this conversation")
			return "", "", "", false
		}
	}
	locale = viewerLocale(r.URL.Query().Get("locale"))
	w.Header().Set("Content-Language", locale)
	return conv, viewer, locale, true
}

// localeMatcher picks the closest locale the notices are written in.
var localeMatcher = func() language.Matcher {
	tags := make([]language.Tag, len(conversation.Locales))
	for i, l := range conversation.Locales {
		tags[i] = language.MustParse(l)
	}
	return language.NewMatcher(tags)
}()

// viewerLocale is the notices' locale for a requested one: the closest
// written (zh, zh-Hans and zh-cn are zh-CN, ja-JP is ja), else en, the
// first. An unknown or malformed locale is not an error: the view is
// shown in en, and Content-Language says so.
func viewerLocale(s string) string {
	if s == "" || len(s) > 64 {
		return conversation.Locales[0]
	}
	tag, err := language.Parse(s)
	if err != nil {
		return conversation.Locales[0]
	}
	_, i, conf := localeMatcher.Match(tag)
	if conf == language.No {
		return conversation.Locales[0]
	}
	return conversation.Locales[i]
}

func (s *Server) conversationMessages(w http.ResponseWriter, r *http.Request, c caller) {
	if s.readSideMissing(w) {
		return
	}
	// the live view is the IM backend's; the view at a time, an auditor's
	asOf := r.URL.Query().Get("as_of")
	switch {
	case c.Role == domain.AccessAuditor && asOf == "":
		writeError(w, http.StatusForbidden, "forbidden_role", "an auditor reads a conversation as it was at a time: give as_of")
		return
	case c.Role != domain.AccessAuditor && asOf != "":
		writeError(w, http.StatusForbidden, "forbidden_role", "as_of admits the auditor token or an auditor operator, not the "+string(c.Role)+" "+c.kind())
		return
	case asOf != "":
		s.conversationAsOf(w, r, c, asOf)
		return
	}
	conv, viewer, locale, ok := s.viewerParams(w, r)
	if !ok {
		return
	}
	limit, ok := conversationLimit(w, r)
	if !ok {
		return
	}
	since, err := s.ledger.RetainedSince(r.Context(), c.Tenant)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v, err := conversation.Query(s.readModels.Store, c.Tenant.String(), conv, string(viewer), locale, r.URL.Query().Get("cursor"), int(limit), since)
	if err == nil {
		err = conversation.Open(r.Context(), s.opener(), c.Tenant, &v)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// conversationLimit reads a conversation page's limit: 1 to 500, 50 when
// not given; false once it answered 400.
func conversationLimit(w http.ResponseWriter, r *http.Request) (int, bool) {
	limit, err := uintParam(r.URL.Query().Get("limit"), 50, 500)
	if err != nil || limit == 0 {
		writeError(w, http.StatusBadRequest, "invalid_limit", "limit: want 1 to 500")
		return 0, false
	}
	return int(limit), true
}

// timeParams reads the RFC 3339 instants named into their destinations,
// leaving those not given as they are; false once it answered 400.
func timeParams(w http.ResponseWriter, q url.Values, dst map[string]*time.Time) bool {
	for name, d := range dst {
		if v := q.Get(name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				writeError(w, http.StatusBadRequest, "invalid_"+name, name+": want RFC 3339, e.g. 2026-11-24T10:00:00Z")
				return false
			}
			*d = t
		}
	}
	return true
}

// streamUpdate is an update as one viewer is told it.
type streamUpdate struct {
	conversation.Update
	Notice string `json:"notice,omitempty"`
}

// streamGather is how long a woken stream waits for more updates before
// it writes what is queued: a viewer sees an update up to this late, and a
// busy conversation's viewers write many at once.
const streamGather = 50 * time.Millisecond

// conversationStream pushes the conversation's updates as server-sent
// events. The event id is the update's position: a client reconnecting
// with Last-Event-ID is sent every later update, so none is missed.
//
// The stream first sends what the view logged after Last-Event-ID, then
// what the stream hub queues for it as the projection commits (it
// subscribes before reading, so no commit falls between the two; an
// update both read and queued is sent once). A viewer that falls more
// than the hub's buffer behind is sent a "lagged" event naming the last
// id it was sent and the stream ends: it reconnects with that
// Last-Event-ID and reads the rest from the view.
func (s *Server) conversationStream(w http.ResponseWriter, r *http.Request, c caller) {
	if s.readSideMissing(w) {
		return
	}
	conv, viewer, locale, ok := s.viewerParams(w, r)
	if !ok {
		return
	}
	st := &sseStream{s: s, r: r, tenant: c.Tenant, conv: conv, viewer: string(viewer), locale: locale}
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		v, err := strconv.ParseUint(id, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid_last_event_id", "Last-Event-ID: not one this server sent")
			return
		}
		st.last = v
	}
	select {
	case <-s.streamsEnd:
		writeError(w, http.StatusServiceUnavailable, "unavailable", "the server is shutting down; reconnect with Last-Event-ID")
		return
	default:
	}
	if s.streams != nil {
		var err error
		if st.ls, err = s.streams.subscribe(c.Tenant.String(), conv); err != nil {
			w.Header().Set("Retry-After", "5")
			writeError(w, http.StatusTooManyRequests, "too_many_streams", err.Error()+"; try again later")
			return
		}
		defer s.streams.unsubscribe(st.ls)
	}
	st.start(w)
	if err := st.sendLogged(); err != nil {
		s.log.Warn("conversation stream", "err", err)
		return
	}
	st.pushLive()
}

// sseStream is one viewer's conversation stream: what it was last sent
// (last), the hub's queue for it (ls, nil without a hub) and its writers.
type sseStream struct {
	s      *Server
	r      *http.Request
	tenant domain.Tenant
	conv   string
	viewer string
	locale string
	last   uint64
	ls     *liveStream
	bw     *bufio.Writer
	rc     *http.ResponseController
}

// start answers 200 as an event stream, with no write deadline: a stream
// outlives the server's write timeout.
func (st *sseStream) start(w http.ResponseWriter) {
	st.rc = http.NewResponseController(w)
	if err := st.rc.SetWriteDeadline(time.Time{}); err != nil {
		st.s.log.Warn("conversation stream: the write timeout cannot be lifted; the stream ends when it passes", "err", err)
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	st.bw = bufio.NewWriter(w)
}

// sendLogged writes what the view logged after last.
func (st *sseStream) sendLogged() error {
	since, err := st.s.ledger.RetainedSince(st.r.Context(), st.tenant)
	if err != nil {
		return err
	}
	return conversation.Updates(st.s.readModels.Store, st.tenant.String(), st.conv, st.last, since, func(u conversation.Update) error {
		frame, err := (&hubUpdate{Logged: conversation.Logged{Update: u}}).frame(st.locale, st.viewer)
		if err == nil {
			_, err = st.bw.Write(frame)
			st.last = u.ID
		}
		return err
	})
}

// pushLive writes what the hub queues until the viewer leaves, the
// server shuts down, the viewer lags or a write fails, with a heartbeat
// every 15 s.
func (st *sseStream) pushLive() {
	heartbeat := time.NewTicker(15 * time.Second)
	defer heartbeat.Stop()
	gather := time.NewTimer(streamGather)
	defer gather.Stop()
	var wake <-chan struct{}
	if st.ls != nil {
		wake = st.ls.wake
	}
	for {
		if st.bw.Flush() != nil || st.rc.Flush() != nil {
			return
		}
		select {
		case <-st.r.Context().Done():
			return
		case <-st.s.streamsEnd: // shutting down: the viewer sees the stream end
			return
		case <-heartbeat.C:
			fmt.Fprint(st.bw, ": keep-alive\n\n")
			continue
		case <-wake:
			// let a busy conversation's updates gather for a moment: one
			// write for many, so a thousand viewers of one group wake a
			// bounded number of times a second, not once per commit each
			gather.Reset(streamGather)
			select {
			case <-st.r.Context().Done():
				return
			case <-st.s.streamsEnd:
				return
			case <-gather.C:
			}
		}
		if !st.sendQueued() {
			return
		}
	}
}

// sendQueued writes the updates the hub queued that are after last and
// still retained, or the lagged event; false ends the stream.
func (st *sseStream) sendQueued() bool {
	queued, lagged := st.ls.take()
	if lagged {
		fmt.Fprintf(st.bw, "event: lagged\ndata: {\"last_event_id\":%d}\n\n", st.last)
		_ = st.bw.Flush()
		_ = st.rc.Flush()
		return false
	}
	if len(queued) == 0 {
		return true
	}
	since, err := st.s.ledger.RetainedSince(st.r.Context(), st.tenant)
	if err != nil {
		st.s.log.Warn("conversation stream", "err", err)
		return false
	}
	for _, u := range queued {
		if u.ID <= st.last || !u.Retained(since) {
			continue
		}
		frame, err := u.frame(st.locale, st.viewer)
		if err != nil {
			st.s.log.Warn("conversation stream", "err", err)
			return false
		}
		if _, err := st.bw.Write(frame); err != nil {
			return false
		}
		st.last = u.ID
	}
	return true
}

// auditFilter reads the audit query parameters.
func auditFilter(q url.Values) (auditlog.Filter, string, error) {
	var f auditlog.Filter
	bad := func(code, msg string) (auditlog.Filter, string, error) {
		return f, "", &domain.InvalidError{Code: code, Msg: msg}
	}
	for name, dst := range map[string]*time.Time{"from": &f.From, "to": &f.To} {
		if v := q.Get(name); v != "" {
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return bad("invalid_"+name, name+": want RFC 3339, e.g. 2026-11-24T10:00:00Z")
			}
			*dst = t
		}
	}
	f.Actor, f.ConversationID, f.MsgID = q.Get("actor"), q.Get("conversation_id"), q.Get("msg_id")
	f.Action, f.Outcome = q.Get("action"), q.Get("outcome")
	for name, v := range map[string]string{"actor": f.Actor, "conversation_id": f.ConversationID, "msg_id": f.MsgID, "action": f.Action, "outcome": f.Outcome} {
		if len(v) > 128 || strings.ContainsAny(v, "\x00\r\n") {
			return bad("invalid_"+name, name+": at most 128 characters, no control characters")
		}
	}
	if f.ConversationID != "" {
		// the canonical id, as sends record it: chat:bob:alice finds chat:alice:bob
		conv, err := domain.ParseConversationID(f.ConversationID)
		if err != nil {
			return f, "", err
		}
		f.ConversationID = conv
	}
	if f.Action != "" && !slices.Contains([]string{auditlog.ActionSend, auditlog.ActionRead, auditlog.ActionRecall, auditlog.ActionExpire, auditlog.ActionPolicy, auditlog.ActionAudit, auditlog.ActionOperator, auditlog.ActionHold, auditlog.ActionErasure}, f.Action) {
		return bad("invalid_action", "action: want send, read, recall, expire, policy, audit, operator, hold or erasure")
	}
	if c := q.Get("cursor"); c != "" {
		v, err := strconv.ParseUint(c, 10, 64)
		if err != nil {
			return bad("invalid_cursor", "cursor: not one this server gave")
		}
		f.After = v
	}
	limit, err := uintParam(q.Get("limit"), 100, 1000)
	if err != nil || limit == 0 {
		return bad("invalid_limit", "limit: want 1 to 1000")
	}
	f.Limit = int(limit)
	format := q.Get("format")
	if format == "" {
		format = "json"
	}
	if format != "json" && format != "jsonl" && format != "csv" {
		return bad("invalid_format", "format: want json, jsonl or csv")
	}
	return f, format, nil
}

func (s *Server) audit(w http.ResponseWriter, r *http.Request, c caller) {
	if s.readSideMissing(w) {
		return
	}
	f, format, err := auditFilter(r.URL.Query())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if r.URL.Query().Get("proofs") == "true" {
		s.auditProven(w, r, c, f, format)
		return
	}
	page, err := s.auditQuery(r.Context(), c.Tenant.String(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// who looked, with which filter, is itself audited; the answer waits
	// until that is recorded
	if err := s.ledger.RecordAuditQuery(r.Context(), c.Tenant, domain.AuditQueried{
		Viewer: c.viewer(), Query: r.URL.Query().Encode(), Format: format, Results: len(page.Entries),
	}); err != nil {
		s.fail(w, r, err)
		return
	}
	if page.NextCursor != 0 {
		w.Header().Set("X-Next-Cursor", strconv.FormatUint(page.NextCursor, 10))
	}
	switch format {
	case "json":
		writeJSON(w, http.StatusOK, page)
	case "jsonl":
		w.Header().Set("Content-Type", "application/x-ndjson")
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		for _, e := range page.Entries {
			if err := enc.Encode(e); err != nil {
				s.responseCut(r, err) // the client went away: stop writing
				return
			}
		}
	case "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="audit.csv"`)
		cw, err := auditlog.NewCSV(w)
		if err != nil {
			return
		}
		for _, e := range page.Entries {
			if err := cw.Write(e); err != nil {
				s.responseCut(r, err)
				return
			}
		}
		s.responseCut(r, cw.Flush())
	}
}

func (s *Server) auditVerify(w http.ResponseWriter, r *http.Request, c caller) {
	if s.readSideMissing(w) {
		return
	}
	res, err := auditlog.Verify(s.readModels.Store, c.Tenant.String())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// a verification reads every entry: it is an audit read like a search,
	// recorded under the caller before the answer
	if err := s.recordAuditRead(r, c, "verify", int(res.Entries)); err != nil {
		s.fail(w, r, err)
		return
	}
	if s.readModels.Checkpoints == nil {
		writeJSON(w, http.StatusOK, res)
		return
	}
	out, err := s.verifyCheckpoints(c.Tenant.String(), res)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) recallReport(w http.ResponseWriter, r *http.Request, c caller) {
	if s.readSideMissing(w) {
		return
	}
	q := r.URL.Query()
	to := time.Now()
	from := to.Add(-24 * time.Hour)
	if !timeParams(w, q, map[string]*time.Time{"from": &from, "to": &to}) {
		return
	}
	loc := time.UTC
	if tz := q.Get("tz"); tz != "" {
		l, err := time.LoadLocation(tz)
		if err != nil || strings.Contains(tz, "..") {
			writeError(w, http.StatusBadRequest, "invalid_tz", "tz: want an IANA time zone such as Asia/Shanghai")
			return
		}
		loc = l
	}
	groupBy := q.Get("group_by")
	if groupBy == "" {
		groupBy = "outcome"
	}
	rep, err := recallreport.Query(s.readModels.Store, c.Tenant.String(), from, to, groupBy, loc)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	switch q.Get("format") {
	case "", "json":
		writeJSON(w, http.StatusOK, rep)
	case "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		cw := csv.NewWriter(w)
		cw.UseCRLF = true // RFC 4180, as the audit export
		num := func(n int64) string { return strconv.FormatInt(n, 10) }
		rows := [][]string{{"key", "attempts", "recalled", "refused", "timeouts"}}
		for _, row := range rep.Rows {
			rows = append(rows, []string{auditlog.Neutralise(row.Key), num(row.Attempts), num(row.Recalled), num(row.Refused), num(row.Timeouts)})
		}
		_ = cw.WriteAll(rows)        // WriteAll flushes; its error is cw.Error's
		s.responseCut(r, cw.Error()) // the csv.Writer keeps the first write error
	default:
		writeError(w, http.StatusBadRequest, "invalid_format", "format: want json or csv")
	}
}

// opener opens sealed content at the edge: the ledger's keyring, or nil
// when content is not sealed (sealed content then reads as
// key_unavailable).
func (s *Server) opener() domain.ContentOpener {
	if k := s.ledger.Keyring(); k != nil {
		return k
	}
	return nil
}

// auditQuery is a page of the tenant's audit log with its sealed content
// opened: every answer of the audit log goes through it.
func (s *Server) auditQuery(ctx context.Context, tenant string, f auditlog.Filter) (auditlog.Page, error) {
	t, err := domain.ParseTenant(tenant)
	if err != nil {
		return auditlog.Page{}, err
	}
	page, err := auditlog.Query(s.readModels.Store, tenant, f)
	if err != nil {
		return page, err
	}
	return page, auditlog.Open(ctx, s.opener(), t, page.Entries)
}

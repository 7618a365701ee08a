package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/codec"
	"github.com/recallledger/recall/domain/ledger"
)

// apiError is the body of every error: a stable code and a sentence.
type apiError struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, apiError{Error: code, Message: msg})
}

// easemobError is Easemob's error body, kept for the Easemob-compatible
// batch endpoint so existing clients parse it; message is ours, added.
type easemobError struct {
	Error            string `json:"error"`
	Exception        string `json:"exception"`
	Timestamp        int64  `json:"timestamp"`
	Duration         int    `json:"duration"`
	ErrorDescription string `json:"error_description"`
	Message          string `json:"message"`
	Reason           string `json:"reason,omitempty"` // our refusal code, on a recall's refusal
}

var easemobExceptions = map[string]string{
	"forbidden_op":  "EasemobForbiddenOpException",
	"unauthorized":  "EasemobUnauthorizedException",
	"not_found":     "EasemobResourceNotFoundException",
	"rate_limited":  "EasemobTooManyRequestsException",
	"internal":      "EasemobInternalException",
	"invalid_body":  "EasemobBadRequestException",
	"unknown_field": "EasemobBadRequestException",
}

func writeEasemobError(w http.ResponseWriter, status int, code, msg string) {
	writeEasemobErrorBody(w, status, easemobError{Error: code, ErrorDescription: msg, Message: msg})
}

// writeEasemobErrorBody fills in the exception and the time. Easemob does
// not document the exception of its message_recall_error; it is named
// after the status here.
func writeEasemobErrorBody(w http.ResponseWriter, status int, e easemobError) {
	exc, ok := easemobExceptions[e.Error]
	switch {
	case ok:
	case status == http.StatusForbidden:
		exc = "EasemobForbiddenOpException"
	case status >= 500:
		exc = "EasemobInternalException"
	default:
		exc = "EasemobBadRequestException"
	}
	e.Exception, e.Timestamp = exc, time.Now().UnixMilli()
	writeJSON(w, status, e)
}

// failure maps an error from decoding or the ledger to status and code: the
// one table of error statuses. Anything unknown is a 500 whose detail goes
// to the log, not to the client.
func (s *Server) failure(r *http.Request, err error) (int, string, string) {
	var inv *domain.InvalidError
	var conflict *domain.ConflictError
	var nf *domain.NotFoundError
	var body *bodyError
	var stale *domain.VersionConflictError
	switch {
	case errors.As(err, &body):
		return body.status, body.code, body.msg
	case errors.As(err, &stale):
		return http.StatusPreconditionFailed, "version_conflict", stale.Error()
	case errors.As(err, &inv):
		return http.StatusBadRequest, inv.Code, inv.Msg
	case errors.As(err, &conflict):
		return http.StatusConflict, conflict.Code, conflict.Msg
	case errors.As(err, &nf):
		if nf.Code != "" {
			return http.StatusNotFound, nf.Code, nf.Error()
		}
		return http.StatusNotFound, "not_found", nf.Error()
	case errors.Is(err, domain.ErrUnavailable):
		return http.StatusServiceUnavailable, "storage_unavailable", "the ledger cannot record anything now (" + err.Error() + "); nothing was recorded, retry later"
	case errors.Is(err, ledger.ErrContention):
		return http.StatusServiceUnavailable, "contention", err.Error()
	case errors.Is(err, r.Context().Err()) && r.Context().Err() != nil:
		return 499, "canceled", "request canceled"
	}
	s.log.Error("request failed", slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Any("err", err))
	return http.StatusServiceUnavailable, "unavailable", "the ledger could not record this now; it was not recorded, retry"
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, code, msg := s.failure(r, err)
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	writeError(w, status, code, msg)
}

// bodyError is a request body that could not be decoded.
type bodyError struct {
	status    int
	code, msg string
}

func (e *bodyError) Error() string { return e.msg }

// bodyRules say what a route's body may be.
type bodyRules struct {
	// mediaType is the Content-Type the body must have; application/json
	// may also be left out, unless requireType.
	mediaType   string
	requireType bool
	// unknownFields are accepted and ignored instead of refused: only for
	// the Easemob-compatible routes, whose callers send Easemob's fields.
	unknownFields bool
}

var (
	strictJSON  = bodyRules{mediaType: "application/json"}
	easemobJSON = bodyRules{mediaType: "application/json", unknownFields: true}
)

// decode reads exactly one JSON object into v: bounded in size, unknown
// fields refused, nothing after it.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) error {
	return s.decodeAs(w, r, v, strictJSON)
}

// decodeAs reads exactly one JSON object of the route's media type into v,
// bounded in size, nothing after it.
func (s *Server) decodeAs(w http.ResponseWriter, r *http.Request, v any, rules bodyRules) error {
	mt, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	if mt != rules.mediaType && !(mt == "" && rules.mediaType == "application/json" && !rules.requireType) {
		return &bodyError{http.StatusUnsupportedMediaType, "unsupported_media_type", "the body must be " + rules.mediaType}
	}
	body := http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	data, err := io.ReadAll(body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &bodyError{http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("the body is larger than %d bytes", s.cfg.MaxBodyBytes)}
		}
		return &bodyError{http.StatusBadRequest, "invalid_body", "the body could not be read"}
	}
	return decodeObject(data, v, rules.unknownFields)
}

// decodeObject decodes data, exactly one JSON object, into v. A body is
// decoded on every request, so it is parsed with the codec first (the
// same rules as encoding/json, unknown fields refused unless
// unknownFields, at about a quarter of the cost); a body the codec
// refuses is decoded again by encoding/json (decodeStd), so that every
// refusal keeps the code and words it had.
func decodeObject(data []byte, v any, unknownFields bool) error {
	if !utf8.Valid(data) {
		return &bodyError{http.StatusBadRequest, "invalid_body", "the body is not valid UTF-8"}
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return &bodyError{http.StatusBadRequest, "invalid_body", "the body must be one JSON object"}
	}
	if rest, err := codec.ParseRequest(trimmed, v, unknownFields); err == nil && len(rest) == 0 {
		return nil
	}
	return decodeStd(trimmed, v, unknownFields)
}

// decodeStd decodes trimmed, a body starting with '{', with
// encoding/json's Decoder: exactly one object, unknown fields refused
// unless unknownFields.
func decodeStd(trimmed []byte, v any, unknownFields bool) error {
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if !unknownFields {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return &bodyError{http.StatusBadRequest, "unknown_field", "unknown field " + f}
		}
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return &bodyError{http.StatusBadRequest, "invalid_body", fmt.Sprintf("field %q: want %s", typeErr.Field, typeErr.Type)}
		}
		return &bodyError{http.StatusBadRequest, "invalid_body", "malformed JSON: " + err.Error()}
	}
	if dec.InputOffset() != int64(len(trimmed)) {
		return &bodyError{http.StatusBadRequest, "invalid_body", "the body must be one JSON object, with nothing after it"}
	}
	return nil
}

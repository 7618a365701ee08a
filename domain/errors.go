package domain

import (
	"errors"
	"fmt"
)

// InvalidError is a command or value that breaks a validation rule. Code is
// the stable error code the HTTP layer returns ("invalid_msg_id", …).
type InvalidError struct {
	Code string
	Msg  string
}

func (e *InvalidError) Error() string { return e.Msg }

// Reason is the stable code of a recall refusal.
type Reason string

// The refusal reasons, in the order the rules check them.
const (
	ReasonServiceDisabled   Reason = "service_disabled"
	ReasonNotFound          Reason = "not_found"
	ReasonExpired           Reason = "expired"
	ReasonAlreadyRecalled   Reason = "already_recalled"
	ReasonRecipientMismatch Reason = "recipient_mismatch"
	ReasonForbidden         Reason = "forbidden"
	ReasonTypeNotRecallable Reason = "type_not_recallable"
	ReasonExceedTimeLimit   Reason = "exceed_time_limit"
	ReasonReadByRecipient   Reason = "read_by_recipient"
)

// Reasons lists every refusal reason in rule order.
var Reasons = []Reason{
	ReasonServiceDisabled, ReasonNotFound, ReasonExpired, ReasonAlreadyRecalled,
	ReasonRecipientMismatch, ReasonForbidden, ReasonTypeNotRecallable,
	ReasonExceedTimeLimit, ReasonReadByRecipient,
}

// Easemob returns the failure string Easemob's batch recall API uses for
// this reason, or the reason code itself where Easemob has none.
func (r Reason) Easemob() string {
	switch r {
	case ReasonServiceDisabled:
		return "message recall service is unopened"
	case ReasonNotFound, ReasonExpired, ReasonAlreadyRecalled:
		return "not_found msg"
	case ReasonRecipientMismatch:
		return "can't find msg to"
	case ReasonExceedTimeLimit:
		return "exceed recall time limit"
	}
	return string(r)
}

// IsTimeout reports whether the refusal counts as a timeout in the reports.
func (r Reason) IsTimeout() bool { return r == ReasonExceedTimeLimit }

// ErrConflict is a command that contradicts what is already recorded, such
// as a client_msg_id reused for other content.
var ErrConflict = errors.New("conflict")

// ErrUnavailable is storage that cannot take writes for now (a full disk):
// nothing was recorded, and a retry later may succeed. Adapters wrap it.
var ErrUnavailable = errors.New("storage unavailable")

// ErrStoreClosed is an event store used after its Close.
var ErrStoreClosed = errors.New("event store closed")

// ErrEventIDReused is an append that repeats some event ids already stored
// while others are new, or repeats them on another stream: not a retry, a
// conflict. Stores wrap it with the stream and the ids.
var ErrEventIDReused = &ConflictError{Code: "event_id_reused", Msg: "event id already used"}

// ConflictError carries the stable code of a conflict.
type ConflictError struct {
	Code string
	Msg  string
}

func (e *ConflictError) Error() string { return e.Msg }
func (e *ConflictError) Unwrap() error { return ErrConflict }

// NotFoundError is a lookup of something that does not exist in the tenant.
// Code, when set, is the stable code that names what was missing
// ("operator_not_found"); without one the HTTP layer answers not_found.
type NotFoundError struct {
	What string
	Code string
}

func (e *NotFoundError) Error() string { return fmt.Sprintf("%s not found", e.What) }

// WrongVersionError is an append whose expected version did not match the
// stream. Adapters return it (wrapped or not); errors.As finds it.
type WrongVersionError struct {
	Stream   string
	Expected int64
	Actual   int64
}

func (e *WrongVersionError) Error() string {
	return fmt.Sprintf("stream %s: expected version %d, actual %d", e.Stream, e.Expected, e.Actual)
}

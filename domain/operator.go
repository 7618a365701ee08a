package domain

import (
	"fmt"
)

// Named operators are the people who use the console: an enterprise
// admin or a compliance auditor of one tenant. Their changes (created,
// role changed, disabled, enabled, password reset) are events of the
// tenant's operator stream, so who may act on the tenant is itself
// audited. A password, or anything derived from one, is never in an
// event: the credential lives in the operator registry only.

// ParseOperatorRole validates s as an operator's role: an access role,
// admin (everything an admin token may) or auditor (read-only, the audit
// log included). An operator is a person, never the IM backend's service.
func ParseOperatorRole(s string) (AccessRole, error) {
	switch r := AccessRole(s); r {
	case AccessAdmin, AccessAuditor:
		return r, nil
	}
	return "", invalid("invalid_role", "role %q: want admin or auditor", s)
}

// OperatorName names an operator within a tenant: 1–64 letters, digits
// and "_-.@", starting with a letter or digit (so "alice" or
// "alice@example.com"). Names never hold markup, spaces or control
// characters: they appear in logs, audit entries and the console.
type OperatorName string

// ParseOperatorName validates s.
func ParseOperatorName(s string) (OperatorName, error) {
	if len(s) == 0 || len(s) > 64 {
		return "", invalid("invalid_name", "operator name: want 1-64 characters, got %d", len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case (c == '_' || c == '-' || c == '.' || c == '@') && i > 0:
		default:
			return "", invalid("invalid_name", "operator name %q: want letters, digits or _-.@, starting with a letter or digit", s)
		}
	}
	return OperatorName(s), nil
}

// Actor is how the log names what an operator did: "operator:alice". API
// tokens are "token:<role>", so an entry always tells a person from a
// machine.
func (n OperatorName) Actor() string { return "operator:" + string(n) }

// OperatorStream holds a tenant's operator changes; its category is
// "operator".
func OperatorStream(t Tenant) string { return "operator-" + t.String() }

// The operator event types of schema v1.
const (
	TypeOperatorCreated       = "OperatorCreated"
	TypeOperatorRoleChanged   = "OperatorRoleChanged"
	TypeOperatorDisabled      = "OperatorDisabled"
	TypeOperatorEnabled       = "OperatorEnabled"
	TypeOperatorPasswordReset = "OperatorPasswordReset"
)

// OperatorCreated records a new operator. By names who created it
// ("operator:bob", "token:admin", "recallctl").
type OperatorCreated struct {
	Name OperatorName `json:"name"`
	Role AccessRole   `json:"role"`
	By   string       `json:"by"`
}

// OperatorRoleChanged records a change of an operator's role; the
// operator's sessions end with it.
type OperatorRoleChanged struct {
	Name         OperatorName `json:"name"`
	Role         AccessRole   `json:"role"`
	PreviousRole AccessRole   `json:"previous_role"`
	By           string       `json:"by"`
}

// OperatorDisabled records that an operator may no longer sign in; the
// operator's sessions end with it.
type OperatorDisabled struct {
	Name OperatorName `json:"name"`
	By   string       `json:"by"`
}

// OperatorEnabled records that a disabled operator may sign in again.
type OperatorEnabled struct {
	Name OperatorName `json:"name"`
	By   string       `json:"by"`
}

// OperatorPasswordReset records that an operator's password was replaced
// (never the password itself); the operator's sessions end with it.
type OperatorPasswordReset struct {
	Name OperatorName `json:"name"`
	By   string       `json:"by"`
}

// Operator is one operator's state, rebuilt by applying its events in
// order. The zero value is an operator that does not exist.
type Operator struct {
	Exists    bool
	Name      OperatorName
	Role      AccessRole
	Disabled  bool
	CreatedAt Time
	CreatedBy string
}

// OperatorAccount is an operator as its registry shows it: its state and
// when it last signed in (the registry's own record, not an event). Never
// its password or anything derived from one.
type OperatorAccount struct {
	Name        OperatorName `json:"name"`
	Role        AccessRole   `json:"role"`
	Disabled    bool         `json:"disabled"`
	CreatedAt   Time         `json:"created_at"`
	CreatedBy   string       `json:"created_by"`
	LastLoginAt *Time        `json:"last_login_at,omitempty"`
}

// OperatorPayload is the payload of an operator event: each names the
// operator it is about.
type OperatorPayload interface {
	Payload
	Operator() OperatorName
}

func (OperatorCreated) EventType() string       { return TypeOperatorCreated }
func (OperatorRoleChanged) EventType() string   { return TypeOperatorRoleChanged }
func (OperatorDisabled) EventType() string      { return TypeOperatorDisabled }
func (OperatorEnabled) EventType() string       { return TypeOperatorEnabled }
func (OperatorPasswordReset) EventType() string { return TypeOperatorPasswordReset }

func (p OperatorCreated) Operator() OperatorName       { return p.Name }
func (p OperatorRoleChanged) Operator() OperatorName   { return p.Name }
func (p OperatorDisabled) Operator() OperatorName      { return p.Name }
func (p OperatorEnabled) Operator() OperatorName       { return p.Name }
func (p OperatorPasswordReset) Operator() OperatorName { return p.Name }

// OperatorOf returns the operator name an operator event is about, and
// whether e is an operator event at all.
func OperatorOf(e Event) (OperatorName, bool) {
	p, ok := e.Data.(OperatorPayload)
	if !ok {
		return "", false
	}
	return p.Operator(), true
}

// Apply folds one of the operator's events into o.
func (o *Operator) Apply(e Event) error {
	switch p := e.Data.(type) {
	case OperatorCreated:
		*o = Operator{Exists: true, Name: p.Name, Role: p.Role, CreatedAt: e.OccurredAt, CreatedBy: p.By}
	case OperatorRoleChanged:
		o.Role = p.Role
	case OperatorDisabled:
		o.Disabled = true
	case OperatorEnabled:
		o.Disabled = false
	case OperatorPasswordReset:
	default:
		return fmt.Errorf("event %s: %s is not an operator event", e.ID, e.Type())
	}
	return nil
}

// OperatorAction is a change an admin asks of an operator.
type OperatorAction string

const (
	OperatorAdd     OperatorAction = "add"
	OperatorSetRole OperatorAction = "role"
	OperatorDisable OperatorAction = "disable"
	OperatorEnable  OperatorAction = "enable"
	OperatorReset   OperatorAction = "reset"
)

// OperatorCommand is a validated change of one operator.
type OperatorCommand struct {
	Action OperatorAction
	Name   OperatorName
	Role   AccessRole // for add and role
	By     string     // who asks, as the log names them
}

// operatorNotFound is the code of a command on an operator the tenant
// does not have.
const operatorNotFound = "operator_not_found"

// DecideOperator decides cmd against the operator's current state: the
// payload of the event that records it, or nil when the operator is
// already as asked (disabling a disabled operator, setting the role it
// has). Adding a name that exists is a *ConflictError (operator_exists);
// changing one that does not is a *NotFoundError (operator_not_found).
func DecideOperator(cmd OperatorCommand, cur Operator) (OperatorPayload, error) {
	if cmd.Action == OperatorAdd {
		if cur.Exists {
			return nil, &ConflictError{Code: "operator_exists", Msg: fmt.Sprintf("operator %s already exists", cmd.Name)}
		}
		if _, err := ParseOperatorRole(string(cmd.Role)); err != nil {
			return nil, err
		}
		return OperatorCreated{Name: cmd.Name, Role: cmd.Role, By: cmd.By}, nil
	}
	if !cur.Exists {
		return nil, &NotFoundError{What: "operator " + string(cmd.Name), Code: operatorNotFound}
	}
	switch cmd.Action {
	case OperatorSetRole:
		if _, err := ParseOperatorRole(string(cmd.Role)); err != nil {
			return nil, err
		}
		if cmd.Role == cur.Role {
			return nil, nil
		}
		return OperatorRoleChanged{Name: cmd.Name, Role: cmd.Role, PreviousRole: cur.Role, By: cmd.By}, nil
	case OperatorDisable:
		if cur.Disabled {
			return nil, nil
		}
		return OperatorDisabled{Name: cmd.Name, By: cmd.By}, nil
	case OperatorEnable:
		if !cur.Disabled {
			return nil, nil
		}
		return OperatorEnabled{Name: cmd.Name, By: cmd.By}, nil
	case OperatorReset:
		return OperatorPasswordReset{Name: cmd.Name, By: cmd.By}, nil
	}
	return nil, invalid("invalid_action", "operator action %q: want add, role, disable, enable or reset", cmd.Action)
}

// EndsSessions reports whether an operator event ends the operator's
// sessions: a new password, a new role or a disabled account must not
// leave an old session working.
func EndsSessions(eventType string) bool {
	switch eventType {
	case TypeOperatorRoleChanged, TypeOperatorDisabled, TypeOperatorPasswordReset:
		return true
	}
	return false
}

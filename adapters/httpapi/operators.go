package httpapi

import (
	"net/http"

	"github.com/recallledger/recall/domain"
)

// The tenant's named operators (admin): list, add, disable, enable,
// reset, change role. Each change is an operator event, recorded under
// the caller's name ("operator:alice" or "token:admin"); a disable, a
// reset and a role change end the operator's sessions (they give it a new
// generation, which every session is checked against).

func (s *Server) operatorsMissing(w http.ResponseWriter) bool {
	if s.cfg.SignIn == nil || s.cfg.SignIn.Operators == nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "operators are not served by this process")
		return true
	}
	return false
}

func (s *Server) listOperators(w http.ResponseWriter, r *http.Request, c caller) {
	if s.operatorsMissing(w) {
		return
	}
	list, err := s.cfg.SignIn.Operators.List(c.Tenant)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"operators": list})
}

type addOperatorRequest struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

// operatorReply is the answer to a change: the operator, and its new
// password after an add or a reset (shown once; only its hash is kept).
type operatorReply struct {
	Operator *domain.OperatorAccount `json:"operator,omitempty"`
	Password string                  `json:"password,omitempty"`
}

func (s *Server) addOperator(w http.ResponseWriter, r *http.Request, c caller) {
	if s.operatorsMissing(w) {
		return
	}
	var req addOperatorRequest
	if err := s.decode(w, r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	name, err := domain.ParseOperatorName(req.Name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	role, err := domain.ParseOperatorRole(req.Role)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	info, pw, err := s.cfg.SignIn.Operators.Change(r.Context(), c.Tenant, domain.OperatorCommand{Action: domain.OperatorAdd, Name: name, Role: role, By: c.actor()}, "")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, operatorReply{Operator: &info, Password: pw})
}

type roleRequest struct {
	Role string `json:"role"`
}

// changeOperator serves …/operators/{name}/disable|enable|reset|role.
func (s *Server) changeOperator(action domain.OperatorAction) func(http.ResponseWriter, *http.Request, caller) {
	return func(w http.ResponseWriter, r *http.Request, c caller) {
		if s.operatorsMissing(w) {
			return
		}
		name, err := domain.ParseOperatorName(r.PathValue("name"))
		if err != nil {
			s.fail(w, r, err)
			return
		}
		cmd := domain.OperatorCommand{Action: action, Name: name, By: c.actor()}
		if action == domain.OperatorSetRole {
			var req roleRequest
			if err := s.decode(w, r, &req); err != nil {
				s.fail(w, r, err)
				return
			}
			if cmd.Role, err = domain.ParseOperatorRole(req.Role); err != nil {
				s.fail(w, r, err)
				return
			}
		}
		// an operator cannot lock itself out of the console: another admin
		// (or recallctl) must disable it or take its admin role
		if c.Operator == name && (action == domain.OperatorDisable || action == domain.OperatorSetRole) {
			writeError(w, http.StatusConflict, "operator_self", "an operator cannot disable itself or change its own role; ask another admin")
			return
		}
		info, pw, err := s.cfg.SignIn.Operators.Change(r.Context(), c.Tenant, cmd, "")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		reply := operatorReply{Operator: &info, Password: pw}
		if action == domain.OperatorReset {
			reply.Operator = nil
			w.Header().Set("Cache-Control", "no-store")
		}
		writeJSON(w, http.StatusOK, reply)
	}
}

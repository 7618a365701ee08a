package httpapi

import (
	_ "embed"
	"net/http"
	"slices"
	"strings"

	"github.com/recallledger/recall/domain"
)

//go:embed openapi.json
var openAPI []byte

// route is one endpoint: who may call it and what serves it. Tenant routes
// get the caller's tenant, checked against the path.
type route struct {
	method, pattern string
	roles           []domain.AccessRole // nil: public
	easemob         bool                // errors in Easemob's shape
	handle          func(w http.ResponseWriter, r *http.Request, c caller)
}

// caller is an authenticated request's principal, its tenant matching the
// path's {org}/{app}: a token's, or a signed-in operator's (Operator set,
// Role the operator's).
type caller struct {
	domain.Principal
	Operator domain.OperatorName
}

// actor is how the log names the caller: "operator:alice" for a person
// signed in to the console, "token:admin" for an API token.
func (c caller) actor() string {
	if c.Operator != "" {
		return c.Operator.Actor()
	}
	return "token:" + string(c.Role)
}

// requestedBy is the operator behind an admin recall, as the event
// records it; "" for a token, whose events stay as they always were.
func (c caller) requestedBy() string {
	if c.Operator != "" {
		return c.Operator.Actor()
	}
	return ""
}

// viewer is the caller as an audit query records it: the operator, or the
// token's role as it always was ("auditor").
func (c caller) viewer() string {
	if c.Operator != "" {
		return c.Operator.Actor()
	}
	return string(c.Role)
}

var (
	service      = []domain.AccessRole{domain.AccessService}
	admin        = []domain.AccessRole{domain.AccessAdmin}
	adminAuditor = []domain.AccessRole{domain.AccessAdmin, domain.AccessAuditor}
	// the live conversation is the service's; as it was at a time (as_of),
	// the auditor's
	serviceAuditor = []domain.AccessRole{domain.AccessService, domain.AccessAuditor}
)

func (s *Server) register() {
	s.routes = []route{
		{method: "POST", pattern: "/v1/{org}/{app}/messages", roles: service, handle: s.send},
		{method: "POST", pattern: "/v1/{org}/{app}/messages/{msg_id}/read", roles: service, handle: s.read},
		{method: "POST", pattern: "/v1/{org}/{app}/messages/{msg_id}/recall", roles: service, handle: s.recall},
		{method: "POST", pattern: "/{org}/{app}/messages/recall", roles: admin, easemob: true, handle: s.batchRecall},
		{method: "POST", pattern: "/{org}/{app}/messages/msg_recall", roles: admin, easemob: true, handle: s.msgRecall},
		{method: "GET", pattern: "/v1/{org}/{app}/policy", roles: admin, handle: s.getPolicy},
		{method: "PUT", pattern: "/v1/{org}/{app}/policy", roles: admin, handle: s.putPolicy},
		{method: "PATCH", pattern: "/v1/{org}/{app}/policy", roles: admin, handle: s.patchPolicy},
		{method: "GET", pattern: "/v1/{org}/{app}/policy/history", roles: admin, handle: s.policyHistory},
		{method: "POST", pattern: "/v1/{org}/{app}/policy/simulate", roles: admin, handle: s.simulatePolicy},
		{method: "GET", pattern: "/v1/{org}/{app}/messages/{msg_id}/history", roles: adminAuditor, handle: s.messageHistory},
		{method: "GET", pattern: "/v1/{org}/{app}/events", roles: adminAuditor, handle: s.events},
		{method: "GET", pattern: "/v1/{org}/{app}/conversations/{conversation_id}/messages", roles: serviceAuditor, handle: s.conversationMessages},
		{method: "GET", pattern: "/v1/{org}/{app}/conversations/{conversation_id}/stream", roles: service, handle: s.conversationStream},
		{method: "GET", pattern: "/v1/{org}/{app}/audit", roles: adminAuditor, handle: s.audit},
		{method: "GET", pattern: "/v1/{org}/{app}/audit/export", roles: adminAuditor, handle: s.auditExport},
		{method: "GET", pattern: "/v1/{org}/{app}/audit/verify", roles: adminAuditor, handle: s.auditVerify},
		{method: "GET", pattern: "/v1/{org}/{app}/audit/checkpoint", roles: adminAuditor, handle: s.getCheckpoint},
		{method: "POST", pattern: "/v1/{org}/{app}/audit/checkpoint", roles: admin, handle: s.postCheckpoint},
		{method: "GET", pattern: "/v1/{org}/{app}/audit/proof/inclusion", roles: adminAuditor, handle: s.inclusionProof},
		{method: "GET", pattern: "/v1/{org}/{app}/audit/proof/consistency", roles: adminAuditor, handle: s.consistencyProof},
		{method: "GET", pattern: "/v1/{org}/{app}/reports/recalls", roles: adminAuditor, handle: s.recallReport},
		{method: "GET", pattern: "/v1/{org}/{app}/operators", roles: admin, handle: s.listOperators},
		{method: "POST", pattern: "/v1/{org}/{app}/operators", roles: admin, handle: s.addOperator},
		{method: "POST", pattern: "/v1/{org}/{app}/operators/{name}/disable", roles: admin, handle: s.changeOperator(domain.OperatorDisable)},
		{method: "POST", pattern: "/v1/{org}/{app}/operators/{name}/enable", roles: admin, handle: s.changeOperator(domain.OperatorEnable)},
		{method: "POST", pattern: "/v1/{org}/{app}/operators/{name}/reset", roles: admin, handle: s.changeOperator(domain.OperatorReset)},
		{method: "POST", pattern: "/v1/{org}/{app}/operators/{name}/role", roles: admin, handle: s.changeOperator(domain.OperatorSetRole)},
		{method: "POST", pattern: "/v1/{org}/{app}/holds", roles: admin, handle: s.placeHold},
		{method: "GET", pattern: "/v1/{org}/{app}/holds", roles: adminAuditor, handle: s.listHolds},
		{method: "DELETE", pattern: "/v1/{org}/{app}/holds/{id}", roles: admin, handle: s.releaseHold},
		{method: "POST", pattern: "/v1/{org}/{app}/erasures", roles: admin, handle: s.requestErasure},
		{method: "GET", pattern: "/v1/{org}/{app}/erasures/{id}", roles: admin, handle: s.getErasure},
		{method: "POST", pattern: "/console/api/login", handle: s.login},
		{method: "POST", pattern: "/console/api/logout", handle: s.logout},
		{method: "GET", pattern: "/console/api/session", handle: s.session},
		{method: "GET", pattern: "/healthz", handle: s.healthz},
		{method: "GET", pattern: "/readyz", handle: s.readyz},
		{method: "GET", pattern: "/metrics", handle: s.serveMetrics},
		{method: "GET", pattern: "/openapi.json", handle: s.openapi},
	}
	allowed := map[string][]string{} // pattern -> its methods
	for _, rt := range s.routes {
		s.mux.Handle(rt.method+" "+rt.pattern, s.metrics.instrument(rt.pattern, s.guard(rt)))
		allowed[rt.pattern] = append(allowed[rt.pattern], rt.method)
		if rt.method == http.MethodGet {
			allowed[rt.pattern] = append(allowed[rt.pattern], http.MethodHead) // the mux serves HEAD with GET
		}
	}
	// A known path asked with another method: 405 with Allow. The same
	// pattern without a method catches every method its routes do not
	// take (the mux prefers the pattern with the method); without it the
	// catch-all below would answer 404.
	for pattern, methods := range allowed {
		slices.Sort(methods)
		allow := strings.Join(methods, ", ")
		s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed here; allowed: "+allow)
		})
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint")
	})
}

// rolesAdmitted names the roles of a route for a refusal: "the admin or
// auditor token".
func rolesAdmitted(roles []domain.AccessRole) string {
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	return "the " + strings.Join(names, " or ") + " token"
}

// guard authenticates and authorises a tenant route before its handler:
// 401 without a valid token, 404 for another tenant's path (never
// revealing that it exists), 403 for a role the route does not allow, 429
// over the tenant's rate.
func (s *Server) guard(rt route) http.Handler {
	fail := writeError
	if rt.easemob {
		fail = writeEasemobError
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rt.roles == nil {
			rt.handle(w, r, caller{})
			return
		}
		c, ok := s.authenticate(w, r, fail)
		if !ok {
			return
		}
		p := c.Principal
		t, err := domain.NewTenant(r.PathValue("org"), r.PathValue("app"))
		if err != nil || t != p.Tenant {
			fail(w, http.StatusNotFound, "not_found", "no such tenant")
			return
		}
		if !slices.Contains(rt.roles, p.Role) {
			fail(w, http.StatusForbidden, "forbidden_role", "this endpoint admits "+rolesAdmitted(rt.roles)+", not the "+string(p.Role)+" "+c.kind())
			return
		}
		if l := s.limiter(t); !l.Allow() {
			w.Header().Set("Retry-After", retryAfter(l))
			fail(w, http.StatusTooManyRequests, "rate_limited", "over the tenant's request rate")
			return
		}
		rt.handle(w, r, c)
	})
}

// kind names what the caller authenticated with, for a refusal.
func (c caller) kind() string {
	if c.Operator != "" {
		return "operator"
	}
	return "token"
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	const prefix = "Bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return "", false
	}
	return strings.TrimSpace(h[len(prefix):]), true
}

func (s *Server) openapi(w http.ResponseWriter, r *http.Request, _ caller) {
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(openAPI)
	s.responseCut(r, err)
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request, _ caller) {
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request, _ caller) {
	if s.ready != nil {
		if err := s.ready(r.Context()); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "reason": err.Error()})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"ready": true})
}

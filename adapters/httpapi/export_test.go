package httpapi

import "github.com/recallledger/recall/domain"

// Routes lists the method-and-pattern of every route the server registers,
// so tests can hold the OpenAPI document to them.
func (s *Server) Routes() []string {
	out := make([]string, len(s.routes))
	for i, rt := range s.routes {
		out[i] = rt.method + " " + rt.pattern
	}
	return out
}

// AllowedRoles returns the roles a route ("METHOD /pattern") admits; nil
// for a public route.
func (s *Server) AllowedRoles(route string) []domain.AccessRole {
	for _, rt := range s.routes {
		if rt.method+" "+rt.pattern == route {
			return rt.roles
		}
	}
	return nil
}

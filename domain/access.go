package domain

import "fmt"

// AccessRole is what a caller may do in a tenant: record sends, reads and
// recalls (service), administer the tenant (admin), or read its audit log
// (auditor). API tokens carry one. It is not the actor Role an IM backend
// asserts for whoever recalls a message.
type AccessRole string

const (
	AccessService AccessRole = "service"
	AccessAdmin   AccessRole = "admin"
	AccessAuditor AccessRole = "auditor"
)

// AccessRoles lists every access role, in the order tokens are printed.
var AccessRoles = []AccessRole{AccessService, AccessAdmin, AccessAuditor}

// ParseAccessRole validates s.
func ParseAccessRole(s string) (AccessRole, error) {
	for _, r := range AccessRoles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("role %q: want service, admin or auditor", s)
}

// Principal is who an authenticated caller speaks for: one tenant, with
// one access role.
type Principal struct {
	Tenant Tenant
	Role   AccessRole
}

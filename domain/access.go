package domain

// AccessRole is what a caller of the server may do in a tenant: the role
// of a tenant's API token (service, admin, auditor) and of a named
// operator (admin or auditor). Each route admits some of them. It is not
// the ActorRole an IM backend asserts for whoever recalls a message.
type AccessRole string

const (
	// AccessService is the IM backend: it records sends and reads and
	// asks for recalls, asserting the actor's role.
	AccessService AccessRole = "service"
	// AccessAdmin sets the policy, force-recalls, and reads what an
	// auditor reads.
	AccessAdmin AccessRole = "admin"
	// AccessAuditor reads the audit log and the reports, and nothing else.
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
	return "", invalid("invalid_role", "role %q: want service, admin or auditor", s)
}

// Principal is who an authenticated caller speaks for: one tenant, with
// one access role.
type Principal struct {
	Tenant Tenant
	Role   AccessRole
}

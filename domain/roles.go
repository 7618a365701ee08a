package domain

// Two kinds of role, not to be confused: the capacity an actor recalls in,
// which the IM backend asserts on each recall (ActorRole), and what a
// caller of the server may do, by its API token or, as a named operator,
// by its account (AccessRole).

// ActorRole is the capacity an actor recalls in, as the IM backend asserts
// it: rule 6 and the window that applies depend on it.
type ActorRole string

const (
	ActorMember      ActorRole = "member"
	ActorGroupOwner  ActorRole = "group_owner"
	ActorGroupAdmin  ActorRole = "group_admin"
	ActorTenantAdmin ActorRole = "tenant_admin"
)

// ParseActorRole validates s; empty means member.
func ParseActorRole(s string) (ActorRole, error) {
	switch ActorRole(s) {
	case "":
		return ActorMember, nil
	case ActorMember, ActorGroupOwner, ActorGroupAdmin, ActorTenantAdmin:
		return ActorRole(s), nil
	}
	return "", invalid("invalid_actor_role", "actor_role %q: want member, group_owner, group_admin or tenant_admin", s)
}

// AccessRole is what a caller of the server may do: the role of a
// tenant's API token (service, admin, auditor) and of a named operator
// (admin or auditor). Each route admits some of them.
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

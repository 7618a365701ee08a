package domain

// Two kinds of role, not to be confused: the capacity an actor recalls in,
// which the IM backend asserts on each recall (ActorRole, here), and what
// a caller of the server may do, by its API token or, as a named operator,
// by its account (AccessRole, access.go).

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

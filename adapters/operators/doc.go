// Package operators keeps a data directory's named operators — the
// people who sign in to the console as a tenant's admin or auditor — and
// their passwords.
//
// The registry is an append-only journal (operators.jsonl, mode 0600):
// each change is one fsynced line, written under an exclusive lock by
// recalld or recallctl alike, and each process reads what the others
// appended since it last looked. A change therefore costs one line
// whatever the number of operators, and a recallctl change applies in a
// running recalld at once. Every change that is an operator event
// (created, role changed, disabled, enabled, password reset) is copied
// by the Publisher into the tenant's operator stream of the event store,
// where the audit log records it; the password hash never leaves the
// journal. Once the journal holds far more lines than operators it is
// compacted into one snapshot per operator.
//
// Passwords are hashed with argon2id (golang.org/x/crypto/argon2) with a
// random salt each; the parameters are kept with every hash.
//
// It is not the sign-in itself: the sessions, the login throttle and the
// HTTP side live in adapters/httpapi, which reaches this registry through
// its OperatorRegistry port.
package operators

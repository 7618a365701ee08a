// Package domain holds the rules of Recall Ledger: the values a message's
// life is made of (tenants, ids, policy), the events of schema v1, the
// message aggregate rebuilt from its events, and the recall decision.
//
// Nothing here does I/O or reads a clock: time arrives as a value, storage
// is reached through the EventStore port that adapters implement. Every rule
// is therefore a table test.
package domain

package auditlog

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/recallledger/recall/domain"
)

// The entry of each audited event type, one builder each. They fill in
// what the event says; appendEntry adds the chain's part (seq, time,
// position, event id, the conversation of a message's later entries, the
// hashes). Every field here is hashed (ComputeHash; docs/audit-encoding.md):
// a builder's output must not change for events already recorded.

func sendEntry(p domain.MessageSent) Entry {
	return Entry{Action: ActionSend, Outcome: "recorded", Actor: string(p.From), ActorRole: "sender", Platform: p.Platform,
		MsgID: string(p.MsgID), ConversationID: p.ConversationID, ContentSHA256: p.ContentSHA256,
		Detail: "to=" + string(p.To) + " chat_type=" + string(p.ChatType) + " type=" + string(p.MsgType)}
}

func readEntry(p domain.MessageRead) Entry {
	return Entry{Action: ActionRead, Outcome: "recorded", Actor: string(p.Reader), ActorRole: "reader", Platform: p.Platform, MsgID: string(p.MsgID)}
}

func recallEntry(p domain.MessageRecalled) Entry {
	e := Entry{Action: ActionRecall, Outcome: "recalled", Actor: string(p.Actor), ActorRole: string(p.ActorRole), Platform: p.Platform,
		MsgID: string(p.MsgID), ReasonText: p.ReasonText,
		Detail: fmt.Sprintf("elapsed_ms=%d window_ms=%d policy_version=%d read_by=%d", p.ElapsedMs, p.WindowMs, p.PolicyVersion, len(p.ReadBy))}
	if p.Forced {
		e.Detail += " forced=true" // an admin recalled past the window
	}
	if p.RequestedBy != "" {
		e.Detail += " requested_by=" + p.RequestedBy // the person behind an admin's recall
	}
	return e
}

func refusalEntry(p domain.RecallRejected) Entry {
	e := Entry{Action: ActionRecall, Outcome: "refused", Reason: string(p.Reason), Actor: string(p.Actor), ActorRole: string(p.ActorRole),
		Platform: p.Platform, MsgID: string(p.MsgID), ReasonText: p.ReasonText,
		Detail: fmt.Sprintf("elapsed_ms=%d window_ms=%d policy_version=%d", p.ElapsedMs, p.WindowMs, p.PolicyVersion)}
	if p.RequestedBy != "" {
		e.Detail += " requested_by=" + p.RequestedBy
	}
	return e
}

func expiryEntry(p domain.MessageExpired) Entry {
	return Entry{Action: ActionExpire, Outcome: "expired", Actor: "system", ActorRole: "system", MsgID: string(p.MsgID),
		Detail: "retention_s=" + strconv.FormatInt(p.RetentionS, 10)}
}

func policyEntry(p domain.TenantPolicySet) Entry {
	e := Entry{Action: ActionPolicy, Outcome: "set", Actor: p.ChangedBy, ActorRole: string(domain.AccessAdmin), Detail: p.Policy.String()}
	if p.Changes != nil {
		// what changed, field: old → new; an event recorded before
		// changes existed keeps the summary it was audited with
		e.Detail = "v" + strconv.FormatInt(p.Version, 10) + ":"
		for i, c := range p.Changes {
			if i > 0 {
				e.Detail += ";"
			}
			e.Detail += " " + c.String()
		}
	}
	return e
}

func auditEntry(p domain.AuditQueried) Entry {
	return Entry{Action: ActionAudit, Outcome: "viewed", Actor: p.Viewer, ActorRole: p.Viewer,
		Detail: fmt.Sprintf("format=%s results=%d query=%s", p.Format, p.Results, p.Query)}
}

// operatorEntry is a change of the tenant's named operators: the outcome
// says which, the actor who made it (as an admin: only an admin, or
// recallctl on the data directory, changes operators).
func operatorEntry(p domain.OperatorPayload) Entry {
	e := Entry{Action: ActionOperator, ActorRole: string(domain.AccessAdmin), Detail: "operator=" + string(p.Operator())}
	switch p := p.(type) {
	case domain.OperatorCreated:
		e.Outcome, e.Actor = "created", p.By
		e.Detail += " role=" + string(p.Role)
	case domain.OperatorRoleChanged:
		e.Outcome, e.Actor = "role_changed", p.By
		e.Detail += " role: " + string(p.PreviousRole) + " → " + string(p.Role)
	case domain.OperatorDisabled:
		e.Outcome, e.Actor = "disabled", p.By
	case domain.OperatorEnabled:
		e.Outcome, e.Actor = "enabled", p.By
	case domain.OperatorPasswordReset:
		e.Outcome, e.Actor = "password_reset", p.By
	}
	return e
}

// holdPlacedEntry is a legal hold placed: its id, what it covers, its
// case and reason.
func holdPlacedEntry(p domain.LegalHoldPlaced) Entry {
	e := Entry{Action: ActionHold, Outcome: "placed", Actor: p.By, ActorRole: string(domain.AccessAdmin), ReasonText: p.Reason,
		Detail: "hold=" + p.HoldID + " scope=" + string(p.Scope) + " id=" + p.Subject + " case=" + p.Case}
	if p.Scope == domain.HoldConversation {
		e.ConversationID = p.Subject
	}
	if p.From != nil {
		e.Detail += " from=" + p.From.String()
	}
	if p.To != nil {
		e.Detail += " to=" + p.To.String()
	}
	return e
}

func holdReleasedEntry(p domain.LegalHoldReleased) Entry {
	return Entry{Action: ActionHold, Outcome: "released", Actor: p.By, ActorRole: string(domain.AccessAdmin), ReasonText: p.Reason,
		Detail: "hold=" + p.HoldID}
}

func erasureRequestedEntry(p domain.ErasureRequested) Entry {
	e := Entry{Action: ActionErasure, Outcome: "requested", Actor: p.By, ActorRole: string(domain.AccessAdmin), ReasonText: p.Reason,
		Detail: "erasure=" + p.ErasureID + " user=" + string(p.User)}
	if p.RequestID != "" {
		e.Detail += " request_id=" + p.RequestID
	}
	return e
}

// contentErasedEntry is one chunk of an erasure's pass: how many messages
// it erased, how many a hold kept and which holds (every decision a hold
// changed names the hold).
func contentErasedEntry(p domain.ContentErased) Entry {
	e := Entry{Action: ActionErasure, Outcome: "erased", Actor: "system", ActorRole: "system",
		Detail: fmt.Sprintf("erasure=%s user=%s erased=%d held=%d", p.ErasureID, p.User, len(p.Erased), len(p.Held))}
	if len(p.Held) > 0 {
		e.Outcome = "deferred"
		var holds []string
		for _, h := range p.Held {
			for _, id := range h.HoldIDs {
				if !slices.Contains(holds, id) {
					holds = append(holds, id)
				}
			}
		}
		e.Detail += " holds=" + strings.Join(holds, ",")
	}
	if p.ReleasedHold != "" {
		e.Detail += " released_hold=" + p.ReleasedHold
	}
	if p.Final {
		e.Detail += " final=true"
	}
	return e
}

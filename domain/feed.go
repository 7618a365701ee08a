package domain

// FeedContent is the policy feed_content: what the event feed carries of
// a message's content. The feed is every way events leave the server as
// they are: GET …/events, `recallctl export events` and the bus. The log
// itself always keeps the content as sent (until audit retention purges
// it); the feed is redacted as it is read, by RedactForFeed.
type FeedContent string

const (
	// FeedPlaintext carries MessageSent as recorded: content and
	// content_sha256. The default, as before the setting existed.
	FeedPlaintext FeedContent = "plaintext"
	// FeedSHA256 carries content as "" and keeps content_sha256, so a
	// consumer can match content it already holds without receiving it;
	// content_redacted says "sha256".
	FeedSHA256 FeedContent = "sha256"
	// FeedNone carries neither: content and content_sha256 are both "",
	// and content_redacted says "none".
	FeedNone FeedContent = "none"
)

// ParseFeedContent validates s.
func ParseFeedContent(s string) (FeedContent, error) {
	switch f := FeedContent(s); f {
	case FeedPlaintext, FeedSHA256, FeedNone:
		return f, nil
	}
	return "", invalid("invalid_policy", "feed_content %q: want plaintext, sha256 or none", s)
}

// reveals ranks the modes by how much of the content they let out.
func (f FeedContent) reveals() int {
	switch f {
	case FeedNone:
		return 0
	case FeedSHA256:
		return 1
	}
	return 2
}

// Stricter is whichever of f and g lets out less.
func (f FeedContent) Stricter(g FeedContent) FeedContent {
	if g.reveals() < f.reveals() {
		return g
	}
	return f
}

// RedactForFeed returns e as the feed carries it under mode: the one
// redaction every feed path applies. Only MessageSent carries content;
// every other event, and every event under plaintext, is returned as it
// is. A redacted MessageSent has content "" (and, under none,
// content_sha256 "") and content_redacted naming the mode; its other
// fields, and the envelope, are unchanged. Redacted reports whether e was
// changed: an unchanged event may go out as its stored JSON.
func RedactForFeed(e Event, mode FeedContent) (out Event, redacted bool) {
	sent, ok := e.Data.(MessageSent)
	if !ok || mode.reveals() == FeedPlaintext.reveals() {
		return e, false
	}
	sent.Content, sent.ContentRedacted = "", mode
	if mode == FeedNone {
		sent.ContentSHA256 = ""
	}
	e.Data = sent
	return e, true
}

// FeedPolicy is how the feed carries one tenant's events. Each MessageSent
// goes out under the stricter of two feed_content settings: the one in
// force when it was recorded (the last policy set before it), and the
// current one (the last policy set of all). So a tenant that turns the
// feed to none withholds all of its history from then on, and content
// sent while the feed was none or sha256 never comes out in full, even
// if the tenant later goes back to plaintext.
type FeedPolicy struct {
	changes []feedChange // in position order
}

type feedChange struct {
	position uint64
	mode     FeedContent
}

// NewFeedPolicy reads a tenant's policy history: the events of its tenant
// stream, in order (other types are skipped).
func NewFeedPolicy(history []Event) FeedPolicy {
	var f FeedPolicy
	for _, e := range history {
		if set, ok := e.Data.(TenantPolicySet); ok {
			f.changes = append(f.changes, feedChange{position: e.Position, mode: set.FeedContent})
		}
	}
	return f
}

// At is the mode for the tenant's event at position.
func (f FeedPolicy) At(position uint64) FeedContent {
	if len(f.changes) == 0 {
		return FeedPlaintext
	}
	then := FeedPlaintext
	for _, c := range f.changes {
		if c.position >= position {
			break
		}
		then = c.mode
	}
	return then.Stricter(f.changes[len(f.changes)-1].mode)
}

// Redact is RedactForFeed under the mode for e's position.
func (f FeedPolicy) Redact(e Event) (Event, bool) { return RedactForFeed(e, f.At(e.Position)) }

package httpapi

// The console's sign-in state: the sessions of signed-in operators, and
// (throttle.go) the login throttle that locks out guessing.
//
// Sessions live in memory: a restart of recalld signs every operator out
// (they sign in again), and a session is valid only on the recalld that
// made it (several recalld behind one address need sticky sessions). A
// session's token is 256 random bits, kept only as its SHA-256; its CSRF
// token is another 256 random bits, compared in constant time. Time comes
// from the injected clock, so tests move it instead of waiting.

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/recallledger/recall/domain"
)

// sessionConfig bounds a session's life; the zero value of a field takes
// its default.
type sessionConfig struct {
	// Idle ends a session nobody used for this long (default 30 min).
	Idle time.Duration
	// Absolute ends every session this long after sign-in, used or not
	// (default 8 h: a working day).
	Absolute time.Duration
	// PerOperator bounds one operator's live sessions (default 16); a
	// new one beyond it ends the oldest.
	PerOperator int
}

func (c sessionConfig) withDefaults() sessionConfig {
	if c.Idle <= 0 {
		c.Idle = 30 * time.Minute
	}
	if c.Absolute <= 0 {
		c.Absolute = 8 * time.Hour
	}
	if c.PerOperator <= 0 {
		c.PerOperator = 16
	}
	return c
}

// session is a signed-in operator.
type session struct {
	Tenant   domain.Tenant
	Operator domain.OperatorName
	// Generation is the operator's generation at sign-in: a later
	// password reset, role change or disable gives it another, which
	// ends this session (operators.Registry.Current).
	Generation uint64
	CSRFToken  string
	SignedInAt time.Time
	LastSeen   time.Time
	// IdleExpiresAt and ExpiresAt are when the session ends if not used
	// again, and at the latest.
	IdleExpiresAt time.Time
	ExpiresAt     time.Time
}

// sessionStore is the store of live sessions. Safe for concurrent use.
type sessionStore struct {
	clock domain.Clock
	cfg   sessionConfig

	mu        sync.Mutex
	byHash    map[[sha256.Size]byte]*session
	swept     int // size of the map at the last sweep
	sweptTime time.Time
}

// newSessionStore returns an empty store.
func newSessionStore(clock domain.Clock, cfg sessionConfig) *sessionStore {
	return &sessionStore{clock: clock, cfg: cfg.withDefaults(), byHash: map[[sha256.Size]byte]*session{}}
}

// Config is the store's configuration, defaults filled in.
func (s *sessionStore) Config() sessionConfig { return s.cfg }

func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("session token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Create starts a session for the operator and returns its token (for
// the cookie; never kept) and the session.
func (s *sessionStore) Create(t domain.Tenant, name domain.OperatorName, generation uint64) (string, session, error) {
	token, err := randomToken()
	if err != nil {
		return "", session{}, err
	}
	csrf, err := randomToken()
	if err != nil {
		return "", session{}, err
	}
	now := s.clock.Now()
	sess := &session{Tenant: t, Operator: name, Generation: generation, CSRFToken: csrf, SignedInAt: now, LastSeen: now,
		ExpiresAt: now.Add(s.cfg.Absolute)}
	sess.IdleExpiresAt = s.idleEnd(sess)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep(now)
	s.byHash[sha256.Sum256([]byte(token))] = sess
	s.limitOperator(t, name)
	return token, *sess, nil
}

func (s *sessionStore) idleEnd(sess *session) time.Time {
	end := sess.LastSeen.Add(s.cfg.Idle)
	if end.After(sess.ExpiresAt) {
		return sess.ExpiresAt
	}
	return end
}

// Lookup returns the live session of token and marks it used now; false
// for no such session or one past its idle or absolute expiry (which it
// then ends).
func (s *sessionStore) Lookup(token string) (session, bool) {
	if token == "" || len(token) > 128 {
		return session{}, false
	}
	h := sha256.Sum256([]byte(token))
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.byHash[h]
	if !ok {
		return session{}, false
	}
	if !now.Before(sess.IdleExpiresAt) {
		delete(s.byHash, h)
		return session{}, false
	}
	sess.LastSeen = now
	sess.IdleExpiresAt = s.idleEnd(sess)
	return *sess, true
}

// End ends the session of token (logout). Ending one that is not live
// does nothing.
func (s *sessionStore) End(token string) {
	h := sha256.Sum256([]byte(token))
	s.mu.Lock()
	delete(s.byHash, h)
	s.mu.Unlock()
}

// EndOperator ends every session of the operator.
func (s *sessionStore) EndOperator(t domain.Tenant, name domain.OperatorName) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for h, sess := range s.byHash {
		if sess.Tenant == t && sess.Operator == name {
			delete(s.byHash, h)
		}
	}
}

// Len is how many sessions are held (live or not yet swept).
func (s *sessionStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byHash)
}

// CheckCSRF reports whether token is the session's CSRF token, compared
// in constant time.
func (sess session) CheckCSRF(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(sess.CSRFToken)) == 1
}

// sweep drops ended sessions once the map doubled since the last sweep or
// a minute passed, so the cost stays proportional to the sessions made;
// s.mu is held.
func (s *sessionStore) sweep(now time.Time) {
	if len(s.byHash) < 2*max(s.swept, 64) && now.Sub(s.sweptTime) < time.Minute {
		return
	}
	for h, sess := range s.byHash {
		if !now.Before(sess.IdleExpiresAt) {
			delete(s.byHash, h)
		}
	}
	s.swept, s.sweptTime = len(s.byHash), now
}

// limitOperator ends the operator's oldest sessions beyond PerOperator;
// s.mu is held.
func (s *sessionStore) limitOperator(t domain.Tenant, name domain.OperatorName) {
	type held struct {
		h  [sha256.Size]byte
		at time.Time
	}
	var mine []held
	for h, sess := range s.byHash {
		if sess.Tenant == t && sess.Operator == name {
			mine = append(mine, held{h, sess.SignedInAt})
		}
	}
	if len(mine) <= s.cfg.PerOperator {
		return
	}
	sort.Slice(mine, func(i, j int) bool { return mine[i].at.Before(mine[j].at) })
	for _, m := range mine[:len(mine)-s.cfg.PerOperator] {
		delete(s.byHash, m.h)
	}
}

package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/recallledger/recall/domain"
)

// OperatorRegistry is what the console's sign-in and the operators routes
// need of the tenant's named operators and their passwords. recalld gives
// the registry in the data directory (adapters/operators).
type OperatorRegistry interface {
	// Verify checks an operator's password and returns its access role
	// (admin or auditor) and its generation; false, after the same work,
	// for an unknown or disabled operator or a wrong password.
	Verify(ctx context.Context, t domain.Tenant, name domain.OperatorName, password string) (domain.AccessRole, uint64, bool, error)
	// Current is the operator's role and generation now: false once it no
	// longer exists or is disabled. A reset, a role change and a disable
	// give it another generation.
	Current(t domain.Tenant, name domain.OperatorName) (domain.AccessRole, uint64, bool)
	// RecordSignIn notes that the operator signed in.
	RecordSignIn(t domain.Tenant, name domain.OperatorName) error
	List(t domain.Tenant) ([]domain.OperatorAccount, error)
	// Change applies cmd and returns the operator after it, and a new
	// one-time password after an add or a reset.
	Change(ctx context.Context, t domain.Tenant, cmd domain.OperatorCommand, password string) (domain.OperatorAccount, string, error)
}

// SignInConfig tunes the console's sign-in; the zero value of a field
// takes its default.
type SignInConfig struct {
	// SessionIdle ends a session nobody used for this long (30 minutes);
	// SessionMax ends every session this long after sign-in (8 hours).
	SessionIdle, SessionMax time.Duration
	// SecureCookies marks the session cookie Secure, with the __Host-
	// prefix: set it when browsers reach recalld through a TLS-terminating
	// proxy (recalld itself serves plain HTTP). A request that arrived
	// over TLS gets a Secure cookie anyway.
	SecureCookies bool
}

// SignIn is the console's operator sign-in (Config.SignIn): the operator
// registry, the sessions and the login throttle. A server without one
// answers the sign-in routes 404, and only bearer tokens authenticate.
type SignIn struct {
	Operators     OperatorRegistry
	sessions      *sessionStore
	throttle      *loginThrottle
	secureCookies bool
}

// NewSignIn returns the sign-in over ops, its sessions and lockouts timed
// by clock.
func NewSignIn(ops OperatorRegistry, clock domain.Clock, cfg SignInConfig) *SignIn {
	return &SignIn{
		Operators:     ops,
		sessions:      newSessionStore(clock, sessionConfig{Idle: cfg.SessionIdle, Absolute: cfg.SessionMax}),
		throttle:      newLoginThrottle(clock, throttleConfig{}),
		secureCookies: cfg.SecureCookies,
	}
}

// The session cookie's names: with Secure, the __Host- prefix also makes
// the browser refuse it from a subdomain or another path.
const (
	cookiePlain  = "recall_session"
	cookieSecure = "__Host-recall_session"
)

// csrfHeader carries the session's CSRF token on every state-changing
// request signed in by cookie.
const csrfHeader = "X-CSRF-Token"

// crossOrigin refuses a state-changing request a browser sent from
// another origin (Sec-Fetch-Site, else Origin against Host): the
// standard library's check, Go 1.25's answer to CSRF. It is applied to
// sign-in and to every request authenticated by the session cookie;
// bearer tokens are not cookies, and a page cannot make a browser send
// one.
var crossOrigin = http.NewCrossOriginProtection()

// sessionToken is the session cookie of r, if any.
func sessionToken(r *http.Request) string {
	for _, name := range []string{cookieSecure, cookiePlain} {
		if c, err := r.Cookie(name); err == nil && c.Value != "" {
			return c.Value
		}
	}
	return ""
}

func (s *Server) secure(r *http.Request) bool {
	return r.TLS != nil || (s.cfg.SignIn != nil && s.cfg.SignIn.secureCookies)
}

func (s *Server) setSessionCookie(w http.ResponseWriter, r *http.Request, token string) {
	name := cookiePlain
	if s.secure(r) {
		name = cookieSecure
	}
	// no Expires: the browser drops it when it closes; the server ends it
	// after its idle or absolute expiry either way
	http.SetCookie(w, &http.Cookie{Name: name, Value: token, Path: "/", HttpOnly: true, Secure: s.secure(r), SameSite: http.SameSiteStrictMode})
}

func (s *Server) clearSessionCookie(w http.ResponseWriter, r *http.Request) {
	for _, name := range []string{cookiePlain, cookieSecure} {
		if _, err := r.Cookie(name); err == nil {
			http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
				Secure: name == cookieSecure || s.secure(r), SameSite: http.SameSiteStrictMode})
		}
	}
}

// liveSession returns the session r's cookie names, if it is live: not
// past its expiry, and its operator still exists, is enabled and has the
// generation it signed in with (a reset, role change or disable since,
// made here or by recallctl, ends it).
func (s *Server) liveSession(r *http.Request) (session, domain.AccessRole, string, bool) {
	si := s.cfg.SignIn
	token := sessionToken(r)
	if si == nil || token == "" {
		return session{}, "", "", false
	}
	sess, ok := si.sessions.Lookup(token)
	if !ok {
		return session{}, "", token, false
	}
	role, gen, live := si.Operators.Current(sess.Tenant, sess.Operator)
	if !live || gen != sess.Generation {
		si.sessions.End(token)
		return session{}, "", token, false
	}
	return sess, role, token, true
}

// authenticate finds who a tenant route's request speaks for: a bearer
// token, or else the session cookie of a signed-in operator. It answers
// the request itself (401, or 403 for a cross-site or CSRF-less change
// by cookie) when it returns false.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, fail func(http.ResponseWriter, int, string, string)) (caller, bool) {
	_, hasAuth := r.Header["Authorization"]
	if !hasAuth && s.cfg.SignIn != nil && sessionToken(r) != "" {
		sess, role, _, ok := s.liveSession(r)
		if !ok {
			s.clearSessionCookie(w, r)
			fail(w, http.StatusUnauthorized, "unauthorized", "the session ended (signed out, expired, or the operator was changed): sign in again")
			return caller{}, false
		}
		if !s.sameOriginChange(w, r, sess, fail) {
			return caller{}, false
		}
		return caller{Principal: domain.Principal{Tenant: sess.Tenant, Role: role}, Operator: sess.Operator}, true
	}
	token, ok := bearer(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="recall-ledger"`)
		fail(w, http.StatusUnauthorized, "unauthorized", "a valid bearer token is required")
		return caller{}, false
	}
	p, ok := s.auth.Authenticate(token)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="recall-ledger", error="invalid_token"`)
		fail(w, http.StatusUnauthorized, "unauthorized", "a valid bearer token is required")
		return caller{}, false
	}
	return caller{Principal: p}, true
}

// sameOriginChange lets a state-changing request signed in by cookie
// through only if it comes from the console's own origin and carries the
// session's CSRF token (a synchronizer token, compared in constant time).
// Reads pass: they change nothing.
func (s *Server) sameOriginChange(w http.ResponseWriter, r *http.Request, sess session, fail func(http.ResponseWriter, int, string, string)) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	if err := crossOrigin.Check(r); err != nil {
		s.log.Warn("cross-origin request refused", slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.String("tenant", sess.Tenant.String()), slog.String("operator", string(sess.Operator)))
		fail(w, http.StatusForbidden, "cross_origin", "a state-changing request from another site is refused")
		return false
	}
	if !sess.CheckCSRF(r.Header.Get(csrfHeader)) {
		fail(w, http.StatusForbidden, "csrf", "this request changes something and needs the session's "+csrfHeader+" header")
		return false
	}
	return true
}

// sessionBody is what login and GET /console/api/session answer.
type sessionBody struct {
	Operator struct {
		Name domain.OperatorName `json:"name"`
		Role domain.AccessRole   `json:"role"`
	} `json:"operator"`
	Tenant        string      `json:"tenant"`
	CSRFToken     string      `json:"csrf_token"`
	IdleExpiresAt domain.Time `json:"idle_expires_at"`
	ExpiresAt     domain.Time `json:"expires_at"`
}

func newSessionBody(sess session, role domain.AccessRole) sessionBody {
	var b sessionBody
	b.Operator.Name, b.Operator.Role = sess.Operator, role
	b.Tenant, b.CSRFToken = sess.Tenant.String(), sess.CSRFToken
	b.IdleExpiresAt, b.ExpiresAt = domain.NewTime(sess.IdleExpiresAt), domain.NewTime(sess.ExpiresAt)
	return b
}

func (s *Server) signInMissing(w http.ResponseWriter) bool {
	if s.cfg.SignIn == nil {
		writeError(w, http.StatusNotFound, "not_found", "this recalld does not offer operator sign-in")
		return true
	}
	return false
}

type loginRequest struct {
	Tenant   string `json:"tenant"`
	Name     string `json:"name"`
	Password string `json:"password"`
}

// lockedOut is the 429 body of a sign-in refused by the throttle.
type lockedOut struct {
	Error       string      `json:"error"`
	Message     string      `json:"message"`
	LockedUntil domain.Time `json:"locked_until"`
	RetryAfterS int64       `json:"retry_after_s"`
}

func (s *Server) writeLockedOut(w http.ResponseWriter, now, until time.Time) {
	secs := max(1, int64((until.Sub(now)+time.Second-1)/time.Second))
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	writeJSON(w, http.StatusTooManyRequests, lockedOut{Error: "locked_out",
		Message:     "too many failed sign-ins for this operator or from this address; try again after " + domain.NewTime(until).String(),
		LockedUntil: domain.NewTime(until), RetryAfterS: secs})
}

// login signs an operator in: the password checked with argon2id, the
// same answer (and the same work) for an unknown tenant or name, a
// disabled operator and a wrong password, a lockout after repeated
// failures, and on success a new session in an HttpOnly, SameSite=Strict
// cookie.
func (s *Server) login(w http.ResponseWriter, r *http.Request, _ caller) {
	if s.signInMissing(w) {
		return
	}
	si := s.cfg.SignIn
	if err := crossOrigin.Check(r); err != nil {
		writeError(w, http.StatusForbidden, "cross_origin", "sign-in from another site is refused")
		return
	}
	var req loginRequest
	// application/json exactly: a cross-site form cannot send it without
	// a preflight the server never answers
	if err := s.decodeAs(w, r, &req, bodyRules{mediaType: "application/json", requireType: true}); err != nil {
		s.fail(w, r, err)
		return
	}
	t, err := domain.ParseTenant(req.Tenant)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	name, err := domain.ParseOperatorName(req.Name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if req.Password == "" {
		writeError(w, http.StatusBadRequest, "invalid_password", "password: required")
		return
	}
	attempt := signInAttempt{Tenant: t, Name: string(name), Address: addressKey(r.RemoteAddr)}
	now := si.throttle.Now()
	if until, locked := si.throttle.Locked(attempt); locked {
		s.writeLockedOut(w, now, until)
		return
	}
	role, gen, ok, err := si.Operators.Verify(r.Context(), t, name, req.Password)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !ok {
		s.log.Info("sign-in failed", slog.String("tenant", t.String()), slog.String("operator", string(name)), slog.String("address", attempt.Address))
		if until, locked := si.throttle.Fail(attempt); locked {
			s.log.Warn("sign-in locked out", slog.String("tenant", t.String()), slog.String("operator", string(name)),
				slog.String("address", attempt.Address), slog.Time("until", until))
			s.writeLockedOut(w, now, until)
			return
		}
		writeError(w, http.StatusUnauthorized, "bad_credentials", "the tenant, name or password is not right")
		return
	}
	si.throttle.Succeed(attempt)
	token, sess, err := si.sessions.Create(t, name, gen)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := si.Operators.RecordSignIn(t, name); err != nil {
		s.log.Warn("sign-in: last_login_at not recorded", slog.Any("err", err))
	}
	s.log.Info("signed in", slog.String("tenant", t.String()), slog.String("operator", string(name)), slog.String("address", attempt.Address))
	w.Header().Set("Cache-Control", "no-store")
	s.setSessionCookie(w, r, token)
	writeJSON(w, http.StatusOK, newSessionBody(sess, role))
}

// logout ends the session server-side and clears the cookie. Without a
// live session there is nothing to end: 204 all the same.
func (s *Server) logout(w http.ResponseWriter, r *http.Request, _ caller) {
	if s.signInMissing(w) {
		return
	}
	sess, _, token, ok := s.liveSession(r)
	if ok {
		if !s.sameOriginChange(w, r, sess, writeError) {
			return
		}
		s.cfg.SignIn.sessions.End(token)
		s.log.Info("signed out", slog.String("tenant", sess.Tenant.String()), slog.String("operator", string(sess.Operator)))
	}
	s.clearSessionCookie(w, r)
	w.WriteHeader(http.StatusNoContent)
}

// session answers the live session (its idle expiry moved on), or 401.
func (s *Server) session(w http.ResponseWriter, r *http.Request, _ caller) {
	if s.signInMissing(w) {
		return
	}
	sess, role, _, ok := s.liveSession(r)
	if !ok {
		s.clearSessionCookie(w, r)
		writeError(w, http.StatusUnauthorized, "unauthorized", "not signed in")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, newSessionBody(sess, role))
}

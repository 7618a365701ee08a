package httpapi

import (
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/recallledger/recall/domain"
)

// lockoutRule is one lockout rule: Failures failed sign-ins within Window lock
// the key out for Lockout.
type lockoutRule struct {
	Failures int
	Window   time.Duration
	Lockout  time.Duration
}

// throttleConfig holds the two rules: per operator (tenant and name, the
// same for names that do not exist, so a lockout tells nothing about
// which do) and per client address. The zero value of a field takes its
// default.
type throttleConfig struct {
	// PerOperator defaults to 5 failures in 15 minutes, locked for 15.
	PerOperator lockoutRule
	// PerAddress defaults to 20 failures in 15 minutes, locked for 15.
	PerAddress lockoutRule
	// MaxKeys bounds what the throttle remembers (default 100,000 keys,
	// a few MB); past it, keys whose window passed are forgotten first.
	MaxKeys int
}

func (c throttleConfig) withDefaults() throttleConfig {
	def := func(l *lockoutRule, failures int) {
		if l.Failures <= 0 {
			l.Failures = failures
		}
		if l.Window <= 0 {
			l.Window = 15 * time.Minute
		}
		if l.Lockout <= 0 {
			l.Lockout = 15 * time.Minute
		}
	}
	def(&c.PerOperator, 5)
	def(&c.PerAddress, 20)
	if c.MaxKeys <= 0 {
		c.MaxKeys = 100_000
	}
	return c
}

// loginThrottle counts failed sign-ins and locks out an operator name or a
// client address that fails too often. Safe for concurrent use.
type loginThrottle struct {
	clock domain.Clock
	cfg   throttleConfig

	mu   sync.Mutex
	keys map[string]*failures
}

type failures struct {
	count       int
	windowStart time.Time
	lockedUntil time.Time
}

// newLoginThrottle returns a throttle that remembers nothing yet.
func newLoginThrottle(clock domain.Clock, cfg throttleConfig) *loginThrottle {
	return &loginThrottle{clock: clock, cfg: cfg.withDefaults(), keys: map[string]*failures{}}
}

// Now is the throttle's time, by which its lockouts end.
func (t *loginThrottle) Now() time.Time { return t.clock.Now() }

// Config is the throttle's configuration, defaults filled in.
func (t *loginThrottle) Config() throttleConfig { return t.cfg }

// signInAttempt is one sign-in's keys: the operator it names and the address it
// comes from.
type signInAttempt struct {
	Tenant  domain.Tenant
	Name    string
	Address string // a client key from addressKey
}

func (a signInAttempt) operatorKey() string { return "o\x00" + a.Tenant.String() + "\x00" + a.Name }
func (a signInAttempt) addressKey() string  { return "a\x00" + a.Address }

// Locked reports whether the attempt's operator or address is locked out,
// and until when (the later of the two).
func (t *loginThrottle) Locked(a signInAttempt) (time.Time, bool) {
	now := t.clock.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	var until time.Time
	for _, k := range []string{a.operatorKey(), a.addressKey()} {
		if f, ok := t.keys[k]; ok && now.Before(f.lockedUntil) && f.lockedUntil.After(until) {
			until = f.lockedUntil
		}
	}
	return until, !until.IsZero()
}

// Fail counts a failed sign-in against the operator and the address, and
// reports whether that locked either out (and until when).
func (t *loginThrottle) Fail(a signInAttempt) (time.Time, bool) {
	now := t.clock.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	var until time.Time
	for _, k := range []struct {
		key   string
		limit lockoutRule
	}{{a.operatorKey(), t.cfg.PerOperator}, {a.addressKey(), t.cfg.PerAddress}} {
		f := t.keys[k.key]
		if f == nil {
			if len(t.keys) >= t.cfg.MaxKeys {
				t.forget(now)
			}
			f = &failures{}
			t.keys[k.key] = f
		}
		if now.Sub(f.windowStart) >= k.limit.Window {
			f.count, f.windowStart = 0, now
		}
		f.count++
		if f.count >= k.limit.Failures {
			f.lockedUntil = now.Add(k.limit.Lockout)
			f.count, f.windowStart = 0, now
		}
		if now.Before(f.lockedUntil) && f.lockedUntil.After(until) {
			until = f.lockedUntil
		}
	}
	return until, !until.IsZero()
}

// Succeed forgets the operator's failures: a right password ends a run
// of wrong ones. The address's count stays (one right password must not
// reset a guesser trying many names).
func (t *loginThrottle) Succeed(a signInAttempt) {
	t.mu.Lock()
	delete(t.keys, a.operatorKey())
	t.mu.Unlock()
}

// forget drops keys that are neither locked nor inside their window;
// t.mu is held. If that frees nothing, the map is cleared of unlocked
// keys: remembering a flood of names must not take the memory.
func (t *loginThrottle) forget(now time.Time) {
	longest := max(t.cfg.PerOperator.Window, t.cfg.PerAddress.Window)
	for k, f := range t.keys {
		if !now.Before(f.lockedUntil) && now.Sub(f.windowStart) >= longest {
			delete(t.keys, k)
		}
	}
	if len(t.keys) < t.cfg.MaxKeys {
		return
	}
	for k, f := range t.keys {
		if !now.Before(f.lockedUntil) {
			delete(t.keys, k)
		}
	}
}

// addressKey is the throttle's key for a client address (host:port or a
// bare host): the IPv4 address, or the IPv6 /64 a client can hop around
// in.
func addressKey(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

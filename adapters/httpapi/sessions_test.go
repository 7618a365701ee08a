package httpapi

import (
	"testing"
	"time"

	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/clocktest"
)

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func demo(t *testing.T) domain.Tenant {
	t.Helper()
	tn, err := domain.ParseTenant("demo/demo")
	if err != nil {
		t.Fatal(err)
	}
	return tn
}

func TestASessionEndsWhenIdleAndAtItsAbsoluteExpiry(t *testing.T) {
	clock := clocktest.New(t0)
	s := newSessionStore(clock, sessionConfig{Idle: 30 * time.Minute, Absolute: 8 * time.Hour})
	tok, sess, err := s.Create(demo(t), "alice", 7)
	if err != nil {
		t.Fatal(err)
	}
	if !sess.IdleExpiresAt.Equal(t0.Add(30*time.Minute)) || !sess.ExpiresAt.Equal(t0.Add(8*time.Hour)) || sess.Generation != 7 {
		t.Fatalf("new session %+v", sess)
	}
	// used every 29 minutes, it lives to its absolute expiry and no longer
	for clock.Now().Before(t0.Add(8*time.Hour - 29*time.Minute)) {
		clock.Advance(29 * time.Minute)
		got, ok := s.Lookup(tok)
		if !ok {
			t.Fatalf("session ended at %v while in use", clock.Now())
		}
		if got.IdleExpiresAt.After(got.ExpiresAt) {
			t.Fatalf("idle expiry %v past the absolute %v", got.IdleExpiresAt, got.ExpiresAt)
		}
	}
	clock.Advance(29 * time.Minute)
	if _, ok := s.Lookup(tok); ok {
		t.Fatalf("session alive at %v, past its absolute expiry", clock.Now())
	}

	tok2, _, _ := s.Create(demo(t), "alice", 7)
	clock.Advance(30*time.Minute - time.Millisecond)
	if _, ok := s.Lookup(tok2); !ok {
		t.Fatal("session ended before its idle timeout")
	}
	clock.Advance(30 * time.Minute)
	if _, ok := s.Lookup(tok2); ok {
		t.Fatal("session alive after 30 idle minutes")
	}
}

func TestLogoutAndEndOperatorEndSessionsServerSide(t *testing.T) {
	s := newSessionStore(clocktest.New(t0), sessionConfig{})
	a1, _, _ := s.Create(demo(t), "alice", 1)
	a2, _, _ := s.Create(demo(t), "alice", 1)
	b, _, _ := s.Create(demo(t), "bob", 1)
	s.End(a1)
	if _, ok := s.Lookup(a1); ok {
		t.Fatal("a logged-out session still works")
	}
	if _, ok := s.Lookup(a2); !ok {
		t.Fatal("logging out one session ended another")
	}
	s.EndOperator(demo(t), "alice")
	if _, ok := s.Lookup(a2); ok {
		t.Fatal("EndOperator left a session")
	}
	if _, ok := s.Lookup(b); !ok {
		t.Fatal("EndOperator ended another operator's session")
	}
	for _, bad := range []string{"", "x", a1 + "x"} {
		if _, ok := s.Lookup(bad); ok {
			t.Errorf("token %q found a session", bad)
		}
	}
}

func TestCSRFTokenIsBoundToItsSession(t *testing.T) {
	s := newSessionStore(clocktest.New(t0), sessionConfig{})
	_, one, _ := s.Create(demo(t), "alice", 1)
	_, two, _ := s.Create(demo(t), "alice", 1)
	if one.CSRFToken == two.CSRFToken || len(one.CSRFToken) < 40 {
		t.Fatalf("CSRF tokens %q %q", one.CSRFToken, two.CSRFToken)
	}
	if !one.CheckCSRF(one.CSRFToken) {
		t.Fatal("the session's own token is refused")
	}
	for _, bad := range []string{"", two.CSRFToken, one.CSRFToken[:len(one.CSRFToken)-1]} {
		if one.CheckCSRF(bad) {
			t.Errorf("token %q accepted", bad)
		}
	}
}

func TestAnOperatorKeepsABoundedNumberOfSessions(t *testing.T) {
	clock := clocktest.New(t0)
	s := newSessionStore(clock, sessionConfig{PerOperator: 3})
	var toks []string
	for range 5 {
		clock.Advance(time.Second)
		tok, _, _ := s.Create(demo(t), "alice", 1)
		toks = append(toks, tok)
	}
	for i, tok := range toks {
		_, ok := s.Lookup(tok)
		if ok != (i >= 2) {
			t.Errorf("session %d live %v", i, ok)
		}
	}
}

func TestRepeatedFailuresLockTheOperatorOutUntilAStatedTime(t *testing.T) {
	clock := clocktest.New(t0)
	th := newLoginThrottle(clock, throttleConfig{})
	a := signInAttempt{Tenant: demo(t), Name: "alice", Address: "10.0.0.1"}
	for i := 1; i <= 4; i++ {
		if _, locked := th.Fail(a); locked {
			t.Fatalf("locked after %d failures", i)
		}
		clock.Advance(time.Minute)
	}
	until, locked := th.Fail(a)
	if !locked || !until.Equal(clock.Now().Add(15*time.Minute)) {
		t.Fatalf("fifth failure: locked %v until %v", locked, until)
	}
	// locked for everyone naming alice, from any address; others are not
	if u, l := th.Locked(signInAttempt{Tenant: demo(t), Name: "alice", Address: "10.9.9.9"}); !l || !u.Equal(until) {
		t.Fatalf("alice from another address: %v %v", l, u)
	}
	if _, l := th.Locked(signInAttempt{Tenant: demo(t), Name: "bob", Address: "10.9.9.9"}); l {
		t.Fatal("bob is locked by alice's failures")
	}
	clock.Advance(15*time.Minute - time.Millisecond)
	if _, l := th.Locked(a); !l {
		t.Fatal("the lockout ended early")
	}
	clock.Advance(time.Millisecond)
	if _, l := th.Locked(a); l {
		t.Fatal("the lockout did not end when it said")
	}
}

func TestFailuresOutsideTheWindowAndASuccessDoNotAddUp(t *testing.T) {
	clock := clocktest.New(t0)
	th := newLoginThrottle(clock, throttleConfig{})
	a := signInAttempt{Tenant: demo(t), Name: "alice", Address: "10.0.0.1"}
	for range 4 {
		th.Fail(a)
	}
	clock.Advance(15 * time.Minute)
	if _, locked := th.Fail(a); locked {
		t.Fatal("failures of an earlier window counted")
	}
	for range 3 {
		th.Fail(a)
	}
	th.Succeed(a)
	if _, locked := th.Fail(a); locked {
		t.Fatal("failures before a success counted")
	}
}

// A guesser trying many names from one address is locked out by address,
// names that do not exist included.
func TestOneAddressTryingManyNamesIsLockedOut(t *testing.T) {
	th := newLoginThrottle(clocktest.New(t0), throttleConfig{})
	var locked bool
	var n int
	for n = 1; n <= 20; n++ {
		if _, locked = th.Fail(signInAttempt{Tenant: demo(t), Name: "user" + string(rune('a'+n)), Address: "192.0.2.7"}); locked {
			break
		}
	}
	if !locked || n != 20 {
		t.Fatalf("locked %v after %d names", locked, n)
	}
	if _, l := th.Locked(signInAttempt{Tenant: demo(t), Name: "fresh", Address: "192.0.2.7"}); !l {
		t.Fatal("the address is not locked for a new name")
	}
	if _, l := th.Locked(signInAttempt{Tenant: demo(t), Name: "fresh", Address: "192.0.2.8"}); l {
		t.Fatal("another address is locked")
	}
}

func TestTheThrottleForgetsRatherThanGrowsWithoutBound(t *testing.T) {
	clock := clocktest.New(t0)
	th := newLoginThrottle(clock, throttleConfig{MaxKeys: 100})
	for i := range 1000 {
		th.Fail(signInAttempt{Tenant: demo(t), Name: "n" + string(rune(0x4e00+i)), Address: "a" + string(rune(0x4e00+i))})
	}
	th.mu.Lock()
	n := len(th.keys)
	th.mu.Unlock()
	if n > 100 {
		t.Fatalf("%d keys remembered, bound 100", n)
	}
}

func TestAddressKeyGroupsIPv6By64(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1:5555":             "192.0.2.1",
		"[::ffff:192.0.2.1]:1":       "192.0.2.1",
		"[2001:db8:1:2:3:4:5:6]:443": "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff::1]:443": "2001:db8:1:2::/64",
		"2001:db8:1:3::1":            "2001:db8:1:3::/64",
		"not an address":             "not an address",
	} {
		if got := addressKey(in); got != want {
			t.Errorf("addressKey(%q) = %q, want %q", in, got, want)
		}
	}
}

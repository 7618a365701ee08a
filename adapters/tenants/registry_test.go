package tenants

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/recallledger/recall/domain"
)

func mustTenant(t *testing.T, s string) domain.Tenant {
	t.Helper()
	tn, err := domain.ParseTenant(s)
	if err != nil {
		t.Fatal(err)
	}
	return tn
}

func TestCreateAuthenticateRotate(t *testing.T) {
	dir := t.TempDir()
	server, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := Open(dir) // recallctl, in another process in real life
	if err != nil {
		t.Fatal(err)
	}
	demo := mustTenant(t, "demo/demo")
	toks, err := cli.Create(demo)
	if err != nil {
		t.Fatal(err)
	}
	for _, role := range domain.AccessRoles {
		p, ok := server.Authenticate(toks[role])
		if !ok || p.Tenant != demo || p.Role != role {
			t.Fatalf("token of %s: got %+v %v", role, p, ok)
		}
	}
	if _, err := cli.Create(demo); !errors.Is(err, ErrExists) {
		t.Fatalf("second create: %v, want ErrExists", err)
	}

	old := toks[domain.AccessAdmin]
	fresh, err := cli.Rotate(demo, domain.AccessAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := server.Authenticate(old); ok {
		t.Fatal("rotated token still authenticates")
	}
	if p, ok := server.Authenticate(fresh); !ok || p.Role != domain.AccessAdmin {
		t.Fatalf("new token: %+v %v", p, ok)
	}
	if _, ok := server.Authenticate(toks[domain.AccessService]); !ok {
		t.Fatal("rotating admin broke the service token")
	}
	if _, err := cli.Rotate(mustTenant(t, "no/such"), domain.AccessAdmin); !errors.Is(err, ErrUnknown) {
		t.Fatalf("rotate unknown: %v", err)
	}
}

func TestForgedTokensFail(t *testing.T) {
	r, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	toks, err := r.Create(mustTenant(t, "a/b"))
	if err != nil {
		t.Fatal(err)
	}
	good := toks[domain.AccessService]
	flipped := []byte(good)
	flipped[len(flipped)-1] ^= 1
	for name, tok := range map[string]string{
		"empty":               "",
		"garbage":             "hello",
		"right id bad secret": string(flipped),
		"too long":            strings.Repeat("x", 1000),
		"prefix only":         good[:21],
	} {
		if _, ok := r.Authenticate(tok); ok {
			t.Errorf("%s: authenticated", name)
		}
	}
}

func TestOnlyHashesAreStored(t *testing.T) {
	dir := t.TempDir()
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	toks, err := r.Create(mustTenant(t, "a/b"))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	for role, tok := range toks {
		secret := tok[21:]
		if strings.Contains(string(data), secret) {
			t.Errorf("%s token's secret is stored in clear", role)
		}
	}
	st, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("registry mode %v, want 0600", st.Mode().Perm())
	}
}

func TestDisablingATenantStopsItsTokensAtOnce(t *testing.T) {
	dir := t.TempDir()
	server, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := Open(dir) // recallctl, in another process in real life
	if err != nil {
		t.Fatal(err)
	}
	a, b := mustTenant(t, "a/a"), mustTenant(t, "b/b")
	ta, err := cli.Create(a)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := cli.Create(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.SetDisabled(a, true); err != nil {
		t.Fatal(err)
	}
	for _, role := range domain.AccessRoles {
		if _, ok := server.Authenticate(ta[role]); ok {
			t.Errorf("disabled tenant's %s token authenticates", role)
		}
		if _, ok := server.Authenticate(tb[role]); !ok {
			t.Errorf("disabling a/a broke b/b's %s token", role)
		}
	}
	if !server.Has(a) || !server.Disabled(a) || server.Disabled(b) {
		t.Fatalf("Has/Disabled: %v %v %v", server.Has(a), server.Disabled(a), server.Disabled(b))
	}
	if ts, _ := server.Tenants(); len(ts) != 2 {
		t.Fatalf("tenants %v: a disabled tenant is still listed", ts)
	}
	if err := cli.SetDisabled(a, true); err != nil { // again: nothing to record
		t.Fatal(err)
	}
	rotated, err := cli.Rotate(a, domain.AccessService)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := server.Authenticate(rotated); ok {
		t.Fatal("a token rotated while disabled authenticates")
	}
	if err := cli.SetDisabled(a, false); err != nil {
		t.Fatal(err)
	}
	if _, ok := server.Authenticate(rotated); !ok {
		t.Fatal("enabled again: the rotated token does not authenticate")
	}
	if _, ok := server.Authenticate(ta[domain.AccessService]); ok {
		t.Fatal("enabled again: the token rotated away authenticates")
	}
	if _, ok := server.Authenticate(ta[domain.AccessAdmin]); !ok {
		t.Fatal("enabled again: the admin token does not authenticate")
	}
	if err := cli.SetDisabled(mustTenant(t, "no/such"), true); !errors.Is(err, ErrUnknown) {
		t.Fatalf("disable unknown: %v", err)
	}
	// every change is one line: a reopened registry reads the same
	again, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := again.Authenticate(rotated); !ok || !again.Has(b) {
		t.Fatal("reopened registry lost a change")
	}
}

func TestEachChangeAppendsOneLine(t *testing.T) {
	dir := t.TempDir()
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	tn := mustTenant(t, "a/b")
	lines := func() int {
		data, err := os.ReadFile(filepath.Join(dir, FileName))
		if err != nil {
			t.Fatal(err)
		}
		return strings.Count(string(data), "\n")
	}
	if _, err := r.Create(tn); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := r.Create(mustTenant(t, "a/b"+strings.Repeat("x", i+1))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.Rotate(tn, domain.AccessAdmin); err != nil {
		t.Fatal(err)
	}
	if err := r.SetDisabled(tn, true); err != nil {
		t.Fatal(err)
	}
	if n := lines(); n != 8 {
		t.Fatalf("%d lines after 8 changes", n)
	}
	after, _ := os.ReadFile(filepath.Join(dir, FileName))
	if !strings.HasPrefix(string(after), string(before)) {
		t.Fatal("a change rewrote what was written before it")
	}
}

func TestALegacyRegistryIsImportedOnce(t *testing.T) {
	dir := t.TempDir()
	// a registry as earlier versions wrote it, with one tenant
	legacy := `{"tenants":{"old/app":{"created_at":"2026-11-01T00:00:00Z","tokens":{` +
		`"service":{"id":"0011223344556677","sha256":"` + strings.Repeat("ab", 32) + `"}}}}}`
	if err := os.WriteFile(filepath.Join(dir, LegacyFileName), []byte(legacy), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	old := mustTenant(t, "old/app")
	if !r.Has(old) {
		t.Fatal("the legacy tenant was not imported")
	}
	if _, err := os.Stat(filepath.Join(dir, LegacyFileName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("legacy file still there: %v", err)
	}
	if _, err := r.Create(mustTenant(t, "new/app")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Create(old); !errors.Is(err, ErrExists) {
		t.Fatalf("create of an imported tenant: %v", err)
	}
	// a crash after the import but before the old file went: opening
	// again imports nothing twice
	if err := os.WriteFile(filepath.Join(dir, LegacyFileName), []byte(legacy), 0o600); err != nil {
		t.Fatal(err)
	}
	again, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if ts, _ := again.Tenants(); len(ts) != 2 {
		t.Fatalf("tenants after a second import: %v", ts)
	}
}

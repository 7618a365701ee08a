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

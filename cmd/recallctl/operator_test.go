package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/recallledger/recall/adapters/operators"
	"github.com/recallledger/recall/adapters/tenants/tenantstest"
	"github.com/recallledger/recall/domain"
)

func ctlIn(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := runWith(context.Background(), args, func(string) string { return "" }, strings.NewReader(stdin), &out, io.Discard)
	return out.String(), err
}

func withTenant(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	tenantstest.Register(t, dir, name)
	return dir
}

type printedOperator struct {
	Tenant   string                 `json:"tenant"`
	Operator domain.OperatorAccount `json:"operator"`
	Password string                 `json:"password"`
}

func TestOperatorAddPrintsAOneTimePasswordThatSignsIn(t *testing.T) {
	dir := withTenant(t, "demo/demo")
	out, err := ctlIn(t, "", "--data", dir, "operator", "add", "demo/demo", "alice", "--role", "admin")
	if err != nil {
		t.Fatal(err)
	}
	var got printedOperator
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("output %q: %v", out, err)
	}
	if got.Tenant != "demo/demo" || got.Operator.Name != "alice" || got.Operator.Role != domain.AccessAdmin || got.Operator.CreatedBy != "recallctl" || len(got.Password) != 24 {
		t.Fatalf("printed %+v", got)
	}
	h, _ := operators.NewHasher(operators.DefaultParams, 1)
	reg, err := operators.Open(dir, domain.SystemClock{}, h)
	if err != nil {
		t.Fatal(err)
	}
	tn, _ := domain.ParseTenant("demo/demo")
	if _, _, ok, err := reg.Verify(context.Background(), tn, "alice", got.Password); !ok || err != nil {
		t.Fatalf("the printed password does not sign in: %v %v", ok, err)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, operators.FileName))
	if strings.Contains(string(raw), got.Password) {
		t.Fatal("the password is stored in clear")
	}
	// flags may come first too; a second add of the name is refused
	if _, err := ctlIn(t, "", "--data", dir, "operator", "add", "--role", "auditor", "demo/demo", "alice"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second add: %v", err)
	}
}

func TestOperatorPasswordFromStdinIsCheckedAndNotPrinted(t *testing.T) {
	dir := withTenant(t, "demo/demo")
	if _, err := ctlIn(t, "short\n", "--data", dir, "operator", "add", "demo/demo", "bob", "--role", "auditor", "--password-stdin"); err == nil || !strings.Contains(err.Error(), "at least 12") {
		t.Fatalf("a short password: %v", err)
	}
	out, err := ctlIn(t, "correct horse battery\n", "--data", dir, "operator", "add", "demo/demo", "bob", "--role", "auditor", "--password-stdin")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "correct horse") || strings.Contains(out, `"password"`) {
		t.Fatalf("a chosen password is echoed: %s", out)
	}
	out, err = ctlIn(t, "", "--data", dir, "operator", "reset", "demo/demo", "bob")
	if err != nil || !strings.Contains(out, `"password":"`) {
		t.Fatalf("reset: %q %v", out, err)
	}
}

func TestOperatorListDisableEnableRole(t *testing.T) {
	dir := withTenant(t, "demo/demo")
	for _, args := range [][]string{
		{"operator", "add", "demo/demo", "alice", "--role", "admin"},
		{"operator", "add", "demo/demo", "bob", "--role", "auditor"},
		{"operator", "disable", "demo/demo", "bob"},
		{"operator", "role", "demo/demo", "alice", "--role", "auditor"},
	} {
		if _, err := ctlIn(t, "", append([]string{"--data", dir}, args...)...); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	out, err := ctlIn(t, "", "--data", dir, "operator", "list", "demo/demo")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("list: %q", out)
	}
	var a, b domain.OperatorAccount
	if json.Unmarshal([]byte(lines[0]), &a) != nil || json.Unmarshal([]byte(lines[1]), &b) != nil {
		t.Fatalf("list lines: %q", out)
	}
	if a.Name != "alice" || a.Role != domain.AccessAuditor || a.Disabled || b.Name != "bob" || !b.Disabled {
		t.Fatalf("list: %+v %+v", a, b)
	}
	if _, err := ctlIn(t, "", "--data", dir, "operator", "enable", "demo/demo", "bob"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]string{
		{"operator", "add", "nobody/here", "alice", "--role", "admin"},
		{"operator", "add", "demo/demo", "carol"},
		{"operator", "add", "demo/demo", "carol", "--role", "root"},
		{"operator", "add", "demo/demo", "<img src=x>", "--role", "admin"},
		{"operator", "disable", "demo/demo", "nobody"},
		{"operator", "list"},
		{"operator", "disable", "demo/demo"},
		{"--server", "http://127.0.0.1:1", "operator", "add", "demo/demo", "carol", "--role", "admin", "--password-stdin"},
	} {
		if _, err := ctlIn(t, "correct horse battery\n", append([]string{"--data", dir}, bad...)...); err == nil {
			t.Errorf("%v: no error", bad)
		}
	}
}

// Package tenantstest registers the tenants tests serve; only tests
// import it.
package tenantstest

import (
	"testing"

	"github.com/recallledger/recall/adapters/tenants"
	"github.com/recallledger/recall/domain"
)

// Register registers tenant name in dir's token registry (made if need
// be) and returns the registry and the tenant's new tokens, by role.
func Register(t testing.TB, dir, name string) (*tenants.Registry, map[domain.AccessRole]string) {
	t.Helper()
	reg, err := tenants.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	tn, err := domain.ParseTenant(name)
	if err != nil {
		t.Fatal(err)
	}
	toks, err := reg.Create(tn)
	if err != nil {
		t.Fatal(err)
	}
	return reg, toks
}

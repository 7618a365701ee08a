package domain

import (
	"errors"
	"testing"
	"time"
)

// operatorTypes lists the operator events in the order the golden files
// number them.
var operatorTypes = []string{TypeOperatorCreated, TypeOperatorRoleChanged, TypeOperatorDisabled, TypeOperatorEnabled, TypeOperatorPasswordReset}

func operatorPayloads() map[string]Payload {
	return map[string]Payload{
		TypeOperatorCreated:       OperatorCreated{Name: "alice", Role: AccessAdmin, By: "recallctl"},
		TypeOperatorRoleChanged:   OperatorRoleChanged{Name: "alice", Role: AccessAuditor, PreviousRole: AccessAdmin, By: "operator:bob"},
		TypeOperatorDisabled:      OperatorDisabled{Name: "alice", By: "operator:bob"},
		TypeOperatorEnabled:       OperatorEnabled{Name: "alice", By: "token:admin"},
		TypeOperatorPasswordReset: OperatorPasswordReset{Name: "alice", By: "operator:bob"},
	}
}

func TestParseOperatorName(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"alice", true},
		{"alice@example.com", true},
		{"a.b-c_d", true},
		{"A1", true},
		{"", false},
		{"-alice", false},
		{".alice", false},
		{"alice smith", false},
		{"<img src=x onerror=alert(1)>", false},
		{"alice\n", false},
		{"operator:alice", false},
		{string(make([]byte, 65)), false},
	} {
		_, err := ParseOperatorName(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParseOperatorName(%q): err %v, want ok=%t", tc.in, err, tc.ok)
		}
		var inv *InvalidError
		if err != nil && (!errors.As(err, &inv) || inv.Code != "invalid_name") {
			t.Errorf("ParseOperatorName(%q): %v is not an invalid_name", tc.in, err)
		}
	}
}

func TestParseOperatorRoleAdmitsAdminAndAuditorOnly(t *testing.T) {
	for _, s := range []string{"admin", "auditor"} {
		if r, err := ParseOperatorRole(s); err != nil || string(r) != s {
			t.Errorf("%s: %v %v", s, r, err)
		}
	}
	for _, s := range []string{"", "service", "Admin", "root"} {
		if _, err := ParseOperatorRole(s); err == nil {
			t.Errorf("%q: accepted", s)
		}
	}
}

// applyDecided folds an operator event decided by DecideOperator into o,
// as the registry and the log's readers do.
func applyDecided(t *testing.T, o *Operator, payload Payload) {
	t.Helper()
	tn, _ := ParseTenant("a/a")
	e := NewEvent("0b4c6c1e-1d1f-4a43-9d55-5a7e2a1d9999", tn, time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC), payload)
	if err := o.Apply(e); err != nil {
		t.Fatal(err)
	}
}

func TestOperatorLifecycleIsDecidedFromItsState(t *testing.T) {
	var o Operator
	steps := []struct {
		name     string
		cmd      OperatorCommand
		wantType string // "" when nothing is recorded
		wantCode string // the error's code, if refused
		after    func(Operator) bool
	}{
		{"changing an operator that does not exist is operator_not_found", OperatorCommand{Action: OperatorDisable, Name: "alice", By: "x"}, "", "operator_not_found", nil},
		{"add records the operator with its role", OperatorCommand{Action: OperatorAdd, Name: "alice", Role: AccessAdmin, By: "recallctl"}, TypeOperatorCreated, "",
			func(o Operator) bool {
				return o.Exists && o.Role == AccessAdmin && !o.Disabled && o.CreatedBy == "recallctl"
			}},
		{"adding the same name again is operator_exists", OperatorCommand{Action: OperatorAdd, Name: "alice", Role: AccessAuditor, By: "x"}, "", "operator_exists", nil},
		{"a role change records old and new", OperatorCommand{Action: OperatorSetRole, Name: "alice", Role: AccessAuditor, By: "x"}, TypeOperatorRoleChanged, "",
			func(o Operator) bool { return o.Role == AccessAuditor }},
		{"setting the role it has records nothing", OperatorCommand{Action: OperatorSetRole, Name: "alice", Role: AccessAuditor, By: "x"}, "", "", nil},
		{"a role that is not one is refused", OperatorCommand{Action: OperatorSetRole, Name: "alice", Role: "service", By: "x"}, "", "invalid_role", nil},
		{"disable", OperatorCommand{Action: OperatorDisable, Name: "alice", By: "x"}, TypeOperatorDisabled, "", func(o Operator) bool { return o.Disabled }},
		{"disabling a disabled operator records nothing", OperatorCommand{Action: OperatorDisable, Name: "alice", By: "x"}, "", "", nil},
		{"enable", OperatorCommand{Action: OperatorEnable, Name: "alice", By: "x"}, TypeOperatorEnabled, "", func(o Operator) bool { return !o.Disabled }},
		{"enabling an enabled operator records nothing", OperatorCommand{Action: OperatorEnable, Name: "alice", By: "x"}, "", "", nil},
		{"a reset is always recorded", OperatorCommand{Action: OperatorReset, Name: "alice", By: "x"}, TypeOperatorPasswordReset, "", func(o Operator) bool { return o.Exists }},
	}
	for _, st := range steps {
		payload, err := DecideOperator(st.cmd, o)
		if st.wantCode != "" {
			if code := errorCode(err); code != st.wantCode {
				t.Errorf("%s: error %v (code %q), want %s", st.name, err, code, st.wantCode)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", st.name, err)
			continue
		}
		typ := ""
		if payload != nil {
			typ = payload.EventType()
			if name, ok := OperatorOf(NewEvent("e", Tenant{}, time.Time{}, payload)); !ok || name != st.cmd.Name {
				t.Errorf("%s: the event is about %q (%t), want %s", st.name, name, ok, st.cmd.Name)
			}
		}
		if typ != st.wantType {
			t.Errorf("%s: recorded %q, want %q", st.name, typ, st.wantType)
		}
		if payload != nil {
			applyDecided(t, &o, payload)
		}
		if st.after != nil && !st.after(o) {
			t.Errorf("%s: state after is %+v", st.name, o)
		}
	}
}

func errorCode(err error) string {
	var inv *InvalidError
	var conflict *ConflictError
	var nf *NotFoundError
	switch {
	case errors.As(err, &inv):
		return inv.Code
	case errors.As(err, &conflict):
		return conflict.Code
	case errors.As(err, &nf):
		return nf.Code
	}
	return ""
}

func TestOnlyANewPasswordRoleOrDisableEndsSessions(t *testing.T) {
	for typ, want := range map[string]bool{
		TypeOperatorCreated: false, TypeOperatorEnabled: false,
		TypeOperatorRoleChanged: true, TypeOperatorDisabled: true, TypeOperatorPasswordReset: true,
	} {
		if EndsSessions(typ) != want {
			t.Errorf("EndsSessions(%s) = %t", typ, !want)
		}
	}
}

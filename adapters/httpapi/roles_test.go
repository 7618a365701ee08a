package httpapi

import (
	"strings"
	"testing"

	"github.com/recallledger/recall/domain"
)

func TestServiceTokenMayAssertOnlyTheRolesTheIMBackendKnows(t *testing.T) {
	a := newTestAPI(t, nil)
	group := a.send("carol", "team", "groupchat")
	for _, role := range []string{"member", "group_owner", "group_admin"} {
		r := a.do("POST", "/v1/a/a/messages/"+group+"/recall", svc, `{"actor":"dave","actor_role":"`+role+`","request_id":"`+role+`"}`)
		if r.status == 403 && r.json(t)["error"] == "forbidden_role" {
			t.Errorf("the service token may assert %s: %s", role, r.body)
		}
	}
	before := len(a.events(""))
	one := a.send("carol", "dave", "chat")
	r := a.do("POST", "/v1/a/a/messages/"+one+"/recall", svc, `{"actor":"mallory","actor_role":"tenant_admin"}`)
	e := r.json(t)
	if r.status != 403 || e["error"] != "forbidden_role" || !strings.Contains(e["message"].(string), "admin token") {
		t.Fatalf("service token asserting tenant_admin: %d %s, want 403 forbidden_role naming the admin token", r.status, r.body)
	}
	if n := len(a.events("")); n != before+1 {
		t.Fatalf("%d events after the refusal, want only the send", n-before)
	}
	for _, e := range a.events(domain.TypeMessageRecalled) {
		if p := e.Data.(domain.MessageRecalled); string(p.MsgID) == one {
			t.Fatalf("the refused recall was recorded: %+v", p)
		}
	}
}

func TestForbiddenRoleNamesTheRolesTheRouteAdmits(t *testing.T) {
	a := newTestAPI(t, nil)
	cases := []struct {
		method, path string
		role         string
		body         string
		admits       []string
	}{
		{"GET", "/v1/a/a/policy", "service", "", []string{"admin"}},
		{"GET", "/v1/a/a/events", "service", "", []string{"admin", "auditor"}},
		{"POST", "/v1/a/a/messages", "auditor", `{}`, []string{"service"}},
		{"POST", "/a/a/messages/recall", "service", `{"msgs":[]}`, []string{"admin"}},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			r := a.do(c.method, c.path, roleOf(c.role), c.body)
			e := r.json(t)
			msg, _ := e["message"].(string)
			if r.status != 403 || e["error"] != "forbidden_role" {
				t.Fatalf("%d %s, want 403 forbidden_role", r.status, r.body)
			}
			for _, want := range c.admits {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q does not name %s", msg, want)
				}
			}
		})
	}
}

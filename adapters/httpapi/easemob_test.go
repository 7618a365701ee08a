package httpapi

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/recallledger/recall/domain"
)

func TestEasemobBatchRecallPutsTheFailureStringInRecalled(t *testing.T) {
	a := newTestAPI(t, nil)
	wrongTo := a.send("alice", "bob", "chat")
	late := a.send("alice", "bob", "chat")
	a.clock.Advance(24*time.Hour + time.Second) // past the admin window
	fresh := a.send("alice", "bob", "chat")
	body := fmt.Sprintf(`{"msgs":[{"msg_id":%q,"to":"bob","chat_type":"chat"},{"msg_id":%q,"to":"carol","chat_type":"chat"},{"msg_id":"nosuch","to":"bob","chat_type":"chat"},{"msg_id":%q,"to":"bob","chat_type":"chat"}]}`,
		fresh, wrongTo, late)
	r := a.do("POST", "/a/a/messages/recall", adm, body)
	if r.status != 200 {
		t.Fatalf("batch: %d %s", r.status, r.body)
	}
	var got struct {
		Msgs []map[string]string `json:"msgs"`
	}
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	want := []map[string]string{
		{"msg_id": fresh, "recalled": "yes", "from": "admin", "to": "bob", "chattype": "chat"},
		{"msg_id": wrongTo, "recalled": "can't find msg to", "recallfailed": "can't find msg to", "reason": "recipient_mismatch"},
		{"msg_id": "nosuch", "recalled": "not_found msg", "recallfailed": "not_found msg", "reason": "not_found"},
		{"msg_id": late, "recalled": "exceed recall time limit", "recallfailed": "exceed recall time limit", "reason": "exceed_time_limit"},
	}
	if fmt.Sprint(got.Msgs) != fmt.Sprint(want) {
		t.Fatalf("msgs\n got %v\nwant %v", got.Msgs, want)
	}
}

func TestEasemobRoutesAcceptFieldsUnknownToUs(t *testing.T) {
	a := newTestAPI(t, nil)
	m1 := a.send("alice", "bob", "chat")
	m2 := a.send("alice", "bob", "chat")
	if r := a.do("POST", "/a/a/messages/recall", adm, `{"msgs":[{"msg_id":"`+m1+`","to":"bob","chat_type":"chat","ext":{"k":1}}],"sync_device":true,"someday":"x"}`); r.status != 200 || !strings.Contains(string(r.body), `"recalled":"yes"`) {
		t.Fatalf("batch with Easemob fields unknown to us: %d %s", r.status, r.body)
	}
	if r := a.do("POST", "/a/a/messages/msg_recall", adm, `{"msg_id":"`+m2+`","to":"bob","chat_type":"chat","sync_device":false,"recallMessageExtensionInfo":"{\"type\":\"chat\"}","newer_field":[1,2]}`); r.status != 200 {
		t.Fatalf("msg_recall with Easemob fields unknown to us: %d %s", r.status, r.body)
	}
	// our own routes keep refusing them
	if r := a.do("POST", "/v1/a/a/messages", svc, `{"from":"alice","to":"bob","chat_type":"chat","content":"x","ext":1}`); r.status != 400 || r.json(t)["error"] != "unknown_field" {
		t.Fatalf("/v1 with an unknown field: %d %s", r.status, r.body)
	}
}

func TestEasemobMsgRecall(t *testing.T) {
	a := newTestAPI(t, nil)
	old := a.send("alice", "bob", "chat")
	oldToo := a.send("alice", "bob", "chat")
	group := a.send("carol", "team", "groupchat")
	a.clock.Advance(24*time.Hour + time.Second) // past the admin window
	fresh := a.send("alice", "bob", "chat")
	recall := func(body string) reply { return a.do("POST", "/a/a/messages/msg_recall", adm, body) }

	t.Run("success answers in Easemob's shape", func(t *testing.T) {
		r := recall(`{"msg_id":"` + fresh + `","to":"bob","chat_type":"chat"}`)
		var env easemobEnvelope
		if err := json.Unmarshal(r.body, &env); err != nil || r.status != 200 {
			t.Fatalf("%d %s %v", r.status, r.body, err)
		}
		d, _ := env.Data.(map[string]any)
		if d["recalled"] != "yes" || d["msg_id"] != fresh || d["from"] != "admin" || d["to"] != "bob" || d["chattype"] != "chat" ||
			env.Path != "/messages/msg_recall" || env.Action != "post" || env.Organization != "a" || env.ApplicationName != "a" ||
			env.Timestamp == 0 || !strings.Contains(string(r.body), `"duration":`) || !strings.HasSuffix(env.URI, "/a/a/messages/msg_recall") {
			t.Fatalf("answer %s", r.body)
		}
	})
	t.Run("past the admin window without force", func(t *testing.T) {
		r := recall(`{"msg_id":"` + old + `","to":"bob","chat_type":"chat","force":false}`)
		e := r.json(t)
		if r.status != 403 || e["error"] != "message_recall_error" || e["error_description"] != "exceed recall time limit" || e["reason"] != "exceed_time_limit" || e["exception"] == "" {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	t.Run("force recalls past the admin window, recorded as forced", func(t *testing.T) {
		r := recall(`{"msg_id":"` + old + `","to":"bob","chat_type":"chat","force":true,"from":"ops-1"}`)
		if r.status != 200 || !strings.Contains(string(r.body), `"recalled":"yes"`) || !strings.Contains(string(r.body), `"from":"ops-1"`) {
			t.Fatalf("%d %s", r.status, r.body)
		}
		var forced []domain.MessageRecalled
		for _, e := range a.events(domain.TypeMessageRecalled) {
			if p := e.Data.(domain.MessageRecalled); p.Forced {
				forced = append(forced, p)
			}
		}
		if len(forced) != 1 || string(forced[0].MsgID) != old || forced[0].Actor != "ops-1" || forced[0].ActorRole != domain.ActorTenantAdmin {
			t.Fatalf("forced recalls recorded: %+v", forced)
		}
	})
	t.Run("force skips the window only", func(t *testing.T) {
		cases := []struct {
			name, body, desc, reason string
			status                   int
		}{
			{"already recalled", `{"msg_id":"` + old + `","to":"bob","chat_type":"chat","force":true}`, "not_found msg", "already_recalled", 403},
			{"no such message", `{"msg_id":"nosuch","to":"bob","chat_type":"chat","force":true}`, "not_found msg", "not_found", 403},
			{"another recipient", `{"msg_id":"` + oldToo + `","to":"carol","chat_type":"chat","force":true}`, "can't find msg to", "recipient_mismatch", 400},
		}
		for _, c := range cases {
			r := recall(c.body)
			e := r.json(t)
			if r.status != c.status || e["error_description"] != c.desc || e["reason"] != c.reason {
				t.Errorf("%s: %d %s, want %d %q (%s)", c.name, r.status, r.body, c.status, c.desc, c.reason)
			}
		}
	})
	t.Run("a field Easemob requires is missing", func(t *testing.T) {
		for field, body := range map[string]string{
			"msg_id":    `{"to":"team","chat_type":"groupchat"}`,
			"to":        `{"msg_id":"` + group + `","chat_type":"groupchat"}`,
			"chat_type": `{"msg_id":"` + group + `","to":"team"}`,
		} {
			r := recall(body)
			e := r.json(t)
			if r.status != 400 || e["error"] != "message_recall_error" || e["error_description"] != "param "+field+" can't be empty" {
				t.Errorf("without %s: %d %s", field, r.status, r.body)
			}
		}
	})
	t.Run("the service token cannot", func(t *testing.T) {
		if r := a.do("POST", "/a/a/messages/msg_recall", svc, `{"msg_id":"`+group+`","to":"team","chat_type":"groupchat"}`); r.status != 403 || r.json(t)["error"] != "forbidden_role" {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
}

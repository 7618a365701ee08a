package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/projections/asof"
	"github.com/recallledger/recall/projections/auditlog"
)

func decodeAs(t *testing.T, what string, status, want int, body []byte, v any) {
	t.Helper()
	if status != want {
		t.Fatalf("%s: %d %s, want %d", what, status, body, want)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("%s: %v in %s", what, err, body)
	}
}

// auditDetails is the detail of every audit entry of action, in order.
func (r *rig) auditDetails(action string) []string {
	r.t.Helper()
	r.feed()
	page, err := auditlog.Query(r.rm, r.tenant.String(), auditlog.Filter{Action: action, Limit: 100})
	if err != nil {
		r.t.Fatal(err)
	}
	var out []string
	for _, e := range page.Entries {
		out = append(out, e.Outcome+": "+e.Detail+" by "+e.Actor)
	}
	return out
}

func TestLegalHoldsAndErasuresOverHTTP(t *testing.T) {
	r := newRig(t)
	direct := r.send("alice", "bob", "chat", "to bob")
	group := r.send("alice", "g1", "groupchat", "to the group")
	r.feed()

	for name, tc := range map[string]struct {
		role   domain.AccessRole
		body   string
		status int
		code   string
	}{
		"an auditor may not place one":   {domain.AccessAuditor, `{"scope":"user","id":"alice","case":"c"}`, 403, "forbidden_role"},
		"an unknown scope":               {domain.AccessAdmin, `{"scope":"planet","id":"x","case":"c"}`, 400, "invalid_scope"},
		"no case":                        {domain.AccessAdmin, `{"scope":"user","id":"alice"}`, 400, "invalid_case"},
		"an unknown field":               {domain.AccessAdmin, `{"scope":"user","id":"alice","case":"c","until":"x"}`, 400, "unknown_field"},
		"a range that ends before":       {domain.AccessAdmin, `{"scope":"user","id":"alice","case":"c","from":"2026-11-24T10:00:00Z","to":"2026-11-24T09:00:00Z"}`, 400, "invalid_range"},
		"another tenant as tenant scope": {domain.AccessAdmin, `{"scope":"tenant","id":"evil/corp","case":"c"}`, 400, "invalid_id"},
	} {
		t.Run(name, func(t *testing.T) {
			status, body := r.post("POST", tc.role, "/holds", tc.body)
			var e apiError
			decodeAs(t, name, status, tc.status, body, &e)
			if e.Error != tc.code {
				t.Fatalf("code %q, want %q (%s)", e.Error, tc.code, body)
			}
		})
	}

	status, body := r.post("POST", domain.AccessAdmin, "/holds", `{"scope":"conversation","id":"groupchat:g1","case":"CASE-9","reason":"litigation"}`)
	var placed struct{ Hold domain.Hold }
	decodeAs(t, "place", status, http.StatusCreated, body, &placed)
	h := placed.Hold
	if h.ID == "" || h.Scope != domain.HoldConversation || h.Subject != "groupchat:g1" || h.PlacedBy != "token:admin" || h.Released {
		t.Fatalf("placed %+v", h)
	}
	status, body = r.get(domain.AccessAuditor, "/holds?active=true")
	var list struct{ Holds []domain.Hold }
	decodeAs(t, "list", status, http.StatusOK, body, &list)
	if len(list.Holds) != 1 || list.Holds[0].ID != h.ID {
		t.Fatalf("listed %+v", list.Holds)
	}
	status, body = r.get(domain.AccessAuditor, "/holds?scope=user&id=bob")
	decodeAs(t, "list for bob", status, http.StatusOK, body, &list)
	if len(list.Holds) != 0 {
		t.Fatalf("a conversation hold listed for a user: %+v", list.Holds)
	}

	status, body = r.post("POST", domain.AccessAdmin, "/erasures", `{"user":"alice","reason":"GDPR art. 17","request_id":"dsr-1"}`)
	var er erasureView
	decodeAs(t, "erasure", status, http.StatusCreated, body, &er)
	if er.Status != "deferred" || er.ErasedCount != 1 || er.Erased[0] != direct || er.HeldCount != 1 || er.Held[0].MsgID != group ||
		er.Held[0].HoldIDs[0] != h.ID || len(er.Holds) != 1 || er.Holds[0].Case != "CASE-9" {
		t.Fatalf("erasure %s", body)
	}
	status, body = r.post("POST", domain.AccessAdmin, "/erasures", `{"user":"alice","reason":"said again","request_id":"dsr-1"}`)
	var again erasureView
	decodeAs(t, "repeat", status, http.StatusOK, body, &again)
	if again.ID != er.ID || again.Reason != "GDPR art. 17" {
		t.Fatalf("a repeat of the request is another erasure: %s", body)
	}
	status, body = r.get(domain.AccessAdmin, "/erasures/"+er.ID)
	decodeAs(t, "get", status, http.StatusOK, body, &again)
	if again.ID != er.ID || again.Status != "deferred" {
		t.Fatalf("get %s", body)
	}
	for path, want := range map[string]string{"/erasures/nope": "erasure_not_found", "/erasures/a%20b": "invalid_erasure_id"} {
		status, body = r.get(domain.AccessAdmin, path)
		var e apiError
		_ = json.Unmarshal(body, &e)
		if e.Error != want || status/100 != 4 {
			t.Fatalf("%s: %d %s, want %s", path, status, body, want)
		}
	}
	if status, _ = r.post("POST", domain.AccessAuditor, "/erasures", `{"user":"alice","reason":"r"}`); status != http.StatusForbidden {
		t.Fatalf("an auditor requested an erasure: %d", status)
	}
	r.feed()
	if v := r.view("groupchat:g1", "bob"); v.Messages[0].Content == nil || *v.Messages[0].Content != "to the group" {
		t.Fatalf("the held message lost its content: %+v", v.Messages)
	}

	status, body = r.do("DELETE", domain.AccessAdmin, "/holds/"+h.ID+"?reason=case+closed")
	var rel struct {
		Hold    domain.Hold
		Resumed []erasureView `json:"resumed_erasures"`
	}
	decodeAs(t, "release", status, http.StatusOK, body, &rel)
	if !rel.Hold.Released || len(rel.Resumed) != 1 || rel.Resumed[0].Status != "done" || rel.Resumed[0].ErasedCount != 2 {
		t.Fatalf("release %s", body)
	}
	r.feed()
	if v := r.view("groupchat:g1", "bob"); v.Messages[0].Content != nil || !v.Messages[0].ContentErased {
		t.Fatalf("after the release the message still has content: %+v", v.Messages)
	}
	if status, body = r.do("DELETE", domain.AccessAdmin, "/holds/nope"); status != http.StatusNotFound || !strings.Contains(string(body), "hold_not_found") {
		t.Fatalf("release of an unknown hold: %d %s", status, body)
	}

	// every step is audited, the hold named in each decision it changed
	holds := r.auditDetails(auditlog.ActionHold)
	if len(holds) != 2 || !strings.HasPrefix(holds[0], "placed: hold="+h.ID) || !strings.HasPrefix(holds[1], "released: hold="+h.ID) {
		t.Fatalf("hold audit: %q", holds)
	}
	erasures := r.auditDetails(auditlog.ActionErasure)
	want := []string{
		"requested: erasure=" + er.ID + " user=alice request_id=dsr-1 by token:admin",
		"deferred: erasure=" + er.ID + " user=alice erased=1 held=1 holds=" + h.ID + " final=true by system",
		"erased: erasure=" + er.ID + " user=alice erased=1 held=0 released_hold=" + h.ID + " final=true by system",
	}
	if fmt.Sprint(erasures) != fmt.Sprint(want) {
		t.Fatalf("erasure audit:\n%q\nwant\n%q", erasures, want)
	}
}

// asOf asks for the conversation as viewer saw it at at, as the auditor.
func (r *rig) asOf(conv, viewer string, at time.Time) asof.View {
	r.t.Helper()
	status, body := r.get(domain.AccessAuditor, "/conversations/"+conv+"/messages?"+url.Values{"viewer": {viewer}, "as_of": {at.Format(time.RFC3339Nano)}}.Encode())
	var v asof.View
	decodeAs(r.t, "as_of "+at.String(), status, http.StatusOK, body, &v)
	return v
}

func TestAsOfShowsExactlyWhatTheViewerSawAtEachInstant(t *testing.T) {
	r := newRig(t)
	hour := int64(3600)
	r.setPolicy(domain.PolicySpec{MessageRetentionS: &hour, AdminWindowS: &hour})
	ctx := context.Background()
	t0 := r.clock.Now()
	recalled := r.send("alice", "bob", "chat", "first, recalled later")
	r.clock.Advance(10 * time.Second)
	kept := r.send("alice", "bob", "chat", "second, kept")
	tSent := r.clock.Now()
	r.clock.Advance(10 * time.Second)
	rc, _ := domain.NewReadCommand(string(recalled), "bob", "ios")
	if _, err := r.l.Read(ctx, r.tenant, rc); err != nil {
		t.Fatal(err)
	}
	tRead := r.clock.Now()
	r.clock.Advance(10 * time.Second)
	cmd, _ := domain.NewRecallCommand(string(recalled), "alice", "", "ios", "", "")
	if o, err := r.l.Recall(ctx, r.tenant, cmd); err != nil || !o.Decision.Recalled {
		t.Fatalf("recall: %+v %v", o, err)
	}
	tRecall := r.clock.Now()
	r.clock.Advance(time.Hour)
	if ok, err := r.l.Expire(ctx, r.tenant, kept); err != nil || !ok {
		t.Fatalf("expire: %v %v", ok, err)
	}
	tExpired := r.clock.Now()
	r.feed()

	type msg struct{ id, status, content, gone, notice, readBy string }
	seen := func(v asof.View) []msg {
		var out []msg
		for _, m := range v.Messages {
			c := ""
			if m.Content != nil {
				c = *m.Content
			}
			out = append(out, msg{m.MsgID, m.Status, c, m.ContentGone, m.Notice, strings.Join(m.ReadBy, ",")})
		}
		return out
	}
	for _, tc := range []struct {
		name   string
		at     time.Time
		viewer string
		unread int
		want   []msg
	}{
		{"before the first send", t0.Add(-time.Millisecond), "bob", 0, nil},
		// content seen then but destroyed since (the recall) is not shown
		{"at the first send", t0, "bob", 1, []msg{{string(recalled), "visible", "", "recalled", "", ""}}},
		{"after both sends, as bob", tSent, "bob", 2, []msg{{string(recalled), "visible", "", "recalled", "", ""}, {string(kept), "visible", "", "expired", "", ""}}},
		{"after the read", tRead, "bob", 1, []msg{{string(recalled), "visible", "", "recalled", "", "bob"}, {string(kept), "visible", "", "expired", "", ""}}},
		{"after the recall, as bob", tRecall, "bob", 1, []msg{{string(recalled), "recalled", "", "", "alice recalled a message", "bob"}, {string(kept), "visible", "", "expired", "", ""}}},
		{"after the recall, as alice", tRecall, "alice", 0, []msg{{string(recalled), "recalled", "", "", "You recalled a message", "bob"}, {string(kept), "visible", "", "expired", "", ""}}},
		{"after the expiry", tExpired, "bob", 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := r.asOf("chat:alice:bob", tc.viewer, tc.at)
			if got := seen(v); fmt.Sprint(got) != fmt.Sprint(tc.want) || v.Unread != tc.unread {
				t.Fatalf("at %s: unread %d %+v\nwant unread %d %+v", tc.at, v.Unread, got, tc.unread, tc.want)
			}
		})
	}

	// a hold keeps the content a recall and an expiry would destroy: the
	// view at a time shows it again
	status, body := r.post("POST", domain.AccessAdmin, "/holds", `{"scope":"user","id":"alice","case":"c"}`)
	if status != http.StatusCreated {
		t.Fatalf("hold: %d %s", status, body)
	}
	got := seen(r.asOf("chat:alice:bob", "bob", tRead))
	if len(got) != 2 || got[0].content != "first, recalled later" || got[1].content != "second, kept" || got[0].gone != "" {
		t.Fatalf("under a hold: %+v", got)
	}

	// who may ask, and what is refused
	for _, tc := range []struct {
		role   domain.AccessRole
		query  string
		status int
		code   string
	}{
		{domain.AccessService, "viewer=bob&as_of=" + url.QueryEscape(tRead.Format(time.RFC3339)), 403, "forbidden_role"},
		{domain.AccessAuditor, "viewer=bob", 403, "forbidden_role"},
		{domain.AccessAdmin, "viewer=bob&as_of=" + url.QueryEscape(tRead.Format(time.RFC3339)), 403, "forbidden_role"},
		{domain.AccessAuditor, "viewer=bob&as_of=yesterday", 400, "invalid_as_of"},
		{domain.AccessAuditor, "viewer=bob&as_of=" + url.QueryEscape(r.clock.Now().Add(time.Hour).Format(time.RFC3339)), 400, "invalid_as_of"},
		{domain.AccessAuditor, "viewer=carol&as_of=" + url.QueryEscape(tRead.Format(time.RFC3339)), 403, "not_a_participant"},
	} {
		status, body := r.get(tc.role, "/conversations/chat:alice:bob/messages?"+tc.query)
		var e apiError
		_ = json.Unmarshal(body, &e)
		if status != tc.status || e.Error != tc.code {
			t.Errorf("%s %s: %d %s, want %d %s", tc.role, tc.query, status, body, tc.status, tc.code)
		}
	}

	// every view at a time is audited, under who asked
	var views []string
	for _, d := range r.auditDetails(auditlog.ActionAudit) {
		if strings.Contains(d, "format=as_of") {
			views = append(views, d)
		}
	}
	if len(views) != 8 || !strings.Contains(views[0], "conversation_id=chat%3Aalice%3Abob") || !strings.HasSuffix(views[0], " by auditor") {
		t.Fatalf("%d as_of views audited: %q", len(views), views)
	}
}

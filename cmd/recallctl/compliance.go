package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/recallledger/recall/domain"
)

// Legal holds, erasure requests and the conversation as seen at a time,
// through a running recalld (--server): they are carried out by the
// server, which records them under the token's role.

// complianceCmd runs `hold place|list|release`, `erasure request|show`
// and `conversation as-of`.
func complianceCmd(ctx context.Context, server, token, name string, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet(name, stderr)
	tenant := fs.String("tenant", "", "ORG/APP (required)")
	flags := map[string]*string{}
	str := func(flag, usage string) { flags[flag] = fs.String(flag, "", usage) }
	switch name {
	case "hold place":
		str("scope", "user, conversation or tenant (required)")
		str("id", "the user or conversation id (a tenant hold: none)")
		str("from", "RFC 3339: cover messages sent at or after")
		str("to", "RFC 3339: cover messages sent at or before")
		str("case", "the case the hold is for (required)")
		str("reason", "why")
	case "hold release":
		str("reason", "why the hold is released")
	case "erasure request":
		str("user", "the user whose content is erased (required)")
		str("reason", "why (required)")
		str("request-id", "your key for the request: a retry with it is the same erasure")
	case "conversation as-of":
		str("conversation", "the conversation id (required)")
		str("viewer", "whose view (required)")
		str("at", "RFC 3339 instant (required)")
		str("locale", "en, zh-CN or ja")
	}
	active := new(bool)
	if name == "hold list" {
		active = fs.Bool("active", false, "only the holds in force")
	}
	pos, err := parseInterleaved(fs, args, stdout)
	if err != nil {
		return err
	}
	if server == "" {
		return errors.New(name + " goes through a running recalld: give --server URL --token T")
	}
	t, err := domain.ParseTenant(*tenant)
	if err != nil {
		return fmt.Errorf("--tenant: %w", err)
	}
	base := "/v1/" + t.Org() + "/" + t.App()
	want := func(n int) error {
		if len(pos) != n {
			fs.Usage()
			return errors.New("usage: recallctl " + doc(name).synopsis)
		}
		return nil
	}
	v := func(flag string) string { return *flags[flag] }
	switch name {
	case "hold place":
		if err := want(0); err != nil {
			return err
		}
		body := map[string]any{"scope": v("scope"), "id": v("id"), "case": v("case"), "reason": v("reason")}
		for _, f := range []string{"from", "to"} {
			if v(f) != "" {
				body[f] = v(f)
			}
		}
		return call(ctx, server, token, http.MethodPost, base+"/holds", nil, body, stdout)
	case "hold list":
		if err := want(0); err != nil {
			return err
		}
		q := url.Values{}
		if *active {
			q.Set("active", "true")
		}
		return call(ctx, server, token, http.MethodGet, base+"/holds", q, nil, stdout)
	case "hold release":
		if err := want(1); err != nil {
			return err
		}
		q := url.Values{}
		if v("reason") != "" {
			q.Set("reason", v("reason"))
		}
		return call(ctx, server, token, http.MethodDelete, base+"/holds/"+url.PathEscape(pos[0]), q, nil, stdout)
	case "erasure request":
		if err := want(0); err != nil {
			return err
		}
		body := map[string]any{"user": v("user"), "reason": v("reason")}
		if v("request-id") != "" {
			body["request_id"] = v("request-id")
		}
		return call(ctx, server, token, http.MethodPost, base+"/erasures", nil, body, stdout)
	case "erasure show":
		if err := want(1); err != nil {
			return err
		}
		return call(ctx, server, token, http.MethodGet, base+"/erasures/"+url.PathEscape(pos[0]), nil, nil, stdout)
	case "conversation as-of":
		if err := want(0); err != nil {
			return err
		}
		q := url.Values{"viewer": {v("viewer")}, "as_of": {v("at")}, "limit": {"500"}}
		if v("locale") != "" {
			q.Set("locale", v("locale"))
		}
		return call(ctx, server, token, http.MethodGet, base+"/conversations/"+url.PathEscape(v("conversation"))+"/messages", q, nil, stdout)
	}
	return fmt.Errorf("unknown command %q", name)
}

// call sends one request to a running recalld and prints its JSON answer
// (a 2xx), indented; any other status is an error with the server's
// message.
func call(ctx context.Context, server, token, method, path string, q url.Values, body any, stdout io.Writer) error {
	raw, err := request(ctx, server, token, method, path, q, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", "  "); err != nil {
		return fmt.Errorf("%s %s: the server's answer: %w", method, path, err)
	}
	_, err = fmt.Fprintln(stdout, strings.TrimSpace(out.String()))
	return err
}

// request sends one request, body (if any) as JSON, to a running recalld
// with the bearer token, and returns the answer of a 2xx; any other
// status is an error with the server's message.
func request(ctx context.Context, server, token, method, path string, q url.Values, body any) ([]byte, error) {
	u := strings.TrimRight(server, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Timeout: 5 * time.Minute}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(raw)))
	}
	return raw, nil
}

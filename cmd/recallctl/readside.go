package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/recallledger/recall/adapters/eventstore/embedded"
	"github.com/recallledger/recall/adapters/readmodel"
	"github.com/recallledger/recall/cmd/internal/flaghelp"
	"github.com/recallledger/recall/cmd/internal/progress"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/projections"
	"github.com/recallledger/recall/projections/auditlog"
	"github.com/recallledger/recall/projections/catalog"
	"github.com/recallledger/recall/projections/recallreport"
)

// rebuildChunk is how many events one rebuild transaction applies.
const rebuildChunk = 2000

// openLocal opens the event store and the read models of a data directory;
// recalld must not be running on it.
func openLocal(data string) (*embedded.Store, *readmodel.Store, error) {
	store, err := embedded.Open(filepath.Join(data, "events"))
	if err != nil {
		return nil, nil, fmt.Errorf("%w (is recalld running on this data directory? stop it first)", err)
	}
	rm, err := readmodel.Open(filepath.Join(data, "readmodels"))
	if err != nil {
		store.Close()
		return nil, nil, fmt.Errorf("%w (is recalld running on this data directory? stop it first)", err)
	}
	return store, rm, nil
}

// projectionsRebuild drops the named read models (all without a name) and
// rebuilds them from position 0.
func projectionsRebuild(ctx context.Context, data string, names []string, stdout, stderr io.Writer) error {
	store, rm, err := openLocal(data)
	if err != nil {
		return err
	}
	defer store.Close()
	defer rm.Close()
	runners, err := catalog.Runners(rm)
	if err != nil {
		return err
	}
	var chosen []*projections.Runner
	for _, r := range runners {
		if len(names) == 0 || contains(names, r.Name()) {
			chosen = append(chosen, r)
		}
	}
	if len(chosen) != max(1, len(names)) && len(names) > 0 {
		var known []string
		for _, r := range runners {
			known = append(known, r.Name())
		}
		return fmt.Errorf("unknown projection in %v; known: %v", names, known)
	}
	head := store.Head()
	for _, r := range chosen {
		start := time.Now()
		if err := r.Reset(); err != nil {
			return err
		}
		line := progress.New(stderr)
		n, err := r.CatchUp(ctx, store, rebuildChunk, func(pos uint64) { line.Positions("rebuilt "+r.Name(), pos, head) })
		if err != nil {
			return err
		}
		line.Done()
		secs := time.Since(start).Seconds()
		if err := printJSON(stdout, map[string]any{"projection": r.Name(), "events": n, "seconds": secs, "events_per_s": float64(n) / max(secs, 1e-9)}); err != nil {
			return err
		}
	}
	return nil
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// remote calls a running server's GET endpoint and returns the body.
func remote(ctx context.Context, server, token, path string, q url.Values) ([]byte, http.Header, error) {
	u := strings.TrimRight(server, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return body, resp.Header, nil
}

// auditCmd runs `audit verify|query|export`.
func auditCmd(ctx context.Context, data, server, token, sub string, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("audit "+sub, stderr)
	tenant := fs.String("tenant", "", "ORG/APP (required)")
	var q url.Values = url.Values{}
	for _, name := range []string{"from", "to", "actor", "conversation_id", "msg_id", "action", "outcome"} {
		name := name
		fs.Func(strings.ReplaceAll(name, "_", "-"), "filter: "+name, func(v string) error { q.Set(name, v); return nil })
	}
	format := fs.String("format", "jsonl", "json, jsonl or csv")
	var out *string
	if sub == "export" {
		out = fs.String("out", "", "write a verifiable export to this file, with its manifest (see audit verify-export)")
	}
	if err := flaghelp.Parse(fs, args, stdout); err != nil {
		return err
	}
	tn, err := domain.ParseTenant(*tenant)
	if err != nil {
		return fmt.Errorf("--tenant: %w", err)
	}
	switch sub {
	case "verify":
		return auditVerify(ctx, data, server, token, tn, stdout)
	case "query", "export":
		if server == "" {
			return errors.New("audit query and export read a running server: give --server URL --token T (an auditor or admin token), so that the query itself is recorded")
		}
		if out != nil && *out != "" {
			return exportProven(ctx, server, token, tn.String(), q, *format, *out, stderr)
		}
		return auditPages(ctx, server, token, tn, q, *format, sub == "export", stdout)
	}
	return fmt.Errorf("unknown command audit %s", sub)
}

// auditVerify recomputes the tenant's audit chain, on the server or in
// the data directory, prints the result and fails when it is broken.
func auditVerify(ctx context.Context, data, server, token string, tn domain.Tenant, stdout io.Writer) error {
	var res auditlog.VerifyResult
	if server != "" {
		body, _, err := remote(ctx, server, token, "/v1/"+tn.String()+"/audit/verify", nil)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(body, &res); err != nil {
			return err
		}
	} else {
		store, rm, err := openLocal(data)
		if err != nil {
			return err
		}
		defer store.Close()
		defer rm.Close()
		if res, err = auditlog.Verify(rm, tn.String()); err != nil {
			return err
		}
		if res.OK {
			if res, err = verifyStoredCheckpoints(data, rm, tn.String(), res); err != nil {
				return err
			}
		}
	}
	if err := printJSON(stdout, res); err != nil {
		return err
	}
	if !res.OK {
		return fmt.Errorf("audit log broken at entry %d: %s", res.BrokenAt, res.Problem)
	}
	return nil
}

// auditPages prints the server's audit search q in format: its first page
// (a query), or every page (an export, one CSV header).
func auditPages(ctx context.Context, server, token string, tn domain.Tenant, q url.Values, format string, all bool, stdout io.Writer) error {
	q.Set("format", format)
	q.Set("limit", "1000")
	for first := true; ; first = false {
		body, hdr, err := remote(ctx, server, token, "/v1/"+tn.String()+"/audit", q)
		if err != nil {
			return err
		}
		if format == "csv" && !first {
			// later pages repeat the header row
			if i := strings.IndexByte(string(body), '\n'); i >= 0 {
				body = body[i+1:]
			}
		}
		if _, err := stdout.Write(body); err != nil {
			return err
		}
		next := hdr.Get("X-Next-Cursor")
		if format == "json" {
			var page struct {
				NextCursor uint64 `json:"next_cursor"`
			}
			_ = json.Unmarshal(body, &page)
			if page.NextCursor != 0 {
				next = strconv.FormatUint(page.NextCursor, 10)
			}
		}
		if !all || next == "" {
			return nil
		}
		q.Set("cursor", next)
	}
}

// reportRecalls prints a recall report as a table.
func reportRecalls(ctx context.Context, data, server, token string, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("report recalls", stderr)
	tenant := fs.String("tenant", "", "ORG/APP (required)")
	groupBy := fs.String("group-by", "outcome", "outcome, hour, day, platform, chat_type, actor or elapsed")
	from := fs.String("from", "", "start, RFC 3339 (default 24 h ago)")
	to := fs.String("to", "", "end, RFC 3339 (default now)")
	tz := fs.String("tz", "UTC", "time zone for hour and day")
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	if err := flaghelp.Parse(fs, args, stdout); err != nil {
		return err
	}
	tn, err := domain.ParseTenant(*tenant)
	if err != nil {
		return fmt.Errorf("--tenant: %w", err)
	}
	var rep recallreport.Report
	if server != "" {
		q := url.Values{"group_by": {*groupBy}, "tz": {*tz}}
		if *from != "" {
			q.Set("from", *from)
		}
		if *to != "" {
			q.Set("to", *to)
		}
		body, _, err := remote(ctx, server, token, "/v1/"+tn.String()+"/reports/recalls", q)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(body, &rep); err != nil {
			return err
		}
	} else {
		end, start := time.Now(), time.Now().Add(-24*time.Hour)
		for _, p := range []struct {
			s   string
			dst *time.Time
		}{{*from, &start}, {*to, &end}} {
			if p.s != "" {
				if *p.dst, err = time.Parse(time.RFC3339Nano, p.s); err != nil {
					return err
				}
			}
		}
		loc, err := time.LoadLocation(*tz)
		if err != nil {
			return err
		}
		store, rm, err := openLocal(data)
		if err != nil {
			return err
		}
		defer store.Close()
		defer rm.Close()
		if rep, err = recallreport.Query(rm, tn.String(), start, end, *groupBy, loc); err != nil {
			return err
		}
	}
	if *asJSON {
		return printJSON(stdout, rep)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%s\tattempts\trecalled\trefused\ttimeouts\t\n", rep.GroupBy)
	var tot recallreport.Row
	for _, r := range rep.Rows {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t\n", r.Key, r.Attempts, r.Recalled, r.Refused, r.Timeouts)
		tot.Attempts, tot.Recalled, tot.Refused, tot.Timeouts = tot.Attempts+r.Attempts, tot.Recalled+r.Recalled, tot.Refused+r.Refused, tot.Timeouts+r.Timeouts
	}
	fmt.Fprintf(tw, "total\t%d\t%d\t%d\t%d\t\n", tot.Attempts, tot.Recalled, tot.Refused, tot.Timeouts)
	fmt.Fprintf(tw, "\n%s to %s\t\t\t\t\t\n", rep.From, rep.To)
	return tw.Flush()
}

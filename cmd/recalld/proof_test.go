package main

import (
	"bytes"
	"crypto/rand"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/recallledger/recall/adapters/auditsign"
	"github.com/recallledger/recall/adapters/natsbus"
	"github.com/recallledger/recall/adapters/natsbus/natsbustest"
	"github.com/recallledger/recall/adapters/readmodel"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/clocktest"
	"github.com/recallledger/recall/projections/auditlog"
	"github.com/recallledger/recall/projections/auditlog/auditproof"
	"github.com/recallledger/recall/projections/auditlog/audittest"
)

// buildRecallctl builds recallctl into a directory of its own and returns
// the binary's path.
func buildRecallctl(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "recallctl")
	if out, err := exec.Command("go", "build", "-o", bin, "../recallctl").CombinedOutput(); err != nil {
		t.Fatalf("build recallctl: %v %s", err, out)
	}
	return bin
}

// builtRecallctl builds recallctl for a test that runs it as an auditor
// would: a separate process with nothing but its arguments.
func builtRecallctl(t *testing.T) func(args ...string) (string, error) {
	t.Helper()
	bin := buildRecallctl(t)
	empty := t.TempDir() // no data directory: RECALL_DATA points at nothing
	return func(args ...string) (string, error) {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(bin, args...)
		cmd.Env = []string{"RECALL_DATA=" + filepath.Join(empty, "none"), "PATH=" + os.Getenv("PATH")}
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if err != nil {
			return stdout.String(), fmt.Errorf("%v: %s", err, strings.TrimSpace(stderr.String()))
		}
		return stdout.String(), nil
	}
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// recallStory records sends and recalls in tenant a/a and waits until the
// audit log holds them.
func recallStory(t *testing.T, s *server, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		msg := s.send("alice", "bob", "chat", "txt", fmt.Sprintf("=HYPERLINK(\"x\",%d)", i), "")
		body := `{"actor":"alice"}`
		if i%3 == 0 {
			body = `{"actor":"mallory"}` // refused: forbidden
		}
		if r := s.do("POST", "/v1/a/a/messages/"+msg+"/recall", s.token("a/a", svc), body); r.status != 200 && r.status != 403 {
			t.Fatalf("recall: %d %s", r.status, r.body)
		}
	}
	waitAudited(t, s)
}

// waitAudited waits until the audit log has applied every event of a/a.
func waitAudited(t *testing.T, s *server) {
	t.Helper()
	want := len(s.events())
	eventually(t, func() string {
		v := s.do("GET", "/v1/a/a/audit/verify", s.token("a/a", auditor), "").json(t)
		if got := int(v["tree_size"].(float64)); got < want {
			return fmt.Sprintf("audit tree at %d of %d events", got, want)
		}
		return ""
	})
}

// auditorWalk is the auditor's walk-through in progress: the built
// recallctl, the server, the auditor's files (work) and "another
// machine" holding only the exports, their manifests and the key.
type auditorWalk struct {
	t                    *testing.T
	ctl                  func(args ...string) (string, error)
	s                    *server
	aud                  string
	work, other          string
	keyFile, kept, state string
}

// The auditor's walk-through, end to end, with the built recallctl in
// separate processes that trust nothing but the verifier key: take the
// key, keep a checkpoint, export the recalls as CSV, verify the export on
// "another machine" (a directory with only the files), prove an entry and
// the log's consistency with the checkpoint kept, witness checkpoints;
// then every tamper of an export is refused, naming the row.
func TestAuditorVerifiesProofsAndExportsWithTheBuiltRecallctlAlone(t *testing.T) {
	w := &auditorWalk{t: t, ctl: builtRecallctl(t), work: t.TempDir(), other: t.TempDir()}
	w.s = startServer(t, "--checkpoint-every", "1000", "--checkpoint-interval", "1h")
	w.aud = w.s.token("a/a", auditor)
	w.keepKeyAndACheckpoint()
	recallStory(t, w.s, 6) // a month later
	w.exportAndVerifyElsewhere()
	w.verifyTheServersZip()
	w.proveAnEntryAndTheLogsConsistency()
	w.refuseEveryTamper()
	// a key the auditor does not trust proves nothing
	_, otherVKey, err := note.GenerateKey(rand.Reader, "another-deployment")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.ctl("audit", "verify-export", filepath.Join(w.other, "recalls.csv"), "--key", otherVKey); err == nil || !strings.Contains(err.Error(), "no trusted key") {
		t.Fatalf("another key: %v", err)
	}
}

// keepKeyAndACheckpoint takes the verifier key while recalld runs,
// records a first story, and has the witness keep its signed checkpoint.
func (w *auditorWalk) keepKeyAndACheckpoint() {
	t, s := w.t, w.s
	t.Helper()
	if !strings.Contains(s.printed(), "audit signing key created") {
		t.Fatalf("the first start does not announce its key:\n%s", s.printed())
	}
	keys, err := w.ctl("--data", s.dir, "audit", "key") // works while recalld runs
	if err != nil || !strings.HasPrefix(keys, "recall-ledger-") {
		t.Fatalf("audit key: %q %v", keys, err)
	}
	w.keyFile = writeFile(t, filepath.Join(w.work, "deployment.vkey"), keys)
	recallStory(t, s, 6)
	r := s.do("POST", "/v1/a/a/audit/checkpoint", s.token("a/a", domain.AccessAdmin), "")
	if r.status != 200 {
		t.Fatalf("sign: %d %s", r.status, r.body)
	}
	w.kept = writeFile(t, filepath.Join(w.work, "kept-checkpoint.json"), string(r.body))
	w.state = filepath.Join(w.work, "witness")
	if out, err := w.ctl("audit", "witness", "--key", w.keyFile, "--state", w.state, w.kept); err != nil || !strings.Contains(out, "first checkpoint") {
		t.Fatalf("witness, first: %s %v", out, err)
	}
}

// exportAndVerifyElsewhere exports the recalls as CSV and the sends as
// JSON lines, copies them with their manifests and the key to the other
// machine, and verifies them there.
func (w *auditorWalk) exportAndVerifyElsewhere() {
	t := w.t
	t.Helper()
	csvFile, sendsFile := filepath.Join(w.work, "recalls.csv"), filepath.Join(w.work, "sends.jsonl")
	for _, e := range [][2]string{{"recall", "csv"}, {"send", "jsonl"}} {
		out := map[string]string{"csv": csvFile, "jsonl": sendsFile}[e[1]]
		if got, err := w.ctl("--server", w.s.base, "--token", w.aud, "audit", "export", "--tenant", "a/a", "--action", e[0], "--format", e[1], "--out", out); err != nil {
			t.Fatalf("export: %s %v", got, err)
		}
	}
	for _, f := range []string{csvFile, csvFile + ".manifest.json", sendsFile, sendsFile + ".manifest.json", w.keyFile} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(w.other, filepath.Base(f)), string(b))
	}
	otherKey := filepath.Join(w.other, "deployment.vkey")
	out, err := w.ctl("audit", "verify-export", filepath.Join(w.other, "recalls.csv"), "--key", otherKey)
	var verified struct {
		OK     bool                    `json:"ok"`
		Report auditproof.ExportReport `json:"report"`
	}
	if err != nil || json.Unmarshal([]byte(out), &verified) != nil || !verified.OK || verified.Report.Rows != 12 || !verified.Report.Complete {
		t.Fatalf("verify-export of the recalls: %s %v", out, err)
	}
	out, err = w.ctl("audit", "verify-export", filepath.Join(w.other, "sends.jsonl"), "--key", otherKey, "--tenant", "a/a")
	if err != nil || !strings.Contains(out, `"content_checked":12`) {
		t.Fatalf("verify-export of the sends (content checked against content_sha256): %s %v", out, err)
	}
}

// verifyTheServersZip checks the console's download, the server's
// verified export as one zip: recallctl verifies it as it is, and it holds
// the same CSV bytes as recallctl's own export of the same filter.
func (w *auditorWalk) verifyTheServersZip() {
	t := w.t
	t.Helper()
	r := w.s.do("GET", "/v1/a/a/audit/export?action=recall&format=csv", w.aud, "")
	if r.status != 200 || r.header.Get("Content-Type") != "application/zip" {
		t.Fatalf("GET …/audit/export: %d %s", r.status, r.body)
	}
	zipped := writeFile(t, filepath.Join(w.other, "export.zip"), string(r.body))
	if out, err := w.ctl("audit", "verify-export", zipped, "--key", filepath.Join(w.other, "deployment.vkey")); err != nil || !strings.Contains(out, `"rows":12`) {
		t.Fatalf("verify-export of the server's zip: %s %v", out, err)
	}
	ex, err := auditproof.ReadZip(r.body)
	if mine, _ := os.ReadFile(filepath.Join(w.other, "recalls.csv")); err != nil || string(ex.Data) != string(mine) {
		t.Errorf("the zip's CSV differs from recallctl's export of the same filter (%v)", err)
	}
}

// proveAnEntryAndTheLogsConsistency checks an entry's inclusion offline
// and fetched, refuses a forged one, and shows the log extends the
// checkpoint kept, to verify-consistency and to the witness.
func (w *auditorWalk) proveAnEntryAndTheLogsConsistency() {
	t, ctl, s, aud, keyFile := w.t, w.ctl, w.s, w.aud, w.keyFile
	t.Helper()
	r := s.do("GET", "/v1/a/a/audit/proof/inclusion?seq=2", aud, "")
	answer := writeFile(t, filepath.Join(w.work, "inclusion.json"), string(r.body))
	if out, err := ctl("audit", "verify-inclusion", "--key", keyFile, "--tenant", "a/a", answer); err != nil || !strings.Contains(out, `"ok":true`) {
		t.Fatalf("verify-inclusion: %s %v", out, err)
	}
	if out, err := ctl("--server", s.base, "--token", aud, "audit", "verify-inclusion", "--key", keyFile, "--tenant", "a/a", "--seq", "3"); err != nil || !strings.Contains(out, `"seq":3`) {
		t.Fatalf("verify-inclusion --server: %s %v", out, err)
	}
	forged := strings.Replace(string(r.body), `"actor":"mallory"`, `"actor":"alice"`, 1)
	if forged == string(r.body) {
		t.Fatalf("entry 2 is not mallory's refused recall: %s", r.body)
	}
	if _, err := ctl("audit", "verify-inclusion", "--key", keyFile, writeFile(t, filepath.Join(w.work, "forged.json"), forged)); err == nil || !strings.Contains(err.Error(), "seq 2") {
		t.Fatalf("a forged entry: %v", err)
	}
	// the log now extends the checkpoint kept a month ago
	if out, err := ctl("--server", s.base, "--token", aud, "audit", "verify-consistency", "--key", keyFile, "--tenant", "a/a", "--old", w.kept); err != nil || !strings.Contains(out, `"ok":true`) {
		t.Fatalf("verify-consistency: %s %v", out, err)
	}
	if out, err := ctl("--server", s.base, "--token", aud, "audit", "witness", "--key", keyFile, "--state", w.state, "--tenant", "a/a"); err != nil || !strings.Contains(out, "consistent with the checkpoint") {
		t.Fatalf("witness, later: %s %v", out, err)
	}
	// an older checkpoint replayed as current is refused, naming what it hides
	if _, err := ctl("audit", "witness", "--key", keyFile, "--state", w.state, w.kept); err == nil || !strings.Contains(err.Error(), "older") {
		t.Fatalf("witness, replay: %v", err)
	}
}

// refuseEveryTamper changes the exported CSV on the other machine as a
// forger would; verify-export refuses each, naming the row.
func (w *auditorWalk) refuseEveryTamper() {
	t := w.t
	t.Helper()
	otherCSV, otherKey := filepath.Join(w.other, "recalls.csv"), filepath.Join(w.other, "deployment.vkey")
	rows := readCSV(t, otherCSV)
	if rows[1][2] != "recall" || !strings.HasPrefix(readCSV(t, filepath.Join(w.work, "recalls.csv"))[0][0], "seq") {
		t.Fatalf("csv: %q", rows[:2])
	}
	tampers := []struct {
		name   string
		change func([][]string) [][]string
		want   string
	}{
		{"one cell changed", func(r [][]string) [][]string { r[3][10] = "edited after the export"; return r }, "row 3 (seq"},
		{"a hash cell changed", func(r [][]string) [][]string { r[2][15] = strings.Repeat("0", 64); return r }, "row 2 (seq"},
		{"a row dropped", func(r [][]string) [][]string { return append(r[:4:4], r[5:]...) }, "row 4 (seq"},
		{"rows reordered", func(r [][]string) [][]string { r[5], r[6] = r[6], r[5]; return r }, "row 5 (seq"},
		{"a row added", func(r [][]string) [][]string { return append(r, r[len(r)-1]) }, "row 13 (seq"},
	}
	for _, c := range tampers {
		t.Run(c.name, func(t *testing.T) {
			fresh := readCSV(t, otherCSV)
			changed := filepath.Join(w.other, "tampered.csv")
			writeCSV(t, changed, c.change(fresh))
			b, _ := os.ReadFile(otherCSV + ".manifest.json")
			writeFile(t, changed+".manifest.json", string(b))
			_, err := w.ctl("audit", "verify-export", changed, "--key", otherKey)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("verify-export: %v; want %q", err, c.want)
			}
		})
	}
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func writeCSV(t *testing.T, path string, rows [][]string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := csv.NewWriter(f)
	w.UseCRLF = true
	if err := w.WriteAll(rows); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// The attack the chain alone cannot catch: an insider with write access to
// the data directory rewrites the log from seq 4 on, recomputes its chain
// and tree, drops the signed checkpoints and re-signs, with another key
// or with the deployment's own (stolen). What the auditor kept outside
// (a checkpoint, the witness's state, last month's export) catches it,
// the export naming the first rewritten seq.
func TestARewrittenAndReSignedLogIsCaughtByWhatTheAuditorKept(t *testing.T) {
	ctl := builtRecallctl(t)
	for _, c := range []struct {
		name    string
		sameKey bool
		witness string // what the witness says
	}{
		{"re-signed with another key", false, "no trusted key"},
		{"re-signed with the stolen key", true, "not consistent"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			s := startServerIn(t, dir, "--checkpoint-every", "1000", "--checkpoint-interval", "1h")
			aud := s.token("a/a", auditor)
			work := t.TempDir()
			keys, err := ctl("--data", dir, "audit", "key")
			if err != nil {
				t.Fatal(err)
			}
			keyFile := writeFile(t, filepath.Join(work, "kept.vkey"), keys)
			recallStory(t, s, 4)
			kept := writeFile(t, filepath.Join(work, "kept-checkpoint.json"), string(s.do("POST", "/v1/a/a/audit/checkpoint", s.token("a/a", domain.AccessAdmin), "").body))
			state := filepath.Join(work, "witness")
			if _, err := ctl("audit", "witness", "--key", keyFile, "--state", state, kept); err != nil {
				t.Fatal(err)
			}
			export := filepath.Join(work, "last-month.jsonl")
			if out, err := ctl("--server", s.base, "--token", aud, "audit", "export", "--tenant", "a/a", "--format", "jsonl", "--out", export); err != nil {
				t.Fatalf("export: %s %v", out, err)
			}
			s.shutdown()

			rewriteDataDir(t, dir, 4, c.sameKey)
			again := startServerIn(t, dir, "--checkpoint-every", "1000", "--checkpoint-interval", "1h")
			again.tokens = s.tokens
			recallStory(t, again, 1) // the rewritten log goes on, signed anew
			if r := again.do("POST", "/v1/a/a/audit/checkpoint", again.token("a/a", domain.AccessAdmin), ""); r.status != 200 {
				t.Fatalf("sign: %d %s", r.status, r.body)
			}
			// with every checkpoint re-signed the data directory verifies on its
			// own: only what was kept outside can tell; the stolen key's
			// forger who kept the old checkpoints is named by verify too
			v := again.do("GET", "/v1/a/a/audit/verify", aud, "").json(t)
			if c.sameKey != (v["ok"] != true) || c.sameKey && v["broken_seq"].(float64) > 4 {
				t.Fatalf("the server's own verify: %v", v)
			}
			if _, err := ctl("--server", again.base, "--token", aud, "audit", "witness", "--key", keyFile, "--state", state, "--tenant", "a/a"); err == nil || !strings.Contains(err.Error(), c.witness) {
				t.Fatalf("witness: %v; want %q", err, c.witness)
			}
			if _, err := ctl("--server", again.base, "--token", aud, "audit", "verify-consistency", "--key", keyFile, "--tenant", "a/a", "--old", kept); err == nil {
				t.Fatal("consistency with the kept checkpoint was accepted")
			}
			// last month's export still proves what it held, and names the
			// first entry the log no longer matches
			if _, err := ctl("audit", "verify-export", export, "--key", keyFile); err != nil {
				t.Fatalf("the export on its own: %v", err)
			}
			if _, err := ctl("--server", again.base, "--token", aud, "audit", "verify-export", export, "--key", keyFile); err == nil || !strings.Contains(err.Error(), "seq 4: rewritten") {
				t.Fatalf("the export held to today's log: %v; want seq 4 named", err)
			}
		})
	}
}

// rewriteDataDir is the insider's rewrite of a stopped recalld's data
// directory: entries from seq on changed with their chain and tree
// recomputed and, unless sameKey, every signed checkpoint dropped and the
// signing key replaced by a new one, which recalld signs with from then
// on. With the same key the forger signs on over the rewritten tree.
func rewriteDataDir(t *testing.T, dir string, seq uint64, sameKey bool) {
	t.Helper()
	rm, err := readmodel.Open(filepath.Join(dir, "readmodels"))
	if err != nil {
		t.Fatal(err)
	}
	defer rm.Close()
	err = audittest.RewriteFrom(rm, "a/a", seq, func(e *auditlog.Entry) {
		if e.Action == auditlog.ActionRecall {
			e.Actor, e.Outcome, e.Reason = "nobody", "recalled", "" // the refusals never happened
		}
		e.Detail += " (rewritten)"
	})
	if err == nil {
		err = audittest.RebuildTree(rm, "a/a")
	}
	if err != nil {
		t.Fatal(err)
	}
	if !sameKey {
		if err := rm.Drop(auditsign.Namespace); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(filepath.Join(dir, auditsign.KeyFile)); err != nil {
			t.Fatal(err)
		}
	}
}

// walkthrough returns the sh block the README marks with
// <!-- walkthrough: name -->.
func walkthrough(t *testing.T, readme, name string) string {
	t.Helper()
	_, rest, ok := strings.Cut(readme, "<!-- walkthrough: "+name+" -->\n```sh\n")
	if !ok {
		t.Fatalf("the README has no walk-through block %q", name)
	}
	block, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatalf("walk-through block %q does not end", name)
	}
	return block
}

// The README's auditor walk-through, run verbatim: the ledger's block in
// a directory whose ./data is a running recalld's (on a clock in November
// 2026, the month the README exports), the auditor's in another directory
// holding only the three files the first one made, with nothing in its
// environment but PATH (the built recallctl).
func TestTheREADMEAuditorWalkthroughRunsVerbatim(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Dir(buildRecallctl(t))
	ledgerSide := t.TempDir()
	data := filepath.Join(ledgerSide, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	toks := registerTenant(t, data, "demo/demo")
	s := startServerWith(t, data, clocktest.New(time.Date(2026, 11, 15, 10, 0, 0, 0, time.UTC)))
	for i := 0; i < 3; i++ {
		body, _ := json.Marshal(map[string]string{"from": "alice", "to": "bob", "chat_type": "chat", "type": "txt", "content": fmt.Sprint("note ", i)})
		r := s.do("POST", "/v1/demo/demo/messages", toks[domain.AccessService], string(body))
		msg := r.json(t)["msg_id"].(string)
		s.do("POST", "/v1/demo/demo/messages/"+msg+"/recall", toks[domain.AccessService], `{"actor":"alice"}`)
	}
	eventually(t, func() string {
		r := s.do("GET", "/v1/demo/demo/audit?action=recall", toks[domain.AccessAuditor], "")
		if !strings.Contains(string(r.body), `"outcome":"recalled"`) || strings.Count(string(r.body), `"seq"`) < 3 {
			return "recalls not audited yet: " + string(r.body)
		}
		return ""
	})
	run := func(dir, script string, env ...string) string {
		t.Helper()
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
		cmd.Dir = dir
		cmd.Env = append([]string{"PATH=" + bin + ":" + os.Getenv("PATH")}, env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("the walk-through in %s failed: %v\n%s\nscript:\n%s", dir, err, out, script)
		}
		return string(out)
	}
	run(ledgerSide, walkthrough(t, string(readme), "ledger"), "RECALL_SERVER="+s.base, "RECALL_TOKEN="+toks[domain.AccessAuditor], "HOME="+ledgerSide)
	auditorSide := t.TempDir()
	for _, f := range []string{"deployment.vkey", "recalls.csv", "recalls.csv.manifest.json"} {
		b, err := os.ReadFile(filepath.Join(ledgerSide, f))
		if err != nil {
			t.Fatalf("the ledger's block did not make %s: %v", f, err)
		}
		writeFile(t, filepath.Join(auditorSide, f), string(b))
	}
	out := run(auditorSide, walkthrough(t, string(readme), "auditor"))
	if !strings.Contains(out, `"ok":true`) || !strings.Contains(out, `"rows":3`) || !strings.Contains(out, `"complete":true`) {
		t.Fatalf("verify-export printed:\n%s", out)
	}
}

// With --bus nats every signed checkpoint is also published to JetStream,
// on recall.checkpoints.<org>.<app>, where a witness outside the ledger
// follows it; and the checkpoints file gets it too.
func TestCheckpointsArePublishedToNATSAndTheCheckpointsFile(t *testing.T) {
	natsURL := natsbustest.StartServer(t)
	s := startServer(t, "--bus", "nats", "--nats-url", natsURL)
	s.send("alice", "bob", "chat", "txt", "hi", "")
	waitAudited(t, s)
	r := s.do("POST", "/v1/a/a/audit/checkpoint", s.token("a/a", domain.AccessAdmin), "")
	var signed auditsign.Signed
	if err := json.Unmarshal(r.body, &signed); err != nil || r.status != 200 {
		t.Fatalf("sign: %d %s", r.status, r.body)
	}
	js := natsbustest.JetStream(t, natsURL)
	var got auditsign.Signed
	eventually(t, func() string {
		msg, err := js.GetLastMsg(natsbus.CheckpointStream, "recall.checkpoints.a.a")
		if err != nil {
			return "no checkpoint on the bus: " + err.Error()
		}
		if err := json.Unmarshal(msg.Data, &got); err != nil {
			return err.Error()
		}
		return ""
	})
	if got.Checkpoint != signed.Checkpoint {
		t.Fatalf("the bus has %+v, the server signed %+v", got, signed)
	}
	file, err := os.ReadFile(filepath.Join(s.dir, "audit-checkpoints.jsonl"))
	if err != nil || !strings.Contains(string(file), `"size":`+fmt.Sprint(signed.Size)) {
		t.Fatalf("checkpoints file: %s %v", file, err)
	}
}

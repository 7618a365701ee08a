package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// commandDoc documents one recallctl command. `recallctl --help`, a
// group's help (`recallctl audit --help`) and each command's --help are
// printed from this table, and run dispatches every name in it (a test
// asks each for its help).
type commandDoc struct {
	name     string // "tenant create"
	synopsis string // the usage line after "recallctl"
	summary  string // one line for the command list
	detail   string // a paragraph for the command's own --help
}

var commands = []commandDoc{
	{name: "tenant create", synopsis: "[--data DIR] tenant create ORG/APP",
		summary: "register a tenant and print its service, admin and auditor tokens, once, as JSON",
		detail: "Only the tokens' SHA-256 is kept (DIR/tenants.jsonl): save them now. Works while recalld runs on DIR:\n" +
			"the token registry is a file recalld and recallctl share, and recalld serves the new tenant at once."},
	{name: "tenant rotate", synopsis: "[--data DIR] tenant rotate ORG/APP ROLE",
		summary: "replace one role's token (service, admin or auditor) and print the new one",
		detail:  "The old token stops working at once, also in a recalld running on DIR."},
	{name: "tenant disable", synopsis: "[--data DIR] tenant disable ORG/APP",
		summary: "stop every token of a tenant from working (its history and audit log stay)",
		detail:  "Takes effect at once, also in a recalld running on DIR; 'tenant enable' undoes it with the same tokens."},
	{name: "tenant enable", synopsis: "[--data DIR] tenant enable ORG/APP",
		summary: "let a disabled tenant's tokens work again"},
	{name: "export events", synopsis: "[--data DIR | --server URL --token T] export events [--tenant ORG/APP] [--from-position N]",
		summary: "the event log as JSON lines on stdout, from a position on (a backfill)",
		detail: "With --data it reads DIR's event store, which a running recalld holds: stop it, or use --server\n" +
			"(then --tenant is required and the token must be the tenant's auditor or admin token)."},
	{name: "keys rotate-kek", synopsis: "[--data DIR] keys rotate-kek [--kek-file FILE]",
		summary: "add a new key-encryption key to the key file, make it current and rewrap every content key under it",
		detail: "FILE is the key file recalld reads (--kek-file; default DIR/kek.json). The old KEKs stay in the file, so a\n" +
			"rotation that stops half way loses nothing; once it finished, `keys retire-kek ID` removes an old one.\n" +
			"Needs recalld stopped (the key store is opened directly); start it again afterwards to use the new KEK.\n" +
			"With RECALL_KEK instead of a file: put the new key first in the variable and run `keys rewrap`."},
	{name: "keys rewrap", synopsis: "[--data DIR] keys rewrap [--kek-file FILE]",
		summary: "rewrap every content key under the current KEK (the key file's current, or RECALL_KEK's first)",
		detail:  "Needs recalld stopped. Prints how many keys it rewrapped and how many each KEK still wraps."},
	{name: "keys retire-kek", synopsis: "[--data DIR] keys retire-kek ID [--kek-file FILE]",
		summary: "remove an old KEK from the key file once no content key is wrapped under it",
		detail:  "Refused while any live content key still needs it (run `keys rewrap` first) and for the current KEK. Needs recalld stopped."},
	{name: "projections rebuild", synopsis: "[--data DIR] projections rebuild [NAME...]",
		summary: "drop read models and rebuild them from position 0 (all, or conversations, audit_log, recall_reports, recall_history, message_index)",
		detail:  "Needs recalld stopped: the event store and the read models are opened directly."},
	{name: "audit verify", synopsis: "[--data DIR | --server URL --token T] audit verify --tenant ORG/APP",
		summary: "recompute the tenant's audit hash chain and name the first broken entry",
		detail:  "With --data it needs recalld stopped; with --server it asks the running one."},
	{name: "audit query", synopsis: "--server URL --token T audit query --tenant ORG/APP [filters] [--format jsonl|json|csv]",
		summary: "one page of the audit log, filtered",
		detail:  "Goes through a running recalld so that the query is itself recorded in the audit log."},
	{name: "audit export", synopsis: "--server URL --token T audit export --tenant ORG/APP [filters] [--format jsonl|json|csv] [--out FILE]",
		summary: "the whole filtered audit log, page after page",
		detail: "Goes through a running recalld so that the export is itself recorded in the audit log.\n" +
			"With --out FILE the export is verifiable: every page is proven against one signed checkpoint and FILE gets\n" +
			"its manifest (inside a JSON export, else beside it as FILE.manifest.json); check it with audit verify-export."},
	{name: "audit key", synopsis: "[--data DIR] audit key [rotate] [--json]",
		summary: "print the deployment's verifier keys (every one it signed with), or rotate its signing key",
		detail: "recalld makes the ed25519 signing key on its first start (DIR/audit-key.json, mode 0600). The verifier keys,\n" +
			"one a line, oldest first, are what an auditor keeps: `recallctl --data DIR audit key > deployment.vkey`.\n" +
			"rotate makes a new key of the same name; the old verifier keys stay in the list (old checkpoints still verify)\n" +
			"and a rotation statement signed by both keys is kept (--json prints it). Works while recalld runs."},
	{name: "audit verify-inclusion", synopsis: "[--server URL --token T] audit verify-inclusion --key VERIFIER [--tenant ORG/APP] [--seq N [--size S] | ANSWER.json]",
		summary: "check an inclusion proof offline: the entry is in the signed log, unaltered",
		detail: "ANSWER.json is GET …/audit/proof/inclusion's answer (- or none: stdin); with --server and --seq it is fetched.\n" +
			"Nothing but --key is trusted: the record hash is recomputed, the checkpoint's signature and the proof checked."},
	{name: "audit verify-consistency", synopsis: "[--server URL --token T] audit verify-consistency --key VERIFIER [--tenant ORG/APP] [--old KEPT] [--to S | ANSWER.json]",
		summary: "check a consistency proof offline: the later signed log extends the earlier one",
		detail: "KEPT is a checkpoint you saved earlier (its note, or GET …/audit/checkpoint's JSON): the proof must start\n" +
			"from exactly it, which shows nothing before was rewritten. With --server the proof is fetched."},
	{name: "audit verify-export", synopsis: "[--server URL --token T] audit verify-export FILE --key VERIFIER [--format csv|jsonl|json] [--manifest M] [--tenant ORG/APP]",
		summary: "check an audit export offline: every row is in the signed log, unaltered, none dropped or moved",
		detail: "Needs nothing but the file, its manifest (FILE.manifest.json, or inside a JSON export) and the verifier key.\n" +
			"A failure names the first bad row and its seq; exit status 2. With --server, an export verified before (last\n" +
			"month's) is then held to the log as the server serves it today: an entry rewritten since is named, and the\n" +
			"latest checkpoint must extend the export's, whoever signed it."},
	{name: "audit witness", synopsis: "[--server URL --token T] audit witness --key VERIFIER --state DIR [--tenant ORG/APP] [CHECKPOINT [--proof ANSWER.json]]",
		summary: "keep the checkpoints seen and refuse a new one that is not consistent with them",
		detail: "The first checkpoint of a log is kept; a later one must come with a consistency proof from the last one kept\n" +
			"(--proof, or fetched with --server), and an older one replayed as current is refused. Run it from a machine\n" +
			"the ledger's operators do not control, on every checkpoint published (the JSON-lines file, NATS, or --server)."},
	{name: "operator add", synopsis: "[--data DIR | --server URL --token T] operator add ORG/APP NAME --role admin|auditor [--password-stdin]",
		summary: "add a named operator of the console and print its password, once",
		detail: "The password is generated (24 characters) unless --password-stdin reads one (12 characters or more)\n" +
			"from the first line of standard input; only its argon2id hash is kept. With --data it works while\n" +
			"recalld runs on DIR (the operator registry is a journal both share); with --server the admin token's\n" +
			"recalld does it (a password is then always generated)."},
	{name: "operator list", synopsis: "[--data DIR | --server URL --token T] operator list ORG/APP",
		summary: "the tenant's operators, one JSON object a line (name, role, disabled, created, last sign-in)",
		detail:  "Works while recalld runs on DIR."},
	{name: "operator disable", synopsis: "[--data DIR | --server URL --token T] operator disable ORG/APP NAME",
		summary: "stop an operator signing in; its sessions end at once",
		detail:  "Works while recalld runs on DIR: its sessions end on their next request."},
	{name: "operator enable", synopsis: "[--data DIR | --server URL --token T] operator enable ORG/APP NAME",
		summary: "let a disabled operator sign in again",
		detail:  "Works while recalld runs on DIR."},
	{name: "operator reset", synopsis: "[--data DIR | --server URL --token T] operator reset ORG/APP NAME [--password-stdin]",
		summary: "give an operator a new password, printed once; its sessions end",
		detail:  "As for operator add, the password is generated unless --password-stdin reads one (--data only)."},
	{name: "operator role", synopsis: "[--data DIR | --server URL --token T] operator role ORG/APP NAME --role admin|auditor",
		summary: "change an operator's role; its sessions end",
		detail:  "Works while recalld runs on DIR."},
	{name: "hold place", synopsis: "--server URL --token T hold place --tenant ORG/APP --scope user|conversation|tenant [--id ID] [--from T] [--to T] --case CASE [--reason R]",
		summary: "place a legal hold: nothing it covers is destroyed (recall, expiry, retention, erasure) until it is released",
		detail: "With the admin token. Holds may overlap; --from and --to (RFC 3339, both inclusive) bound the send times it\n" +
			"covers. Prints the hold as recorded, with its hold_id."},
	{name: "hold list", synopsis: "--server URL --token T hold list --tenant ORG/APP [--active]",
		summary: "the tenant's legal holds (--active: those in force)",
		detail:  "With the admin or auditor token."},
	{name: "hold release", synopsis: "--server URL --token T hold release --tenant ORG/APP HOLD_ID [--reason R]",
		summary: "release a legal hold and carry out the erasures it deferred",
		detail:  "With the admin token. What another hold still covers stays kept; retention proceeds at its next run."},
	{name: "erasure request", synopsis: "--server URL --token T erasure request --tenant ORG/APP --user U --reason R [--request-id K]",
		summary: "erase the content of every message a user sent (PIPL art. 47, GDPR art. 17), except what a hold keeps",
		detail: "With the admin token. Prints what was erased and what a hold keeps, with the holds named; a repeat of the\n" +
			"request (the same user and --request-id, or reason) is the same erasure. A hold's release carries out the rest."},
	{name: "erasure show", synopsis: "--server URL --token T erasure show --tenant ORG/APP ERASURE_ID",
		summary: "an erasure: its status, what it erased, what a hold keeps",
		detail:  "With the admin token."},
	{name: "conversation as-of", synopsis: "--server URL --token T conversation as-of --tenant ORG/APP --conversation C --viewer U --at T [--locale L]",
		summary: "a conversation exactly as a viewer saw it at an instant, replayed from the log (audited)",
		detail: "With the auditor token: the messages, notices, unread count and read receipts the viewer had at T (RFC 3339),\n" +
			"content only where it still exists. The view is recorded in the audit log under the token's role."},
	{name: "report recalls", synopsis: "[--data DIR | --server URL --token T] report recalls --tenant ORG/APP [--group-by KEY]",
		summary: "recall attempts, successes, refusals and timeouts, as a table (or --json)",
		detail:  "With --data it needs recalld stopped; with --server it asks the running one."},
}

// doc returns the command's documentation; every command run dispatches
// has one.
func doc(name string) commandDoc {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	panic("recallctl: command " + name + " is not documented in commands")
}

// printUsage prints the commands of group (all when empty) and the global
// flags.
func printUsage(w io.Writer, group string) {
	fmt.Fprintln(w, "usage: recallctl [--data DIR | --server URL --token T] COMMAND [flags] [args]")
	fmt.Fprintln(w, "\ncommands:")
	width := 0
	for _, c := range commands {
		width = max(width, len(c.name))
	}
	for _, c := range commands {
		if group == "" || strings.HasPrefix(c.name, group+" ") {
			fmt.Fprintf(w, "  %-*s  %s\n", width, c.name, c.summary)
		}
	}
	fmt.Fprint(w, `
global flags, before the command:
  --data DIR      data directory (default $RECALL_DATA, else ./data)
  --server URL    ask this running recalld over HTTP instead (default $RECALL_SERVER)
  --token T       bearer token for --server (default $RECALL_TOKEN)

'recallctl COMMAND --help' shows a command's usage and flags.

With --data, recallctl works on the data directory itself. 'tenant create',
'tenant rotate' and the 'operator' commands work while recalld runs on it (they
change only the token and operator registries, files both share). The other commands open the event store and the
read models, which a running recalld holds: stop it first, or use --server.
`)
}

// newFlagSet is the flag set of command name, its --help printed from the
// command's documentation.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	c := doc(name)
	fs := flag.NewFlagSet("recallctl "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: recallctl %s\n\n%s.\n", c.synopsis, strings.ToUpper(c.summary[:1])+c.summary[1:])
		if c.detail != "" {
			fmt.Fprintf(w, "%s\n", c.detail)
		}
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintln(w, "\nflags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "help":
		return true
	}
	return false
}

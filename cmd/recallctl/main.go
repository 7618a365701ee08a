// Command recallctl administers Recall Ledger: tenants and their tokens,
// and exports of the event log.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/recallledger/recall/adapters/eventstore/embedded"
	"github.com/recallledger/recall/adapters/tenants"
	"github.com/recallledger/recall/cmd/internal/flaghelp"
	"github.com/recallledger/recall/cmd/internal/progress"
	"github.com/recallledger/recall/domain"
	"github.com/recallledger/recall/domain/ledger"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := runWith(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "recallctl:", err)
		os.Exit(2)
	}
}

// run is recallctl: --help, asked of recallctl, a group or a command, is
// done (exit 0), not an error.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return runWith(ctx, args, getenv, strings.NewReader(""), stdout, stderr)
}

// runWith is run with a standard input (operator add --password-stdin
// reads it).
func runWith(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	return flaghelp.Done(dispatch(ctx, args, getenv, stdin, stdout, stderr))
}

func dispatch(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("recallctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { printUsage(fs.Output(), "") }
	data := getenv("RECALL_DATA")
	if data == "" {
		data = "./data"
	}
	fs.StringVar(&data, "data", data, "data directory")
	server := fs.String("server", getenv("RECALL_SERVER"), "URL of a running recalld")
	token := fs.String("token", getenv("RECALL_TOKEN"), "bearer token for --server")
	if err := flaghelp.Parse(fs, args, stdout); err != nil {
		return err
	}
	rest := fs.Args()
	switch {
	case len(rest) > 0 && rest[0] == "help":
		printUsage(stdout, "")
		return nil
	case len(rest) == 0:
		printUsage(stderr, "")
		return errors.New("missing command")
	case len(rest) == 1 || isHelp(rest[1]):
		group := rest[0]
		if !slices.ContainsFunc(commands, func(c commandDoc) bool { return strings.HasPrefix(c.name, group+" ") }) {
			printUsage(stderr, "")
			return fmt.Errorf("unknown command %q", group)
		}
		if len(rest) > 1 {
			printUsage(stdout, group)
			return nil
		}
		printUsage(stderr, group)
		return fmt.Errorf("missing command after %q (see the list above)", group)
	}
	switch name := rest[0] + " " + rest[1]; name {
	case "tenant create", "tenant rotate", "tenant disable", "tenant enable", "projections rebuild":
		// positional arguments only: a flag set of none still answers --help
		cmd := newFlagSet(name, stderr)
		if err := flaghelp.Parse(cmd, rest[2:], stdout); err != nil {
			return err
		}
		args := cmd.Args()
		switch {
		case name == "projections rebuild":
			return projectionsRebuild(ctx, data, args, stdout, stderr)
		case name == "tenant create" && len(args) == 1:
			return tenantCreate(data, args[0], stdout)
		case name == "tenant rotate" && len(args) == 2:
			return tenantRotate(data, args[0], args[1], stdout)
		case (name == "tenant disable" || name == "tenant enable") && len(args) == 1:
			return tenantDisable(data, args[0], name == "tenant disable", stdout)
		}
		cmd.Usage()
		return errors.New("usage: recallctl " + doc(name).synopsis)
	case "export events":
		return exportEvents(ctx, data, *server, *token, getenv, rest[2:], stdout, stderr)
	case "keys rotate-kek", "keys rewrap", "keys retire-kek":
		return keysCmd(ctx, data, getenv, rest[1], rest[2:], stdout, stderr)
	case "audit verify", "audit query", "audit export":
		return auditCmd(ctx, data, *server, *token, rest[1], rest[2:], stdout, stderr)
	case "audit key":
		return auditKey(data, rest[2:], stdout, stderr)
	case "audit verify-inclusion":
		return verifyInclusion(ctx, *server, *token, rest[2:], stdout, stderr)
	case "audit verify-consistency":
		return verifyConsistency(ctx, *server, *token, rest[2:], stdout, stderr)
	case "audit verify-export":
		return verifyExport(ctx, *server, *token, rest[2:], stdout, stderr)
	case "audit witness":
		return witness(ctx, *server, *token, rest[2:], stdout, stderr)
	case "report recalls":
		return reportRecalls(ctx, data, *server, *token, rest[2:], stdout, stderr)
	case "hold place", "hold list", "hold release", "erasure request", "erasure show", "conversation as-of":
		return complianceCmd(ctx, *server, *token, name, rest[2:], stdout, stderr)
	case "operator add", "operator list", "operator disable", "operator enable", "operator reset", "operator role":
		return operatorCmd(ctx, data, *server, *token, rest[1], rest[2:], stdin, stdout, stderr)
	}
	printUsage(stderr, "")
	return fmt.Errorf("unknown command %q", strings.Join(rest[:2], " "))
}

// tenantChange runs one change of the tenant registry in data on the
// tenant named name and prints what it returns, with the tenant, as JSON.
func tenantChange(data, name string, stdout io.Writer, change func(*tenants.Registry, domain.Tenant) (map[string]any, error)) error {
	t, err := domain.ParseTenant(name)
	if err != nil {
		return err
	}
	reg, err := tenants.Open(data)
	if err != nil {
		return err
	}
	out, err := change(reg, t)
	if err != nil {
		return err
	}
	out["tenant"] = t.String()
	return printJSON(stdout, out)
}

func tenantCreate(data, name string, stdout io.Writer) error {
	return tenantChange(data, name, stdout, func(reg *tenants.Registry, t domain.Tenant) (map[string]any, error) {
		toks, err := reg.Create(t)
		return map[string]any{"tokens": toks}, err
	})
}

func tenantRotate(data, name, roleName string, stdout io.Writer) error {
	role, err := domain.ParseAccessRole(roleName)
	if err != nil {
		return err
	}
	return tenantChange(data, name, stdout, func(reg *tenants.Registry, t domain.Tenant) (map[string]any, error) {
		tok, err := reg.Rotate(t, role)
		return map[string]any{"role": role, "token": tok}, err
	})
}

// tenantDisable disables a tenant (its tokens stop working at once, in a
// running recalld too; its history stays) or enables it again.
func tenantDisable(data, name string, disabled bool, stdout io.Writer) error {
	return tenantChange(data, name, stdout, func(reg *tenants.Registry, t domain.Tenant) (map[string]any, error) {
		return map[string]any{"disabled": disabled}, reg.SetDisabled(t, disabled)
	})
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// exportPage is how many events one read fetches.
const exportPage = 1000

func exportEvents(ctx context.Context, data, server, token string, getenv func(string) string, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("export events", stderr)
	kekFile := fs.String("kek-file", getenv("RECALL_KEK_FILE"), "the key file recalld reads (default DIR/kek.json, or RECALL_KEK)")
	from := fs.Uint64("from-position", 0, "first position to export")
	tenant := fs.String("tenant", "", "only this ORG/APP's events (required with --server)")
	if err := flaghelp.Parse(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *tenant != "" {
		if _, err := domain.ParseTenant(*tenant); err != nil {
			return err
		}
	}
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	line := progress.New(stderr)
	if server != "" {
		if *tenant == "" {
			return errors.New("--server needs --tenant ORG/APP")
		}
		return exportFromServer(ctx, server, token, *tenant, *from, out, line)
	}
	store, err := embedded.Open(filepath.Join(data, "events"))
	if err != nil {
		return fmt.Errorf("%w (is recalld running on this data directory? stop it, or use --server)", err)
	}
	defer store.Close()
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	// content goes out as each tenant's feed_content says, as from a
	// server: decrypted under plaintext while its key exists
	var opts []ledger.Option
	keys, err := openKeys(data, *kekFile, getenv)
	if err != nil {
		return err
	}
	if keys != nil {
		defer keys.Close()
		opts = append(opts, ledger.WithKeyring(keys.Keyring))
	}
	redactor := ledger.New(store, domain.SystemClock{}, opts...).Redactor()
	pos, head := *from, store.Head()
	for {
		evs, err := store.ReadAll(ctx, pos, *tenant, exportPage)
		if err != nil {
			return err
		}
		if len(evs) == 0 {
			line.Done()
			return nil
		}
		for _, e := range evs {
			if e, _, err = redactor.Redact(ctx, e); err != nil {
				return err
			}
			if err := enc.Encode(e); err != nil {
				return err
			}
		}
		pos = evs[len(evs)-1].Position + 1
		line.Positions("exported", pos-1, head)
	}
}

func exportFromServer(ctx context.Context, server, token, tenant string, from uint64, out io.Writer, line *progress.Line) error {
	pos := from
	for {
		q := url.Values{"from_position": {strconv.FormatUint(pos, 10)}, "limit": {strconv.Itoa(exportPage)}}
		body, header, err := remote(ctx, server, token, "/v1/"+tenant+"/events", q)
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		if len(body) == 0 {
			line.Done()
			return nil
		}
		if _, err := out.Write(body); err != nil {
			return err
		}
		next, err := strconv.ParseUint(header.Get("X-Next-Position"), 10, 64)
		if err != nil || next <= pos {
			return fmt.Errorf("export: bad X-Next-Position %q", header.Get("X-Next-Position"))
		}
		pos = next
		line.Positions("exported", pos-1, 0)
	}
}

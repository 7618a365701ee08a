package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/recallledger/recall/adapters/operators"
	"github.com/recallledger/recall/adapters/tenants"
	"github.com/recallledger/recall/cmd/internal/flaghelp"
	"github.com/recallledger/recall/domain"
)

// operatorBy is how the log names a change made with recallctl on the
// data directory: whoever can run it there holds the server's files.
const operatorBy = "recallctl"

// operatorCmd runs `recallctl operator VERB ORG/APP [NAME] [flags]`.
func operatorCmd(ctx context.Context, data, server, token, verb string, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	name := "operator " + verb
	fs := newFlagSet(name, stderr)
	var role string
	var fromStdin bool
	if verb == "add" || verb == "role" {
		fs.StringVar(&role, "role", "", "admin or auditor (required)")
	}
	if verb == "add" || verb == "reset" {
		fs.BoolVar(&fromStdin, "password-stdin", false, "read the password from the first line of standard input instead of generating one")
	}
	pos, err := parseInterleaved(fs, args, stdout)
	if err != nil {
		return err
	}
	want := 2
	if verb == "list" {
		want = 1
	}
	if len(pos) != want {
		fs.Usage()
		return errors.New("usage: recallctl " + doc(name).synopsis)
	}
	t, err := domain.ParseTenant(pos[0])
	if err != nil {
		return err
	}
	var op domain.OperatorName
	if want == 2 {
		if op, err = domain.ParseOperatorName(pos[1]); err != nil {
			return err
		}
	}
	if verb == "add" || verb == "role" {
		if role == "" {
			return fmt.Errorf("%s needs --role admin or --role auditor", name)
		}
		if _, err := domain.ParseOperatorRole(role); err != nil {
			return err
		}
	}
	var password string
	if fromStdin {
		if server != "" {
			return errors.New("--password-stdin works with --data only: through --server the password is generated")
		}
		if password, err = readPassword(stdin); err != nil {
			return err
		}
	}
	if server != "" {
		return operatorOnServer(ctx, server, token, verb, t, op, role, stdout)
	}
	return operatorOnData(ctx, data, verb, t, op, domain.AccessRole(role), password, stdout)
}

// parseInterleaved parses flags wherever they come among the positional
// arguments ("operator add demo/demo alice --role admin"), which the flag
// package alone stops at.
func parseInterleaved(fs *flag.FlagSet, args []string, stdout io.Writer) ([]string, error) {
	var pos []string
	for {
		if err := flaghelp.Parse(fs, args, stdout); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// readPassword reads one line: a password piped in (printf '%s\n' "$PW"
// | recallctl … --password-stdin), never from an argument, where other
// users and the shell's history would see it.
func readPassword(stdin io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(stdin, operators.MaxPasswordLen+2)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the password from standard input: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if err := operators.CheckPassword(pw); err != nil {
		return "", fmt.Errorf("--password-stdin: %w", err)
	}
	return pw, nil
}

var verbActions = map[string]domain.OperatorAction{
	"add": domain.OperatorAdd, "disable": domain.OperatorDisable, "enable": domain.OperatorEnable,
	"reset": domain.OperatorReset, "role": domain.OperatorSetRole,
}

// operatorOnData changes the operator registry in the data directory,
// which a running recalld reads on its next request.
func operatorOnData(ctx context.Context, data, verb string, t domain.Tenant, op domain.OperatorName, role domain.AccessRole, password string, stdout io.Writer) error {
	treg, err := tenants.Open(data)
	if err != nil {
		return err
	}
	if !treg.Has(t) {
		return fmt.Errorf("tenant %s does not exist in %s (create it with recallctl tenant create %s)", t, data, t)
	}
	hasher, err := operators.NewHasher(operators.DefaultParams, 1)
	if err != nil {
		return err
	}
	reg, err := operators.Open(data, domain.SystemClock{}, hasher)
	if err != nil {
		return err
	}
	if verb == "list" {
		list, err := reg.List(t)
		if err != nil {
			return err
		}
		for _, in := range list {
			if err := printJSON(stdout, in); err != nil {
				return err
			}
		}
		return nil
	}
	info, pw, err := reg.Change(ctx, t, domain.OperatorCommand{Action: verbActions[verb], Name: op, Role: role, By: operatorBy}, password)
	if err != nil {
		return err
	}
	return printOperator(stdout, t, info, pw, password != "")
}

// printOperator prints what a change did: the operator and, after an add
// or a reset, its password (unless the caller chose it).
func printOperator(stdout io.Writer, t domain.Tenant, info any, pw string, chosen bool) error {
	out := map[string]any{"tenant": t.String(), "operator": info}
	if pw != "" && !chosen {
		out["password"] = pw
	}
	return printJSON(stdout, out)
}

// operatorOnServer asks a running recalld, with the tenant's admin token.
func operatorOnServer(ctx context.Context, server, token, verb string, t domain.Tenant, op domain.OperatorName, role string, stdout io.Writer) error {
	base := "/v1/" + t.Org() + "/" + t.App() + "/operators"
	method, path, body := http.MethodPost, base+"/"+url.PathEscape(string(op))+"/"+verb, any(nil)
	switch verb {
	case "list":
		method, path = http.MethodGet, base
	case "add":
		path, body = base, map[string]string{"name": string(op), "role": role}
	case "role":
		body = map[string]string{"role": role}
	}
	raw, err := request(ctx, server, token, method, path, nil, body)
	if err != nil {
		return fmt.Errorf("operator %s: %w", verb, err)
	}
	var reply struct {
		Operators []json.RawMessage `json:"operators"`
		Operator  json.RawMessage   `json:"operator"`
		Password  string            `json:"password"`
	}
	if err := json.Unmarshal(raw, &reply); err != nil {
		return fmt.Errorf("operator %s: the server's answer: %w", verb, err)
	}
	if verb == "list" {
		for _, o := range reply.Operators {
			if _, err := fmt.Fprintf(stdout, "%s\n", o); err != nil {
				return err
			}
		}
		return nil
	}
	var info any = reply.Operator
	if reply.Operator == nil {
		info = map[string]string{"name": string(op)}
	}
	return printOperator(stdout, t, info, reply.Password, false)
}

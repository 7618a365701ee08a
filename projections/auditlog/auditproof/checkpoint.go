// Package auditproof is what an auditor needs to check the audit log
// without trusting the server: signed checkpoints (the C2SP
// tlog-checkpoint format as golang.org/x/mod/sumdb/note signed notes),
// inclusion and consistency proofs (golang.org/x/mod/sumdb/tlog), verified
// exports, and the witness's rule for accepting a new checkpoint. recalld
// builds its answers with these types and recallctl checks them with the
// same code, in another process, with nothing but the verifier keys.
//
// It is pure: no files, no network, no clock. Callers read the bytes.
package auditproof

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Checkpoint is a signed tree head: the tenant's tree of Size leaves has
// root Root. Its text is the C2SP tlog-checkpoint format:
//
//	<origin>\n<size in decimal>\n<root hash, standard base64>\n
//
// signed as a note. Origin is "<deployment key name>/<org>/<app>": the
// deployment that signs and the tenant whose log it is.
type Checkpoint struct {
	Origin string
	Size   uint64
	Root   tlog.Hash
}

// Origin names a tenant's log of a deployment.
func Origin(keyName, tenant string) string { return keyName + "/" + tenant }

// Text is the checkpoint's note text.
func (c Checkpoint) Text() string {
	return c.Origin + "\n" + strconv.FormatUint(c.Size, 10) + "\n" + base64.StdEncoding.EncodeToString(c.Root[:]) + "\n"
}

// Tenant is the ORG/APP part of the origin.
func (c Checkpoint) Tenant() string {
	_, tenant, _ := strings.Cut(c.Origin, "/")
	return tenant
}

// ParseCheckpoint reads a checkpoint's note text, strictly: exactly the
// three lines this deployment writes (no extension lines), a decimal size
// without leading zeros, a 32-byte hash in standard base64.
func ParseCheckpoint(text string) (Checkpoint, error) {
	lines := strings.SplitAfter(text, "\n")
	if len(lines) != 4 || lines[3] != "" {
		return Checkpoint{}, errors.New("checkpoint: want three lines (origin, size, root hash), each ending in a newline")
	}
	origin, size, root := strings.TrimSuffix(lines[0], "\n"), strings.TrimSuffix(lines[1], "\n"), strings.TrimSuffix(lines[2], "\n")
	name, tenant, ok := strings.Cut(origin, "/")
	if !ok || name == "" || strings.Count(tenant, "/") != 1 || strings.HasPrefix(tenant, "/") || strings.HasSuffix(tenant, "/") {
		return Checkpoint{}, fmt.Errorf("checkpoint: origin %q: want KEYNAME/ORG/APP", origin)
	}
	n, err := strconv.ParseUint(size, 10, 64)
	if err != nil || strconv.FormatUint(n, 10) != size {
		return Checkpoint{}, fmt.Errorf("checkpoint: size %q: want a decimal number", size)
	}
	h, err := base64.StdEncoding.Strict().DecodeString(root)
	if err != nil || len(h) != tlog.HashSize {
		return Checkpoint{}, fmt.Errorf("checkpoint: root hash %q: want 32 bytes in base64", root)
	}
	c := Checkpoint{Origin: origin, Size: n}
	copy(c.Root[:], h)
	return c, nil
}

// SignCheckpoint signs c with the deployment's key. The origin must name
// that key.
func SignCheckpoint(c Checkpoint, signer note.Signer) (string, error) {
	if !strings.HasPrefix(c.Origin, signer.Name()+"/") {
		return "", fmt.Errorf("checkpoint origin %q does not name the signing key %q", c.Origin, signer.Name())
	}
	b, err := note.Sign(&note.Note{Text: c.Text()}, signer)
	return string(b), err
}

// OpenCheckpoint checks a signed checkpoint against the trusted keys and
// returns it: a signature by a trusted key, whose name is the origin's
// deployment; when tenant is not empty, the origin's tenant must be it.
func OpenCheckpoint(signed string, keys Keys, tenant string) (Checkpoint, error) {
	n, err := keys.open(signed)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint: %w", err)
	}
	c, err := ParseCheckpoint(n.Text)
	if err != nil {
		return Checkpoint{}, err
	}
	if !signedBy(n, strings.SplitN(c.Origin, "/", 2)[0]) {
		return Checkpoint{}, fmt.Errorf("checkpoint of %q is not signed by its deployment's key", c.Origin)
	}
	if tenant != "" && c.Tenant() != tenant {
		return Checkpoint{}, fmt.Errorf("checkpoint is of %s, not of %s", c.Tenant(), tenant)
	}
	return c, nil
}

func signedBy(n *note.Note, name string) bool {
	for _, s := range n.Sigs {
		if s.Name == name {
			return true
		}
	}
	return false
}

// Keys are the verifier keys an auditor trusts: every key the deployment
// has signed with (a rotation keeps the old ones, so old checkpoints still
// verify).
type Keys struct {
	list []note.Verifier
	text []string
}

// ParseKeys reads verifier keys, one a line (as `recallctl audit key`
// prints them); blank lines and lines starting with # are skipped.
func ParseKeys(text string) (Keys, error) {
	var k Keys
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		v, err := note.NewVerifier(line)
		if err != nil {
			return Keys{}, fmt.Errorf("verifier key on line %d: %w (want NAME+HASH+KEY, as `recallctl audit key` prints)", i+1, err)
		}
		k.list = append(k.list, v)
		k.text = append(k.text, line)
	}
	if len(k.list) == 0 {
		return Keys{}, errors.New("no verifier key given")
	}
	return k, nil
}

// Strings are the keys as given.
func (k Keys) Strings() []string { return append([]string(nil), k.text...) }

func (k Keys) open(signed string) (*note.Note, error) {
	n, err := note.Open([]byte(signed), note.VerifierList(k.list...))
	var unknown *note.UnverifiedNoteError
	if errors.As(err, &unknown) {
		return nil, fmt.Errorf("signed by no trusted key (signatures by %s)", sigNames(unknown.Note))
	}
	if err != nil {
		return nil, err
	}
	return n, nil
}

func sigNames(n *note.Note) string {
	if n == nil || len(n.UnverifiedSigs) == 0 {
		return "nobody"
	}
	var names []string
	for _, s := range n.UnverifiedSigs {
		names = append(names, fmt.Sprintf("%s (key hash %08x)", s.Name, s.Hash))
	}
	return strings.Join(names, ", ")
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/recallledger/recall/adapters/kek"
	"github.com/recallledger/recall/cmd/internal/contentkeys"
	"github.com/recallledger/recall/cmd/internal/flaghelp"
	"github.com/recallledger/recall/domain"
)

// openKeys opens the data directory's content keys to read sealed
// content, or returns nil when the directory has neither a KEK nor a key
// store (a log written before content protection): sealed content then
// reads as key_unavailable.
func openKeys(data, kekFile string, getenv func(string) string) (*contentkeys.Keys, error) {
	if kekFile == "" && getenv(kek.EnvVar) == "" {
		if _, err := os.Stat(contentkeys.KEKFile(data)); errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
	}
	k, err := contentkeys.Open(data, kekFile, getenv, false, nil)
	if err != nil {
		return nil, fmt.Errorf("%w (is recalld running on this data directory? stop it)", err)
	}
	return k, nil
}

// keysCmd runs `recallctl keys rotate-kek|rewrap|retire-kek`.
func keysCmd(ctx context.Context, data string, getenv func(string) string, sub string, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("keys "+sub, stderr)
	kekFile := fs.String("kek-file", getenv("RECALL_KEK_FILE"), "the key file recalld reads (default DIR/kek.json)")
	if err := flaghelp.Parse(fs, args, stdout); err != nil {
		return err
	}
	file := *kekFile
	if file == "" && getenv(kek.EnvVar) == "" {
		file = contentkeys.KEKFile(data)
	}
	switch {
	case sub == "retire-kek" && fs.NArg() != 1:
		return errors.New("usage: recallctl " + doc("keys retire-kek").synopsis)
	case sub != "retire-kek" && fs.NArg() > 0:
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case sub != "rewrap" && file == "":
		return fmt.Errorf("keys %s changes a key file: name it with --kek-file (the KEK comes from %s)", sub, kek.EnvVar)
	}
	if sub == "rotate-kek" {
		id, err := kek.AddKey(file)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "new KEK %s is current in %s\n", id, file)
	}
	keys, err := contentkeys.Open(data, file, getenv, false, nil)
	if err != nil {
		return fmt.Errorf("%w (is recalld running on this data directory? stop it)", err)
	}
	defer keys.Close()
	if sub == "retire-kek" {
		return retireKEK(ctx, keys, file, fs.Arg(0), stdout)
	}
	n, err := keys.Keyring.Rewrap(ctx)
	if err != nil {
		return fmt.Errorf("rewrapped %d keys, then: %w", n, err)
	}
	if err := keys.Store.Compact(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "rewrapped %d content keys under %s\n", n, keys.KEK.IDs()[0])
	return printWrappedBy(ctx, keys, stdout)
}

// wrappedBy counts the live content keys by the KEK that wraps them.
func wrappedBy(ctx context.Context, keys *contentkeys.Keys) (map[string]int, error) {
	counts := map[string]int{}
	_, err := keys.Store.Rewrap(ctx, func(_ domain.Tenant, k domain.StoredKey) (domain.WrappedKey, bool, error) {
		counts[k.Wrapped.KEKID]++
		return domain.WrappedKey{}, false, nil
	})
	return counts, err
}

func printWrappedBy(ctx context.Context, keys *contentkeys.Keys, stdout io.Writer) error {
	counts, err := wrappedBy(ctx, keys)
	if err != nil {
		return err
	}
	ids := make([]string, 0, len(counts))
	for id := range counts {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		fmt.Fprintf(stdout, "%s wraps %d live content keys\n", id, counts[id])
	}
	return nil
}

func retireKEK(ctx context.Context, keys *contentkeys.Keys, file, id string, stdout io.Writer) error {
	counts, err := wrappedBy(ctx, keys)
	if err != nil {
		return err
	}
	if n := counts[id]; n > 0 {
		return fmt.Errorf("KEK %s still wraps %d live content keys: run `recallctl keys rewrap` first", id, n)
	}
	if err := kek.RemoveKey(file, id); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "KEK %s removed from %s\n", id, file)
	return nil
}

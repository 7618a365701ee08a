// Package atomicfile replaces a small file whole or not at all: the token
// registry, the operator registry and the KEK file are each written to a
// synced temporary file beside them, mode 0600, renamed over the old one,
// and the directory synced, so a crash leaves the old file or the new one.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write replaces path with data, owner-readable only (0600).
func Write(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	for _, step := range []func() error{
		func() error { return tmp.Chmod(0o600) },
		func() error { _, err := tmp.Write(data); return err },
		tmp.Sync,
		tmp.Close,
		func() error { return os.Rename(tmp.Name(), path) },
	} {
		if err := step(); err != nil {
			tmp.Close()
			return err
		}
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

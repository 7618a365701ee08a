package main

import (
	"errors"
	"fmt"
	"net"
	"syscall"

	"github.com/recallledger/recall/adapters/datadir"
)

// lockDataDir takes the data directory for this process; when another
// recalld holds it, the error names that one and says what to do.
func lockDataDir(dir string) (*datadir.Lock, error) {
	lock, err := datadir.Acquire(dir)
	var inUse *datadir.InUseError
	if errors.As(err, &inUse) {
		return nil, fmt.Errorf("%w: stop it, or pass another --data", err)
	}
	return lock, err
}

// listen listens on addr, given by flag; when the address is taken, the
// error says so and what to do, rather than "bind: address already in use".
func listen(addr, flag string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("%s is in use by another process: stop it, or pass another %s HOST:PORT (%w)", addr, flag, err)
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", flag, addr, err)
	}
	return ln, nil
}

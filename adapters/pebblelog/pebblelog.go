// Package pebblelog adapts pebble's logger to log/slog: pebble's
// informational chatter is dropped, its errors are logged, a fatal error
// panics as pebble expects.
package pebblelog

import (
	"fmt"
	"log/slog"
)

// Logger is a pebble.Logger that names the store it speaks for.
type Logger struct {
	Store string
}

func (Logger) Infof(string, ...any) {}

func (l Logger) Errorf(format string, args ...any) {
	slog.Error(l.Store + ": " + fmt.Sprintf(format, args...))
}

func (l Logger) Fatalf(format string, args ...any) {
	panic(l.Store + ": " + fmt.Sprintf(format, args...))
}

package flaghelp

import (
	"bytes"
	"errors"
	"flag"
	"strings"
	"testing"
)

func TestHelpGoesToStdoutAndIsNotAnError(t *testing.T) {
	for _, tc := range []struct {
		name        string
		args        []string
		stdout      string // a substring, or "" for nothing at all
		stderr      string
		err, failed bool
	}{
		{name: "--help", args: []string{"--help"}, stdout: "Usage of demo:", err: true},
		{name: "-h", args: []string{"-h"}, stdout: "-level", err: true},
		{name: "-help after a flag", args: []string{"-level", "3", "-help"}, stdout: "Usage of demo:", err: true},
		{name: "an unknown flag is an error with the usage on stderr", args: []string{"--nope"}, stderr: "Usage of demo:", err: true, failed: true},
		{name: "a bad value is an error", args: []string{"-level", "x"}, stderr: "invalid value", err: true, failed: true},
		{name: "no flags is no output", args: nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			fs := flag.NewFlagSet("demo", flag.ContinueOnError)
			fs.SetOutput(&stderr)
			fs.Int("level", 1, "how loud")
			err := Parse(fs, tc.args, &stdout)
			if (err != nil) != tc.err {
				t.Fatalf("Parse: %v", err)
			}
			if tc.err && !tc.failed && !errors.Is(err, flag.ErrHelp) {
				t.Fatalf("Parse: %v, want flag.ErrHelp", err)
			}
			if (Done(err) != nil) != tc.failed {
				t.Fatalf("Done(%v) = %v", err, Done(err))
			}
			if tc.stdout == "" && stdout.Len() > 0 || !strings.Contains(stdout.String(), tc.stdout) {
				t.Errorf("stdout %q, want %q", stdout.String(), tc.stdout)
			}
			if tc.stderr == "" && stderr.Len() > 0 || !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("stderr %q, want %q", stderr.String(), tc.stderr)
			}
		})
	}
	if err := Done(errors.New("boom")); err == nil || err.Error() != "boom" {
		t.Fatalf("Done changed another error: %v", err)
	}
}

// Package flaghelp makes a command's --help what users expect of it: the
// usage on standard output and exit status 0. The flag package alone
// prints the usage to the error output and returns flag.ErrHelp, which a
// command then reports as a failure.
package flaghelp

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// Parse parses args with fs. On -h, -help or --help it prints fs's usage to
// stdout and returns flag.ErrHelp, which the command treats as done, not as
// an error (see Done). On a bad flag the usage goes to fs's output with the
// error, as the flag package does.
func Parse(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	usage := fs.Usage
	if usage == nil {
		usage = func() {
			fmt.Fprintf(fs.Output(), "Usage of %s:\n", fs.Name())
			fs.PrintDefaults()
		}
	}
	fs.Usage = func() {} // printed below, where it belongs
	err := fs.Parse(args)
	fs.Usage = usage
	switch {
	case errors.Is(err, flag.ErrHelp):
		out := fs.Output()
		fs.SetOutput(stdout)
		usage()
		fs.SetOutput(out)
	case err != nil:
		usage()
	}
	return err
}

// Done maps the help a command printed to success: a command's run
// returns Done(err) so that --help exits 0 and every other error stays.
func Done(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

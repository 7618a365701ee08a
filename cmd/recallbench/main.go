// Command recallbench measures Recall Ledger the way its users load it and
// prints one JSON object a line per result:
//
//	{"scenario":…,"concurrency":…,"n":…,"events_per_s":…,"p50_ms":…,"p99_ms":…,"rss_mb":…}
//
// Scenarios: append (durable appends in-process at concurrency 1, 8 and 64,
// beside the raw storage engine doing the same writes), send-http and
// recall-http (a real recalld on a loopback port: started from the recalld
// binary next to this one with a fresh data directory, or the one at
// --addr), rebuild, lag, audit-query and memory; and the costs that must
// stay flat as the work grows (flat.go), each at a small and a large
// point with their ratio: conversation-size (the first page against the
// conversation's length), group-reads (reads and recalls against the
// reads a message has), viewers (sends against open live streams) and
// tenants (registry changes against the tenants registered). Progress
// goes to a terminal on stderr; the JSON lines go to stdout.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/google/uuid"

	"github.com/recallledger/recall/cmd/internal/flaghelp"
	"github.com/recallledger/recall/cmd/internal/progress"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "recallbench:", err)
		os.Exit(1)
	}
}

// config is what every scenario may use.
type config struct {
	scenarios []string
	size      string // small or large
	events    int    // history size for rebuild, audit-query, memory
	appends   int    // appends per concurrency level
	duration  time.Duration
	addr      string // an external recalld, with --token
	token     string
	recalld   string        // the recalld binary to start
	settle    time.Duration // how long audit-query's second pass waits for compactions
	queries   int           // audit-query's pages per pass
	fs        vfs.FS        // the event stores' file system; nil is the real disk
	out       io.Writer
	progress  *progress.Line
	// runID makes this run's client_msg_ids its own (sendBody).
	runID string
}

var allScenarios = []string{"append", "send-http", "recall-http", "rebuild", "lag", "audit-query", "memory",
	"conversation-size", "group-reads", "viewers", "tenants"}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parseConfig(args, stdout, stderr)
	if err != nil {
		return flaghelp.Done(err)
	}
	return c.runScenarios(ctx)
}

// parseConfig reads the flags into a config that writes results to stdout
// and progress to stderr.
func parseConfig(args []string, stdout, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("recallbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	scen := fs.String("scenario", "all", "comma-separated: "+strings.Join(allScenarios, ", ")+", or all")
	fs.StringVar(&c.size, "size", "small", "small (a few minutes on 2 cores) or large (10 million events)")
	fs.IntVar(&c.events, "events", 0, "history size for rebuild, audit-query and memory (default by --size)")
	fs.IntVar(&c.appends, "appends", 0, "appends per concurrency level (default by --size)")
	fs.DurationVar(&c.duration, "duration", 0, "how long each HTTP or lag run lasts (default by --size)")
	fs.StringVar(&c.addr, "addr", "", "drive this running recalld instead of starting one (needs --token, a service token of tenant bench/app)")
	fs.StringVar(&c.token, "token", "", "service token for --addr")
	fs.StringVar(&c.recalld, "recalld", "", "recalld binary to start (default: next to recallbench, then on PATH)")
	fs.IntVar(&c.queries, "queries", 2000, "audit-query: filtered pages timed in each of its two passes")
	fs.DurationVar(&c.settle, "settle-timeout", 15*time.Minute, "how long audit-query's second pass waits for pebble's compactions to settle; 0 runs it at once")
	if err := flaghelp.Parse(fs, args, stdout); err != nil {
		return nil, err
	}
	switch c.size {
	case "small":
		c.events, c.appends, c.duration = orInt(c.events, 200_000), orInt(c.appends, 30_000), orDur(c.duration, 5*time.Second)
	case "large":
		c.events, c.appends, c.duration = orInt(c.events, 10_000_000), orInt(c.appends, 200_000), orDur(c.duration, 20*time.Second)
	default:
		return nil, fmt.Errorf("--size %q: want small or large", c.size)
	}
	if c.queries < 1 {
		return nil, fmt.Errorf("--queries %d: want at least 1", c.queries)
	}
	c.scenarios = allScenarios
	if *scen != "all" {
		c.scenarios = strings.Split(*scen, ",")
		for _, s := range c.scenarios {
			if !slices.Contains(allScenarios, s) {
				return nil, fmt.Errorf("unknown scenario %q; want %s", s, strings.Join(allScenarios, ", "))
			}
		}
	}
	c.out = stdout
	c.progress = progress.New(stderr)
	c.runID = "r" + uuid.NewString()[:8]
	return &c, nil
}

// runScenarios runs the chosen scenarios, one after another.
func (c *config) runScenarios(ctx context.Context) error {
	for _, s := range c.scenarios {
		var err error
		switch s {
		case "append":
			err = benchAppend(ctx, c)
		case "send-http":
			err = benchSendHTTP(ctx, c)
		case "recall-http":
			err = benchRecallHTTP(ctx, c)
		case "rebuild":
			err = benchRebuild(ctx, c)
		case "lag":
			err = benchLag(ctx, c)
		case "audit-query":
			err = benchAuditQuery(ctx, c)
		case "memory":
			err = benchMemory(ctx, c)
		case "conversation-size":
			err = benchConversationSize(ctx, c)
		case "group-reads":
			err = benchGroupReads(ctx, c)
		case "viewers":
			err = benchViewers(ctx, c)
		case "tenants":
			err = benchTenants(ctx, c)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

func orInt(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

func orDur(v, def time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return def
}

// result is one line of output; zero fields are left out.
type result struct {
	Scenario        string  `json:"scenario"`
	Concurrency     int     `json:"concurrency,omitempty"`
	N               int     `json:"n"`
	EventsPerS      float64 `json:"events_per_s,omitempty"`
	BaselinePerS    float64 `json:"baseline_events_per_s,omitempty"`
	RatioToBaseline float64 `json:"slowdown_vs_baseline,omitempty"`
	RequestsPerS    float64 `json:"requests_per_s,omitempty"`
	TargetRate      float64 `json:"target_rate,omitempty"`
	P50Ms           float64 `json:"p50_ms,omitempty"`
	P99Ms           float64 `json:"p99_ms,omitempty"`
	RSSMB           float64 `json:"rss_mb,omitempty"`
	// CPUPerRequestUs is recalld's CPU (user and system) over the run per
	// request acknowledged, in µs.
	CPUPerRequestUs float64 `json:"server_cpu_us_per_request,omitempty"`
	// Ratio is a flat-cost scenario's large point over its small one.
	Ratio  float64 `json:"ratio,omitempty"`
	Errors int     `json:"errors,omitempty"`
	Note   string  `json:"note,omitempty"`
}

func (c *config) emit(r result) error {
	c.progress.Clear()
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(c.out, "%s\n", b)
	return err
}

// percentiles returns p50 and p99 of ds in milliseconds.
func percentiles(ds []time.Duration) (float64, float64) {
	if len(ds) == 0 {
		return 0, 0
	}
	slices.Sort(ds)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return ms(ds[len(ds)/2]), ms(ds[min(len(ds)-1, len(ds)*99/100)])
}

// rssMB reads this process's resident memory.
func rssMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb float64
			if _, err := fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), &kb); err == nil {
				return kb / 1024
			}
		}
	}
	return 0
}

var errNoRecalld = errors.New("no recalld binary: build it (make bench does) or give --recalld or --addr")

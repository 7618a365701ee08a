package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of the times in /proc/PID/stat: Linux reports them in
// USER_HZ ticks, 100 a second, whatever the kernel's own tick rate.
const userHZ = 100

// procCPU is the CPU time, user and system, that every thread of the
// process pid has used so far (utime + stime of /proc/PID/stat).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("cpu of %d: %w", pid, err)
	}
	used, err := statCPU(b)
	if err != nil {
		return 0, fmt.Errorf("cpu of %d: %w", pid, err)
	}
	return used, nil
}

// statCPU is utime + stime of a /proc/PID/stat line.
func statCPU(stat []byte) (time.Duration, error) {
	// "pid (comm) state ppid …": comm may hold spaces and parentheses, so
	// the fields are counted from the last ')'; utime and stime are fields
	// 14 and 15, the 12th and 13th after comm.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("no command name in /proc/PID/stat")
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/PID/stat has %d fields after the command name, want 13 or more", len(f))
	}
	var ticks int64
	for _, s := range f[11:13] {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/PID/stat: %w", err)
		}
		ticks += v
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// cpuMeter measures a server process's CPU over a run: what it used from
// start until its work for the run is done, per request acknowledged.
type cpuMeter struct {
	pid   int // 0: a server this run did not start, whose CPU it cannot see
	start time.Duration
}

func startCPU(pid int) cpuMeter {
	if pid == 0 {
		return cpuMeter{}
	}
	used, err := procCPU(pid)
	if err != nil {
		return cpuMeter{}
	}
	return cpuMeter{pid: pid, start: used}
}

// perRequest is the CPU used since start in microseconds per request of
// acked; 0 when it is not known.
func (m cpuMeter) perRequest(acked int) float64 {
	if m.pid == 0 || acked == 0 {
		return 0
	}
	used, err := procCPU(m.pid)
	if err != nil {
		return 0
	}
	return round2(float64((used - m.start).Microseconds()) / float64(acked))
}

// waitApplied returns once every projection of the recalld at base has
// applied the whole log (each recall_projection_lag_events on /metrics is
// 0), or after limit: the CPU a request costs includes its projections'
// work, which runs after its acknowledgement.
func waitApplied(ctx context.Context, client *http.Client, base string, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if lagging, err := projectionsLag(ctx, client, base); err != nil || !lagging {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func projectionsLag(ctx context.Context, client *http.Client, base string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return false, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return false, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "recall_projection_lag_events{") && !strings.HasSuffix(line, " 0") {
			return true, nil
		}
	}
	return false, nil
}

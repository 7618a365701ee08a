package main

import (
	"testing"
	"time"
)

func TestStatCPUAddsUserAndSystemTicks(t *testing.T) {
	for _, tc := range []struct {
		name, stat string
		want       time.Duration
		fails      bool
	}{
		{"plain command name", "4242 (recalld) S 1 4242 4242 0 -1 4194560 1 0 0 0 1234 567 0 0 20 0 9 0 100 1000 200 18446744073709551615",
			18010 * time.Millisecond, false},
		// comm is whatever the process called itself: spaces and ')' too
		{"command name with spaces and a parenthesis", "7 (a b) c) R 1 7 7 0 -1 0 0 0 0 0 3 4 0 0 20 0 1 0 1 1 1",
			70 * time.Millisecond, false},
		{"no command name", "7 recalld R 1", 0, true},
		{"too few fields", "7 (recalld) R 1 7 7", 0, true},
		{"not a number", "7 (recalld) R 1 7 7 0 -1 0 0 0 0 0 x 4 0", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := statCPU([]byte(tc.stat))
			if (err != nil) != tc.fails || got != tc.want {
				t.Errorf("statCPU = %v, %v; want %v (fails %v)", got, err, tc.want, tc.fails)
			}
		})
	}
}

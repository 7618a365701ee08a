package main

import (
	"io"
	"strings"
	"testing"
)

// A rate the operator set but that is not a rate is a start-up error that
// names the setting; it never silently becomes the default.
func TestBadRatePerTenantIsAStartUpError(t *testing.T) {
	for _, tc := range []struct {
		name, env string
		args      []string
		want      string // "" means accepted
		rate      float64
	}{
		{name: "unset is the default", rate: 0},
		{name: "a number from the environment", env: "250.5", rate: 250.5},
		{name: "a number from the flag", args: []string{"--rate-per-tenant", "40"}, rate: 40},
		{name: "the flag wins over the environment", env: "10", args: []string{"--rate-per-tenant", "40"}, rate: 40},
		{name: "not a number", env: "fast", want: "RECALL_RATE_PER_TENANT"},
		{name: "a unit is not a number", env: "100/s", want: "RECALL_RATE_PER_TENANT"},
		{name: "negative", env: "-5", want: "RECALL_RATE_PER_TENANT"},
		{name: "not finite", env: "Inf", want: "RECALL_RATE_PER_TENANT"},
		{name: "NaN", env: "NaN", want: "RECALL_RATE_PER_TENANT"},
		{name: "negative flag", args: []string{"--rate-per-tenant", "-1"}, want: "--rate-per-tenant"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			getenv := func(k string) string {
				if k == "RECALL_RATE_PER_TENANT" {
					return tc.env
				}
				return ""
			}
			cfg, err := parseFlags(tc.args, getenv, io.Discard, io.Discard)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if cfg.RatePerTenant != tc.rate {
					t.Fatalf("rate %v, want %v", cfg.RatePerTenant, tc.rate)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted, rate %v; want an error naming %s", cfg.RatePerTenant, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not name %s", err, tc.want)
			}
		})
	}
}

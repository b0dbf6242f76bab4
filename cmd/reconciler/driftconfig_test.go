package main

import (
	"strings"
	"testing"
	"time"
)

func TestDriftDetectionConfig(t *testing.T) {
	base := "repo:\n  dir: /tmp\naws:\n  region: us-east-1\n"
	tests := []struct {
		name string
		yaml string
		want time.Duration
		err  string
	}{
		{"AWS: on by default", base, 6 * time.Hour, ""},
		{"an emulator: off by default", base + "  endpoint: http://127.0.0.1:5000\n", 0, ""},
		{"set", base + "  driftDetection: 2h\n", 2 * time.Hour, ""},
		{"off", base + "  driftDetection: 0s\n", 0, ""},
		{"on against an endpoint", base + "  endpoint: http://127.0.0.1:5000\n  driftDetection: 1h\n", time.Hour, ""},
		{"too often", base + "  driftDetection: 1m\n", 0, "aws.driftDetection must be 0 (off) or at least 10m"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := parseConfig("config.yaml", []byte(tt.yaml))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.AWS.driftInterval(); got != tt.want {
				t.Errorf("drift interval %s, want %s", got, tt.want)
			}
		})
	}
}

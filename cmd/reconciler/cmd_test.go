package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/driftless/driftless/internal/testbed/moto"
	"github.com/driftless/driftless/pkg/reconcile"
	"github.com/driftless/driftless/pkg/source"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name, config, want string
	}{
		{"unknown key", "repo:\n  url: file:///x\n  brnach: main\naws:\n  region: us-east-1\n", "line 3: field brnach not found"},
		{"not yaml", "repo: [\n", "config.yaml: "},
		{"empty", "", "config file is empty"},
		{"no repo", "aws:\n  region: us-east-1\n", "repo.url or repo.dir is required"},
		{"no region", "repo:\n  dir: /tmp\n", "aws.region is required"},
		{"bad duration", "repo:\n  dir: /tmp\n  pollInterval: often\naws:\n  region: us-east-1\n", "line 3"},
		{"bad endpoint", "repo:\n  dir: /tmp\naws:\n  region: us-east-1\n  endpoint: 127.0.0.1:5000\n", "aws.endpoint must be an http:// or https:// URL"},
		{"two sources", "repo:\n  dir: /tmp\n  url: file:///x\naws:\n  region: us-east-1\n", "exclude each other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, t.TempDir(), "config.yaml", tt.config)
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), []string{"plan", "--config", path}, &stdout, &stderr)
			code := exitCode(err, &stderr)
			if code != 1 {
				t.Fatalf("exit %d, want 1; stderr:\n%s", code, stderr.String())
			}
			msg := stderr.String()
			if !strings.Contains(msg, tt.want) || !strings.Contains(msg, "config.yaml") {
				t.Errorf("message %q does not say %q and name the file", msg, tt.want)
			}
			if strings.Contains(msg, "goroutine") || strings.Count(msg, "\n") > 2 {
				t.Errorf("message is not one clear error:\n%s", msg)
			}
		})
	}
}

// oneClearError runs a one-shot command and checks it fails with exit 1
// and a single line naming what failed.
func oneClearError(t *testing.T, args []string, want string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	start := time.Now()
	err := run(t.Context(), args, &stdout, &stderr)
	code := exitCode(err, &stderr)
	// Log lines go to stderr too; the error is the last line.
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	last := lines[len(lines)-1]
	if code != 1 || !strings.HasPrefix(last, "reconciler: ") || !strings.Contains(last, want) {
		t.Fatalf("exit %d, last line %q; want exit 1 and %q\nstderr:\n%s", code, last, want, stderr.String())
	}
	t.Logf("failed in %s with: %s", time.Since(start).Round(time.Millisecond), last)
}

func TestUnreachableRepo(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "config.yaml", "repo:\n  url: http://127.0.0.1:1/clusters.git\n  cacheDir: "+filepath.Join(dir, "cache")+"\naws:\n  region: us-east-1\n  endpoint: http://127.0.0.1:1\nlog:\n  level: error\n")
	oneClearError(t, []string{"apply", "--config", cfg}, "fetch cluster repo")
}

func TestUnreachableAWS(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "clusters/alpha.yaml", clusterSpec(moto.Network{VPC: "vpc-0123456789abcdef0", Subnet: "subnet-0123456789abcdef0"}, "alpha", "slurm", 2))
	cfg := writeFile(t, dir, "config.yaml", "repo:\n  dir: "+filepath.Join(dir, "clusters")+"\naws:\n  region: us-east-1\n  endpoint: http://127.0.0.1:1\nlog:\n  level: error\n")
	oneClearError(t, []string{"apply", "--config", cfg}, "observe live stacks")
}

// failingSource is a repo that cannot be reached. A real unreachable URL
// would do as well; this one also counts the attempts.
type failingSource struct{ n int }

func (f *failingSource) Fetch(context.Context) (source.Snapshot, error) {
	f.n++
	return source.Snapshot{}, errors.New("dial tcp 127.0.0.1:1: connection refused")
}

func TestDaemonBacksOffWhenTheRepoIsUnreachable(t *testing.T) {
	src := &failingSource{}
	metrics := reconcile.NewMetrics()
	reg := prometheus.NewRegistry()
	if err := metrics.Register(reg); err != nil {
		t.Fatal(err)
	}
	r := reconcile.New(src, nil, nil, reconcile.Options{Interval: time.Minute}, slog.New(slog.DiscardHandler), metrics)
	ctx, cancel := context.WithCancel(t.Context())
	var waits []time.Duration
	err := r.Run(ctx, nil, reconcile.Hooks{
		After: func(d time.Duration) <-chan time.Time {
			waits = append(waits, d)
			if len(waits) == 5 {
				cancel()
			}
			ch := make(chan time.Time, 1)
			ch <- time.Time{}
			return ch
		},
	})
	if err != nil {
		t.Fatalf("Run returned %v after cancel, want nil", err)
	}
	if src.n < 5 {
		t.Fatalf("fetched %d times, want at least 5", src.n)
	}
	for i := 1; i < len(waits); i++ {
		if waits[i] <= waits[i-1]/2 || waits[i] > time.Minute+time.Minute/5 {
			t.Errorf("waits %v do not back off", waits)
			break
		}
	}
	if waits[len(waits)-1] < 8*time.Second {
		t.Errorf("after 5 failures the wait is %v; want exponential growth", waits[len(waits)-1])
	}
	mfs, _ := reg.Gather()
	var errorsCounted float64
	for _, mf := range mfs {
		if mf.GetName() == "driftless_cycles_total" {
			for _, m := range mf.GetMetric() {
				if m.GetLabel()[0].GetValue() == "error" {
					errorsCounted = m.GetCounter().GetValue()
				}
			}
		}
	}
	if int(errorsCounted) != src.n {
		t.Errorf("driftless_cycles_total{result=error} = %v, want %d", errorsCounted, src.n)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestDaemonServes runs `reconciler run` as main would, against the
// emulator and a local spec directory, and stops it by cancelling its
// context as SIGTERM does.
func TestDaemonServes(t *testing.T) {
	srv := moto.Start(t)
	netw := moto.NewNetwork(t, t.Context(), ec2.NewFromConfig(srv.AWSConfig()))
	dir := t.TempDir()
	writeFile(t, dir, "clusters/alpha.yaml", clusterSpec(netw, "alpha", "slurm", 2))
	addr := freeAddr(t)
	cfg := writeFile(t, dir, "config.yaml", "repo:\n  dir: "+filepath.Join(dir, "clusters")+"\n  pollInterval: 1h\naws:\n  region: us-east-1\n  endpoint: "+srv.Endpoint+"\nlisten: "+addr+"\n")

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	var stderr syncBuffer
	go func() { done <- run(ctx, []string{"run", "--config", cfg}, io.Discard, &stderr) }()

	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if code, _ := get("/readyz"); code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon not ready after 60s; logs:\n%s", stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code, body := get("/healthz"); code != http.StatusOK {
		t.Errorf("/healthz %d %s", code, body)
	}
	_, body := get("/status")
	var doc struct {
		Clusters []reconcile.ClusterStatus `json:"clusters"`
	}
	err := json.Unmarshal([]byte(body), &doc)
	if statuses := doc.Clusters; err != nil || len(statuses) != 1 || statuses[0].Cluster != "alpha" || statuses[0].Condition != reconcile.Ready {
		t.Errorf("/status = %s (%v)", body, err)
	}
	_, metrics := get("/metrics")
	for _, want := range []string{`driftless_cycles_total{result="ok"} 1`, `driftless_cluster_condition{cluster="alpha",condition="Ready"} 1`, `driftless_aws_calls_total`, `driftless_build_info`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run returned %v after shutdown", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("daemon did not stop within 15s of its context ending")
	}
}

// TestExamplesValidate keeps the shipped examples valid: the demo and the
// README start from them.
func TestExamplesValidate(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"validate", "../../examples/clusters"}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("validate examples: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "2 clusters valid") {
		t.Errorf("output %q", stdout.String())
	}
}

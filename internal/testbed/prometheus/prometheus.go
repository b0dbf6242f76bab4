package prometheus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Environment variables that point at the programs, overriding $PATH.
const (
	EnvPrometheus = "DRIFTLESS_PROMETHEUS"
	EnvPromtool   = "DRIFTLESS_PROMTOOL"
)

// readyTimeout bounds start-up; Prometheus takes about a second.
const readyTimeout = 60 * time.Second

// Options say what the server scrapes.
type Options struct {
	// Job is the scrape job's name, which alerts and dashboards select
	// on; "driftless" when empty.
	Job string
	// Targets are host:port addresses serving /metrics.
	Targets []string
	// ScrapeInterval is how often they are scraped; 1s when zero.
	ScrapeInterval time.Duration
	// RuleFiles are loaded as recording and alerting rules, evaluated at
	// the scrape interval.
	RuleFiles []string
}

// Server is a running Prometheus bound to 127.0.0.1.
type Server struct {
	// URL is the server's base URL, http://127.0.0.1:PORT.
	URL string
	// Job is the scrape job's name.
	Job string

	targets []string

	cmd  *exec.Cmd
	done chan struct{}
	out  *tail
	once sync.Once
}

// tool finds a program by environment variable or $PATH, skipping (or,
// under $CI, failing) the test when it is missing.
func tool(t testing.TB, env, name string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		return p
	}
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	msg := fmt.Sprintf("%s is missing: install the Debian package prometheus (scripts/ci-deps.sh does) or set $%s", name, env)
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// Promtool returns the path of promtool.
func Promtool(t testing.TB) string {
	t.Helper()
	return tool(t, EnvPromtool, "promtool")
}

// Start runs Prometheus with a fresh data directory, waits until it is
// ready and stops it when the test ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	bin := tool(t, EnvPrometheus, "prometheus")
	if o.Job == "" {
		o.Job = "driftless"
	}
	if o.ScrapeInterval <= 0 {
		o.ScrapeInterval = time.Second
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(config(o)), 0o600); err != nil {
		t.Fatal(err)
	}
	var lastErr error
	for range 3 { // a free port can be taken between our close and its bind
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		s, err := launch(bin, cfg, dir, port)
		if err == nil {
			s.Job = o.Job
			s.targets = o.Targets
			t.Cleanup(s.Close)
			return s
		}
		lastErr = err
	}
	t.Fatal(lastErr)
	return nil
}

// config is prometheus.yml for o. Every string is quoted as JSON, which
// YAML reads.
func config(o Options) string {
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	var b strings.Builder
	fmt.Fprintf(&b, "global:\n  scrape_interval: %s\n  evaluation_interval: %s\n", o.ScrapeInterval, o.ScrapeInterval)
	if len(o.RuleFiles) > 0 {
		b.WriteString("rule_files:\n")
		for _, f := range o.RuleFiles {
			fmt.Fprintf(&b, "  - %s\n", q(f))
		}
	}
	fmt.Fprintf(&b, "scrape_configs:\n  - job_name: %s\n    scrape_timeout: %s\n    static_configs:\n      - targets: [", q(o.Job), o.ScrapeInterval)
	for i, tg := range o.Targets {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(q(tg))
	}
	b.WriteString("]\n")
	return b.String()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func launch(bin, cfg, dir string, port int) (*Server, error) {
	addr := "127.0.0.1:" + strconv.Itoa(port)
	s := &Server{URL: "http://" + addr, done: make(chan struct{}), out: &tail{}}
	s.cmd = exec.Command(bin,
		"--config.file="+cfg,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--web.console.templates="+filepath.Join(dir, "consoles"),
		"--web.console.libraries="+filepath.Join(dir, "console_libraries"),
		"--log.level=warn",
	)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	s.cmd.SysProcAttr = sysProcAttr()
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.done)
	}()
	if err := s.waitReady(); err != nil {
		s.Close()
		return nil, fmt.Errorf("prometheus on %s: %w\n%s", addr, err, s.out.String())
	}
	return s, nil
}

func (s *Server) waitReady() error {
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/-/ready", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.done:
			return errors.New("exited before it was ready")
		case <-ctx.Done():
			return fmt.Errorf("not ready within %s", readyTimeout)
		case <-tick.C:
		}
	}
}

// Close stops the server and waits for it. It is safe to call more than
// once.
func (s *Server) Close() {
	s.once.Do(func() {
		_ = s.cmd.Process.Signal(os.Interrupt)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	})
}

// Log returns the tail of the server's output, for failure messages.
func (s *Server) Log() string { return s.out.String() }

// Sample is one series of an instant query's answer.
type Sample struct {
	Metric map[string]string
	Value  float64
}

// Query evaluates expr at time at (the server's now when zero) and returns
// the series of a vector answer, or the one value of a scalar as a series
// without labels. Errors carry Prometheus's own message, which names a bad
// expression's problem.
func (s *Server) Query(ctx context.Context, expr string, at time.Time) ([]Sample, error) {
	v := url.Values{"query": {expr}}
	if !at.IsZero() {
		v.Set("time", strconv.FormatFloat(float64(at.UnixNano())/1e9, 'f', 3, 64))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/api/v1/query", strings.NewReader(v.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status    string `json:"status"`
		Error     string `json:"error"`
		ErrorType string `json:"errorType"`
		Data      struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("query %q: %s: %w", expr, resp.Status, err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("query %q: %s: %s", expr, body.ErrorType, body.Error)
	}
	switch body.Data.ResultType {
	case "vector":
		var res []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		}
		if err := json.Unmarshal(body.Data.Result, &res); err != nil {
			return nil, err
		}
		out := make([]Sample, 0, len(res))
		for _, r := range res {
			f, err := number(r.Value[1])
			if err != nil {
				return nil, err
			}
			out = append(out, Sample{Metric: r.Metric, Value: f})
		}
		return out, nil
	case "scalar":
		var res [2]any
		if err := json.Unmarshal(body.Data.Result, &res); err != nil {
			return nil, err
		}
		f, err := number(res[1])
		if err != nil {
			return nil, err
		}
		return []Sample{{Metric: map[string]string{}, Value: f}}, nil
	}
	return nil, fmt.Errorf("query %q: result type %s; want a vector or a scalar", expr, body.Data.ResultType)
}

func number(v any) (float64, error) {
	s, ok := v.(string)
	if !ok {
		return 0, fmt.Errorf("sample value %v is not a string", v)
	}
	return strconv.ParseFloat(s, 64)
}

// WaitScraped waits until every target of the job has been scraped
// successfully by a scrape that started after since, so that queries see
// the state of since.
//
// It reads the raw samples of `up` through a range selector: their
// timestamps are the scrapes' start times, and they are queryable only
// once the scrape's samples are committed. (`timestamp(up)` would not do:
// PromQL answers it with the evaluation time, not the sample's.)
func (s *Server) WaitScraped(t testing.TB, since time.Time) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	expr := fmt.Sprintf(`up{job=%q}[1m]`, s.Job)
	for {
		last, err := s.lastSamples(t.Context(), expr)
		missing := s.unscraped(last, since)
		if err == nil && len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s: targets %v not scraped successfully since %s within 60s (last samples %v, %v)\n%s",
				s.Job, missing, since.Format(time.RFC3339Nano), last, err, s.Log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// unscraped returns the targets whose last `up` sample is older than
// since or not 1.
func (s *Server) unscraped(last map[string]rawSample, since time.Time) []string {
	var missing []string
	for _, tg := range s.targets {
		r, ok := last[tg]
		if !ok || r.Value != 1 || r.At.Before(since) {
			missing = append(missing, tg)
		}
	}
	return missing
}

// rawSample is a stored sample with its own timestamp.
type rawSample struct {
	At    time.Time
	Value float64
}

func (r rawSample) String() string {
	return fmt.Sprintf("%g@%s", r.Value, r.At.Format(time.RFC3339Nano))
}

// lastSamples evaluates a range selector at the server's now and returns
// the newest stored sample of each series, by its instance label.
func (s *Server) lastSamples(ctx context.Context, expr string) (map[string]rawSample, error) {
	v := url.Values{"query": {expr}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/api/v1/query", strings.NewReader(v.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Values [][2]any          `json:"values"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("query %q: %s: %w", expr, resp.Status, err)
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("query %q: %s", expr, body.Error)
	}
	if body.Data.ResultType != "matrix" {
		return nil, fmt.Errorf("query %q: result type %s; want a matrix", expr, body.Data.ResultType)
	}
	out := map[string]rawSample{}
	for _, r := range body.Data.Result {
		if len(r.Values) == 0 {
			continue
		}
		p := r.Values[len(r.Values)-1]
		ts, ok := p[0].(float64)
		if !ok {
			return nil, fmt.Errorf("query %q: sample time %v is not a number", expr, p[0])
		}
		f, err := number(p[1])
		if err != nil {
			return nil, err
		}
		out[r.Metric["instance"]] = rawSample{At: time.UnixMilli(int64(math.Round(ts * 1000))), Value: f}
	}
	return out, nil
}

// tail keeps the last output of the server.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (b *tail) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > 32<<10 {
		b.buf = append(b.buf[:0], b.buf[len(b.buf)-16<<10:]...)
	}
	return len(p), nil
}

func (b *tail) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.TrimSpace(string(b.buf))
}

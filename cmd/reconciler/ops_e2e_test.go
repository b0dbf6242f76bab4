package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/driftless/driftless/pkg/awsclient"
)

// throttler stands between the daemon and the emulator and answers chosen
// calls with AWS's Throttling error. moto never throttles; this is the one
// fault the operations run needs, so that the dashboard's error and
// throttle panels have data. Everything else passes through unchanged.
type throttler struct {
	proxy *httputil.ReverseProxy
	mu    sync.Mutex
	left  map[string]int // action → answers still to throttle
}

func newThrottler(t *testing.T, target string) *throttler {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	return &throttler{proxy: httputil.NewSingleHostReverseProxy(u), left: map[string]int{}}
}

// throttle makes the next n calls of action fail with Throttling.
func (th *throttler) throttle(action string, n int) {
	th.mu.Lock()
	defer th.mu.Unlock()
	th.left[action] += n
}

func (th *throttler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	action := ""
	if form, err := url.ParseQuery(string(body)); err == nil {
		action = form.Get("Action")
	}
	th.mu.Lock()
	throttled := action != "" && th.left[action] > 0
	if throttled {
		th.left[action]--
	}
	th.mu.Unlock()
	if !throttled {
		th.proxy.ServeHTTP(w, r)
		return
	}
	// The AWS query protocol's error document, as CloudFormation sends it
	// when its rate limit is hit.
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusBadRequest)
	fmt.Fprintf(w, `<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>throttled-%s</RequestId></ErrorResponse>`, action)
}

// opsRun is an end-to-end run of the daemon whose AWS calls the IAM
// policy must allow. Features that make calls of their own (the fleet
// loop, AWS Batch) add their runs to iamRuns.
type opsRun struct {
	name string
	run  func(t *testing.T) []awsclient.Call
}

// iamRuns are the runs TestIAMPolicy replays.
var iamRuns = []opsRun{
	{"reconcile loop", func(t *testing.T) []awsclient.Call { return operationsRun(t, nil).calls.all() }},
	{"drift and approvals", driftRun},
	{"pre-flight checks", preflightCalls},
	{"stack failures", stackFailuresRun},
	{"fleet loop", fleetRun},
	{"fleet loop over SSH with a published host key", fleetHostKeyRun},
}

func (c *calls) all() []awsclient.Call {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]awsclient.Call(nil), c.list...)
}

// operationsRun drives the daemon through what an operator sees in a
// day: clusters created, one changed by a commit announced by a webhook,
// one removed with pruning on, a broken spec, a refused webhook, AWS
// throttling that fails cycles until it passes, and a reload. started, when
// set, is called with the daemon's listen address before the first cycle
// (to point Prometheus at it).
func operationsRun(t *testing.T, started func(addr string)) *opsBed {
	t.Helper()
	b := newBed(t)
	th := newThrottler(t, b.cfg.AWS.Endpoint)
	proxy := httptestServer(t, th)
	b.cfg.AWS.Endpoint = proxy
	b.cfg.Listen = freeAddr(t)
	if started != nil {
		started(b.cfg.Listen)
	}
	rev1 := b.repo.Commit(t, "alpha and beta", map[string]string{
		"clusters/alpha.yaml": clusterSpec(b.net, "alpha", "slurm", 4),
		"clusters/beta.yaml":  clusterSpec(b.net, "beta", "sge", 3),
	})
	t.Setenv("DRIFTLESS_TEST_WEBHOOK_SECRET", webhookSecret)
	path := filepath.Join(t.TempDir(), "config.yaml")
	b.writeConfig(path, "prune: true\nwebhook:\n  path: /hooks/git\n  generic:\n    secretEnv: DRIFTLESS_TEST_WEBHOOK_SECRET\n")
	r := b.serve(path)
	r.cycle(t, rev1)
	r.settled(t, "alpha", rev1)
	r.settled(t, "beta", rev1)

	bad := strings.Replace(clusterSpec(b.net, "gamma", "slurm", 2), "maxNodes", "maxNode", 1)
	rev2 := b.repo.Commit(t, "alpha grows, beta retires, gamma is broken", map[string]string{
		"clusters/alpha.yaml": clusterSpec(b.net, "alpha", "slurm", 8),
		"clusters/gamma.yaml": bad,
	}, "clusters/beta.yaml")
	if code := r.post(t, "wrong-secret-wrong-secret", ""); code != http.StatusUnauthorized {
		t.Fatalf("bad delivery answered %d", code)
	}
	if code := r.post(t, webhookSecret, ""); code != http.StatusAccepted {
		t.Fatalf("delivery answered %d", code)
	}
	r.cycle(t, rev2)
	r.settled(t, "alpha", rev2)
	r.settled(t, "beta", "")

	// Throttled long enough to fail two cycles (four attempts each), then
	// the backoff's retry goes through.
	th.throttle("DescribeStacks", 8)
	if code := r.post(t, webhookSecret, ""); code != http.StatusAccepted {
		t.Fatalf("delivery answered %d", code)
	}
	r.notify.expect(t, r.logs, "STATUS=cycle failed")
	r.cycle(t, rev2)

	r.reload <- struct{}{}
	r.notify.expect(t, r.logs, "READY=1", "configuration reloaded")
	r.cycle(t, rev2)
	return &opsBed{bed: b, r: r}
}

// opsBed is a finished operations run, still serving.
type opsBed struct {
	*bed
	r *running
}

// httptestServer serves h on 127.0.0.1 and returns its URL.
func httptestServer(t *testing.T, h http.Handler) string {
	t.Helper()
	addr := freeAddr(t)
	srv := &http.Server{Addr: addr, Handler: h}
	ln, err := netListen(addr)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + addr
}

package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
	dto "github.com/prometheus/client_model/go"

	"github.com/driftless/driftless/internal/testbed/gitserver"
	"github.com/driftless/driftless/internal/testbed/moto"
	"github.com/driftless/driftless/pkg/reconcile"
	"github.com/driftless/driftless/pkg/sdnotify"
	"github.com/driftless/driftless/pkg/source"
)

// notifySocket is the service manager's end of NOTIFY_SOCKET.
type notifySocket struct {
	path string
	msgs chan string
}

func listenNotify(t *testing.T) *notifySocket {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	n := &notifySocket{path: path, msgs: make(chan string, 256)}
	go func() {
		buf := make([]byte, 8192)
		for {
			k, _, err := conn.ReadFromUnix(buf)
			if err != nil {
				close(n.msgs)
				return
			}
			n.msgs <- string(buf[:k])
		}
	}()
	t.Cleanup(func() { conn.Close() })
	return n
}

// expect reads notifications until one contains every part, and returns
// it. Others are skipped: STATUS updates come with every cycle.
func (n *notifySocket) expect(t *testing.T, logs fmt.Stringer, parts ...string) string {
	t.Helper()
	deadline := time.After(60 * time.Second)
	var seen []string
	for {
		select {
		case m, ok := <-n.msgs:
			if !ok {
				t.Fatalf("notify socket closed; seen %q", seen)
			}
			seen = append(seen, m)
			all := true
			for _, p := range parts {
				all = all && strings.Contains(m, p)
			}
			if all {
				return m
			}
		case <-deadline:
			t.Fatalf("no notification with %q within 60s; seen %q\nlogs:\n%s", parts, seen, logs)
		}
	}
}

// running is a service started in-process by a test.
type running struct {
	s      *service
	notify *notifySocket
	reload chan struct{}
	cancel context.CancelFunc
	done   chan error
	logs   *syncBuffer
	path   string
	// addr is where the service listens.
	addr string
}

// writeConfig writes the bed's daemon config file with extra YAML
// appended, listening on a free port.
func (b *bed) writeConfig(path, extra string) {
	b.t.Helper()
	c := b.cfg
	text := fmt.Sprintf(`repo:
  url: %s
  branch: %s
  path: %s
  cacheDir: %s
  pollInterval: 1h
aws:
  region: %s
  endpoint: %s
listen: %s
log:
  level: debug
`, c.Repo.URL, c.Repo.Branch, c.Repo.Path, c.Repo.CacheDir, c.AWS.Region, c.AWS.Endpoint, c.Listen) + extra
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		b.t.Fatal(err)
	}
}

// serve starts the service on the config file at path the way `reconciler
// run` does, with a notify socket, and waits for READY.
func (b *bed) serve(path string) *running {
	b.t.Helper()
	r := &running{notify: listenNotify(b.t), reload: make(chan struct{}, 1), done: make(chan error, 1), logs: &syncBuffer{}, path: path}
	b.logs = r.logs
	b.calls = &calls{}
	notifier, err := sdnotify.New(r.notify.path)
	if err != nil {
		b.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(b.t.Context())
	r.cancel = cancel
	r.s, err = newService(ctx, serviceOptions{
		path: path, stderr: r.logs, getenv: os.Getenv, notify: notifier, hook: b.calls.record,
		configDebounce: 50 * time.Millisecond,
	})
	if err != nil {
		b.t.Fatalf("start: %v", err)
	}
	b.reg = r.s.reg
	r.addr = r.s.cfg.Listen
	go func() { r.done <- r.s.run(ctx, r.reload) }()
	r.notify.expect(b.t, r.logs, "READY=1")
	b.t.Cleanup(func() { r.stop(b.t) })
	return r
}

// stop ends the service as SIGTERM does and checks it says so.
func (r *running) stop(t *testing.T) {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("service returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("service did not stop within 30s")
	}
	r.notify.expect(t, r.logs, "STOPPING=1")
}

// cycle waits for the STATUS of a finished cycle at revision rev.
func (r *running) cycle(t *testing.T, rev string) string {
	t.Helper()
	return r.notify.expect(t, r.logs, "STATUS=revision "+short(rev))
}

func (r *running) get(t *testing.T, path string) (int, []byte) {
	t.Helper()
	resp, err := http.Get("http://" + r.addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

func (r *running) status(t *testing.T) statusDoc {
	t.Helper()
	code, body := r.get(t, "/status")
	var doc statusDoc
	if err := json.Unmarshal(body, &doc); code != http.StatusOK || err != nil {
		t.Fatalf("/status %d: %v\n%s", code, err, body)
	}
	return doc
}

// settled waits until cluster is Ready with rev applied (or, with rev
// empty, until it is gone) and the loop is idle: applies run in the
// background and end after the cycle that started them.
func (r *running) settled(t *testing.T, cluster, rev string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		doc := r.status(t)
		st := doc.cluster(cluster)
		done := st.Cluster == "" && rev == "" || st.Condition == reconcile.Ready && st.Applied == rev
		if done && r.quiet() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not settled at %q within 60s: %+v\nlogs:\n%s", cluster, rev, st, r.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (d statusDoc) cluster(name string) reconcile.ClusterStatus {
	for _, c := range d.Clusters {
		if c.Cluster == name {
			return c
		}
	}
	return reconcile.ClusterStatus{}
}

// post sends a generic webhook delivery signed with secret.
func (r *running) post(t *testing.T, secret, body string) int {
	t.Helper()
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+r.addr+"/hooks/git", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(source.HeaderSignature, "sha256="+hex.EncodeToString(mac.Sum(nil)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// quiet reports whether nothing asks the loop for a cycle and none runs:
// a delivery that was refused left no trace.
func (r *running) quiet() bool {
	g := r.s.cur.Load()
	g.gate.mu.Lock()
	defer g.gate.mu.Unlock()
	return len(r.s.trigger) == 0 && !g.gate.busy && !g.gate.pending
}

const webhookSecret = "a-webhook-secret-of-some-length"

// TestDaemonWebhook shows a signed delivery making the daemon apply a
// commit at once, with the poll interval at an hour, and a delivery with
// a bad signature changing nothing.
func TestDaemonWebhook(t *testing.T) {
	b := newBed(t)
	b.cfg.Listen = freeAddr(t)
	rev1 := b.repo.Commit(t, "alpha", map[string]string{"clusters/alpha.yaml": clusterSpec(b.net, "alpha", "slurm", 4)})
	t.Setenv("DRIFTLESS_TEST_WEBHOOK_SECRET", webhookSecret)
	path := filepath.Join(t.TempDir(), "config.yaml")
	b.writeConfig(path, "webhook:\n  path: /hooks/git\n  generic:\n    secretEnv: DRIFTLESS_TEST_WEBHOOK_SECRET\n")
	r := b.serve(path)
	r.cycle(t, rev1)
	r.settled(t, "alpha", rev1)
	if _, mx := b.group("alpha"); mx != 4 {
		t.Fatalf("alpha max %d after the first cycle, want 4", mx)
	}

	rev2 := b.repo.Commit(t, "alpha grows", map[string]string{"clusters/alpha.yaml": clusterSpec(b.net, "alpha", "slurm", 6)})
	body := `{"ref":"refs/heads/main"}`

	// A wrong signature: 401, no trigger, no cycle, nothing applied.
	if code := r.post(t, "not-the-secret-at-all", body); code != http.StatusUnauthorized {
		t.Fatalf("bad signature answered %d, want 401", code)
	}
	if !r.quiet() {
		t.Fatal("a delivery with a bad signature asked for a cycle")
	}
	if _, mx := b.group("alpha"); mx != 4 {
		t.Errorf("alpha max %d after a refused delivery, want 4", mx)
	}
	if n := counterValue(t, b.reg, "driftless_webhook_deliveries_total", map[string]string{"provider": "generic", "result": "unauthorized"}); n != 1 {
		t.Errorf("unauthorized deliveries counted %v, want 1", n)
	}
	if st := r.status(t).cluster("alpha"); st.Applied != rev1 {
		t.Errorf("alpha applied %s after a refused delivery, want %s", st.Applied, rev1)
	}

	// The right signature: the commit is applied now, an hour before the
	// next poll.
	if code := r.post(t, webhookSecret, body); code != http.StatusAccepted {
		t.Fatalf("signed delivery answered %d, want 202", code)
	}
	r.cycle(t, rev2)
	r.settled(t, "alpha", rev2)
	if _, mx := b.group("alpha"); mx != 6 {
		t.Errorf("alpha max %d after the webhook, want 6", mx)
	}
	if st := r.status(t).cluster("alpha"); st.Applied != rev2 || st.Condition != reconcile.Ready {
		t.Errorf("alpha status %+v, want Ready at %s", st, rev2)
	}
	// The first, the webhook's, and those an apply ending in the
	// background asks for; none from the poll interval.
	if n := counterValue(t, b.reg, "driftless_cycles_total", map[string]string{"result": "ok"}); n < 2 || n > 4 {
		t.Errorf("%v cycles, want the first and the webhook's, and one after each apply", n)
	}
	if strings.Contains(r.logs.String(), webhookSecret) {
		t.Error("the webhook secret reached the log")
	}
}

// TestDaemonReload reloads the configuration through the file watcher and
// the reload channel (SIGHUP's), rejecting a broken one.
func TestDaemonReload(t *testing.T) {
	b := newBed(t)
	b.cfg.Listen = freeAddr(t)
	rev := b.repo.Commit(t, "alpha", map[string]string{"clusters/alpha.yaml": clusterSpec(b.net, "alpha", "slurm", 2)})
	path := filepath.Join(t.TempDir(), "config.yaml")
	b.writeConfig(path, "")
	r := b.serve(path)
	r.cycle(t, rev)
	r.settled(t, "alpha", rev)

	// A broken file: rejected, said once in the log, the running
	// configuration stays.
	b.writeConfig(path, "concurrency: -1\n")
	r.notify.expect(t, r.logs, "RELOADING=1", "MONOTONIC_USEC=")
	r.notify.expect(t, r.logs, "READY=1", "configuration rejected")
	if !strings.Contains(r.logs.String(), "configuration rejected; the running configuration stays in force") ||
		!strings.Contains(r.logs.String(), "concurrency must be at least 1") {
		t.Errorf("rejection not logged clearly:\n%s", r.logs)
	}
	doc := r.status(t)
	if doc.Config.Generation != 1 || !strings.Contains(doc.Config.LastReloadError, "concurrency") {
		t.Errorf("status config after a rejected reload: %+v", doc.Config)
	}
	if v := gaugeValue(t, b.reg, "driftless_config_last_reload_successful"); v != 0 {
		t.Errorf("driftless_config_last_reload_successful = %v after a rejection", v)
	}

	// A good file, with a new poll interval and a listen address that
	// cannot change without a restart.
	listen := r.addr
	b.writeConfig(path, "")
	text, _ := os.ReadFile(path)
	text = bytes.Replace(text, []byte("pollInterval: 1h"), []byte("pollInterval: 2h"), 1)
	text = bytes.Replace(text, []byte("listen: "+listen), []byte("listen: 127.0.0.1:1"), 1)
	if err := os.WriteFile(path, text, 0o600); err != nil {
		t.Fatal(err)
	}
	r.notify.expect(t, r.logs, "READY=1", "configuration reloaded")
	// The loop was waiting: the new generation starts at once and runs a
	// cycle.
	r.cycle(t, rev)
	doc = r.status(t)
	if doc.Config.Generation != 2 || doc.Config.LastReloadError != "" || doc.Source.Revision != rev {
		t.Errorf("status after a reload: %+v", doc)
	}
	if v := gaugeValue(t, b.reg, "driftless_poll_interval_seconds"); v != 7200 {
		t.Errorf("driftless_poll_interval_seconds = %v, want 7200", v)
	}
	if !strings.Contains(r.logs.String(), "takes effect at the next restart") {
		t.Errorf("the unreloadable listen change was not logged:\n%s", r.logs)
	}

	// SIGHUP's path reloads even an unchanged file.
	r.reload <- struct{}{}
	r.notify.expect(t, r.logs, "RELOADING=1")
	r.notify.expect(t, r.logs, "READY=1", "configuration reloaded")
	r.cycle(t, rev)
	if n := counterValue(t, b.reg, "driftless_config_reloads_total", map[string]string{"result": "ok"}); n != 2 {
		t.Errorf("%v reloads taken, want 2", n)
	}
	if n := counterValue(t, b.reg, "driftless_config_reloads_total", map[string]string{"result": "rejected"}); n != 1 {
		t.Errorf("%v reloads rejected, want 1", n)
	}
}

// TestDaemonUntrustedHead shows an unsigned head refused with the last
// trusted revision kept in force, in /status and a metric.
func TestDaemonUntrustedHead(t *testing.T) {
	b := newBed(t)
	b.cfg.Listen = freeAddr(t)
	key := newPGPKey(t)
	keys := filepath.Join(t.TempDir(), "trusted.asc")
	writePublicKey(t, keys, key)
	good := signedCommit(t, b.repo, key, map[string]string{"clusters/alpha.yaml": clusterSpec(b.net, "alpha", "slurm", 2)})
	t.Setenv("DRIFTLESS_TEST_WEBHOOK_SECRET", webhookSecret)
	path := filepath.Join(t.TempDir(), "config.yaml")
	b.writeConfig(path, "  trustedKeysFile: "+keys+"\nwebhook:\n  path: /hooks/git\n  generic:\n    secretEnv: DRIFTLESS_TEST_WEBHOOK_SECRET\n")
	// trustedKeysFile belongs under repo: move it there.
	text, _ := os.ReadFile(path)
	text = bytes.Replace(text, []byte("  trustedKeysFile: "+keys+"\n"), nil, 1)
	text = bytes.Replace(text, []byte("  pollInterval: 1h\n"), []byte("  pollInterval: 1h\n  trustedKeysFile: "+keys+"\n"), 1)
	if err := os.WriteFile(path, text, 0o600); err != nil {
		t.Fatal(err)
	}
	r := b.serve(path)
	r.cycle(t, good)
	r.settled(t, "alpha", good)

	bad := b.repo.Commit(t, "unsigned change", map[string]string{"clusters/alpha.yaml": clusterSpec(b.net, "alpha", "slurm", 5)})
	if code := r.post(t, webhookSecret, ""); code != http.StatusAccepted {
		t.Fatalf("delivery answered %d", code)
	}
	r.notify.expect(t, r.logs, "STATUS=revision "+short(good), "head "+short(bad)+" refused (unsigned)")
	doc := r.status(t)
	if doc.Source.Refused == nil || doc.Source.Refused.Revision != bad || doc.Source.Refused.Reason != "unsigned" || doc.Source.Revision != good {
		t.Errorf("source status %+v, want %s refused and %s in force", doc.Source, bad, good)
	}
	if st := doc.cluster("alpha"); st.Declared != good || st.Applied != good {
		t.Errorf("alpha %+v, want declared and applied at the trusted %s", st, good)
	}
	if _, mx := b.group("alpha"); mx != 2 {
		t.Errorf("alpha max %d: the unsigned change was applied", mx)
	}
	if v := gaugeValue(t, b.reg, "driftless_source_untrusted"); v != 1 {
		t.Errorf("driftless_source_untrusted = %v, want 1", v)
	}

	fixed := signedCommit(t, b.repo, key, map[string]string{"clusters/alpha.yaml": clusterSpec(b.net, "alpha", "slurm", 5)})
	if code := r.post(t, webhookSecret, ""); code != http.StatusAccepted {
		t.Fatalf("delivery answered %d", code)
	}
	r.cycle(t, fixed)
	r.settled(t, "alpha", fixed)
	if doc := r.status(t); doc.Source.Refused != nil || doc.Source.Revision != fixed {
		t.Errorf("source status %+v after a signed head", doc.Source)
	}
	if _, mx := b.group("alpha"); mx != 5 {
		t.Errorf("alpha max %d after the signed change, want 5", mx)
	}
	if v := gaugeValue(t, b.reg, "driftless_source_untrusted"); v != 0 {
		t.Errorf("driftless_source_untrusted = %v, want 0", v)
	}
}

func newPGPKey(t *testing.T) *openpgp.Entity {
	t.Helper()
	e, err := openpgp.NewEntity("Cluster Admin", "", "admin@driftless.invalid", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func writePublicKey(t *testing.T, file string, e *openpgp.Entity) {
	t.Helper()
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// signedCommit commits files signed with key, as `git commit -S` does,
// and pushes.
func signedCommit(t *testing.T, repo *gitserver.Repo, key *openpgp.Entity, files map[string]string) string {
	t.Helper()
	for name, content := range files {
		writeFile(t, repo.Work, name, content)
	}
	r, err := git.PlainOpen(repo.Work)
	if err != nil {
		t.Fatal(err)
	}
	wt, err := r.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "Cluster Admin", Email: "admin@driftless.invalid", When: time.Now()}
	h, err := wt.Commit("signed", &git.CommitOptions{Author: sig, Committer: sig, SignKey: key, AllowEmptyCommits: true})
	if err != nil {
		t.Fatal(err)
	}
	repo.Push(t)
	return h.String()
}

// counterValue reads one series of a counter.
func counterValue(t *testing.T, reg interface {
	Gather() ([]*dto.MetricFamily, error)
}, name string, labels map[string]string) float64 {
	t.Helper()
	m := findSeries(t, reg, name, labels)
	return m.GetCounter().GetValue()
}

// gaugeValue reads a gauge without labels.
func gaugeValue(t *testing.T, reg interface {
	Gather() ([]*dto.MetricFamily, error)
}, name string) float64 {
	t.Helper()
	return findSeries(t, reg, name, nil).GetGauge().GetValue()
}

func findSeries(t *testing.T, reg interface {
	Gather() ([]*dto.MetricFamily, error)
}, name string, labels map[string]string) *dto.Metric {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue series
				}
			}
			return m
		}
	}
	t.Fatalf("no series %s%v", name, labels)
	return nil
}

// TestDaemonSignals runs `reconciler run` as systemd would: with
// NOTIFY_SOCKET and WATCHDOG_USEC set, a real SIGHUP, and a cancelled
// context for SIGTERM.
func TestDaemonSignals(t *testing.T) {
	srv := moto.Start(t)
	netw := moto.NewNetwork(t, t.Context(), ec2.NewFromConfig(srv.AWSConfig()))
	dir := t.TempDir()
	writeFile(t, dir, "clusters/alpha.yaml", clusterSpec(netw, "alpha", "slurm", 2))
	cfg := writeFile(t, dir, "config.yaml", "repo:\n  dir: "+filepath.Join(dir, "clusters")+"\n  pollInterval: 1h\naws:\n  region: us-east-1\n  endpoint: "+srv.Endpoint+"\nlisten: "+freeAddr(t)+"\n")
	n := listenNotify(t)
	t.Setenv(sdnotify.EnvSocket, n.path)
	t.Setenv(sdnotify.EnvWatchdogUsec, "200000")
	t.Setenv(sdnotify.EnvWatchdogPID, strconv.Itoa(os.Getpid()))

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	var stderr syncBuffer
	go func() { done <- run(ctx, []string{"run", "--config", cfg}, io.Discard, &stderr) }()
	n.expect(t, &stderr, "READY=1")
	n.expect(t, &stderr, "STATUS=revision dir:", "1 clusters, 1 Ready")
	n.expect(t, &stderr, "WATCHDOG=1")

	// READY came after the SIGHUP handler was installed.
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	n.expect(t, &stderr, "RELOADING=1", "MONOTONIC_USEC=", "SIGHUP")
	n.expect(t, &stderr, "READY=1", "configuration reloaded")

	cancel()
	n.expect(t, &stderr, "STOPPING=1")
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("daemon did not stop")
	}
}

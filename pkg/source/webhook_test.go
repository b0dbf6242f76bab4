package source

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/driftless/driftless/internal/testbed/gitserver"
)

var (
	githubSecret  = []byte("github-secret-0123456789")
	gitlabToken   = []byte("gitlab-token-0123456789")
	genericSecret = []byte("generic-secret-0123456789")
)

func sign(secret []byte, body string) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func signSHA1(secret []byte, body string) string {
	mac := hmac.New(sha1.New, secret)
	mac.Write([]byte(body))
	return "sha1=" + hex.EncodeToString(mac.Sum(nil))
}

// hookServer serves a webhook on 127.0.0.1 and returns its URL, the trigger
// channel and the registry its metrics are on.
func hookServer(t *testing.T, cfg WebhookConfig) (string, chan struct{}, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m := NewWebhookMetrics()
	if err := m.Register(reg); err != nil {
		t.Fatal(err)
	}
	trigger := make(chan struct{}, 1)
	h, err := NewWebhook(cfg, trigger, m, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL + "/hooks/git", trigger, reg
}

type hookRequest struct {
	method  string
	headers map[string]string
	body    string
}

func post(t *testing.T, u string, req hookRequest) (int, string) {
	t.Helper()
	method := req.method
	if method == "" {
		method = http.MethodPost
	}
	r, err := http.NewRequestWithContext(context.Background(), method, u, strings.NewReader(req.body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range req.headers {
		r.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// deliveries reads driftless_webhook_deliveries_total from reg, keyed by
// "provider/result".
func deliveries(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "driftless_webhook_deliveries_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var p, r string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "provider":
					p = l.GetValue()
				case "result":
					r = l.GetValue()
				}
			}
			out[p+"/"+r] = m.GetCounter().GetValue()
		}
	}
	return out
}

func githubPush(ref, delivery string) hookRequest {
	body := fmt.Sprintf(`{"ref":%q,"after":"0123456789abcdef0123456789abcdef01234567"}`, ref)
	return hookRequest{body: body, headers: map[string]string{
		"Content-Type":        "application/json",
		headerGitHubEvent:     "push",
		headerGitHubDelivery:  delivery,
		headerGitHubSignature: sign(githubSecret, body),
	}}
}

func gitlabPush(event, kind, ref, uuid, token string) hookRequest {
	body := fmt.Sprintf(`{"object_kind":%q,"ref":%q}`, kind, ref)
	return hookRequest{body: body, headers: map[string]string{
		"Content-Type":    "application/json",
		headerGitLabEvent: event,
		headerGitLabUUID:  uuid,
		headerGitLabToken: token,
	}}
}

func generic(body, sig string) hookRequest {
	return hookRequest{body: body, headers: map[string]string{HeaderSignature: sig}}
}

func TestWebhook(t *testing.T) {
	form := url.Values{"payload": {`{"ref":"refs/heads/main"}`}}.Encode()
	tooBig := `{"ref":"refs/heads/main","pad":"` + strings.Repeat("x", 2048) + `"}`

	tests := []struct {
		name     string
		req      hookRequest
		status   int
		counted  string // provider/result
		triggers bool
	}{
		{"github push", githubPush("refs/heads/main", "gh-1"), 202, "github/triggered", true},
		{"github push to another branch", githubPush("refs/heads/dev", "gh-2"), 200, "github/ignored", false},
		{"github tag push", githubPush("refs/tags/main", "gh-3"), 200, "github/ignored", false},
		{"github redelivery", githubPush("refs/heads/main", "gh-1"), 200, "github/duplicate", false},
		{"github ping", hookRequest{body: `{"zen":"x"}`, headers: map[string]string{
			headerGitHubEvent: "ping", headerGitHubDelivery: "gh-4", headerGitHubSignature: sign(githubSecret, `{"zen":"x"}`),
		}}, 200, "github/ignored", false},
		{"github form payload", hookRequest{body: form, headers: map[string]string{
			"Content-Type": "application/x-www-form-urlencoded", headerGitHubEvent: "push",
			headerGitHubDelivery: "gh-5", headerGitHubSignature: sign(githubSecret, form),
		}}, 202, "github/triggered", true},
		{"github wrong secret", hookRequest{body: `{"ref":"refs/heads/main"}`, headers: map[string]string{
			headerGitHubEvent: "push", headerGitHubDelivery: "gh-6", headerGitHubSignature: sign([]byte("guess"), `{"ref":"refs/heads/main"}`),
		}}, 401, "github/unauthorized", false},
		{"github signature of another body", hookRequest{body: `{"ref":"refs/heads/main"}`, headers: map[string]string{
			headerGitHubEvent: "push", headerGitHubDelivery: "gh-7", headerGitHubSignature: sign(githubSecret, `{"ref":"refs/heads/dev"}`),
		}}, 401, "github/unauthorized", false},
		{"github sha1 only", hookRequest{body: `{"ref":"refs/heads/main"}`, headers: map[string]string{
			headerGitHubEvent: "push", headerGitHubDelivery: "gh-8", headerGitHubSHA1: signSHA1(githubSecret, `{"ref":"refs/heads/main"}`),
		}}, 401, "github/unauthorized", false},
		{"github unsigned", hookRequest{body: `{"ref":"refs/heads/main"}`, headers: map[string]string{
			headerGitHubEvent: "push", headerGitHubDelivery: "gh-9",
		}}, 401, "github/unauthorized", false},
		{"github malformed signature", hookRequest{body: `{}`, headers: map[string]string{
			headerGitHubEvent: "push", headerGitHubSignature: "sha256=zz",
		}}, 401, "github/unauthorized", false},
		{"github signed garbage", hookRequest{body: `{not json`, headers: map[string]string{
			headerGitHubEvent: "push", headerGitHubDelivery: "gh-10", headerGitHubSignature: sign(githubSecret, `{not json`),
		}}, 400, "github/bad_request", false},
		{"github body too large", hookRequest{body: tooBig, headers: map[string]string{
			headerGitHubEvent: "push", headerGitHubDelivery: "gh-11", headerGitHubSignature: sign(githubSecret, tooBig),
		}}, 413, "github/too_large", false},
		{"github GET", hookRequest{method: http.MethodGet, headers: map[string]string{headerGitHubEvent: "push"}}, 405, "github/bad_request", false},

		{"gitlab push", gitlabPush("Push Hook", "push", "refs/heads/main", "gl-1", string(gitlabToken)), 202, "gitlab/triggered", true},
		{"gitlab redelivery", gitlabPush("Push Hook", "push", "refs/heads/main", "gl-1", string(gitlabToken)), 200, "gitlab/duplicate", false},
		{"gitlab system hook push", gitlabPush("System Hook", "push", "refs/heads/main", "gl-2", string(gitlabToken)), 202, "gitlab/triggered", true},
		{"gitlab push to another branch", gitlabPush("Push Hook", "push", "refs/heads/dev", "gl-3", string(gitlabToken)), 200, "gitlab/ignored", false},
		{"gitlab tag push", gitlabPush("Tag Push Hook", "tag_push", "refs/tags/v1", "gl-4", string(gitlabToken)), 200, "gitlab/ignored", false},
		{"gitlab wrong token", gitlabPush("Push Hook", "push", "refs/heads/main", "gl-5", "gitlab-token-012345678"), 401, "gitlab/unauthorized", false},
		{"gitlab token prefix", gitlabPush("Push Hook", "push", "refs/heads/main", "gl-6", "gitlab"), 401, "gitlab/unauthorized", false},

		{"generic empty body", generic("", sign(genericSecret, "")), 202, "generic/triggered", true},
		{"generic ref", generic(`{"ref":"main"}`, sign(genericSecret, `{"ref":"main"}`)), 202, "generic/triggered", true},
		{"generic other ref", generic(`{"ref":"refs/heads/dev"}`, sign(genericSecret, `{"ref":"refs/heads/dev"}`)), 200, "generic/ignored", false},
		{"generic wrong signature", generic("", sign(githubSecret, "")), 401, "generic/unauthorized", false},
		{"generic sha1", generic("", signSHA1(genericSecret, "")), 401, "generic/unauthorized", false},

		{"no credentials at all", hookRequest{body: `{"ref":"refs/heads/main"}`}, 401, "unknown/unauthorized", false},
	}

	u, trigger, reg := hookServer(t, WebhookConfig{
		GitHubSecret: githubSecret, GitLabToken: gitlabToken, GenericSecret: genericSecret, MaxBodyBytes: 1024,
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := deliveries(t, reg)
			status, body := post(t, u, tt.req)
			if status != tt.status {
				t.Errorf("status = %d, want %d", status, tt.status)
			}
			if want := http.StatusText(tt.status) + "\n"; body != want {
				t.Errorf("body = %q, want %q: answers carry no detail", body, want)
			}
			after := deliveries(t, reg)
			for k, v := range after {
				want := before[k]
				if k == tt.counted {
					want++
				}
				if v != want {
					t.Errorf("%s = %v, want %v", k, v, want)
				}
			}
			select {
			case <-trigger:
				if !tt.triggers {
					t.Error("triggered a fetch")
				}
			default:
				if tt.triggers {
					t.Error("no fetch triggered")
				}
			}
		})
	}
}

func TestWebhookUnconfiguredProvider(t *testing.T) {
	u, trigger, reg := hookServer(t, WebhookConfig{GitHubSecret: githubSecret})
	tests := []struct {
		name    string
		req     hookRequest
		counted string
	}{
		// Signed with what would be right if the provider were set up.
		{"gitlab", gitlabPush("Push Hook", "push", "refs/heads/main", "gl-1", ""), "gitlab/unauthorized"},
		{"generic", generic("", sign(nil, "")), "generic/unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if status, _ := post(t, u, tt.req); status != http.StatusUnauthorized {
				t.Errorf("status = %d, want 401", status)
			}
			if got := deliveries(t, reg)[tt.counted]; got != 1 {
				t.Errorf("%s = %v, want 1", tt.counted, got)
			}
			if len(trigger) != 0 {
				t.Error("triggered a fetch")
			}
		})
	}
}

func TestWebhookCoalescesBursts(t *testing.T) {
	u, trigger, reg := hookServer(t, WebhookConfig{GitHubSecret: githubSecret})
	for i := range 5 {
		if status, _ := post(t, u, githubPush("refs/heads/main", fmt.Sprintf("burst-%d", i))); status != http.StatusAccepted {
			t.Fatalf("delivery %d: status %d", i, status)
		}
	}
	if got := len(trigger); got != 1 {
		t.Errorf("%d fetch requests pending after a burst, want 1", got)
	}
	if got := deliveries(t, reg)["github/triggered"]; got != 5 {
		t.Errorf("github/triggered = %v, want 5", got)
	}
}

func TestWebhookMetricsStartAtZero(t *testing.T) {
	_, _, reg := hookServer(t, WebhookConfig{GitLabToken: gitlabToken})
	got := deliveries(t, reg)
	if len(got) != len(providers)*len(results) {
		t.Errorf("%d series, want %d", len(got), len(providers)*len(results))
	}
	for k, v := range got {
		if v != 0 {
			t.Errorf("%s = %v before any delivery", k, v)
		}
	}
}

func TestNewWebhookRejects(t *testing.T) {
	trigger := make(chan struct{}, 1)
	tests := []struct {
		name    string
		cfg     WebhookConfig
		trigger chan<- struct{}
	}{
		{"no provider", WebhookConfig{}, trigger},
		{"empty secrets", WebhookConfig{GitHubSecret: []byte{}, GitLabToken: nil}, trigger},
		{"no channel", WebhookConfig{GitHubSecret: githubSecret}, nil},
		{"negative body limit", WebhookConfig{GitHubSecret: githubSecret, MaxBodyBytes: -1}, trigger},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewWebhook(tt.cfg, tt.trigger, nil, nil); err == nil {
				t.Error("no error")
			}
		})
	}
}

func TestWebhookSecretsNeverLogged(t *testing.T) {
	var logs bytes.Buffer
	h, err := NewWebhook(WebhookConfig{GitHubSecret: githubSecret, GitLabToken: gitlabToken}, make(chan struct{}, 1), nil, slogTo(&logs))
	if err != nil {
		t.Fatal(err)
	}
	for _, req := range []hookRequest{
		githubPush("refs/heads/main", "a"),
		gitlabPush("Push Hook", "push", "refs/heads/main", "b", string(gitlabToken)),
		gitlabPush("Push Hook", "push", "refs/heads/main", "c", "wrong-token-xyz"),
	} {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(req.body))
		for k, v := range req.headers {
			r.Header.Set(k, v)
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	for _, s := range []string{string(githubSecret), string(gitlabToken), "wrong-token-xyz", sign(githubSecret, githubPush("refs/heads/main", "a").body)} {
		if strings.Contains(logs.String(), s) {
			t.Errorf("logs contain %q:\n%s", s, logs.String())
		}
	}
}

func TestRecentForgetsTheOldest(t *testing.T) {
	r := newRecent(2)
	steps := []struct {
		key  string
		seen bool
	}{
		{"a", false}, {"b", false}, {"a", true}, {"c", false}, {"a", false}, {"c", true}, {"b", false},
	}
	for i, s := range steps {
		if got := r.add(s.key); got != s.seen {
			t.Errorf("step %d: add(%q) = %v, want %v", i, s.key, got, s.seen)
		}
	}
	if len(r.keys) != 2 {
		t.Errorf("remembers %d keys, want 2", len(r.keys))
	}
}

// TestWebhookFetchesAtOnce wires a webhook to a Git source the way the
// daemon does: a signed push notification is followed by a fetch that sees
// the pushed commit, with no poll interval involved.
func TestWebhookFetchesAtOnce(t *testing.T) {
	root := t.TempDir()
	srv := gitserver.Start(t, root)
	repo := gitserver.NewRepo(t, root, "clusters")
	repo.Commit(t, "first", map[string]string{"a.yaml": "1"})
	g := newGit(t, GitConfig{URL: srv.URL("clusters")})
	fetch(t, g)

	u, trigger, _ := hookServer(t, WebhookConfig{GitHubSecret: githubSecret})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fetched := make(chan Snapshot, 1)
	go func() {
		select {
		case <-trigger:
			snap, err := g.Fetch(ctx)
			if err != nil {
				t.Error(err)
			}
			fetched <- snap
		case <-ctx.Done():
			close(fetched)
		}
	}()

	rev := repo.Commit(t, "second", map[string]string{"a.yaml": "2"})
	if status, _ := post(t, u, githubPush("refs/heads/main", "e2e")); status != http.StatusAccepted {
		t.Fatalf("status %d", status)
	}
	snap, ok := <-fetched
	if !ok {
		t.Fatal("no fetch after the webhook")
	}
	if snap.Revision != rev {
		t.Errorf("revision = %s, want %s", snap.Revision, rev)
	}
}

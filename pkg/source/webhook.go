package source

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// DefaultWebhookMaxBody is the largest webhook body read when the
// configuration does not say otherwise. Push payloads are a few kilobytes
// plus about one per commit; anything larger is answered 413 and the next
// poll picks the change up.
const DefaultWebhookMaxBody int64 = 4 << 20

// DefaultWebhookRemember is how many delivery IDs are remembered to drop
// redeliveries.
const DefaultWebhookRemember = 1024

// maxDeliveryID bounds what is remembered of a delivery ID; GitHub and
// GitLab send 36-character UUIDs.
const maxDeliveryID = 128

// Webhook request headers.
const (
	headerGitHubEvent     = "X-GitHub-Event"
	headerGitHubDelivery  = "X-GitHub-Delivery"
	headerGitHubSignature = "X-Hub-Signature-256"
	headerGitHubSHA1      = "X-Hub-Signature"
	headerGitLabEvent     = "X-Gitlab-Event"
	headerGitLabToken     = "X-Gitlab-Token"
	headerGitLabUUID      = "X-Gitlab-Event-UUID"
	// HeaderSignature carries the generic form's signature:
	// "sha256=" and the hex HMAC-SHA256 of the body under the shared secret.
	HeaderSignature = "X-Driftless-Signature"
	// HeaderDelivery optionally carries a generic delivery's unique ID, so
	// that a retried delivery triggers no second fetch.
	HeaderDelivery = "X-Driftless-Delivery"
)

// Providers, the bounded values of the provider label.
const (
	ProviderGitHub  = "github"
	ProviderGitLab  = "gitlab"
	ProviderGeneric = "generic"
	ProviderUnknown = "unknown"
)

// Results of a delivery, the bounded values of the result label.
const (
	// ResultTriggered: an authentic push to the followed branch; a fetch
	// was requested.
	ResultTriggered = "triggered"
	// ResultIgnored: authentic, but not a push to the followed branch.
	ResultIgnored = "ignored"
	// ResultDuplicate: a delivery ID seen before.
	ResultDuplicate = "duplicate"
	// ResultUnauthorized: missing or wrong signature or token, a SHA-1-only
	// GitHub signature, or a provider that is not configured.
	ResultUnauthorized = "unauthorized"
	// ResultBadRequest: wrong method or a payload that does not parse.
	ResultBadRequest = "bad_request"
	// ResultTooLarge: a body over the size limit.
	ResultTooLarge = "too_large"
)

var (
	providers = []string{ProviderGitHub, ProviderGitLab, ProviderGeneric, ProviderUnknown}
	results   = []string{ResultTriggered, ResultIgnored, ResultDuplicate, ResultUnauthorized, ResultBadRequest, ResultTooLarge}
)

// WebhookConfig configures the webhook receiver. Each provider is enabled by
// its secret; the caller reads secrets from files or the environment, never
// from the configuration file itself.
type WebhookConfig struct {
	// Branch is the followed branch: only pushes to it trigger a fetch.
	// DefaultBranch when empty.
	Branch string
	// GitHubSecret is the secret of a GitHub webhook; deliveries must carry
	// a valid X-Hub-Signature-256.
	GitHubSecret []byte
	// GitLabToken is the secret token of a GitLab webhook, sent back in
	// X-Gitlab-Token.
	GitLabToken []byte
	// GenericSecret signs the generic form: a POST whose X-Driftless-Signature
	// is "sha256=<hex HMAC-SHA256 of the body>". The body may be empty or a
	// JSON object with a "ref" ("refs/heads/main" or "main").
	GenericSecret []byte
	// MaxBodyBytes limits the body; DefaultWebhookMaxBody when zero.
	MaxBodyBytes int64
	// Remember is how many delivery IDs are kept to drop redeliveries;
	// DefaultWebhookRemember when zero.
	Remember int
}

// Webhook is an http.Handler that turns authentic push notifications from
// GitHub, GitLab or any system that can sign a body into a request to fetch
// now. Polling remains the fallback: a lost or refused delivery delays a
// change until the next poll, nothing more.
type Webhook struct {
	cfg     WebhookConfig
	ref     string
	trigger chan<- struct{}
	metrics *WebhookMetrics
	log     *slog.Logger
	seen    *recent
}

// NewWebhook returns a receiver that sends on trigger, without blocking,
// when an authentic push to the followed branch arrives. trigger should be
// buffered with room for one: deliveries that arrive while a fetch request
// is pending are coalesced into it. metrics may be nil.
func NewWebhook(cfg WebhookConfig, trigger chan<- struct{}, metrics *WebhookMetrics, log *slog.Logger) (*Webhook, error) {
	if trigger == nil {
		return nil, errors.New("webhook: a trigger channel is required")
	}
	if len(cfg.GitHubSecret) == 0 && len(cfg.GitLabToken) == 0 && len(cfg.GenericSecret) == 0 {
		return nil, errors.New("webhook: no provider configured: set a GitHub secret, a GitLab token or a generic secret")
	}
	if cfg.Branch == "" {
		cfg.Branch = DefaultBranch
	}
	if cfg.MaxBodyBytes < 0 || cfg.Remember < 0 {
		return nil, errors.New("webhook: negative limit")
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultWebhookMaxBody
	}
	if cfg.Remember == 0 {
		cfg.Remember = DefaultWebhookRemember
	}
	log = orDiscard(log).With("component", "webhook")
	for name, s := range map[string][]byte{ProviderGitHub: cfg.GitHubSecret, ProviderGitLab: cfg.GitLabToken, ProviderGeneric: cfg.GenericSecret} {
		if len(s) > 0 && len(s) < 16 {
			log.Warn("webhook secret is short; use at least 16 random bytes", "provider", name)
		}
	}
	metrics.init()
	return &Webhook{
		cfg:     cfg,
		ref:     "refs/heads/" + cfg.Branch,
		trigger: trigger,
		metrics: metrics,
		log:     log,
		seen:    newRecent(cfg.Remember),
	}, nil
}

// delivery is what one request turned out to be.
type delivery struct {
	provider string
	id       string
	status   int
	result   string
	// why explains the result in the log; it is never sent to the client.
	why string
	ref string
}

// ServeHTTP handles one delivery. Answers carry no detail: a sender with a
// wrong secret learns nothing but 401.
func (h *Webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d := h.handle(w, r)
	h.metrics.delivery(d.provider, d.result)
	log := h.log.With("provider", d.provider, "result", d.result, "remote", r.RemoteAddr)
	if d.id != "" {
		log = log.With("delivery", d.id)
	}
	if d.ref != "" {
		log = log.With("ref", d.ref)
	}
	switch d.result {
	case ResultTriggered:
		log.Info("webhook: fetch requested")
	case ResultUnauthorized, ResultTooLarge, ResultBadRequest:
		log.Warn("webhook refused", "reason", d.why)
	default:
		log.Debug("webhook", "reason", d.why)
	}
	if d.status == http.StatusMethodNotAllowed {
		w.Header().Set("Allow", http.MethodPost)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(d.status)
	fmt.Fprintln(w, http.StatusText(d.status))
}

func (h *Webhook) handle(w http.ResponseWriter, r *http.Request) delivery {
	d := delivery{provider: detect(r.Header)}
	if r.Method != http.MethodPost {
		return d.fail(http.StatusMethodNotAllowed, ResultBadRequest, "method "+r.Method)
	}
	body, err := readBody(w, r, h.cfg.MaxBodyBytes)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return d.fail(http.StatusRequestEntityTooLarge, ResultTooLarge, fmt.Sprintf("body over %d bytes", tooBig.Limit))
		}
		return d.fail(http.StatusBadRequest, ResultBadRequest, "read body: "+err.Error())
	}
	if why := h.authenticate(d.provider, r.Header, body); why != "" {
		return d.fail(http.StatusUnauthorized, ResultUnauthorized, why)
	}

	d.id = deliveryID(d.provider, r.Header)
	ev, err := parseEvent(d.provider, r.Header, body)
	if err != nil {
		return d.fail(http.StatusBadRequest, ResultBadRequest, err.Error())
	}
	d.ref = ev.ref
	if d.id != "" && h.seen.add(d.provider+"/"+d.id) {
		return d.fail(http.StatusOK, ResultDuplicate, "delivered before")
	}
	if !ev.push {
		return d.fail(http.StatusOK, ResultIgnored, "event "+ev.name)
	}
	if ev.ref != "" && ev.ref != h.ref && ev.ref != h.cfg.Branch {
		return d.fail(http.StatusOK, ResultIgnored, "push to another branch")
	}
	select {
	case h.trigger <- struct{}{}:
	default: // a fetch is already pending; it will see this push too
	}
	d.status, d.result = http.StatusAccepted, ResultTriggered
	return d
}

func (d delivery) fail(status int, result, why string) delivery {
	d.status, d.result, d.why = status, result, why
	return d
}

// detect tells the sender from its headers.
func detect(h http.Header) string {
	switch {
	case h.Get(headerGitHubSignature) != "" || h.Get(headerGitHubSHA1) != "" || h.Get(headerGitHubEvent) != "":
		return ProviderGitHub
	case h.Get(headerGitLabToken) != "" || h.Get(headerGitLabEvent) != "":
		return ProviderGitLab
	case h.Get(HeaderSignature) != "":
		return ProviderGeneric
	}
	return ProviderUnknown
}

// authenticate returns why a delivery is not authentic, or "".
func (h *Webhook) authenticate(provider string, hdr http.Header, body []byte) string {
	switch provider {
	case ProviderGitHub:
		if len(h.cfg.GitHubSecret) == 0 {
			return "GitHub webhooks are not configured"
		}
		sig := hdr.Get(headerGitHubSignature)
		if sig == "" {
			if hdr.Get(headerGitHubSHA1) != "" {
				return "SHA-1 signature (X-Hub-Signature) refused; X-Hub-Signature-256 required"
			}
			return "no X-Hub-Signature-256"
		}
		return checkHMAC(h.cfg.GitHubSecret, sig, body)
	case ProviderGitLab:
		if len(h.cfg.GitLabToken) == 0 {
			return "GitLab webhooks are not configured"
		}
		// Compare digests so that the time taken says nothing about the
		// token's length either.
		want := sha256.Sum256(h.cfg.GitLabToken)
		got := sha256.Sum256([]byte(hdr.Get(headerGitLabToken)))
		if !hmac.Equal(want[:], got[:]) {
			return "wrong X-Gitlab-Token"
		}
		return ""
	case ProviderGeneric:
		if len(h.cfg.GenericSecret) == 0 {
			return "generic webhooks are not configured"
		}
		return checkHMAC(h.cfg.GenericSecret, hdr.Get(HeaderSignature), body)
	}
	return "no signature or token"
}

// checkHMAC checks a "sha256=<hex>" signature of body in constant time. It
// returns why the signature is refused, or "".
func checkHMAC(secret []byte, header string, body []byte) string {
	given, ok := parseSignature(header)
	if !ok {
		return "malformed signature"
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	if !hmac.Equal(mac.Sum(nil), given) {
		return "wrong signature"
	}
	return ""
}

// parseSignature decodes "sha256=<64 hex digits>".
func parseSignature(header string) ([]byte, bool) {
	algo, digest, ok := strings.Cut(strings.TrimSpace(header), "=")
	if !ok || !strings.EqualFold(algo, "sha256") || len(digest) != 2*sha256.Size {
		return nil, false
	}
	b, err := hex.DecodeString(digest)
	return b, err == nil
}

// deliveryID returns the provider's unique delivery ID, bounded in size.
func deliveryID(provider string, h http.Header) string {
	var id string
	switch provider {
	case ProviderGitHub:
		id = h.Get(headerGitHubDelivery)
	case ProviderGitLab:
		id = h.Get(headerGitLabUUID)
	case ProviderGeneric:
		id = h.Get(HeaderDelivery)
	}
	if len(id) > maxDeliveryID {
		id = id[:maxDeliveryID]
	}
	return id
}

// readBody reads at most limit bytes of the body.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	body := http.MaxBytesReader(w, r.Body, limit)
	defer body.Close()
	return io.ReadAll(body)
}

// event is the part of a payload that decides whether to fetch.
type event struct {
	name string // the provider's event name, for the log
	push bool   // a push of commits (not tags, not a ping)
	ref  string // the pushed ref; "" when the payload names none
}

// parseEvent reads what the payload says. It is called only for authentic
// deliveries, but treats the body as hostile all the same.
func parseEvent(provider string, h http.Header, body []byte) (event, error) {
	var p struct {
		Ref        string `json:"ref"`
		ObjectKind string `json:"object_kind"`
	}
	switch provider {
	case ProviderGitHub:
		ev := event{name: h.Get(headerGitHubEvent)}
		if ev.name != "push" {
			return ev, nil // ping, pull_request, ...: nothing to fetch
		}
		payload, err := githubPayload(h.Get("Content-Type"), body)
		if err != nil {
			return ev, err
		}
		if err := json.Unmarshal(payload, &p); err != nil {
			return ev, fmt.Errorf("push payload: %w", err)
		}
		if p.Ref == "" {
			return ev, errors.New("push payload has no ref")
		}
		ev.push, ev.ref = true, p.Ref
		return ev, nil
	case ProviderGitLab:
		ev := event{name: h.Get(headerGitLabEvent)}
		if ev.name != "Push Hook" && ev.name != "System Hook" {
			return ev, nil // Tag Push Hook, Merge Request Hook, ...
		}
		if err := json.Unmarshal(body, &p); err != nil {
			return ev, fmt.Errorf("push payload: %w", err)
		}
		if p.ObjectKind != "push" {
			ev.name += "/" + p.ObjectKind
			return ev, nil
		}
		if p.Ref == "" {
			return ev, errors.New("push payload has no ref")
		}
		ev.push, ev.ref = true, p.Ref
		return ev, nil
	default:
		ev := event{name: "push", push: true}
		if len(strings.TrimSpace(string(body))) == 0 {
			return ev, nil
		}
		if err := json.Unmarshal(body, &p); err != nil {
			return ev, fmt.Errorf("payload: %w", err)
		}
		ev.ref = p.Ref
		return ev, nil
	}
}

// githubPayload returns the JSON of a GitHub delivery, which comes either
// as the body or, for the form content type, as its "payload" field.
func githubPayload(contentType string, body []byte) ([]byte, error) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return body, nil
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("form payload: %w", err)
	}
	p := form.Get("payload")
	if p == "" {
		return nil, errors.New("form payload has no payload field")
	}
	return []byte(p), nil
}

// recent remembers the last n keys, evicting the oldest.
type recent struct {
	mu   sync.Mutex
	keys map[string]struct{}
	ring []string
	next int
}

func newRecent(n int) *recent {
	return &recent{keys: make(map[string]struct{}, n), ring: make([]string, n)}
}

// add remembers key and reports whether it was already there.
func (r *recent) add(key string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.keys[key]; ok {
		return true
	}
	if old := r.ring[r.next]; old != "" {
		delete(r.keys, old)
	}
	r.ring[r.next] = key
	r.keys[key] = struct{}{}
	r.next = (r.next + 1) % len(r.ring)
	return false
}

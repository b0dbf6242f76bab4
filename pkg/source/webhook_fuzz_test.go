package source

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzWebhook feeds arbitrary deliveries to the receiver: it must never
// panic, and must never request a fetch unless the body carries a valid
// signature.
func FuzzWebhook(f *testing.F) {
	f.Add("push", "application/json", "", []byte(`{"ref":"refs/heads/main"}`), true)
	f.Add("push", "application/x-www-form-urlencoded", "", []byte(`payload=%7B%22ref%22%3A%22refs%2Fheads%2Fmain%22%7D`), true)
	f.Add("ping", "", "sha256=00", []byte(`{}`), false)
	f.Add("Push Hook", "text/plain;;", "", []byte(`{"object_kind":"push","ref":"main"}`), true)
	f.Add("", "", "", []byte{}, true)
	f.Fuzz(func(t *testing.T, event, contentType, sig string, body []byte, signIt bool) {
		trigger := make(chan struct{}, 1)
		h, err := NewWebhook(WebhookConfig{GitHubSecret: githubSecret, GenericSecret: genericSecret, MaxBodyBytes: 4096}, trigger, NewWebhookMetrics(), nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, generic := range []bool{false, true} {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(string(body)))
			r.Header.Set("Content-Type", contentType)
			secret, header := githubSecret, headerGitHubSignature
			if generic {
				secret, header = genericSecret, HeaderSignature
			} else {
				r.Header.Set(headerGitHubEvent, event)
			}
			valid := sign(secret, string(body))
			if signIt {
				sig = valid
			}
			r.Header.Set(header, sig)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			select {
			case <-trigger:
				if !strings.EqualFold(strings.TrimSpace(sig), valid) {
					t.Fatalf("fetch requested with signature %q, valid is %q", sig, valid)
				}
			default:
			}
		}
	})
}

// FuzzParseSignature checks the signature header parser accepts exactly
// "sha256=" and 64 hex digits.
func FuzzParseSignature(f *testing.F) {
	f.Add("sha256=" + strings.Repeat("ab", 32))
	f.Add("sha1=abc")
	f.Add("=")
	f.Fuzz(func(t *testing.T, header string) {
		b, ok := parseSignature(header)
		if ok && len(b) != 32 {
			t.Fatalf("parsed %q to %d bytes", header, len(b))
		}
	})
}

// FuzzSubdir checks a configured sub-directory never leaves the repo.
func FuzzSubdir(f *testing.F) {
	for _, s := range []string{"", ".", "clusters", "/a/b/", "../x", "a/../../x", `a\..\..\x`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		c, err := cleanSubdir(p)
		if err != nil {
			return
		}
		if c == ".." || strings.HasPrefix(c, "../") || strings.HasPrefix(c, "/") || strings.HasSuffix(c, "/") {
			t.Fatalf("cleanSubdir(%q) = %q", p, c)
		}
	})
}

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigAuthAndWebhook(t *testing.T) {
	base := "aws:\n  region: us-east-1\n"
	tests := []struct {
		name, config, want string
	}{
		{"password in url", "repo:\n  url: https://git:hunter2@git.example.org/c.git\n" + base, "repo.url must not hold a password"},
		{"auth with a directory", "repo:\n  dir: /tmp\n  auth:\n    passwordEnv: TOKEN\n" + base, "apply to a git remote"},
		{"trusted keys with a directory", "repo:\n  dir: /tmp\n  trustedKeysFile: /etc/keys.asc\n" + base, "apply to a git remote"},
		{"ssh without known_hosts", "repo:\n  url: ssh://git@git.example.org/c.git\n  auth:\n    sshKeyFile: /etc/driftless/id\n" + base, "known_hosts"},
		{"ssh key for https", "repo:\n  url: https://git.example.org/c.git\n  auth:\n    sshKeyFile: /etc/driftless/id\n" + base, "need an ssh:// or user@host:path URL"},
		{"token file and env", "repo:\n  url: https://git.example.org/c.git\n  auth:\n    passwordFile: /f\n    passwordEnv: E\n" + base, "not both"},
		{"a secret in the config", "repo:\n  dir: /tmp\nwebhook:\n  github:\n    secret: hunter2\n" + base, "field secret not found"},
		{"webhook without provider", "repo:\n  dir: /tmp\nwebhook:\n  path: /hook\n" + base, "no provider configured"},
		{"webhook secret file and env", "repo:\n  dir: /tmp\nwebhook:\n  generic:\n    secretFile: /f\n    secretEnv: E\n" + base, "webhook.generic: set one of secretFile and secretEnv"},
		{"webhook path taken", "repo:\n  dir: /tmp\nwebhook:\n  path: /metrics\n  generic:\n    secretEnv: E\n" + base, "taken by the daemon's own endpoint"},
		{"webhook relative path", "repo:\n  dir: /tmp\nwebhook:\n  path: hook\n  generic:\n    secretEnv: E\n" + base, "absolute URL path"},
		{"webhook listen", "repo:\n  dir: /tmp\nwebhook:\n  listen: nowhere\n  generic:\n    secretEnv: E\n" + base, "webhook.listen must be host:port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseConfig("config.yaml", []byte(tt.config))
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "config.yaml") {
				t.Fatalf("error %v, want one naming the file and saying %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error repeats a secret: %v", err)
			}
		})
	}

	t.Run("valid", func(t *testing.T) {
		cfg, err := parseConfig("config.yaml", []byte("repo:\n  url: git@git.example.org:hpc/clusters.git\n  auth:\n    sshKeyFile: /etc/driftless/id\n    knownHostsFile: /etc/driftless/known_hosts\n  trustedKeysFile: /etc/driftless/keys.asc\nwebhook:\n  github:\n    secretEnv: GH\n"+base))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Webhook.Path != defaultWebhookPath {
			t.Errorf("webhook path %q, want the default", cfg.Webhook.Path)
		}
		gc, err := cfg.gitConfig()
		if err != nil || gc.SSHKeyFile != "/etc/driftless/id" || gc.TrustedKeysFile != "/etc/driftless/keys.asc" || gc.KnownHostsFile == "" {
			t.Errorf("git config %+v, %v", gc, err)
		}
	})
}

func TestWebhookSecrets(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(good, []byte("  s3cret-value-for-tests\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"GL": "gitlab-token-value", "BLANK": "  "}
	getenv := func(k string) string { return env[k] }
	tests := []struct {
		name    string
		hook    WebhookConfig
		want    string
		wantErr string
	}{
		{"file, trimmed", WebhookConfig{GitHub: SecretRef{File: good}}, "s3cret-value-for-tests", ""},
		{"environment", WebhookConfig{GitLab: SecretRef{Env: "GL"}}, "gitlab-token-value", ""},
		{"missing file", WebhookConfig{Generic: SecretRef{File: filepath.Join(dir, "nope")}}, "", "webhook.generic.secretFile"},
		{"empty file", WebhookConfig{GitHub: SecretRef{File: empty}}, "", "is empty"},
		{"blank variable", WebhookConfig{GitLab: SecretRef{Env: "BLANK"}}, "", "BLANK is empty or unset"},
		{"unset variable", WebhookConfig{Generic: SecretRef{Env: "NOPE"}}, "", "NOPE is empty or unset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &Config{Webhook: tt.hook}
			wc, err := cfg.webhookConfig(getenv)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := string(wc.GitHubSecret) + string(wc.GitLabToken) + string(wc.GenericSecret)
			if got != tt.want {
				t.Errorf("secret %q, want %q", got, tt.want)
			}
		})
	}
}

// FuzzParseConfig feeds the config parser arbitrary files: it must return
// a config or an error naming the file, never panic.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("repo:\n  url: https://git.example.org/c.git\naws:\n  region: us-east-1\n"))
	f.Add([]byte("repo:\n  dir: /tmp\n  pollInterval: 1s\naws:\n  region: r\nwebhook:\n  generic:\n    secretEnv: E\n"))
	f.Add([]byte("repo: [\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := parseConfig("config.yaml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "config.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if cfg.AWS.Region == "" || cfg.Repo.PollInterval < 1e9 {
			t.Fatalf("invalid config accepted: %+v", cfg)
		}
	})
}

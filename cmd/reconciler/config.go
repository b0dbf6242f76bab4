package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/driftless/driftless/pkg/source"
)

// Config is the daemon's own configuration file.
type Config struct {
	// Repo says where the cluster specs live.
	Repo RepoConfig `yaml:"repo"`
	// AWS says which account and endpoint the clusters live in.
	AWS AWSConfig `yaml:"aws"`
	// Listen is the address of /metrics, /healthz, /readyz, /status and,
	// unless it has its own address, the webhook.
	Listen string `yaml:"listen"`
	// Webhook receives push notifications that trigger a cycle at once.
	Webhook WebhookConfig `yaml:"webhook"`
	// Prune allows deleting stacks whose spec left the repo.
	Prune bool `yaml:"prune"`
	// PruneLimit caps deletes per cycle (0: max(1, 10%); -1: no cap).
	PruneLimit int `yaml:"pruneLimit"`
	// Concurrency is how many clusters are applied at once.
	Concurrency int `yaml:"concurrency"`
	// Log sets the log level (debug, info, warn, error) and format.
	Log LogConfig `yaml:"log"`
	// Timeouts bound the waits on CloudFormation.
	StackTimeout time.Duration `yaml:"stackTimeout"`
	// Fleet runs each live cluster's fleet loop (fleet.go).
	Fleet FleetConfig `yaml:"fleet"`
}

// RepoConfig is the cluster repo: a git remote, or a local directory.
type RepoConfig struct {
	URL          string        `yaml:"url"`
	Branch       string        `yaml:"branch"`
	Path         string        `yaml:"path"`
	Dir          string        `yaml:"dir"`
	PollInterval time.Duration `yaml:"pollInterval"`
	CacheDir     string        `yaml:"cacheDir"`
	// Auth says where the remote's credentials are; never what they are.
	Auth RepoAuth `yaml:"auth"`
	// TrustedKeysFile names armored OpenPGP public keys; a branch head not
	// signed by one of them is refused and the last trusted revision
	// stays in force.
	TrustedKeysFile string `yaml:"trustedKeysFile"`
}

// RepoAuth names the files and environment variables that hold the git
// remote's credentials, and the SSH host keys to trust. The config file
// never holds a secret itself.
type RepoAuth struct {
	// Username goes with the password over HTTP(S) ("git" when empty).
	Username string `yaml:"username"`
	// PasswordFile or PasswordEnv holds the HTTP(S) password or token.
	PasswordFile string `yaml:"passwordFile"`
	PasswordEnv  string `yaml:"passwordEnv"`
	// CAFile adds certificate authorities for an https:// remote.
	CAFile string `yaml:"caFile"`
	// SSHKeyFile is the private key for an SSH remote.
	SSHKeyFile string `yaml:"sshKeyFile"`
	// SSHKeyPassphraseFile or SSHKeyPassphraseEnv holds its passphrase.
	SSHKeyPassphraseFile string `yaml:"sshKeyPassphraseFile"`
	SSHKeyPassphraseEnv  string `yaml:"sshKeyPassphraseEnv"`
	// KnownHostsFile holds the SSH server's host key, checked strictly.
	KnownHostsFile string `yaml:"knownHostsFile"`
	// InsecureIgnoreHostKey accepts any SSH host key: test beds only.
	InsecureIgnoreHostKey bool `yaml:"insecureIgnoreHostKey"`
}

// WebhookConfig enables the webhook receiver: each provider is enabled by
// naming where its secret is.
type WebhookConfig struct {
	// Path is where deliveries are posted; /webhook when empty.
	Path string `yaml:"path"`
	// Listen, when set, serves the webhook alone on its own address, so
	// the metrics and status endpoints need not face the git host.
	Listen string `yaml:"listen"`
	// GitHub, GitLab and Generic name each provider's shared secret (for
	// GitLab, the secret token).
	GitHub  SecretRef `yaml:"github"`
	GitLab  SecretRef `yaml:"gitlab"`
	Generic SecretRef `yaml:"generic"`
	// MaxBodyBytes limits a delivery's body; 4 MiB when zero.
	MaxBodyBytes int64 `yaml:"maxBodyBytes"`
}

// SecretRef names a file or an environment variable holding a secret.
type SecretRef struct {
	File string `yaml:"secretFile"`
	Env  string `yaml:"secretEnv"`
}

func (r SecretRef) set() bool { return r.File != "" || r.Env != "" }

// Enabled reports whether any provider is configured.
func (w WebhookConfig) Enabled() bool { return w.GitHub.set() || w.GitLab.set() || w.Generic.set() }

// defaultWebhookPath is where deliveries go when webhook.path is empty.
const defaultWebhookPath = "/webhook"

// AWSConfig selects the region and, for an emulator, the endpoint.
type AWSConfig struct {
	Region   string `yaml:"region"`
	Endpoint string `yaml:"endpoint"`
	// DriftDetection is how often CloudFormation's drift detection runs
	// on each stack; 0 turns it off. Unset, it is 6h against AWS and off
	// with an endpoint (moto 5.x does not implement drift detection).
	DriftDetection *time.Duration `yaml:"driftDetection"`
	// CloudFormationRoleARN, when set, is the CloudFormation service role
	// every stack operation names, so CloudFormation creates and deletes
	// the clusters' resources with that role's permissions and the
	// daemon's own need only its calls and iam:PassRole on the role.
	CloudFormationRoleARN string `yaml:"cloudFormationRoleArn"`
}

// roleARNPattern is the form of an IAM role's ARN, in any partition.
var roleARNPattern = regexp.MustCompile(`^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$`)

// defaultDriftDetection is how often CloudFormation drift detection runs
// per stack against AWS: each detection reads every resource of the stack
// and AWS throttles DetectStackDrift, so not every cycle.
const defaultDriftDetection = 6 * time.Hour

// driftInterval is the drift detection interval in force.
func (a AWSConfig) driftInterval() time.Duration {
	switch {
	case a.DriftDetection != nil:
		return *a.DriftDetection
	case a.Endpoint != "":
		return 0
	}
	return defaultDriftDetection
}

// LogConfig is the logger's level and format (text or json).
type LogConfig struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// maxConfigSize bounds the config file; a larger file is a mistake.
const maxConfigSize = 1 << 20

// loadConfig reads, defaults and validates the config file. Every error
// names the file, and the line where the YAML decoder knows it.
func loadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return parseConfig(path, data)
}

func parseConfig(path string, data []byte) (*Config, error) {
	if len(data) > maxConfigSize {
		return nil, fmt.Errorf("%s: config file is %d bytes; the limit is %d", path, len(data), maxConfigSize)
	}
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: config file is empty", path)
		}
		return nil, fmt.Errorf("%s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	cfg.defaults()
	errs := cfg.validate()
	if len(errs) == 0 {
		// The source checks that the credentials fit the URL; asking it
		// now puts the config file's name on the error.
		if _, err := cfg.gitConfig(); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = path + ": " + e
		}
		return nil, errors.New(strings.Join(msgs, "\n"))
	}
	return &cfg, nil
}

func (c *Config) defaults() {
	if c.Repo.Branch == "" {
		c.Repo.Branch = "main"
	}
	if c.Repo.PollInterval == 0 {
		c.Repo.PollInterval = time.Minute
	}
	if c.Repo.CacheDir == "" {
		if d := os.Getenv("STATE_DIRECTORY"); d != "" {
			c.Repo.CacheDir = d + "/repo"
		} else {
			c.Repo.CacheDir = ".cache/driftless/repo"
		}
	}
	if c.Listen == "" {
		c.Listen = "127.0.0.1:9810"
	}
	if c.Concurrency == 0 {
		c.Concurrency = 4
	}
	if c.StackTimeout == 0 {
		c.StackTimeout = 60 * time.Minute
	}
	if c.Log.Level == "" {
		c.Log.Level = "info"
	}
	if c.Webhook.Enabled() && c.Webhook.Path == "" {
		c.Webhook.Path = defaultWebhookPath
	}
	if c.Log.Format == "" {
		c.Log.Format = "text"
	}
	c.Fleet.defaults()
}

func (c *Config) validate() []string {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	switch {
	case c.Repo.URL == "" && c.Repo.Dir == "":
		bad("repo.url or repo.dir is required")
	case c.Repo.URL != "" && c.Repo.Dir != "":
		bad("repo.url and repo.dir exclude each other: use a git remote or a local directory")
	}
	if c.Repo.URL != "" {
		if u, err := url.Parse(c.Repo.URL); err == nil && u.User != nil {
			if _, ok := u.User.Password(); ok {
				bad("repo.url must not hold a password: put it in a file named by repo.auth.passwordFile (or an environment variable named by repo.auth.passwordEnv)")
			}
		}
	}
	if c.Repo.Dir != "" && (c.Repo.Auth != RepoAuth{} || c.Repo.TrustedKeysFile != "") {
		bad("repo.auth and repo.trustedKeysFile apply to a git remote (repo.url), not to repo.dir")
	}
	if c.Repo.PollInterval < time.Second {
		bad("repo.pollInterval must be at least 1s, got %s", c.Repo.PollInterval)
	}
	if c.AWS.Region == "" {
		bad("aws.region is required")
	}
	if c.AWS.Endpoint != "" && !strings.HasPrefix(c.AWS.Endpoint, "http://") && !strings.HasPrefix(c.AWS.Endpoint, "https://") {
		bad("aws.endpoint must be an http:// or https:// URL, got %q", c.AWS.Endpoint)
	}
	if d := c.AWS.DriftDetection; d != nil && *d != 0 && *d < 10*time.Minute {
		bad("aws.driftDetection must be 0 (off) or at least 10m, got %s", *d)
	}
	if r := c.AWS.CloudFormationRoleARN; r != "" && !roleARNPattern.MatchString(r) {
		bad("aws.cloudFormationRoleArn must be an IAM role's ARN (arn:aws:iam::123456789012:role/name), got %q", r)
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen must be host:port, got %q", c.Listen)
	}
	if c.Webhook.Enabled() {
		w := c.Webhook
		for name, ref := range map[string]SecretRef{"github": w.GitHub, "gitlab": w.GitLab, "generic": w.Generic} {
			if ref.File != "" && ref.Env != "" {
				bad("webhook.%s: set one of secretFile and secretEnv, not both", name)
			}
		}
		if !strings.HasPrefix(w.Path, "/") || strings.ContainsAny(w.Path, " ?#") {
			bad("webhook.path must be an absolute URL path, got %q", w.Path)
		}
		switch w.Path {
		case "/metrics", "/healthz", "/readyz", "/status":
			if w.Listen == "" {
				bad("webhook.path %s is taken by the daemon's own endpoint", w.Path)
			}
		}
		if w.Listen != "" {
			if _, _, err := net.SplitHostPort(w.Listen); err != nil {
				bad("webhook.listen must be host:port, got %q", w.Listen)
			} else if w.Listen == c.Listen {
				bad("webhook.listen is the same as listen; leave it out to serve the webhook there")
			}
		}
		if w.MaxBodyBytes < 0 {
			bad("webhook.maxBodyBytes must not be negative, got %d", w.MaxBodyBytes)
		}
	} else if c.Webhook != (WebhookConfig{}) {
		bad("webhook: no provider configured: name a secret for webhook.github, webhook.gitlab or webhook.generic")
	}
	if c.Concurrency < 1 {
		bad("concurrency must be at least 1, got %d", c.Concurrency)
	}
	if c.PruneLimit < -1 {
		bad("pruneLimit must be -1 (no cap), 0 (default) or a positive count, got %d", c.PruneLimit)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level must be debug, info, warn or error, got %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format must be text or json, got %q", c.Log.Format)
	}
	errs = append(errs, c.Fleet.validate()...)
	return errs
}

// gitConfig is the git source's configuration, or nil in local-directory
// mode. It does no I/O.
func (c *Config) gitConfig() (*source.GitConfig, error) {
	if c.Repo.URL == "" {
		return nil, nil
	}
	a := c.Repo.Auth
	gc := source.GitConfig{
		URL:                   c.Repo.URL,
		Branch:                c.Repo.Branch,
		Path:                  c.Repo.Path,
		CacheDir:              c.Repo.CacheDir,
		Username:              a.Username,
		PasswordFile:          a.PasswordFile,
		PasswordEnv:           a.PasswordEnv,
		CAFile:                a.CAFile,
		SSHKeyFile:            a.SSHKeyFile,
		SSHKeyPassphraseFile:  a.SSHKeyPassphraseFile,
		SSHKeyPassphraseEnv:   a.SSHKeyPassphraseEnv,
		KnownHostsFile:        a.KnownHostsFile,
		InsecureIgnoreHostKey: a.InsecureIgnoreHostKey,
		TrustedKeysFile:       c.Repo.TrustedKeysFile,
	}
	// NewGit checks the settings without touching the network or disk;
	// its logger is not needed for that.
	if _, err := source.NewGit(gc, nil); err != nil {
		return nil, fmt.Errorf("repo: %s", strings.TrimPrefix(err.Error(), "git source: "))
	}
	return &gc, nil
}

// webhookConfig reads the webhook secrets from their files or environment
// variables. It is called at start and on every reload, so a rotated
// secret takes effect with a reload. Errors name where a secret was looked
// for, never its value.
func (c *Config) webhookConfig(getenv func(string) string) (source.WebhookConfig, error) {
	w := c.Webhook
	wc := source.WebhookConfig{Branch: c.Repo.Branch, MaxBodyBytes: w.MaxBodyBytes}
	var err error
	if wc.GitHubSecret, err = readSecret("webhook.github", w.GitHub, getenv); err != nil {
		return wc, err
	}
	if wc.GitLabToken, err = readSecret("webhook.gitlab", w.GitLab, getenv); err != nil {
		return wc, err
	}
	if wc.GenericSecret, err = readSecret("webhook.generic", w.Generic, getenv); err != nil {
		return wc, err
	}
	return wc, nil
}

// maxSecretSize bounds a secret file: a secret is a line, not a document.
const maxSecretSize = 64 << 10

// readSecret reads one secret; nil when ref names none. Surrounding white
// space (an editor's newline) is dropped, and an empty secret is an error:
// it would accept anything signed with the empty key.
func readSecret(key string, ref SecretRef, getenv func(string) string) ([]byte, error) {
	var v string
	switch {
	case ref.File != "":
		st, err := os.Stat(ref.File)
		if err != nil {
			return nil, fmt.Errorf("%s.secretFile: %w", key, err)
		}
		if st.Size() > maxSecretSize {
			return nil, fmt.Errorf("%s.secretFile %s: %d bytes is not a secret", key, ref.File, st.Size())
		}
		b, err := os.ReadFile(ref.File)
		if err != nil {
			return nil, fmt.Errorf("%s.secretFile: %w", key, err)
		}
		v = strings.TrimSpace(string(b))
		if v == "" {
			return nil, fmt.Errorf("%s.secretFile %s is empty", key, ref.File)
		}
	case ref.Env != "":
		v = strings.TrimSpace(getenv(ref.Env))
		if v == "" {
			return nil, fmt.Errorf("%s.secretEnv: environment variable %s is empty or unset", key, ref.Env)
		}
	default:
		return nil, nil
	}
	return []byte(v), nil
}

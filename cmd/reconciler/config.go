package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is the daemon's own configuration file.
type Config struct {
	// Repo says where the cluster specs live.
	Repo RepoConfig `yaml:"repo"`
	// AWS says which account and endpoint the clusters live in.
	AWS AWSConfig `yaml:"aws"`
	// Listen is the address of /metrics, /healthz, /readyz and /status.
	Listen string `yaml:"listen"`
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
}

// RepoConfig is the cluster repo: a git remote, or a local directory.
type RepoConfig struct {
	URL          string        `yaml:"url"`
	Branch       string        `yaml:"branch"`
	Path         string        `yaml:"path"`
	Dir          string        `yaml:"dir"`
	PollInterval time.Duration `yaml:"pollInterval"`
	CacheDir     string        `yaml:"cacheDir"`
}

// AWSConfig selects the region and, for an emulator, the endpoint.
type AWSConfig struct {
	Region   string `yaml:"region"`
	Endpoint string `yaml:"endpoint"`
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
	if errs := cfg.validate(); len(errs) > 0 {
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
	if c.Log.Format == "" {
		c.Log.Format = "text"
	}
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
	if c.Repo.PollInterval < time.Second {
		bad("repo.pollInterval must be at least 1s, got %s", c.Repo.PollInterval)
	}
	if c.AWS.Region == "" {
		bad("aws.region is required")
	}
	if c.AWS.Endpoint != "" && !strings.HasPrefix(c.AWS.Endpoint, "http://") && !strings.HasPrefix(c.AWS.Endpoint, "https://") {
		bad("aws.endpoint must be an http:// or https:// URL, got %q", c.AWS.Endpoint)
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen must be host:port, got %q", c.Listen)
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
	return errs
}

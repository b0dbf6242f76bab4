package source

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
)

// The cache repository carries this option in its config, so that a
// directory is only ever wiped when this package made it.
const (
	markerSection = "driftless"
	markerOption  = "cache"
)

// open returns the cache repository, making it on first use. A cache that
// follows another URL is emptied and made afresh.
func (g *Git) open() (*git.Repository, error) {
	if g.repo != nil {
		return g.repo, nil
	}
	dir := g.cfg.CacheDir
	repo, err := git.PlainOpen(dir)
	switch {
	case err == nil:
		cfg, err := repo.Config()
		if err != nil {
			return nil, fmt.Errorf("cache %s: %w", dir, err)
		}
		if !cfg.Raw.Section(markerSection).HasOption(markerOption) {
			return nil, fmt.Errorf("cache %s: a git repository not made by driftless; refusing to use or overwrite it", dir)
		}
		if rc, ok := cfg.Remotes[remoteName]; ok && len(rc.URLs) == 1 && rc.URLs[0] == g.url {
			g.repo = repo
			return repo, nil
		}
		g.log.Info("cache follows another repository; cloning afresh", "cache", dir)
		if err := emptyDir(dir); err != nil {
			return nil, fmt.Errorf("cache %s: %w", dir, err)
		}
	case errors.Is(err, git.ErrRepositoryNotExists):
		entries, err := os.ReadDir(dir)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("cache %s: %w", dir, err)
		}
		if len(entries) > 0 {
			return nil, fmt.Errorf("cache %s: directory is not empty and holds no git repository; refusing to overwrite it", dir)
		}
	default:
		return nil, fmt.Errorf("cache %s: %w", dir, err)
	}

	repo, err = git.PlainInit(dir, true)
	if err != nil {
		return nil, fmt.Errorf("cache %s: %w", dir, err)
	}
	cfg, err := repo.Config()
	if err != nil {
		return nil, fmt.Errorf("cache %s: %w", dir, err)
	}
	cfg.Raw.Section(markerSection).SetOption(markerOption, "true")
	cfg.Remotes[remoteName] = &config.RemoteConfig{
		Name:  remoteName,
		URLs:  []string{g.url},
		Fetch: []config.RefSpec{g.refSpec()},
	}
	if err := repo.SetConfig(cfg); err != nil {
		return nil, fmt.Errorf("cache %s: %w", dir, err)
	}
	g.log.Info("cache created", "cache", dir)
	g.repo = repo
	return repo, nil
}

// emptyDir removes everything inside dir but keeps dir itself, which may be
// a mount point or a systemd StateDirectory.
func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}
